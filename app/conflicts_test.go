package app

import (
	"encoding/json"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"fieldoffice/assets"
	"fieldoffice/cases"
	"fieldoffice/storage"
)

// conflictPortalCase returns c as the portal would send it at revision rev, edited.
func conflictPortalCase(t testing.TB, c *cases.Case, rev int64, edit func(*cases.Case)) []byte {
	t.Helper()
	p := c.Clone()
	p.Revision = rev
	if edit != nil {
		edit(p)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// conflictVault builds, as storage's sync tests do, a case in conflict on two fields:
// created here, applied by the portal at revision 1, changed here (telefon,
// einzugsdatum), and changed in the portal to other values at revision 2. It returns
// the data directory and the case ID.
func conflictVault(t *testing.T) (dir, id string) {
	t.Helper()
	dir = newTestVault(t, 0, func(v *storage.Vault) {
		c, err := v.NewCase("anmeldung", map[string]string{
			"aktenzeichen": "MB-2026-000042", "familienname": "Weiß", "vornamen": "Eva",
			"telefon": "0341 1000000", "einzugsdatum": "2026-03-01",
		})
		if err != nil {
			t.Fatal(err)
		}
		id = c.ID
		ops, err := v.OutboxBatch(10)
		if err != nil || len(ops) != 1 {
			t.Fatalf("outbox = %d ops, %v", len(ops), err)
		}
		if _, err := v.RecordResults([]storage.OpOutcome{{OpID: ops[0].OpID, Status: "applied", Case: conflictPortalCase(t, c, 1, nil)}}); err != nil {
			t.Fatal(err)
		}
		if _, err := v.SetFields(c.ID, map[string]string{"telefon": "0341 1111111", "einzugsdatum": "15.03.2026"}); err != nil {
			t.Fatal(err)
		}
		st, err := v.ApplyPull([][]byte{conflictPortalCase(t, c, 2, func(p *cases.Case) {
			p.Values["telefon"] = "0341 2222222"
			p.Values["einzugsdatum"] = "2026-03-20"
		})}, "c2")
		if err != nil || st.Conflicts != 1 {
			t.Fatalf("ApplyPull = %+v, %v", st, err)
		}
		if cs, _ := v.Conflicts(c.ID); len(cs) != 2 {
			t.Fatalf("conflicts = %+v", cs)
		}
	})
	return dir, id
}

// openConflictView unlocks the app on dir, blanks the screen behind (so the golden
// shows only the dialog, in Fyne's test theme) and opens case id's conflict dialog.
func openConflictView(t *testing.T, dir, id string) (*UI, *conflictView) {
	t.Helper()
	u := unlockedUI(t, dir)
	var view *conflictView
	uiWait(func() {
		u.app.Settings().SetTheme(test.Theme())
		u.win.SetContent(container.NewStack())
		u.win.Resize(fyne.NewSize(1000, 700))
		u.showConflicts(id, func(v *conflictView) { view = v })
	})
	waitFor(t, "the conflict dialog", func() bool { return view != nil })
	return u, view
}

func conflictRowOf(t *testing.T, v *conflictView, field string) *conflictRow {
	t.Helper()
	for _, r := range v.rows {
		if r.cf.Field == field {
			return r
		}
	}
	t.Fatalf("no row for %s", field)
	return nil
}

func TestConflictDialogResolvesMineAndTypedValue(t *testing.T) {
	dir, id := conflictVault(t)
	u, view := openConflictView(t, dir, id)

	uiWait(func() {
		if len(view.rows) != 2 {
			t.Fatalf("rows = %d", len(view.rows))
		}
		test.AssertRendersToMarkup(t, "conflicts/dialog.xml", u.win.Canvas())
		tel := conflictRowOf(t, view, "values.telefon")
		tel.choice.SetSelected(tel.choice.Options[conflictChoiceMine])
		date := conflictRowOf(t, view, "values.einzugsdatum")
		test.Type(date.entry, "01.04.2026")
		if date.choice.Selected != tr("conflicts.useOwn") {
			t.Errorf("typing a value chose %q", date.choice.Selected)
		}
		test.Tap(view.apply)
	})
	waitFor(t, "the choices recorded", func() bool { return !view.busy })
	if cs, err := u.vlt.Conflicts(id); err != nil || len(cs) != 0 {
		t.Fatalf("conflicts left: %+v, %v", cs, err)
	}
	c, err := u.vlt.Case(id)
	if err != nil {
		t.Fatal(err)
	}
	if c.Values["telefon"] != "0341 1111111" || c.Values["einzugsdatum"] != "2026-04-01" {
		t.Errorf("after resolving: telefon %q, einzugsdatum %q", c.Values["telefon"], c.Values["einzugsdatum"])
	}
	ops, err := u.vlt.OutboxBatch(10)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]cases.FieldChange{}
	for _, op := range ops {
		for _, ch := range op.Patch {
			got[ch.Field] = ch
		}
	}
	if ch := got["values.telefon"]; ch.Old != "0341 2222222" || ch.New != "0341 1111111" {
		t.Errorf("op for telefon = %+v, want Old = the portal's value", ch)
	}
	if ch := got["values.einzugsdatum"]; ch.Old != "2026-03-20" || ch.New != "2026-04-01" {
		t.Errorf("op for einzugsdatum = %+v", ch)
	}
}

func TestConflictDialogKeepsRefusedValueAtField(t *testing.T) {
	dir, id := conflictVault(t)
	u, view := openConflictView(t, dir, id)
	var tel *conflictRow
	uiWait(func() {
		tel = conflictRowOf(t, view, "values.telefon")
		test.Type(tel.entry, "keine Nummer")
		date := conflictRowOf(t, view, "values.einzugsdatum")
		date.choice.SetSelected(date.choice.Options[conflictChoiceTheirs])
		test.Tap(view.apply)
	})
	waitFor(t, "the refusal at the field", func() bool {
		r := conflictRowOf(t, view, "values.telefon")
		return !view.busy && r.msg.Visible() && r.msg.Text != ""
	})
	uiWait(func() {
		r := conflictRowOf(t, view, "values.telefon")
		if !strings.Contains(r.msg.Text, "Telefonnummer") {
			t.Errorf("message at telefon = %q", r.msg.Text)
		}
		if r.entry.Text != "keine Nummer" || r.choice.Selected != tr("conflicts.useOwn") {
			t.Errorf("input lost: %q, %q", r.entry.Text, r.choice.Selected)
		}
		if len(view.rows) != 1 {
			t.Errorf("rows after applying the portal's date: %d", len(view.rows))
		}
	})
	cs, err := u.vlt.Conflicts(id)
	if err != nil || len(cs) != 1 || cs[0].Field != "values.telefon" {
		t.Fatalf("conflicts = %+v, %v", cs, err)
	}
	// Choosing the portal's value needs no op: nothing for einzugsdatum waits.
	ops, _ := u.vlt.OutboxBatch(10)
	for _, op := range ops {
		for _, ch := range op.Patch {
			if ch.Field == "values.einzugsdatum" {
				t.Errorf("op for the portal's value: %+v", ch)
			}
		}
	}
}

func TestConflictTexts(t *testing.T) {
	defer setLanguage(LangDE)
	setLanguage(LangDE)
	s, err := assets.Schemas{}.Schema("anmeldung")
	if err != nil {
		t.Fatal(err)
	}
	c := &cases.Case{Attachments: []cases.AttachmentRef{{SHA256: strings.Repeat("ab", 32), Name: "Mietvertrag.pdf", Size: 2048}}}
	for _, tc := range []struct{ path, value, label, text string }{
		{"values.einzugsdatum", "2026-03-20", "Tag des Einzugs", "20.03.2026"},
		{"values.neue_wohnung.plz", "04109", "Anschrift der neuen Wohnung: PLZ", "04109"},
		{"values.telefon", "", "Telefon (für Rückfragen)", "(keine Angabe)"},
		{"due_date", "2026-12-15", "Wiedervorlage", "15.12.2026"},
		{"assignee", "", "Zuständige Sachbearbeitung", "(keine Angabe)"},
		{"status", "in_bearbeitung", "Status", "In Bearbeitung"},
		{"values.wohnungsgeber_bestaetigung", "true", "", "Ja"},
		{"attachments." + strings.Repeat("ab", 32), "", "Anlage „Mietvertrag.pdf“", "(gelöscht)"},
	} {
		if tc.label != "" {
			if got := conflictFieldLabel(c, s, tc.path); got != tc.label {
				t.Errorf("label of %s = %q, want %q", tc.path, got, tc.label)
			}
		}
		if got := conflictValueText(c, s, tc.path, tc.value); got != tc.text {
			t.Errorf("text of %s = %q, want %q", tc.path, got, tc.text)
		}
	}
	if got := conflictKindText(storage.OpTransition); got != "einen Statuswechsel" {
		t.Errorf("kind = %q", got)
	}
}

func TestConflictDialogExplainsRefusal(t *testing.T) {
	var id string
	dir := newTestVault(t, 0, func(v *storage.Vault) {
		c, err := v.NewCase("anmeldung", map[string]string{"familienname": "Roth", "vornamen": "Ida"})
		if err != nil {
			t.Fatal(err)
		}
		id = c.ID
		if _, err := v.SetFields(c.ID, map[string]string{"telefon": "040 555123"}); err != nil {
			t.Fatal(err)
		}
		ops, _ := v.OutboxBatch(10)
		if _, err := v.RecordResults([]storage.OpOutcome{
			{OpID: ops[0].OpID, Status: "applied", Case: conflictPortalCase(t, c, 1, nil)},
			{OpID: ops[1].OpID, Status: "rejected", Reason: "Rückfragen nur per E-Mail",
				Fields: map[string]string{"values.telefon": "Telefon wird nicht mehr erfasst"}},
		}); err != nil {
			t.Fatal(err)
		}
	})
	_, view := openConflictView(t, dir, id)
	uiWait(func() {
		var texts []string
		for _, o := range test.LaidOutObjects(view.content) {
			if l, ok := o.(*widget.Label); ok {
				texts = append(texts, l.Text)
			}
		}
		all := strings.Join(texts, "\n")
		for _, want := range []string{"Vom Portal abgelehnt", "eine Änderung der Angaben nicht übernommen",
			"Grund: Rückfragen nur per E-Mail", "Telefon (für Rückfragen): Telefon wird nicht mehr erfasst"} {
			if !strings.Contains(all, want) {
				t.Errorf("dialog does not say %q:\n%s", want, all)
			}
		}
		if view.apply.Visible() || view.cancel.Text != tr("conflicts.close") {
			t.Errorf("refusals only: apply visible %v, cancel %q", view.apply.Visible(), view.cancel.Text)
		}
	})
}
