package app

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"image/png"
	"io"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"fieldoffice/assets"
	"fieldoffice/cases"
	"fieldoffice/portal"
	"fieldoffice/storage"
	fsync "fieldoffice/sync"
)

// captureStart unlocks a fresh vault and opens "Neuer Antrag" with the services listed.
func captureStart(t *testing.T) (*UI, *capture) {
	t.Helper()
	u := unlockedUI(t, newTestVault(t, 0, nil))
	uiWait(u.newApplication)
	var c *capture
	waitFor(t, "the service cards", func() bool {
		c = u.capture
		return c != nil && c.services != nil && len(captureButtons(c, tr("capture.service.choose"))) == len(c.services)
	})
	return u, c
}

// captureButtons returns the buttons on the capture screen's body with text label.
func captureButtons(c *capture, label string) []*widget.Button {
	var out []*widget.Button
	for _, o := range test.LaidOutObjects(c.body) {
		if b, ok := o.(*widget.Button); ok && b.Visible() && b.Text == label {
			out = append(out, b)
		}
	}
	return out
}

// captureChoose taps the card of service.
func captureChoose(t *testing.T, c *capture, service string) {
	t.Helper()
	i := slices.IndexFunc(c.services, func(s *cases.Schema) bool { return s.Service == service })
	buttons := captureButtons(c, tr("capture.service.choose"))
	if i < 0 || len(buttons) != len(c.services) {
		t.Fatalf("service %s at %d of %d cards", service, i, len(buttons))
	}
	test.Tap(buttons[i])
	if c.step != capStepForm || c.schema.Service != service {
		t.Fatalf("after choosing: step %d, service %v", c.step, c.schema)
	}
}

// captureBytes opens data as a file.
func captureBytes(data []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
}

// parkValues are the required values of a resident parking permit, but the family
// name (typed), the vehicle registration (a file) and the signature.
var parkValues = map[string]string{
	"vornamen": "Ayşe", "geburtsdatum": "1985-04-12",
	"wohnanschrift.strasse": "Lindenstraße", "wohnanschrift.hausnummer": "5",
	"wohnanschrift.plz": "04109", "wohnanschrift.ort": "Leipzig",
	"kennzeichen": "L-AB 123", "fahrzeugart": "pkw", "nutzung": "halter",
	"parkzone": "a", "gueltig_ab": "2026-12-01", "laufzeit": "12", "gebuehr": "30",
	"zahlungsart": "karte",
}

func TestCaptureApplicationEndToEnd(t *testing.T) {
	u, c := captureStart(t)
	pdf := []byte("%PDF-1.7 Zulassungsbescheinigung Teil I")
	photo := bytes.Repeat([]byte{0xff, 0xd8, 0xff, 0xe0}, 50_000) // 200 KB
	draft := []byte("Entwurf, wird wieder entfernt")

	uiWait(func() {
		captureChoose(t, c, "bewohnerparkausweis")
		if len(c.sigs) != 1 || c.sigs[0].field.Name != "unterschrift" {
			t.Fatalf("signature fields: %d", len(c.sigs))
		}
		test.Type(formEntry(t, c.form, "familienname"), "Öztürk")
		c.form.apply(parkValues)

		// Saving now fails: no vehicle registration, no signature. Nothing is lost.
		c.showStep(capStepReview)
		test.Tap(c.saveBtn)
		if c.step != capStepForm || !c.status.Visible() {
			t.Errorf("after an invalid save: step %d, status %q", c.step, c.status.Text)
		}
		for _, k := range []string{"fahrzeugschein", "unterschrift"} {
			if formMessage(c.form, k) == "" {
				t.Errorf("no message at %s", k)
			}
		}
		if v := c.form.Values(); v["familienname"] != "Öztürk" || v["kennzeichen"] != "L-AB 123" {
			t.Errorf("input lost: %v", v)
		}

		// Documents: one for the form's file field, a photo and a draft.
		c.addFile("fahrzeugschein", "fahrzeugschein.pdf", "application/pdf", func() int64 { return int64(len(pdf)) }, captureBytes(pdf))
		c.showStep(capStepDocs)
		c.addFile("", "ausweis.jpg", "image/jpeg", nil, captureBytes(photo))
		c.addFile("", "entwurf.txt", "text/plain", nil, captureBytes(draft))
	})
	waitFor(t, "the documents stored", func() bool { return !c.uploading() })
	var draftSHA string
	uiWait(func() {
		if len(c.docs) != 3 || c.form.Values()["fahrzeugschein"] != c.docs[0].sha {
			t.Fatalf("docs %d, field %q", len(c.docs), c.form.Values()["fahrzeugschein"])
		}
		if c.docs[1].size != int64(len(photo)) || c.docs[0].progress.Value != float64(len(pdf)) {
			t.Errorf("photo size %d, progress of the pdf %v", c.docs[1].size, c.docs[0].progress.Value)
		}
		draftSHA = c.docs[2].sha
		c.removeDoc(c.docs[2])
	})
	waitFor(t, "the removed document's blob deleted", func() bool {
		ok, err := u.vlt.HasBlob(draftSHA)
		return err == nil && !ok
	})

	// Signature, then review and save.
	uiWait(func() {
		test.Tap(c.next)
		if c.step != capStepSign {
			t.Fatalf("step after documents: %d", c.step)
		}
		pad := c.sigs[0].pad
		padDraw(pad, fyne.NewPos(20, 80), fyne.NewPos(120, 30), fyne.NewPos(220, 90), fyne.NewPos(320, 40))
		test.Tap(c.next)
		if c.step != capStepReview || c.sigs[0].sha == "" {
			t.Fatalf("after signing: step %d, sha %q", c.step, c.sigs[0].sha)
		}
		test.Tap(c.saveBtn)
	})
	// Tests run UI callbacks on the goroutine that calls fyne.Do: wait for the end state.
	waitFor(t, "the application saved and confirmed", func() bool { return c.done && u.win.Canvas().Overlays().Top() != nil })

	list, err := u.vlt.Cases(storage.CaseQuery{})
	if err != nil || len(list) != 1 {
		t.Fatalf("cases = %d, %v", len(list), err)
	}
	if list[0].Flags&cases.FlagUnsynced == 0 {
		t.Error("the new case is not marked unsynced")
	}
	got, err := u.vlt.Case(list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Service != "bewohnerparkausweis" || got.Status != "eingegangen" ||
		got.Values["familienname"] != "Öztürk" || got.Values["kennzeichen"] != "L-AB 123" ||
		got.Values["wohnanschrift.plz"] != "04109" || got.Applicant.FamilyName != "Öztürk" {
		t.Errorf("stored case: service %s status %s values %v applicant %+v", got.Service, got.Status, got.Values, got.Applicant)
	}
	var names []string
	for _, a := range got.Attachments {
		names = append(names, a.Name)
	}
	slices.Sort(names)
	if want := []string{"ausweis.jpg", "fahrzeugschein.pdf", "unterschrift.png", "unterschrift.svg"}; !slices.Equal(names, want) {
		t.Errorf("attachments %v, want %v", names, want)
	}
	sig := got.Values["unterschrift"]
	a, ok := got.Attachment(sig)
	if !ok || a.MediaType != "image/png" {
		t.Fatalf("signature field %q names no PNG attachment (%+v)", sig, got.Attachments)
	}
	r, _, err := u.vlt.OpenBlob(sig)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != sig {
		t.Error("the signature blob's content does not match the field")
	}
	if _, err := png.Decode(bytes.NewReader(b)); err != nil {
		t.Errorf("the signature attachment is not a PNG: %v", err)
	}
	if doc, _ := got.Attachment(got.Values["fahrzeugschein"]); doc.Name != "fahrzeugschein.pdf" || doc.Size != int64(len(pdf)) {
		t.Errorf("file field names %+v", doc)
	}
	ops, err := u.vlt.OutboxBatch(20)
	if err != nil || len(ops) == 0 || ops[0].Kind != storage.OpCreate || ops[0].CaseID != got.ID {
		t.Fatalf("outbox: %+v, %v", ops, err)
	}
	uiWait(func() {
		if c.saveBtn.Visible() {
			t.Error("save still offered after saving")
		}
	})
}

// TestCaptureKeepsInputAndResumes: the vault's own refusal (a value the form lets
// through to save) shows at the field with the input kept; leaving the screen and
// coming back resumes the draft; cancelling asks first.
func TestCaptureKeepsInputAndResumes(t *testing.T) {
	defer setLanguage(LangDE)
	u, c := captureStart(t)
	uiWait(func() {
		captureChoose(t, c, "bewohnerparkausweis")
		c.form.apply(map[string]string{"familienname": "Berg", "kennzeichen": "kein Kennzeichen"})
		c.showStep(capStepReview)
		test.Tap(c.saveBtn)
		if c.step != capStepForm {
			t.Fatalf("step after an invalid save: %d", c.step)
		}
		if m := formMessage(c.form, "kennzeichen"); !strings.Contains(m, "Format") {
			t.Errorf("message at kennzeichen = %q", m)
		}
		u.showCases()
		if c.visible() {
			t.Fatal("capture still visible on the case list")
		}
		u.newApplication()
		if u.capture != c || !c.visible() || c.step != capStepForm || c.form.Values()["familienname"] != "Berg" {
			t.Errorf("draft not resumed: same %v, visible %v, step %d", u.capture == c, c.visible(), c.step)
		}
		// A language switch rebuilds the screen with everything entered.
		setLanguage(LangEN)
		c.reload()
		if c.next.Text != "Next" || c.form.Values()["familienname"] != "Berg" || c.step != capStepForm {
			t.Errorf("after switching to English: button %q, values %v, step %d", c.next.Text, c.form.Values(), c.step)
		}
		setLanguage(LangDE)
		c.reload()

		// Escape in the form's first field cancels, after asking.
		c.form.FocusFirst(u.win.Canvas())
		focused := u.win.Canvas().Focused()
		if focused == nil {
			t.Fatal("nothing focused on the form")
		}
		focused.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
		if u.win.Canvas().Overlays().Top() == nil || u.capture != c {
			t.Error("Escape on a filled-in application did not ask")
		}
	})
	if n, _ := u.vlt.OutboxLen(); n != 0 {
		t.Errorf("an invalid application queued %d ops", n)
	}
}

// TestCaptureServicesFollowPolicy: the policy's list limits the services offered;
// without one every known form is offered.
func TestCaptureServicesFollowPolicy(t *testing.T) {
	ids := func(list []*cases.Schema) []string {
		var out []string
		for _, s := range list {
			out = append(out, s.Service)
		}
		slices.Sort(out)
		return out
	}
	all, err := captureServices(&session{forms: assets.Schemas{}})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(all); !slices.Equal(got, []string{"anmeldung", "bewohnerparkausweis", "gewerbeanmeldung", "personalausweis"}) {
		t.Errorf("without a device: %v", got)
	}
	dev := &fsync.Device{Policy: portal.Policy{Services: []string{"gewerbeanmeldung", "anmeldung", "hundesteuer"}}}
	some, err := captureServices(&session{forms: assets.Schemas{}, dev: dev})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(some); !slices.Equal(got, []string{"anmeldung", "gewerbeanmeldung"}) {
		t.Errorf("with the policy's list: %v", got)
	}
}
