package app

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"fieldoffice/portal"
	"fieldoffice/storage"
	fsync "fieldoffice/sync"
)

// chromeTexts returns the texts of every label and button on screen in o.
func chromeTexts(o fyne.CanvasObject) []string {
	var out []string
	for _, c := range test.LaidOutObjects(o) {
		if !c.Visible() {
			continue
		}
		switch w := c.(type) {
		case *widget.Label:
			out = append(out, w.Text)
		case *widget.Button:
			out = append(out, w.Text)
		case *widget.Check:
			out = append(out, w.Text)
		}
	}
	return out
}

// chromeShows reports whether a label or button in o has text containing want.
func chromeShows(o fyne.CanvasObject, want string) bool {
	for _, s := range chromeTexts(o) {
		if strings.Contains(s, want) {
			return true
		}
	}
	return false
}

// chromeSettle waits until the bar's reads of the vault are done. The test driver runs
// fyne.Do callbacks on the calling goroutine, not on one UI goroutine, so a test step
// must not overlap them.
func chromeSettle(t *testing.T, u *UI) {
	t.Helper()
	waitFor(t, "the sync bar's vault reads", func() bool { return !u.bar.loading && !u.bar.refreshing })
}

// chromeEnrolled makes the bar of an unlocked test UI behave as on an enrolled device
// with background sync (the test vault has no enrollment).
func chromeEnrolled(t *testing.T, u *UI) {
	chromeSettle(t, u)
	uiWait(func() {
		u.bar.enrolled, u.bar.available = true, true
		u.bar.render()
	})
}

func TestSyncBarNotEnrolled(t *testing.T) {
	u := unlockedUI(t, newTestVault(t, 3, nil))
	want, err := u.vlt.OutboxLen()
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pending count", func() bool { return u.bar.pendingN >= 0 })
	uiWait(func() {
		if got := u.bar.state.Text; got != "Nicht mit einem Portal verbunden" {
			t.Errorf("state = %q", got)
		}
		if !u.bar.syncBtn.Disabled() {
			t.Error("Jetzt synchronisieren is enabled on a device without a portal")
		}
		if u.bar.syncBtn.Text != "Jetzt synchronisieren" {
			t.Errorf("button = %q", u.bar.syncBtn.Text)
		}
		var wantText string
		switch want {
		case 0:
			wantText = "Alle Änderungen übertragen"
		case 1:
			wantText = "1 Änderung wartet auf Übertragung"
		default:
			wantText = fmt.Sprintf("%d Änderungen warten auf Übertragung", want)
		}
		if got := u.bar.pending.Text; got != wantText {
			t.Errorf("pending = %q, want %q", got, wantText)
		}
		if !chromeShows(u.win.Content(), "Nicht mit einem Portal verbunden") {
			t.Error("the bar is not on the case list screen")
		}
	})
}

func TestSyncBarEventsShowPhase(t *testing.T) {
	u := unlockedUI(t, newTestVault(t, 0, nil))
	chromeEnrolled(t, u)
	steps := []struct {
		ev    fsync.Event
		phase string
		value float64
	}{
		{fsync.Event{Phase: fsync.PhaseConnect}, "Verbinden …", 0},
		{fsync.Event{Phase: fsync.PhasePull}, "Abrufen …", 0.05},
		{fsync.Event{Phase: fsync.PhasePull, Done: 200}, "Abrufen: 200 Vorgänge", 0.05},
		{fsync.Event{Phase: fsync.PhaseUpload, Done: 1, Total: 4, Bytes: 1536 << 10}, "Anlagen hochladen: 1 von 4 (1,5 MiB)", 0.45 + 0.35/4},
		{fsync.Event{Phase: fsync.PhasePush, Done: 3, Total: 4}, "Senden: 3 von 4 Änderungen", 0.8 + 0.2*3/4},
	}
	for _, s := range steps {
		uiWait(func() {
			u.syncEvent(s.ev)
			if got := u.bar.phase.Text; got != s.phase {
				t.Errorf("%+v: phase = %q, want %q", s.ev, got, s.phase)
			}
			if got := u.bar.progress.Value; math.Abs(got-s.value) > 1e-9 {
				t.Errorf("%+v: progress = %v, want %v", s.ev, got, s.value)
			}
			if !u.bar.progRow.Visible() {
				t.Errorf("%+v: progress hidden during a run", s.ev)
			}
			if !u.bar.syncBtn.Disabled() {
				t.Errorf("%+v: Jetzt synchronisieren enabled during a run", s.ev)
			}
		})
	}
	uiWait(func() {
		u.syncEvent(fsync.Event{Phase: fsync.PhaseDone})
		u.syncResult(fsync.ReasonNow, fsync.Summary{}, nil)
		if u.bar.progRow.Visible() {
			t.Error("progress still shown after the result")
		}
		if u.bar.syncBtn.Disabled() {
			t.Error("Jetzt synchronisieren still disabled after the run")
		}
	})
}

func TestSyncBarResults(t *testing.T) {
	u := unlockedUI(t, newTestVault(t, 0, nil))
	chromeEnrolled(t, u)
	now := time.Date(2026, 12, 15, 9, 30, 0, 0, time.Local)
	uiWait(func() { u.bar.now = func() time.Time { return now } })

	type want struct {
		state, message string
		details        bool
	}
	check := func(what string, w want) {
		t.Helper()
		uiWait(func() {
			b := u.bar
			if b.state.Text != w.state {
				t.Errorf("%s: state = %q, want %q", what, b.state.Text, w.state)
			}
			if b.message.Text != w.message {
				t.Errorf("%s: message = %q, want %q", what, b.message.Text, w.message)
			}
			if b.details.Visible() != w.details {
				t.Errorf("%s: Details visible = %v, want %v", what, b.details.Visible(), w.details)
			}
		})
	}

	uiWait(func() { u.syncResult(fsync.ReasonNow, fsync.Summary{Pulled: 3, Pushed: 2}, nil) })
	check("success", want{"Online", "Synchronisiert: 3 Vorgänge empfangen, 2 Änderungen übertragen.", false})
	uiWait(func() {
		if got := u.bar.last.Text; got != "Zuletzt synchronisiert: gerade eben" {
			t.Errorf("last = %q", got)
		}
	})

	offline := fmt.Errorf("%w: GET /v1/policy: dial tcp 10.0.0.1:443: connect: network is unreachable", fsync.ErrPortalUnreachable)
	uiWait(func() { u.syncResult(fsync.ReasonInterval, fsync.Summary{Pending: 4}, offline) })
	check("offline", want{"Offline", "Keine Verbindung zum Portal – Ihre Änderungen sind sicher gespeichert und werden später übertragen.", true})
	uiWait(func() {
		if got := u.bar.pending.Text; got != "4 Änderungen warten auf Übertragung" {
			t.Errorf("pending after offline run = %q", got)
		}
		if got := u.bar.last.Text; got != "Zuletzt synchronisiert: gerade eben" {
			t.Errorf("a failed run changed the last sync: %q", got)
		}
		test.Tap(u.bar.details)
		top := u.win.Canvas().Overlays().Top()
		if top == nil || !chromeShows(top, "network is unreachable") {
			t.Error("Details does not show the technical error")
		}
		closeOverlays(u.win.Canvas())
	})

	refused := fmt.Errorf("push: %w", &portal.Problem{Title: "forbidden", Status: 403})
	uiWait(func() { u.syncResult(fsync.ReasonNow, fsync.Summary{}, refused) })
	check("refused", want{"Online", "Das Portal hat die Anfrage dieses Geräts abgewiesen. Ihre Änderungen sind sicher gespeichert. Bitte wenden Sie sich an die IT.", true})

	uiWait(func() { u.syncResult(fsync.ReasonNow, fsync.Summary{}, errors.New("disk on fire")) })
	check("other error", want{"Online", "Die Synchronisation ist fehlgeschlagen. Ihre Änderungen sind sicher gespeichert. Die Details helfen der IT.", true})

	// conflicts: message, and a desktop notification when they are new
	test.AssertNotificationSent(t, fyne.NewNotification("FieldOffice", "Synchronisation abgeschlossen: 2 Vorgänge brauchen Ihre Entscheidung."), func() {
		uiWait(func() { u.syncResult(fsync.ReasonNow, fsync.Summary{Pulled: 1, Conflicts: 2}, nil) })
	})
	check("conflicts", want{"Online", "2 Vorgänge brauchen Ihre Entscheidung.", false})
	test.AssertNotificationSent(t, nil, func() {
		uiWait(func() { u.syncResult(fsync.ReasonInterval, fsync.Summary{Conflicts: 2}, nil) })
	})
	test.AssertNotificationSent(t, fyne.NewNotification("FieldOffice", "Synchronisation abgeschlossen: 3 Vorgänge brauchen Ihre Entscheidung."), func() {
		uiWait(func() { u.syncResult(fsync.ReasonInterval, fsync.Summary{Conflicts: 3}, offline) })
	})
	check("offline with conflicts", want{"Offline", "Keine Verbindung zum Portal – Ihre Änderungen sind sicher gespeichert und werden später übertragen. 3 Vorgänge brauchen Ihre Entscheidung.", true})

	// an expired device certificate explains the "unreachable" portal
	uiWait(func() {
		u.bar.certExpiry = now.Add(-24 * time.Hour)
		u.syncResult(fsync.ReasonNow, fsync.Summary{}, offline)
	})
	check("certificate expired", want{"Offline", "Das Zertifikat dieses Geräts ist am 14.12.2026 abgelaufen; das Portal nimmt keine Daten mehr an. Ihre Änderungen sind sicher gespeichert. Bitte wenden Sie sich an die IT.", true})

	// English
	uiWait(u.toggleLanguage)
	chromeSettle(t, u)
	defer uiWait(func() { setLanguage(LangDE) })
	uiWait(func() { u.syncResult(fsync.ReasonNow, fsync.Summary{Conflicts: 1}, nil) })
	check("english", want{"Online", "1 case needs your decision.", false})
	uiWait(func() {
		if u.bar.syncBtn.Text != "Sync now" {
			t.Errorf("button after the language switch = %q", u.bar.syncBtn.Text)
		}
	})
}

func TestSyncBarRelativeTimeAndClock(t *testing.T) {
	u := unlockedUI(t, newTestVault(t, 0, nil))
	chromeEnrolled(t, u)
	synced := time.Date(2026, 12, 15, 9, 30, 0, 0, time.UTC)
	uiWait(func() {
		u.bar.lastSync = synced
		u.bar.now = func() time.Time { return synced.Add(5 * time.Minute) }
		u.bar.renderLast()
		if got := u.bar.last.Text; got != "Zuletzt synchronisiert: vor 5 Minuten" {
			t.Errorf("last = %q", got)
		}
	})

	// The clock refreshes the text on its own; lock stops it.
	var stop chan struct{}
	uiWait(func() {
		u.bar.every = 10 * time.Millisecond
		u.bar.start()
	})
	chromeSettle(t, u)
	uiWait(func() {
		chromeEnrolledNow(u)
		u.bar.lastSync = synced
		u.bar.now = func() time.Time { return synced.Add(2 * time.Hour) }
		stop = u.bar.stopClock
	})
	waitFor(t, "the clock to refresh the relative time", func() bool {
		return u.bar.last.Text == "Zuletzt synchronisiert: vor 2 Stunden"
	})
	uiWait(u.lock)
	select {
	case <-stop:
	default:
		t.Fatal("lock did not stop the clock")
	}
	uiWait(func() {
		if u.bar.stopClock != nil || u.bar.active {
			t.Error("the bar still runs after lock")
		}
		if u.bar.last.Text != "" || u.bar.state.Text != "" {
			t.Errorf("the bar still shows the session: %q %q", u.bar.state.Text, u.bar.last.Text)
		}
	})
}

// chromeEnrolledNow is chromeEnrolled on the UI goroutine.
func chromeEnrolledNow(u *UI) {
	u.bar.enrolled, u.bar.available = true, true
	u.bar.render()
}

func TestSyncResultRevokedWipes(t *testing.T) {
	dir := newTestVault(t, 2, nil)
	u := unlockedUI(t, dir)
	if err := os.WriteFile(filepath.Join(dir, fsync.DeviceFile), []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	v := u.vlt
	uiWait(func() {
		u.syncResult(fsync.ReasonNow, fsync.Summary{}, fmt.Errorf("check-in: %w", fsync.ErrRevoked))
		if u.sess != nil || u.vlt != nil {
			t.Error("session or vault still set after the revocation")
		}
		if v.Unlocked() {
			t.Error("the vault's keys are still there")
		}
	})
	waitTitle(t, u, "Gerät gesperrt")
	waitFor(t, "the wipe", func() bool { return u.bar.wipe != nil && u.bar.wipe.done })
	uiWait(func() {
		if u.bar.wipe.err != nil {
			t.Fatalf("wipe: %v", u.bar.wipe.err)
		}
		if !chromeShows(u.win.Content(), "Dieses Gerät wurde von der IT gesperrt.") ||
			!chromeShows(u.win.Content(), "Alle Vorgänge, Anlagen und Zugänge auf diesem Gerät wurden gelöscht.") {
			t.Errorf("wiped screen says %q", chromeTexts(u.win.Content()))
		}
	})
	for _, f := range []string{storage.FileName, fsync.DeviceFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s still there after the wipe (%v)", f, err)
		}
	}
	// nothing brings a session back: shortcuts, the idle lock, language switch
	uiWait(func() {
		u.runCommand(commandNamed("menu.device"))
		u.lock()
		u.menuToggleLanguage()
	})
	waitTitle(t, u, "Device locked")
	uiWait(u.menuToggleLanguage)
	waitTitle(t, u, "Gerät gesperrt")
}
