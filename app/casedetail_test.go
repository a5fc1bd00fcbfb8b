package app

import (
	"bytes"
	"crypto/rand"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"fieldoffice/assets"
	"fieldoffice/cases"
	"fieldoffice/storage"
)

// detailVault creates a vault with one "anmeldung" case (status eingegangen, no
// Sachbearbeitung) and a few demo cases; it returns the data dir and the case's ID.
func detailVault(t *testing.T) (dir, id string) {
	t.Helper()
	dir = newTestVault(t, 5, func(v *storage.Vault) {
		c, err := v.NewCase("anmeldung", map[string]string{
			"familienname": "Schäfer", "vornamen": "Anna",
			"neue_wohnung.strasse": "Hauptstraße", "neue_wohnung.hausnummer": "12",
			"neue_wohnung.plz": "10115", "neue_wohnung.ort": "Berlin",
		})
		if err != nil {
			t.Fatal(err)
		}
		id = c.ID
	})
	return dir, id
}

// detailOpen unlocks the app on dir, opens case id and waits until it shows.
func detailOpen(t *testing.T, dir, id string) (*UI, *caseDetail) {
	t.Helper()
	u := unlockedUI(t, dir)
	uiWait(func() { u.openCase(id) })
	var d *caseDetail
	waitFor(t, "the case screen", func() bool {
		d = u.detail
		return d != nil && d.shown.Load() > 0 && d.visible()
	})
	// Before the vault closes (cleanups run last first), let the screen's calls end.
	t.Cleanup(func() { waitFor(t, "the case screen's vault calls", func() bool { return d.jobs.Load() == 0 }) })
	return u, d
}

// detailTexts collects the texts of labels and buttons under o, in layout order.
func detailTexts(o fyne.CanvasObject) []string {
	var out []string
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if o == nil || !o.Visible() {
			return
		}
		switch w := o.(type) {
		case *fyne.Container:
			for _, c := range w.Objects {
				walk(c)
			}
		case *widget.Card:
			out = append(out, w.Title)
			walk(w.Content)
		case *container.Scroll:
			walk(w.Content)
		case *container.Split:
			walk(w.Leading)
			walk(w.Trailing)
		case *widget.Label:
			out = append(out, w.Text)
		case *widget.Button:
			out = append(out, w.Text)
		}
	}
	walk(o)
	return out
}

// detailHas reports whether some text under o contains s.
func detailHas(o fyne.CanvasObject, s string) bool {
	return slices.ContainsFunc(detailTexts(o), func(t string) bool { return strings.Contains(t, s) })
}

// detailTransition finds the workflow button labelled label and the reason shown under
// it ("" when enabled).
func detailTransition(t *testing.T, d *caseDetail, label string) (*widget.Button, string) {
	t.Helper()
	objs := d.workflow.Objects
	for i, o := range objs {
		box, ok := o.(*fyne.Container)
		if !ok || len(box.Objects) != 1 {
			continue
		}
		b, ok := box.Objects[0].(*widget.Button)
		if !ok || b.Text != label {
			continue
		}
		if b.Disabled() && i+1 < len(objs) {
			if l, ok := objs[i+1].(*widget.Label); ok {
				return b, l.Text
			}
		}
		return b, ""
	}
	t.Fatalf("no workflow button %q; workflow shows %q", label, detailTexts(d.workflow))
	return nil, ""
}

func TestDetailEditValidationAndSave(t *testing.T) {
	dir, id := detailVault(t)
	u, d := detailOpen(t, dir, id)
	before, err := u.vlt.PendingOps(id)
	if err != nil {
		t.Fatal(err)
	}
	var shown bool
	uiWait(func() {
		shown = detailHas(d.root, "Schäfer, Anna") && detailHas(d.root, "Eingegangen") && detailHas(d.root, "Anmeldung einer Wohnung")
	})
	if !shown {
		t.Fatalf("header does not show applicant, status and service: %q", detailTexts(d.root))
	}
	if !strings.Contains(u.win.Title(), "Vorgang") {
		t.Errorf("window title %q", u.win.Title())
	}

	// An invalid PLZ: the message at the field as it is typed, and again after saving;
	// nothing is written.
	plz := func() *widget.Entry { return &d.form.byName["neue_wohnung"].ctl.(*addressControl).entries["plz"].Entry }
	uiWait(func() {
		plz().SetText("")
		test.Type(plz(), "1011")
	})
	uiWait(func() {
		if m := formMessage(d.form, "neue_wohnung.plz"); m != "Postleitzahl muss fünf Ziffern haben" {
			t.Errorf("message while typing: %q", m)
		}
		test.Tap(d.saveBtn)
	})
	waitFor(t, "the refusal", func() bool { return !d.busy && strings.Contains(d.status.Text, "Nicht gespeichert") })
	uiWait(func() {
		if m := formMessage(d.form, "neue_wohnung.plz"); m != "Postleitzahl muss fünf Ziffern haben" {
			t.Errorf("message after saving: %q", m)
		}
	})
	c, err := u.vlt.Case(id)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Values["neue_wohnung.plz"]; got != "10115" {
		t.Errorf("invalid PLZ written: vault has %q", got)
	}
	if n, _ := u.vlt.PendingOps(id); n != before {
		t.Errorf("refused save queued an op: %d → %d", before, n)
	}

	// A valid value, saved with Ctrl+S's function.
	uiWait(func() {
		test.Type(plz(), "9")
		if m := formMessage(d.form, "neue_wohnung.plz"); m != "" {
			t.Errorf("valid PLZ still shows %q", m)
		}
		u.saveCurrent()
	})
	waitFor(t, "the save", func() bool { return !d.busy && strings.HasPrefix(d.status.Text, "Gespeichert") })
	c, err = u.vlt.Case(id)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Values["neue_wohnung.plz"]; got != "10119" {
		t.Errorf("vault has PLZ %q, want 10119", got)
	}
	if n, _ := u.vlt.PendingOps(id); n != before+1 {
		t.Errorf("pending ops %d → %d, want one more", before, n)
	}
	uiWait(func() {
		if ch := d.form.Changed(); len(ch) != 0 {
			t.Errorf("form still reports changes after saving: %v", ch)
		}
	})
	// The history names the field, never the value.
	waitFor(t, "the history entry", func() bool { return detailHas(d.history, "Angaben geändert") })
	uiWait(func() {
		if !detailHas(d.history, "Anschrift der neuen Wohnung") {
			t.Errorf("history does not name the field: %q", detailTexts(d.history))
		}
		if detailHas(d.history, "10119") {
			t.Error("history shows a value")
		}
		if !detailHas(d.header, "Noch nicht synchronisiert") {
			t.Errorf("no unsynced badge: %q", detailTexts(d.header))
		}
	})

	// Escape in a field with unsaved changes asks before leaving.
	uiWait(func() {
		ort := d.form.byName["neue_wohnung"].ctl.(*addressControl).entries["ort"]
		ort.SetText("Potsdam")
		ort.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
		if !d.visible() || u.win.Canvas().Overlays().Top() == nil {
			t.Error("Escape with unsaved changes left without asking")
		}
		u.win.Canvas().Overlays().Remove(u.win.Canvas().Overlays().Top())
		ort.SetText("Berlin")
	})

	// Back to the list: the screen is no longer visible, saveCurrent does nothing.
	uiWait(func() {
		d.assignee.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
		if d.visible() {
			t.Error("case screen visible after going back")
		}
		u.saveCurrent()
	})
}

func TestDetailWorkflow(t *testing.T) {
	dir, id := detailVault(t)
	u, d := detailOpen(t, dir, id)

	uiWait(func() {
		b, reason := detailTransition(t, d, "Bearbeitung beginnen")
		if !b.Disabled() {
			t.Error("Bearbeitung beginnen enabled without Sachbearbeitung")
		}
		if !strings.Contains(reason, "Sachbearbeitung") {
			t.Errorf("reason %q does not name Sachbearbeitung", reason)
		}
		test.Tap(b) // disabled: nothing happens
		test.Tap(d.assignMe)
		if d.assignee.Text != "schmidt" {
			t.Errorf("Mir zuweisen set %q", d.assignee.Text)
		}
		test.Tap(d.saveBtn)
	})
	waitFor(t, "the assignee saved", func() bool { return !d.busy && strings.HasPrefix(d.status.Text, "Gespeichert") })
	uiWait(func() {
		b, reason := detailTransition(t, d, "Bearbeitung beginnen")
		if b.Disabled() {
			t.Fatalf("Bearbeitung beginnen still disabled: %q", reason)
		}
		test.Tap(b)
	})
	waitFor(t, "the transition", func() bool { return !d.busy && strings.HasPrefix(d.status.Text, "Status geändert") })
	c, err := u.vlt.Case(id)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != "in_bearbeitung" || c.Assignee != "schmidt" {
		t.Errorf("case status %q assignee %q", c.Status, c.Assignee)
	}
	uiWait(func() {
		if !detailHas(d.header, "In Bearbeitung") {
			t.Errorf("header does not show the new status: %q", detailTexts(d.header))
		}
		// From In Bearbeitung, Rückfrage needs a Wiedervorlage: disabled, with the reason.
		_, reason := detailTransition(t, d, "Rückfrage stellen")
		if !strings.Contains(reason, "Wiedervorlage") {
			t.Errorf("Rückfrage reason %q", reason)
		}
		// An invalid Wiedervorlage is refused at its field.
		d.due.SetText("31.02.2026")
		test.Tap(d.saveBtn)
	})
	waitFor(t, "the refusal", func() bool { return !d.busy && strings.Contains(d.status.Text, "Nicht gespeichert") })
	uiWait(func() {
		if l := d.attrErrs["due_date"]; !l.Visible() || !strings.Contains(l.Text, "TT.MM.JJJJ") {
			t.Errorf("due date message %q", l.Text)
		}
	})
}

func TestDetailNotes(t *testing.T) {
	dir, id := detailVault(t)
	u, d := detailOpen(t, dir, id)
	uiWait(func() {
		test.Tap(d.noteBtn)
		if !strings.Contains(d.status.Text, "Bitte geben Sie einen Text") {
			t.Errorf("empty note: status %q", d.status.Text)
		}
		test.Type(d.noteEntry, "Antragstellerin telefonisch erreicht.")
		test.Tap(d.noteBtn)
	})
	waitFor(t, "the note", func() bool { return detailHas(d.notes, "Antragstellerin telefonisch erreicht.") })
	c, err := u.vlt.Case(id)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Notes) != 1 || c.Notes[0].Author != "schmidt" {
		t.Errorf("vault notes %+v", c.Notes)
	}
	uiWait(func() {
		if d.noteEntry.Text != "" {
			t.Error("note entry not cleared")
		}
	})
}

// detailWriter collects an export and says when it is closed.
type detailWriter struct {
	bytes.Buffer
	closed chan struct{}
}

func (w *detailWriter) Close() error { close(w.closed); return nil }

func TestDetailAttachAndExport(t *testing.T) {
	dir, id := detailVault(t)
	u, d := detailOpen(t, dir, id)
	data := make([]byte, 300<<10+17) // several chunks, not a multiple of anything
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	uiWait(func() {
		d.addAttachment("Mietvertrag.pdf", "", int64(len(data)), io.NopCloser(bytes.NewReader(data)), nil)
	})
	waitFor(t, "the attachment", func() bool { return strings.Contains(d.status.Text, "hinzugefügt") })
	var ref cases.AttachmentRef
	uiWait(func() { ref = d.data.c.Attachments[0] })
	if ref.Name != "Mietvertrag.pdf" || ref.MediaType != "application/pdf" || ref.Size != int64(len(data)) {
		t.Errorf("attachment %+v", ref)
	}
	uiWait(func() {
		if !detailHas(d.files, "Mietvertrag.pdf") || !detailHas(d.files, "300,0 KiB · application/pdf · wartet auf Übertragung") {
			t.Errorf("attachment row: %q", detailTexts(d.files))
		}
	})
	c, err := u.vlt.Case(id)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Attachment(ref.SHA256); !ok {
		t.Fatal("attachment not recorded in the vault")
	}

	w := &detailWriter{closed: make(chan struct{})}
	var exportErr error
	exported := false
	uiWait(func() {
		d.exportAttachment(ref, w, func(err error) { exportErr, exported = err, true })
	})
	waitFor(t, "the export", func() bool { return exported })
	if exportErr != nil {
		t.Fatal(exportErr)
	}
	<-w.closed
	if !bytes.Equal(w.Bytes(), data) {
		t.Errorf("export differs: %d bytes, want %d", w.Len(), len(data))
	}
	uiWait(func() {
		if !strings.Contains(d.status.Text, "gespeichert") {
			t.Errorf("status after export %q", d.status.Text)
		}
	})

	// A file field takes the attachment through the form's attach hook.
	uiWait(func() {
		d.form.AddFile("unterschrift", ref.SHA256, ref.Name) // not a file field: ignored
		if ch := d.form.Changed(); len(ch) != 0 {
			t.Errorf("AddFile on a signature field changed %v", ch)
		}
	})
}

// detailGoldenData is a fixed case as the case screen shows it: every part filled.
func detailGoldenData(t *testing.T) (*detailData, []storage.AuditEntry) {
	t.Helper()
	s, err := assets.Schemas{}.Schema("anmeldung")
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC)
	sha := strings.Repeat("3f", 32)
	c := &cases.Case{
		ID: "0195f1a2-0000-7000-8000-000000000001", Service: "anmeldung", Aktenzeichen: "MA-2026-000123",
		Applicant: cases.Applicant{FamilyName: "Schäfer", GivenNames: "Anna",
			Address: cases.Address{Street: "Hauptstraße", HouseNumber: "12", Postcode: "10115", City: "Berlin"}},
		Values: cases.Values{
			"familienname": "Schäfer", "vornamen": "Anna", "geschlecht": "weiblich", "geburtsdatum": "1988-07-14",
			"geburtsort": "Leipzig", "staatsangehoerigkeit": "deutsch", "familienstand": "ledig",
			"neue_wohnung.strasse": "Hauptstraße", "neue_wohnung.hausnummer": "12", "neue_wohnung.plz": "10115",
			"neue_wohnung.ort": "Berlin", "einzugsdatum": "2026-02-27", "wohnungsstatus": "alleinige",
			"wohnungsgeber_bestaetigung": "true", "email": "anna.schaefer@beispiel.de",
		},
		Status: "in_bearbeitung", Assignee: "schmidt", DueDate: "2026-03-16",
		Notes:       []cases.Note{{ID: "n1", Author: "schmidt", Text: "Wohnungsgeberbestätigung im Original vorgelegt.", Created: created.Add(time.Hour)}},
		Attachments: []cases.AttachmentRef{{SHA256: sha, Name: "Wohnungsgeberbestaetigung.pdf", MediaType: "application/pdf", Size: 182_340, Added: created}},
		Revision:    4, Created: created, Updated: created.Add(26 * time.Hour),
	}
	dd := &detailData{
		c: c, schema: s, pending: 2,
		uploading: map[string]bool{sha: true}, local: map[string]bool{sha: true},
		conflicts:  []cases.Conflict{{Field: "values.email", Base: "a@beispiel.de", Mine: "anna.schaefer@beispiel.de", Theirs: "anna@beispiel.de"}},
		rejections: []storage.Rejection{{OpID: "op1", Kind: "patch", Fields: map[string]string{"values.geburtsort": "Bitte füllen Sie dieses Pflichtfeld aus"}, Time: created.Add(2 * time.Hour)}},
	}
	history := []storage.AuditEntry{
		{Seq: 3, Time: created.Add(26 * time.Hour), User: "schmidt", Op: storage.AuditPatch, CaseID: c.ID, Fields: []string{"values.neue_wohnung.plz", "values.neue_wohnung.ort", "values.email"}},
		{Seq: 2, Time: created.Add(time.Hour), User: "schmidt", Op: storage.AuditNote, CaseID: c.ID, Fields: []string{"notes.n1"}},
		{Seq: 1, Time: created, User: "schmidt", Op: storage.AuditCreate, CaseID: c.ID, Fields: []string{"status", "values.familienname"}},
	}
	return dd, history
}

func TestDetailGoldenMarkup(t *testing.T) {
	a := test.NewTempApp(t)
	setLanguage(LangDE)
	loc := time.Local
	time.Local = time.UTC
	defer func() { time.Local = loc }()

	dd, history := detailGoldenData(t)
	w := test.NewWindow(nil)
	t.Cleanup(w.Close)
	u := &UI{app: a, win: w, log: slog.Default(), sess: &session{user: "schmidt", role: cases.RoleSachbearbeitung}}
	d := &caseDetail{u: u, id: dd.c.ID, data: dd, now: func() time.Time { return time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC) }}
	u.detail = d
	d.root = d.build(nil, nil)
	d.showHistory(history, "")
	w.SetContent(d.root)
	w.Resize(fyne.NewSize(1280, 1600))

	for _, want := range []string{"MA-2026-000123", "Schäfer, Anna\nHauptstraße 12, 10115 Berlin", "In Bearbeitung",
		"Noch nicht synchronisiert (2 Änderungen warten)", "Konflikt mit dem Portal (1 Angabe)", "Konflikte lösen",
		"Geburtsort (und Staat, falls Ausland): Bitte füllen Sie dieses Pflichtfeld aus", "Rückfrage stellen", "Vermerk hinzufügen",
		"178,1 KiB · application/pdf · wartet auf Übertragung", "Öffnen/Exportieren", "03.03.2026 11:15 – schmidt: Angaben geändert",
		"Anschrift der neuen Wohnung, E-Mail"} {
		if !detailHas(d.root, want) {
			t.Errorf("screen lacks %q", want)
		}
	}
	test.AssertRendersToMarkup(t, "detail/case_de.xml", w.Canvas())
}

func TestDetailExportToFile(t *testing.T) {
	// The save dialog's callback writes through a fyne URI writer; the same path with a
	// file on disk.
	dir, id := detailVault(t)
	_, d := detailOpen(t, dir, id)
	data := []byte("%PDF-1.7 Bescheid\n")
	uiWait(func() {
		d.addAttachment("Bescheid.pdf", "application/pdf", int64(len(data)), io.NopCloser(bytes.NewReader(data)), nil)
	})
	waitFor(t, "the attachment", func() bool { return strings.Contains(d.status.Text, "hinzugefügt") })
	out := filepath.Join(t.TempDir(), "Bescheid.pdf")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	uiWait(func() { d.exportAttachment(d.data.c.Attachments[0], f, func(err error) { done <- err }) })
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("export did not finish")
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("exported file %q", got)
	}
}

func TestDetailLanguageSwitchKeepsEdits(t *testing.T) {
	dir, id := detailVault(t)
	u, d := detailOpen(t, dir, id)
	defer setLanguage(LangDE)
	uiWait(func() {
		d.assignee.SetText("team-meldewesen")
		formEntry(t, d.form, "vornamen").SetText("Anna Maria")
		u.toggleLanguage()
	})
	waitFor(t, "the English case screen", func() bool { return d.shown.Load() > 1 && d.saveBtn.Text == "Save" })
	uiWait(func() {
		if !detailHas(d.root, "Registration of a residence") || !detailHas(d.root, "Received") {
			t.Errorf("English screen: %q", detailTexts(d.header))
		}
		if d.assignee.Text != "team-meldewesen" {
			t.Errorf("unsaved Sachbearbeitung lost: %q", d.assignee.Text)
		}
		if got := d.form.Changed()["vornamen"]; got != "Anna Maria" {
			t.Errorf("unsaved first names lost: Changed() = %v", d.form.Changed())
		}
	})
}
