package app

import (
	"maps"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"fieldoffice/cases"
)

// Forms
//
// formView renders a form schema (cases.Schema) as widgets: one card per section, in
// schema order, one row per field with its label (required fields marked "*"), the
// control, the help text and a message line. Labels, help and options are in the
// language in use when the view is built (a language switch rebuilds it).
//
// Values go in and out in the stored form (cases.Values: ISO dates, decimal points, IBANs
// without spaces); the controls show them the way a German office writes them
// (TT.MM.JJJJ, decimal comma, IBAN in groups of four).
//
// Validation runs as the user types: the messages of Schema.Validate for the values on
// screen, shown at a value key once the user has changed it — an untouched empty
// required field says nothing until ShowErrors (on save) asks for it. Fields whose
// visible_if condition does not hold are hidden, live, and their values are left out of
// Values.
//
// Every control is a focusable Fyne widget in form order, so Tab walks the form.
//
// A formView lives on the UI goroutine; none of its methods may be called elsewhere.
type formView struct {
	schema   *cases.Schema
	initial  cases.Values // the values the view was built with, normalised
	onChange func()
	now      func() time.Time

	// signature is called with the field name when the user asks to capture a
	// signature; attach when they ask to add a file to a file field. A nil hook
	// disables its button. Set them before calling Widget.
	signature func(field string)
	attach    func(field string)
	// escape, if set, is called when the user presses Escape in one of the form's text
	// fields (a Fyne entry swallows the key, so the screen would never see it).
	escape func()

	fields   []*formField
	byName   map[string]*formField
	sections []*formSection
	names    map[string]string // attachment SHA-256 → file name, for file fields
	other    *widget.Label     // messages for keys that have no place in the form
	root     *fyne.Container

	touched map[string]bool   // value keys the user changed
	forced  map[string]string // messages from ShowErrors, by value key
	loading bool              // controls are being set by code, not by the user
}

// formSection is a section's card and its fields.
type formSection struct {
	card   *widget.Card
	fields []*formField
}

// formField is one field's row.
type formField struct {
	def     *cases.Field
	ctl     control
	row     *fyne.Container
	errs    map[string]*widget.Label // message line per value key
	visible bool
}

// control is the input part of a field row.
type control interface {
	object() fyne.CanvasObject
	// get adds the field's values as typed (value key → text) to out.
	get(out cases.Values)
	// set shows stored values.
	set(v cases.Values)
	// focusable is the control's first focusable widget.
	focusable() fyne.Focusable
}

// newFormView builds the form of s showing values (stored form). onChange, if not nil,
// is called after every change the user makes.
func newFormView(s *cases.Schema, values cases.Values, onChange func()) *formView {
	fv := &formView{
		schema:   s,
		initial:  s.Normalize(values),
		onChange: onChange,
		now:      time.Now,
		byName:   map[string]*formField{},
		names:    map[string]string{},
		touched:  map[string]bool{},
		forced:   map[string]string{},
		other:    widget.NewLabel(""),
	}
	fv.other.Importance = widget.DangerImportance
	fv.other.Wrapping = fyne.TextWrapWord
	fv.other.Hide()

	legend := widget.NewLabel(tr("form.legend"))
	legend.Importance = widget.LowImportance
	legend.Wrapping = fyne.TextWrapWord
	objs := []fyne.CanvasObject{legend, fv.other}
	if d := s.Description.In(language()); d != "" {
		desc := widget.NewLabel(d)
		desc.Wrapping = fyne.TextWrapWord
		objs = append(objs, desc)
	}
	for i := range s.Sections {
		sec := &s.Sections[i]
		fs := &formSection{}
		rows := make([]fyne.CanvasObject, 0, len(sec.Fields))
		for j := range sec.Fields {
			f, ok := s.Field(sec.Fields[j].Name)
			if !ok {
				continue
			}
			ff := fv.newField(f)
			fs.fields = append(fs.fields, ff)
			fv.fields = append(fv.fields, ff)
			fv.byName[f.Name] = ff
			rows = append(rows, ff.row)
		}
		fs.card = widget.NewCard(sec.Title.In(language()), sec.Help.In(language()), container.NewVBox(rows...))
		fv.sections = append(fv.sections, fs)
		objs = append(objs, fs.card)
	}
	fv.root = container.NewVBox(objs...)
	fv.loading = true
	for _, ff := range fv.fields {
		ff.ctl.set(fv.initial)
	}
	fv.loading = false
	fv.refresh()
	return fv
}

// Widget returns the form (a vertical box of section cards; put it in a scroll
// container). Call it after setting the hooks.
func (fv *formView) Widget() fyne.CanvasObject {
	for _, ff := range fv.fields {
		switch c := ff.ctl.(type) {
		case *fileControl:
			enable(c.add, fv.attach != nil)
		case *signatureControl:
			enable(c.button, fv.signature != nil)
		}
	}
	return fv.root
}

// Values returns the values of the visible fields in the stored form (what the vault
// expects); values that do not parse are kept as typed, for validation to report.
func (fv *formView) Values() cases.Values {
	raw := cases.Values{}
	for _, ff := range fv.fields {
		if ff.visible {
			ff.ctl.get(raw)
		}
	}
	return fv.schema.Normalize(raw)
}

// Changed returns the value keys whose value differs from the one the view was built
// with (or last marked saved), with the new value ("" clears): the argument of
// storage.Vault.SetFields. A field the user's change hid is cleared; a field hidden
// from the start is left alone.
func (fv *formView) Changed() map[string]string {
	cur := fv.Values()
	out := map[string]string{}
	for _, ff := range fv.fields {
		if !ff.visible && !fv.schema.Visible(ff.def.Name, fv.initial) {
			continue
		}
		for _, k := range ff.def.Keys() {
			if canonical(ff.def, cur[k]) != canonical(ff.def, fv.initial[k]) {
				out[k] = cur[k]
			}
		}
	}
	return out
}

// canonical makes equal what means the same: an unchecked checkbox is "false" or "".
func canonical(f *cases.Field, v string) string {
	if f.Type == cases.TypeCheckbox && v == "false" {
		return ""
	}
	return v
}

// Validate returns the current messages of the whole form (value key → message in the
// language in use), required fields included: empty when the values could be saved as
// a complete application. It shows nothing; pass the result to ShowErrors for that.
func (fv *formView) Validate() map[string]string {
	all := cases.Values{}
	for _, ff := range fv.fields {
		ff.ctl.get(all)
	}
	return fv.schema.Validate(fv.schema.Normalize(all), language(), fv.now())
}

// ShowErrors shows msgs at their fields (keys as storage.ValidationError and
// Schema.Validate use them; a "values." prefix is accepted) until the user changes the
// field. Messages the current language has its own text for are shown in it. Keys the
// form has no field for are listed at the top of the form. An empty map clears what an
// earlier call showed.
func (fv *formView) ShowErrors(msgs map[string]string) {
	live := fv.Validate()
	fv.forced = map[string]string{}
	for k, m := range msgs {
		k = strings.TrimPrefix(k, "values.")
		if lm, ok := live[k]; ok {
			m = lm
		}
		fv.forced[k] = m
		delete(fv.touched, k)
	}
	fv.refresh()
}

// FocusFirst focuses the first visible control of the form on c.
func (fv *formView) FocusFirst(c fyne.Canvas) {
	for _, ff := range fv.fields {
		if ff.visible {
			if f := ff.ctl.focusable(); f != nil {
				c.Focus(f)
				return
			}
		}
	}
}

// FocusError focuses the first visible control that shows a message, and reports
// whether there was one.
func (fv *formView) FocusError(c fyne.Canvas) bool {
	for _, ff := range fv.fields {
		if !ff.visible {
			continue
		}
		for _, l := range ff.errs {
			if l.Visible() {
				if f := ff.ctl.focusable(); f != nil {
					c.Focus(f)
				}
				return true
			}
		}
	}
	return false
}

// AddFile adds the attachment sha (shown as name) to the file field, as if the user had
// picked it: the capture and detail screens call it when their attach hook has stored
// the file.
func (fv *formView) AddFile(field, sha, name string) {
	ff, ok := fv.byName[field]
	if !ok {
		return
	}
	c, ok := ff.ctl.(*fileControl)
	if !ok || slices.Contains(c.shas, sha) {
		return
	}
	if name != "" {
		fv.names[sha] = name
	}
	c.shas = append(c.shas, sha)
	c.update()
	fv.changed(field)
}

// SetSignature sets the signature field to the attachment sha, with png (may be nil)
// as the preview; as if the user had signed.
func (fv *formView) SetSignature(field, sha string, png []byte) {
	ff, ok := fv.byName[field]
	if !ok {
		return
	}
	c, ok := ff.ctl.(*signatureControl)
	if !ok {
		return
	}
	c.sha = sha
	c.preview(png)
	c.update()
	fv.changed(field)
}

// SetFileNames tells the form the names of attachments (SHA-256 → file name), for file
// and signature fields; the detail screen passes the case's Anlagen.
func (fv *formView) SetFileNames(names map[string]string) {
	maps.Copy(fv.names, names)
	for _, ff := range fv.fields {
		if c, ok := ff.ctl.(*fileControl); ok {
			c.update()
		}
	}
}

// Saved marks values (stored form, as the vault returned them) as the new baseline:
// Changed is empty afterwards, and messages disappear. The controls keep what they show.
func (fv *formView) Saved(values cases.Values) {
	fv.initial = fv.schema.Normalize(values)
	fv.touched = map[string]bool{}
	fv.forced = map[string]string{}
	fv.refresh()
}

// apply shows raw values (value key → stored or typed text) as user changes: a rebuilt
// view takes over the edits of the one it replaces.
func (fv *formView) apply(edits map[string]string) {
	if len(edits) == 0 {
		return
	}
	cur := fv.Values()
	for k, v := range edits {
		cur[k] = v
	}
	fv.loading = true
	for _, ff := range fv.fields {
		ff.ctl.set(cur)
	}
	fv.loading = false
	for k := range edits {
		fv.touched[k] = true
	}
	fv.refresh()
}

// changed is called by a control when the user changed the value of key.
func (fv *formView) changed(key string) {
	if fv.loading {
		return
	}
	fv.touched[key] = true
	delete(fv.forced, key)
	fv.refresh()
	if fv.onChange != nil {
		fv.onChange()
	}
}

// refresh shows and hides fields by their conditions and updates the message lines.
func (fv *formView) refresh() {
	all := cases.Values{}
	for _, ff := range fv.fields {
		ff.ctl.get(all)
	}
	all = fv.schema.Normalize(all)
	for _, ff := range fv.fields {
		ff.visible = fv.schema.Visible(ff.def.Name, all)
		showIf(ff.row, ff.visible)
	}
	for _, sec := range fv.sections {
		showIf(sec.card, slices.ContainsFunc(sec.fields, func(ff *formField) bool { return ff.visible }))
	}
	live := fv.schema.Validate(all, language(), fv.now())
	placed := map[string]bool{}
	for _, ff := range fv.fields {
		for k, l := range ff.errs {
			placed[k] = true
			m := fv.forced[k]
			if fv.touched[k] {
				m = live[k]
			}
			if !ff.visible {
				m = ""
			}
			setMessage(l, m)
		}
	}
	var other []string
	for _, k := range slices.Sorted(maps.Keys(fv.forced)) {
		if !placed[k] {
			other = append(other, fv.keyLabel(k)+": "+fv.forced[k])
		}
	}
	setMessage(fv.other, strings.Join(other, "\n"))
}

// keyLabel names a value key for a message outside the form.
func (fv *formView) keyLabel(k string) string {
	if f, ok := fv.schema.Field(k); ok {
		return f.Label.In(language())
	}
	return k
}

// setMessage shows m on l, or hides l when m is empty.
func setMessage(l *widget.Label, m string) {
	if l.Text != m {
		l.SetText(m)
	}
	showIf(l, m != "")
}

func showIf(o fyne.CanvasObject, on bool) {
	switch {
	case on && !o.Visible():
		o.Show()
	case !on && o.Visible():
		o.Hide()
	}
}

// escEntry is an entry that passes Escape, which a plain widget.Entry swallows, to
// onEscape: a screen's "back" works from inside a text field.
type escEntry struct {
	widget.Entry
	onEscape func()
}

// newEscEntry returns an entry (multi-line, word-wrapped, when multi is set).
func newEscEntry(multi bool, onEscape func()) *escEntry {
	e := &escEntry{onEscape: onEscape}
	if multi {
		e.MultiLine = true
		e.Wrapping = fyne.TextWrapWord
	}
	e.ExtendBaseWidget(e)
	return e
}

// TypedKey handles Escape and leaves every other key to the entry.
func (e *escEntry) TypedKey(ev *fyne.KeyEvent) {
	if ev.Name == fyne.KeyEscape && e.onEscape != nil {
		e.onEscape()
		return
	}
	e.Entry.TypedKey(ev)
}

// escapeHook calls fv.escape when it is set.
func (fv *formView) escapeHook() {
	if fv.escape != nil {
		fv.escape()
	}
}

type disableable interface {
	Enable()
	Disable()
}

func enable(w disableable, on bool) {
	if on {
		w.Enable()
	} else {
		w.Disable()
	}
}

// newMessage returns a hidden message line.
func newMessage() *widget.Label {
	l := widget.NewLabel("")
	l.Importance = widget.DangerImportance
	l.Wrapping = fyne.TextWrapWord
	l.Hide()
	return l
}

// fieldLabel is a field's label text, with "*" when the field is required.
func fieldLabel(f *cases.Field) string {
	l := f.Label.In(language())
	if f.Required {
		l += " *"
	}
	return l
}

// newField builds the row of field f.
func (fv *formView) newField(f *cases.Field) *formField {
	ff := &formField{def: f, errs: map[string]*widget.Label{}, visible: true}
	ch := func() { fv.changed(f.Name) }
	switch f.Type {
	case cases.TypeMultiline:
		e := newEscEntry(true, fv.escapeHook)
		e.SetMinRowsVisible(3)
		ff.ctl = newEntryControl(f, e, ch)
	case cases.TypeNumber:
		ff.ctl = newEntryControl(f, newEscEntry(false, fv.escapeHook), ch)
	case cases.TypeDate:
		ff.ctl = newDateControl(f, fv.escapeHook, ch)
	case cases.TypeEmail:
		e := newEscEntry(false, fv.escapeHook)
		e.SetPlaceHolder(tr("form.email.placeholder"))
		ff.ctl = newEntryControl(f, e, ch)
	case cases.TypePhone:
		e := newEscEntry(false, fv.escapeHook)
		e.SetPlaceHolder(tr("form.phone.placeholder"))
		ff.ctl = newEntryControl(f, e, ch)
	case cases.TypeIBAN:
		ff.ctl = newIBANControl(f, fv.escapeHook, ch)
	case cases.TypeSelect:
		ff.ctl = newSelectControl(f, ch)
	case cases.TypeMultiselect:
		ff.ctl = newMultiControl(f, ch)
	case cases.TypeCheckbox:
		ff.ctl = newCheckControl(f, ch)
	case cases.TypeAddress:
		ac := newAddressControl(f, fv.escapeHook, fv.changed)
		ff.ctl = ac
		maps.Copy(ff.errs, ac.errs)
	case cases.TypeFile:
		ff.ctl = newFileControl(fv, f)
	case cases.TypeSignature:
		ff.ctl = newSignatureControl(fv, f)
	default: // text and any type a newer schema might bring: a line of text
		ff.ctl = newEntryControl(f, newEscEntry(false, fv.escapeHook), ch)
	}
	var objs []fyne.CanvasObject
	if f.Type != cases.TypeCheckbox { // a checkbox carries its label itself
		l := widget.NewLabelWithStyle(fieldLabel(f), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		l.Wrapping = fyne.TextWrapWord
		objs = append(objs, l)
	}
	objs = append(objs, ff.ctl.object())
	if h := f.Help.In(language()); h != "" {
		help := widget.NewLabelWithStyle(h, fyne.TextAlignLeading, fyne.TextStyle{Italic: true})
		help.Wrapping = fyne.TextWrapWord
		objs = append(objs, help)
	}
	if f.Type != cases.TypeAddress {
		m := newMessage()
		ff.errs[f.Name] = m
		objs = append(objs, m)
	}
	ff.row = container.NewVBox(objs...)
	return ff
}

// --- controls -----------------------------------------------------------------------

// entryControl is a one-key field typed into an entry: text, multiline, number, e-mail,
// phone.
type entryControl struct {
	f *cases.Field
	e *escEntry
}

func newEntryControl(f *cases.Field, e *escEntry, changed func()) *entryControl {
	e.OnChanged = func(string) { changed() }
	return &entryControl{f: f, e: e}
}

func (c *entryControl) object() fyne.CanvasObject { return c.e }
func (c *entryControl) focusable() fyne.Focusable { return c.e }
func (c *entryControl) get(out cases.Values)      { out[c.f.Name] = c.e.Text }
func (c *entryControl) set(v cases.Values) {
	text := v[c.f.Name]
	if c.f.Type == cases.TypeNumber {
		text = displayNumber(text)
	}
	c.e.SetText(text)
}

// displayNumber writes a stored number ("12.5") the way the language in use does
// ("12,5" in German).
func displayNumber(s string) string {
	if language() == LangDE {
		return strings.Replace(s, ".", ",", 1)
	}
	return s
}

// dateControl is a date entry (TT.MM.JJJJ) with a calendar button.
type dateControl struct {
	f    *cases.Field
	e    *escEntry
	pick *widget.Button
	box  *fyne.Container
}

func newDateControl(f *cases.Field, escape, changed func()) *dateControl {
	c := &dateControl{f: f, e: newEscEntry(false, escape)}
	c.e.SetPlaceHolder(tr("form.date.placeholder"))
	c.e.OnChanged = func(string) { changed() }
	c.pick = widget.NewButtonWithIcon("", theme.CalendarIcon(), c.showCalendar)
	c.box = container.NewBorder(nil, nil, nil, c.pick, c.e)
	return c
}

func (c *dateControl) object() fyne.CanvasObject { return c.box }
func (c *dateControl) focusable() fyne.Focusable { return c.e }
func (c *dateControl) get(out cases.Values)      { out[c.f.Name] = c.e.Text }
func (c *dateControl) set(v cases.Values) {
	text := v[c.f.Name]
	if d, err := cases.ParseDate(text); err == nil {
		text = cases.FormatDate(d)
	}
	c.e.SetText(text)
}

// showCalendar opens a calendar below the entry; a picked day is written into it.
func (c *dateControl) showCalendar() {
	cnv := fyne.CurrentApp().Driver().CanvasForObject(c.box)
	if cnv == nil {
		return
	}
	start := time.Now()
	if d, err := cases.ParseDate(c.e.Text); err == nil {
		start = d
	}
	var pop *widget.PopUp
	cal := widget.NewCalendar(start, func(d time.Time) {
		pop.Hide()
		c.e.SetText(cases.FormatDate(d))
		cnv.Focus(c.e)
	})
	pop = widget.NewPopUp(cal, cnv)
	pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(c.box)
	pop.ShowAtPosition(pos.AddXY(0, c.box.Size().Height))
}

// ibanEntry is an entry that shows an IBAN in groups of four when it loses the focus.
type ibanEntry struct {
	escEntry
}

func newIBANEntry(escape func()) *ibanEntry {
	e := &ibanEntry{escEntry: escEntry{onEscape: escape}}
	e.ExtendBaseWidget(e)
	e.SetPlaceHolder(tr("form.iban.placeholder"))
	return e
}

// FocusLost regroups the IBAN.
func (e *ibanEntry) FocusLost() {
	if g := groupIBAN(e.Text); g != e.Text {
		e.SetText(g)
	}
	e.Entry.FocusLost()
}

// groupIBAN writes an IBAN in groups of four: "DE89 3704 0044 0532 0130 00".
func groupIBAN(s string) string {
	n := cases.NormalizeIBAN(s)
	var b strings.Builder
	for i, r := range n {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

type ibanControl struct {
	f *cases.Field
	e *ibanEntry
}

func newIBANControl(f *cases.Field, escape, changed func()) *ibanControl {
	c := &ibanControl{f: f, e: newIBANEntry(escape)}
	c.e.OnChanged = func(string) { changed() }
	return c
}

func (c *ibanControl) object() fyne.CanvasObject { return c.e }
func (c *ibanControl) focusable() fyne.Focusable { return c.e }
func (c *ibanControl) get(out cases.Values)      { out[c.f.Name] = c.e.Text }
func (c *ibanControl) set(v cases.Values)        { c.e.SetText(groupIBAN(v[c.f.Name])) }

// selectControl is a drop-down of the options' labels; an optional field can be set
// back to "no answer".
type selectControl struct {
	f      *cases.Field
	s      *widget.Select
	labels []string // option labels; for an optional field the first is "no answer"
	values []string // option values, parallel to labels
}

func newSelectControl(f *cases.Field, changed func()) *selectControl {
	c := &selectControl{f: f}
	if !f.Required {
		c.labels = append(c.labels, tr("form.select.none"))
		c.values = append(c.values, "")
	}
	for _, o := range f.Options {
		c.labels = append(c.labels, o.Label.In(language()))
		c.values = append(c.values, o.Value)
	}
	c.s = widget.NewSelect(c.labels, func(string) { changed() })
	c.s.PlaceHolder = tr("form.select.placeholder")
	return c
}

func (c *selectControl) object() fyne.CanvasObject { return c.s }
func (c *selectControl) focusable() fyne.Focusable { return c.s }
func (c *selectControl) get(out cases.Values) {
	if i := c.s.SelectedIndex(); i >= 0 {
		out[c.f.Name] = c.values[i]
	} else {
		out[c.f.Name] = ""
	}
}

func (c *selectControl) set(v cases.Values) {
	val := v[c.f.Name]
	if i := slices.Index(c.values, val); i >= 0 && val != "" {
		c.s.SetSelectedIndex(i)
		return
	}
	if val != "" { // a value the form does not offer (an older form): show it as it is
		c.labels = append(c.labels, val)
		c.values = append(c.values, val)
		c.s.SetOptions(c.labels)
		c.s.SetSelectedIndex(len(c.labels) - 1)
		return
	}
	c.s.ClearSelected()
}

// multiControl is a group of checks, one per option.
type multiControl struct {
	f      *cases.Field
	checks []*widget.Check
	values []string // option values, parallel to checks
	box    *fyne.Container
	change func()
}

func newMultiControl(f *cases.Field, changed func()) *multiControl {
	c := &multiControl{f: f, change: changed, box: container.NewVBox()}
	if len(f.Options) <= 4 { // a few short options side by side, wrapping when narrow
		c.box = container.New(layout.NewRowWrapLayout())
	}
	for _, o := range f.Options {
		c.addOption(o.Value, o.Label.In(language()))
	}
	return c
}

func (c *multiControl) addOption(value, label string) {
	ch := widget.NewCheck(label, func(bool) { c.change() })
	c.checks = append(c.checks, ch)
	c.values = append(c.values, value)
	c.box.Add(ch)
}

func (c *multiControl) object() fyne.CanvasObject { return c.box }
func (c *multiControl) focusable() fyne.Focusable { return c.checks[0] }

func (c *multiControl) get(out cases.Values) {
	var vals []string
	for i, ch := range c.checks { // in option order, whatever order they were ticked
		if ch.Checked {
			vals = append(vals, c.values[i])
		}
	}
	out[c.f.Name] = strings.Join(vals, ",")
}

func (c *multiControl) set(v cases.Values) {
	sel := v.List(c.f.Name)
	for _, val := range sel {
		if !slices.Contains(c.values, val) { // not offered by this form: keep it rather than lose it
			c.addOption(val, val)
		}
	}
	for i, ch := range c.checks {
		ch.SetChecked(slices.Contains(sel, c.values[i]))
	}
}

// checkControl is a checkbox labelled with the field's label. The label is a wrapping
// label beside the box (a check's own text does not wrap, and legal wording is long);
// tapping it toggles the box like the check's own text would.
type checkControl struct {
	f   *cases.Field
	c   *widget.Check
	box *fyne.Container
}

func newCheckControl(f *cases.Field, changed func()) *checkControl {
	c := &checkControl{f: f, c: widget.NewCheck("", func(bool) { changed() })}
	label := newTapLabel(fieldLabel(f), func() { c.c.SetChecked(!c.c.Checked) })
	c.box = container.NewBorder(nil, nil, c.c, nil, label)
	return c
}

// tapLabel is a wrapping label that calls onTap when tapped.
type tapLabel struct {
	widget.Label
	onTap func()
}

func newTapLabel(text string, onTap func()) *tapLabel {
	l := &tapLabel{onTap: onTap}
	l.Text = text
	l.Wrapping = fyne.TextWrapWord
	l.ExtendBaseWidget(l)
	return l
}

// Tapped implements fyne.Tappable.
func (l *tapLabel) Tapped(*fyne.PointEvent) { l.onTap() }

func (c *checkControl) object() fyne.CanvasObject { return c.box }
func (c *checkControl) focusable() fyne.Focusable { return c.c }
func (c *checkControl) get(out cases.Values) {
	if c.c.Checked {
		out[c.f.Name] = "true"
	} else {
		out[c.f.Name] = ""
	}
}
func (c *checkControl) set(v cases.Values) { c.c.SetChecked(v.Bool(c.f.Name)) }

// addressControl is a postal address: Straße and Hausnummer, Zusatz and Staat, PLZ and
// Ort, each with its own message line (keys NAME.strasse, …).
type addressControl struct {
	f       *cases.Field
	entries map[string]*escEntry     // by part
	errs    map[string]*widget.Label // by value key
	box     *fyne.Container
}

func newAddressControl(f *cases.Field, escape func(), changed func(key string)) *addressControl {
	c := &addressControl{f: f, entries: map[string]*escEntry{}, errs: map[string]*widget.Label{}}
	part := func(p string) fyne.CanvasObject {
		key := f.Name + "." + p
		e := newEscEntry(false, escape)
		e.OnChanged = func(string) { changed(key) }
		if p == "staat" {
			e.SetPlaceHolder(tr("form.address.staat.placeholder"))
		}
		c.entries[p] = e
		m := newMessage()
		c.errs[key] = m
		label := "form.address." + p // form.address.strasse, …
		return container.NewVBox(widget.NewLabel(tr(label)), e, m)
	}
	c.box = container.NewVBox(
		container.NewGridWithColumns(2, part("strasse"), part("hausnummer")),
		container.NewGridWithColumns(2, part("plz"), part("ort")),
		container.NewGridWithColumns(2, part("zusatz"), part("staat")),
	)
	return c
}

func (c *addressControl) object() fyne.CanvasObject { return c.box }
func (c *addressControl) focusable() fyne.Focusable { return c.entries["strasse"] }
func (c *addressControl) get(out cases.Values) {
	for p, e := range c.entries {
		out[c.f.Name+"."+p] = e.Text
	}
}

func (c *addressControl) set(v cases.Values) {
	for p, e := range c.entries {
		e.SetText(v[c.f.Name+"."+p])
	}
}

// fileControl lists the files of a file field (each removable) and offers to add one
// through the form's attach hook.
type fileControl struct {
	fv   *formView
	f    *cases.Field
	shas []string
	list *fyne.Container
	add  *widget.Button
	box  *fyne.Container
}

func newFileControl(fv *formView, f *cases.Field) *fileControl {
	c := &fileControl{fv: fv, f: f, list: container.NewVBox()}
	c.add = widget.NewButtonWithIcon(tr("form.file.add"), theme.ContentAddIcon(), func() {
		if fv.attach != nil {
			fv.attach(f.Name)
		}
	})
	c.add.Disable()
	c.box = container.NewVBox(c.list, container.NewHBox(c.add))
	return c
}

func (c *fileControl) object() fyne.CanvasObject { return c.box }
func (c *fileControl) focusable() fyne.Focusable { return c.add }
func (c *fileControl) get(out cases.Values)      { out[c.f.Name] = strings.Join(c.shas, ",") }
func (c *fileControl) set(v cases.Values) {
	c.shas = v.List(c.f.Name)
	c.update()
}

// update rebuilds the list of files.
func (c *fileControl) update() {
	var rows []fyne.CanvasObject
	if len(c.shas) == 0 {
		none := widget.NewLabel(tr("form.file.none"))
		none.Importance = widget.LowImportance
		rows = append(rows, none)
	}
	for _, sha := range c.shas {
		name := c.fv.names[sha]
		if name == "" {
			name = tr("form.file.unnamed", shortSHA(sha))
		}
		remove := widget.NewButtonWithIcon(tr("form.file.remove"), theme.DeleteIcon(), func() {
			c.shas = slices.DeleteFunc(c.shas, func(s string) bool { return s == sha })
			c.update()
			c.fv.changed(c.f.Name)
		})
		label := widget.NewLabel(name) // a long name wraps instead of widening the form
		label.Wrapping = fyne.TextWrapBreak
		rows = append(rows, container.NewBorder(nil, nil, widget.NewIcon(theme.FileIcon()), remove, label))
	}
	c.list.Objects = rows
	c.list.Refresh()
}

// shortSHA is the first 12 hex digits of a SHA-256, enough to tell files apart.
func shortSHA(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// signatureControl says whether the field is signed, shows the signature when its image
// is known, and offers to capture it through the form's signature hook.
type signatureControl struct {
	fv     *formView
	f      *cases.Field
	sha    string
	status *widget.Label
	image  *canvas.Image
	button *widget.Button
	box    *fyne.Container
}

func newSignatureControl(fv *formView, f *cases.Field) *signatureControl {
	c := &signatureControl{fv: fv, f: f, status: widget.NewLabel("")}
	c.image = canvas.NewImageFromResource(nil)
	c.image.FillMode = canvas.ImageFillContain
	c.image.SetMinSize(fyne.NewSize(240, 80))
	c.image.Hide()
	c.button = widget.NewButtonWithIcon(tr("form.signature.capture"), theme.DocumentCreateIcon(), func() {
		if fv.signature != nil {
			fv.signature(f.Name)
		}
	})
	c.button.Disable()
	c.box = container.NewVBox(c.status, container.NewHBox(c.image), container.NewHBox(c.button))
	return c
}

func (c *signatureControl) object() fyne.CanvasObject { return c.box }
func (c *signatureControl) focusable() fyne.Focusable { return c.button }
func (c *signatureControl) get(out cases.Values)      { out[c.f.Name] = c.sha }
func (c *signatureControl) set(v cases.Values) {
	if s := v[c.f.Name]; s != c.sha {
		c.sha = s
		c.preview(nil)
	}
	c.update()
}

// preview shows the signature image png; nil hides it.
func (c *signatureControl) preview(png []byte) {
	if len(png) == 0 {
		c.image.Resource = nil
		c.image.Hide()
		return
	}
	c.image.Resource = fyne.NewStaticResource("unterschrift.png", png)
	c.image.Show()
	c.image.Refresh()
}

func (c *signatureControl) update() {
	if c.sha == "" {
		c.status.SetText(tr("form.signature.missing"))
		c.button.SetText(tr("form.signature.capture"))
	} else {
		c.status.SetText(tr("form.signature.signed"))
		c.button.SetText(tr("form.signature.recapture"))
	}
}
