package app

import (
	"maps"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"fieldoffice/assets"
	"fieldoffice/cases"
)

// formTestSchema has one field of every type, and a field shown only for one option.
const formTestSchema = `{
  "schema_version": 1, "service": "testform", "title": {"de": "Testformular", "en": "Test form"},
  "sections": [
    {"id": "a", "title": {"de": "Allgemein", "en": "General"}, "fields": [
      {"name": "name", "type": "text", "label": {"de": "Name", "en": "Name"}, "required": true, "help": {"de": "Wie im Ausweis", "en": "As in the ID card"}},
      {"name": "bemerkung", "type": "multiline", "label": {"de": "Bemerkung"}},
      {"name": "betrag", "type": "number", "label": {"de": "Betrag"}},
      {"name": "tag", "type": "date", "label": {"de": "Tag"}},
      {"name": "art", "type": "select", "label": {"de": "Art", "en": "Kind"}, "options": [
        {"value": "a", "label": {"de": "Erste", "en": "First"}},
        {"value": "andere", "label": {"de": "Andere", "en": "Other"}}]},
      {"name": "art_andere", "type": "text", "label": {"de": "Welche andere Art?"}, "required": true, "visible_if": {"field": "art", "equals": ["andere"]}},
      {"name": "farben", "type": "multiselect", "label": {"de": "Farben"}, "options": [
        {"value": "rot", "label": {"de": "Rot"}}, {"value": "gruen", "label": {"de": "Grün"}}, {"value": "blau", "label": {"de": "Blau"}}]},
      {"name": "zustimmung", "type": "checkbox", "label": {"de": "Ich stimme zu"}}
    ]},
    {"id": "b", "title": {"de": "Kontakt"}, "fields": [
      {"name": "email", "type": "email", "label": {"de": "E-Mail"}},
      {"name": "telefon", "type": "phone", "label": {"de": "Telefon"}},
      {"name": "iban", "type": "iban", "label": {"de": "IBAN"}},
      {"name": "adresse", "type": "address", "label": {"de": "Anschrift"}},
      {"name": "nachweis", "type": "file", "label": {"de": "Nachweis"}},
      {"name": "unterschrift", "type": "signature", "label": {"de": "Unterschrift"}}
    ]}
  ]}`

func formSchema(t *testing.T) *cases.Schema {
	t.Helper()
	s, err := cases.ParseSchema([]byte(formTestSchema))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var (
	formSHA1 = strings.Repeat("a1", 32)
	formSHA2 = strings.Repeat("b2", 32)
)

// formFull is a value for every field of formTestSchema, in the stored form.
func formFull() cases.Values {
	return cases.Values{
		"name": "Anna Schäfer", "bemerkung": "Zeile 1\nZeile 2", "betrag": "12.5", "tag": "2025-03-14",
		"art": "andere", "art_andere": "Sonderfall", "farben": "rot,blau", "zustimmung": "true",
		"email": "anna@beispiel.de", "telefon": "+49 30 1234567", "iban": "DE89370400440532013000",
		"adresse.strasse": "Hauptstraße", "adresse.hausnummer": "12a", "adresse.zusatz": "3. OG",
		"adresse.plz": "10115", "adresse.ort": "Berlin", "adresse.staat": "DE",
		"nachweis": formSHA1 + "," + formSHA2, "unterschrift": formSHA1,
	}
}

// formEntry returns the entry of a one-key field (or address part "NAME.part").
func formEntry(t *testing.T, fv *formView, key string) *widget.Entry {
	t.Helper()
	name, part, _ := strings.Cut(key, ".")
	ff, ok := fv.byName[name]
	if !ok {
		t.Fatalf("no field %q", name)
	}
	switch c := ff.ctl.(type) {
	case *entryControl:
		return &c.e.Entry
	case *dateControl:
		return &c.e.Entry
	case *ibanControl:
		return &c.e.Entry
	case *addressControl:
		return &c.entries[part].Entry
	}
	t.Fatalf("field %q has no entry", key)
	return nil
}

// formFocus returns the focusable control of field name (what the canvas reports as
// focused).
func formFocus(fv *formView, name string) fyne.Focusable { return fv.byName[name].ctl.focusable() }

// formMessage returns the message shown at key ("" when none).
func formMessage(fv *formView, key string) string {
	name, _, _ := strings.Cut(key, ".")
	ff := fv.byName[name]
	if ff == nil || ff.errs[key] == nil || !ff.errs[key].Visible() {
		return ""
	}
	return ff.errs[key].Text
}

// formWindow puts the form in a test window so that it is rendered and laid out.
func formWindow(t *testing.T, fv *formView) fyne.Window {
	t.Helper()
	w := test.NewWindow(container.NewVScroll(fv.Widget()))
	w.Resize(fyne.NewSize(900, 700))
	t.Cleanup(w.Close)
	return w
}

func TestFormRendersEveryTypeAndRoundTrips(t *testing.T) {
	test.NewTempApp(t)
	setLanguage(LangDE)
	s := formSchema(t)
	vals := formFull()
	fv := newFormView(s, vals, nil)
	formWindow(t, fv)

	got := fv.Values()
	if !maps.Equal(got, vals) {
		t.Errorf("Values() differ from the values given:\n got %v\nwant %v", got, vals)
	}
	if ch := fv.Changed(); len(ch) != 0 {
		t.Errorf("Changed() = %v right after building", ch)
	}
	if m := fv.Validate(); len(m) != 0 {
		t.Errorf("Validate() = %v for valid values", m)
	}
	// Every type renders its control.
	for _, f := range s.Fields() {
		ff := fv.byName[f.Name]
		if ff == nil || ff.ctl.object() == nil || !ff.row.Visible() {
			t.Errorf("field %s (%s) not rendered", f.Name, f.Type)
		}
	}
	// Shown the way an office writes them.
	for key, want := range map[string]string{"betrag": "12,5", "tag": "14.03.2025", "iban": "DE89 3704 0044 0532 0130 00", "adresse.plz": "10115"} {
		if got := formEntry(t, fv, key).Text; got != want {
			t.Errorf("%s shows %q, want %q", key, got, want)
		}
	}
	if sel := fv.byName["art"].ctl.(*selectControl).s.Selected; sel != "Andere" {
		t.Errorf("select shows %q, want the option label Andere", sel)
	}
	if n := len(fv.byName["nachweis"].ctl.(*fileControl).shas); n != 2 {
		t.Errorf("file field lists %d files, want 2", n)
	}
	if st := fv.byName["unterschrift"].ctl.(*signatureControl).status.Text; st != "Unterschrieben." {
		t.Errorf("signature status %q", st)
	}

	// Typed values come back in the stored form.
	test.Type(formEntry(t, fv, "tag"), "") // focus
	formEntry(t, fv, "tag").SetText("1.2.2024")
	formEntry(t, fv, "betrag").SetText("7,25")
	formEntry(t, fv, "iban").SetText("de89 3704 0044 0532 0130 00")
	fv.byName["zustimmung"].ctl.(*checkControl).c.SetChecked(false)
	fv.byName["farben"].ctl.(*multiControl).checks[1].SetChecked(true)
	want := map[string]string{"tag": "2024-02-01", "betrag": "7.25", "zustimmung": "", "farben": "rot,gruen,blau"}
	if ch := fv.Changed(); !maps.Equal(ch, want) {
		t.Errorf("Changed() = %v, want %v", ch, want)
	}
	fv.Saved(fv.Values())
	if ch := fv.Changed(); len(ch) != 0 {
		t.Errorf("Changed() after Saved = %v", ch)
	}
}

func TestFormTableOfTypes(t *testing.T) {
	test.NewTempApp(t)
	setLanguage(LangDE)
	s := formSchema(t)
	for _, tc := range []struct {
		key, stored, shown, typed, back string
	}{
		{"name", "Anna", "Anna", " Berta ", "Berta"},
		{"bemerkung", "a\nb", "a\nb", "neu", "neu"},
		{"betrag", "3", "3", "3,5", "3.5"},
		{"tag", "2025-12-01", "01.12.2025", "24.12.2025", "2025-12-24"},
		{"email", "a@b.de", "a@b.de", "x@y.de", "x@y.de"},
		{"telefon", "030 1234567", "030 1234567", "0171 2345678", "0171 2345678"},
		{"iban", "DE89370400440532013000", "DE89 3704 0044 0532 0130 00", "DE02120300000000202051", "DE02120300000000202051"},
		{"adresse.ort", "Berlin", "Berlin", "Potsdam", "Potsdam"},
	} {
		fv := newFormView(s, cases.Values{tc.key: tc.stored}, nil)
		e := formEntry(t, fv, tc.key)
		if e.Text != tc.shown {
			t.Errorf("%s: shows %q, want %q", tc.key, e.Text, tc.shown)
		}
		if got := fv.Values()[tc.key]; got != tc.stored {
			t.Errorf("%s: Values() = %q, want %q", tc.key, got, tc.stored)
		}
		e.SetText(tc.typed)
		if got := fv.Changed()[tc.key]; got != tc.back {
			t.Errorf("%s: typed %q, Changed() = %q, want %q", tc.key, tc.typed, got, tc.back)
		}
	}
	// Select, multi-select, checkbox, file and signature through their controls.
	fv := newFormView(s, nil, nil)
	fv.byName["art"].ctl.(*selectControl).s.SetSelected("Erste")
	fv.byName["farben"].ctl.(*multiControl).checks[2].SetChecked(true)
	fv.byName["zustimmung"].ctl.(*checkControl).c.SetChecked(true)
	fv.attach = func(string) {}
	fv.AddFile("nachweis", formSHA2, "meldebescheinigung.pdf")
	fv.SetSignature("unterschrift", formSHA1, nil)
	want := map[string]string{"art": "a", "farben": "blau", "zustimmung": "true", "nachweis": formSHA2, "unterschrift": formSHA1}
	if ch := fv.Changed(); !maps.Equal(ch, want) {
		t.Errorf("Changed() = %v, want %v", ch, want)
	}
	fv.Widget()
	if fv.byName["nachweis"].ctl.(*fileControl).add.Disabled() {
		t.Error("Datei hinzufügen disabled although an attach hook is set")
	}
	if !fv.byName["unterschrift"].ctl.(*signatureControl).button.Disabled() {
		t.Error("Unterschrift erfassen enabled without a signature hook")
	}
}

func TestFormSampleFormsRender(t *testing.T) {
	test.NewTempApp(t)
	for _, lang := range []string{LangDE, LangEN} {
		setLanguage(lang)
		services, err := assets.Schemas{}.Services()
		if err != nil {
			t.Fatal(err)
		}
		for _, svc := range services {
			s, err := assets.Schemas{}.Schema(svc)
			if err != nil {
				t.Fatal(err)
			}
			fv := newFormView(s, nil, nil)
			w := formWindow(t, fv)
			fv.FocusFirst(w.Canvas())
			if w.Canvas().Focused() == nil {
				t.Errorf("%s: FocusFirst focused nothing", svc)
			}
			if len(fv.fields) != len(s.Fields()) {
				t.Errorf("%s: %d fields rendered, schema has %d", svc, len(fv.fields), len(s.Fields()))
			}
			if ch := fv.Changed(); len(ch) != 0 {
				t.Errorf("%s: empty form reports changes %v", svc, ch)
			}
		}
	}
	setLanguage(LangDE)
}

func TestFormConditionalFieldAppears(t *testing.T) {
	test.NewTempApp(t)
	setLanguage(LangDE)
	fv := newFormView(formSchema(t), nil, nil)
	formWindow(t, fv)
	row := fv.byName["art_andere"].row
	if row.Visible() {
		t.Fatal("art_andere visible before Art is Andere")
	}
	fv.byName["art"].ctl.(*selectControl).s.SetSelected("Andere")
	if !row.Visible() {
		t.Fatal("art_andere hidden after choosing Andere")
	}
	if _, ok := fv.Validate()["art_andere"]; !ok {
		t.Error("the now visible required field is not reported by Validate")
	}
	fv.byName["art"].ctl.(*selectControl).s.SetSelected("Erste")
	if row.Visible() {
		t.Error("art_andere still visible after choosing Erste")
	}
	// Multi-select conditions in a sample form: Staatsangehörigkeit "andere".
	s, _ := assets.Schemas{}.Schema("anmeldung")
	fv = newFormView(s, nil, nil)
	other := fv.byName["staatsangehoerigkeit_andere"].row
	if other.Visible() {
		t.Fatal("staatsangehoerigkeit_andere visible at the start")
	}
	mc := fv.byName["staatsangehoerigkeit"].ctl.(*multiControl)
	for i, v := range mc.values {
		if v == "andere" {
			mc.checks[i].SetChecked(true)
		}
	}
	if !other.Visible() {
		t.Error("staatsangehoerigkeit_andere hidden after ticking andere")
	}
}

func TestFormValidationAtTheField(t *testing.T) {
	test.NewTempApp(t)
	setLanguage(LangDE)
	fv := newFormView(formSchema(t), nil, nil)
	formWindow(t, fv)

	if m := formMessage(fv, "name"); m != "" {
		t.Errorf("untouched empty required field shows %q", m)
	}
	test.Type(formEntry(t, fv, "adresse.plz"), "123")
	if m := formMessage(fv, "adresse.plz"); m != "Postleitzahl muss fünf Ziffern haben" {
		t.Errorf("PLZ 123: message %q", m)
	}
	if m := formMessage(fv, "adresse.strasse"); m != "" {
		t.Errorf("untouched Straße shows %q while the PLZ is typed", m)
	}
	test.Type(formEntry(t, fv, "adresse.plz"), "45")
	if m := formMessage(fv, "adresse.plz"); m != "" {
		t.Errorf("PLZ 12345 still shows %q", m)
	}

	test.Type(formEntry(t, fv, "iban"), "DE89370400440532013001")
	if m := formMessage(fv, "iban"); m != "IBAN ist ungültig (Prüfsumme)" {
		t.Errorf("IBAN with a wrong check digit: message %q", m)
	}
	formEntry(t, fv, "iban").SetText("DE89 3704 0044 0532 0130 00")
	if m := formMessage(fv, "iban"); m != "" {
		t.Errorf("valid IBAN shows %q", m)
	}

	// On save the caller shows everything, required fields included.
	fv.ShowErrors(fv.Validate())
	if m := formMessage(fv, "name"); m != "Bitte füllen Sie dieses Pflichtfeld aus" {
		t.Errorf("after ShowErrors, Name shows %q", m)
	}
	if m := formMessage(fv, "adresse.strasse"); m != "Bitte geben Sie die Straße an" {
		t.Errorf("after ShowErrors, Straße shows %q", m)
	}
	test.Type(formEntry(t, fv, "name"), "Anna")
	if m := formMessage(fv, "name"); m != "" {
		t.Errorf("Name still shows %q after typing", m)
	}
	// Keys the form has no field for are listed at the top.
	fv.ShowErrors(map[string]string{"due_date": "Bitte geben Sie ein gültiges Datum an (TT.MM.JJJJ)"})
	if !fv.other.Visible() || !strings.Contains(fv.other.Text, "due_date") {
		t.Errorf("message for a key outside the form: %q", fv.other.Text)
	}

	setLanguage(LangEN)
	defer setLanguage(LangDE)
	fv = newFormView(formSchema(t), nil, nil)
	test.Type(formEntry(t, fv, "adresse.plz"), "1")
	if m := formMessage(fv, "adresse.plz"); m != "Postcode must have five digits" {
		t.Errorf("English PLZ message %q", m)
	}
	fv.ShowErrors(map[string]string{"values.adresse.plz": "Postleitzahl muss fünf Ziffern haben"})
	if m := formMessage(fv, "adresse.plz"); m != "Postcode must have five digits" {
		t.Errorf("vault's German message not shown in English: %q", m)
	}
}

func TestFormIBANGroupedOnFocusLost(t *testing.T) {
	test.NewTempApp(t)
	setLanguage(LangDE)
	fv := newFormView(formSchema(t), nil, nil)
	w := formWindow(t, fv)
	e := fv.byName["iban"].ctl.(*ibanControl).e
	w.Canvas().Focus(e)
	test.Type(e, "de89370400440532013000")
	w.Canvas().Focus(formFocus(fv, "email"))
	if e.Text != "DE89 3704 0044 0532 0130 00" {
		t.Errorf("IBAN after leaving the field: %q", e.Text)
	}
	if got := fv.Values()["iban"]; got != "DE89370400440532013000" {
		t.Errorf("stored IBAN %q", got)
	}
}

func TestFormTabOrderFollowsTheForm(t *testing.T) {
	test.NewTempApp(t)
	setLanguage(LangDE)
	fv := newFormView(formSchema(t), nil, nil)
	w := formWindow(t, fv)
	fv.FocusFirst(w.Canvas())
	if w.Canvas().Focused() != formFocus(fv, "name") {
		t.Fatal("FocusFirst did not focus Name")
	}
	next := func() fyne.Focusable {
		w.Canvas().FocusNext()
		return w.Canvas().Focused()
	}
	if f := next(); f != formFocus(fv, "bemerkung") {
		t.Errorf("Tab from Name went to %T, want Bemerkung", f)
	}
	if f := next(); f != formFocus(fv, "betrag") {
		t.Errorf("Tab from Bemerkung went to %T, want Betrag", f)
	}
	if f := next(); f != formFocus(fv, "tag") {
		t.Errorf("Tab from Betrag went to %T, want Tag", f)
	}
	if f := next(); f != fv.byName["tag"].ctl.(*dateControl).pick {
		t.Errorf("Tab from Tag went to %T, want the calendar button", f)
	}
	if f := next(); f != fv.byName["art"].ctl.(*selectControl).s {
		t.Errorf("Tab from the calendar went to %T, want Art", f)
	}
}

func TestFormDateCalendar(t *testing.T) {
	test.NewTempApp(t)
	setLanguage(LangDE)
	fv := newFormView(formSchema(t), cases.Values{"tag": "2025-03-14"}, nil)
	w := formWindow(t, fv)
	dc := fv.byName["tag"].ctl.(*dateControl)
	test.Tap(dc.pick)
	pop, ok := w.Canvas().Overlays().Top().(*widget.PopUp)
	if !ok {
		t.Fatalf("calendar button opened %T, want a pop-up", w.Canvas().Overlays().Top())
	}
	cal, ok := pop.Content.(*widget.Calendar)
	if !ok {
		t.Fatalf("pop-up shows %T, want a calendar", pop.Content)
	}
	cal.OnChanged(time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC))
	if dc.e.Text != "01.04.2025" {
		t.Errorf("picked day shows %q", dc.e.Text)
	}
	if pop.Visible() {
		t.Error("calendar still open after picking a day")
	}
	if got := fv.Changed()["tag"]; got != "2025-04-01" {
		t.Errorf("Changed()[tag] = %q", got)
	}
}

func TestFormEscapeHook(t *testing.T) {
	test.NewTempApp(t)
	setLanguage(LangDE)
	fv := newFormView(formSchema(t), nil, nil)
	escaped := 0
	fv.escape = func() { escaped++ }
	for _, key := range []string{"name", "bemerkung", "tag", "iban", "adresse.ort"} {
		name, _, _ := strings.Cut(key, ".")
		f := formFocus(fv, name)
		if name == "adresse" {
			f = fv.byName["adresse"].ctl.(*addressControl).entries["ort"]
		}
		f.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	}
	if escaped != 5 {
		t.Errorf("Escape reached the hook %d times, want 5", escaped)
	}
	e := formEntry(t, fv, "name")
	test.Type(e, "ab")
	formFocus(fv, "name").TypedKey(&fyne.KeyEvent{Name: fyne.KeyBackspace})
	if e.Text != "a" {
		t.Errorf("other keys still work: text %q", e.Text)
	}
}
