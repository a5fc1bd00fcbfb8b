package app

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// chromeUnlockWith starts the app on dir, lets prepare adjust the UI (e.g. the idle
// limit) and unlocks it.
func chromeUnlockWith(t *testing.T, dir string, prepare func(u *UI)) *UI {
	t.Helper()
	u := newTestUI(t, dir)
	waitTitle(t, u, tr("screen.unlock"))
	uiWait(func() {
		prepare(u)
		test.Type(u.unlock.pin, testPIN)
		test.Tap(u.unlock.button)
	})
	waitTitle(t, u, tr("screen.cases"))
	return u
}

func TestIdleAutoLock(t *testing.T) {
	u := chromeUnlockWith(t, newTestVault(t, 0, nil), func(u *UI) { u.locker.idleOverride = 300 * time.Millisecond })
	start := time.Now()
	waitTitle(t, u, "Entsperren")
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("locked after %v, before the idle limit", d)
	}
	if u.vlt.Unlocked() {
		t.Fatal("the vault is still unlocked after the idle lock")
	}
	uiWait(func() {
		if u.sess != nil {
			t.Error("session still set")
		}
		if got := u.unlock.status.Text; !strings.Contains(got, "ohne Eingabe gesperrt") {
			t.Errorf("unlock screen says %q", got)
		}
		if u.bar.active || u.locker.stopCheck != nil {
			t.Error("bar or idle clock still running after the lock")
		}
	})
}

// TestActivityKeepsUnlocked: input (activity) postpones the idle lock; so does typing
// in a focused entry, which only the focus fingerprint sees.
func TestActivityKeepsUnlocked(t *testing.T) {
	u := chromeUnlockWith(t, newTestVault(t, 0, nil), func(u *UI) { u.locker.idleOverride = 400 * time.Millisecond })
	end := time.Now().Add(1200 * time.Millisecond)
	for time.Now().Before(end) {
		u.locker.activity() // any goroutine
		time.Sleep(50 * time.Millisecond)
	}
	if !u.vlt.Unlocked() {
		t.Fatal("locked although there was input")
	}

	var e *widget.Entry
	uiWait(func() {
		e = widget.NewEntry()
		u.showMain("Test", e)
		u.win.Canvas().Focus(e)
	})
	end = time.Now().Add(1200 * time.Millisecond)
	for time.Now().Before(end) {
		uiWait(func() { test.Type(e, "x") })
		time.Sleep(50 * time.Millisecond)
	}
	if !u.vlt.Unlocked() {
		t.Fatal("locked although the user typed")
	}
	waitTitle(t, u, "Entsperren")
}

func TestInputPrint(t *testing.T) {
	test.NewTempApp(t)
	e := widget.NewEntry()
	w := test.NewWindow(e)
	defer w.Close()
	c := w.Canvas()
	p0 := inputPrintOf(c)
	c.Focus(e)
	p1 := inputPrintOf(c)
	if p1 == p0 {
		t.Error("focusing an entry does not change the print")
	}
	test.Type(e, "a")
	if inputPrintOf(c) == p1 {
		t.Error("typing does not change the print")
	}
	if inputPrintOf(c) != inputPrintOf(c) {
		t.Error("the print changes without input")
	}

	// a widget that embeds an Entry (the app's PIN, search and form fields)
	pe := newPINEntry(nil)
	w.SetContent(pe)
	c.Focus(pe)
	p2 := inputPrintOf(c)
	test.Type(pe, "1")
	if inputPrintOf(c) == p2 {
		t.Error("typing in an embedded entry does not change the print")
	}
}

func TestActivityArea(t *testing.T) {
	test.NewTempApp(t)
	n := 0
	btn := widget.NewButton("Speichern", nil)
	w := test.NewWindow(container.NewStack(newActivityArea(func() { n++ }), container.NewVBox(widget.NewLabel("Vermerk"), btn)))
	defer w.Close()
	w.Resize(fyne.NewSize(300, 200))
	test.MoveMouse(w.Canvas(), fyne.NewPos(10, 10)) // over the label: the area gets it
	test.MoveMouse(w.Canvas(), fyne.NewPos(20, 12))
	if n < 2 {
		t.Errorf("pointer movement over the screen counted %d times", n)
	}
	n = 0
	test.MoveMouse(w.Canvas(), btn.Position().Add(fyne.NewPos(5, 5))) // onto the button: MouseOut
	if n != 1 {
		t.Errorf("moving onto a button counted %d times", n)
	}
}

func TestLockOnSuspendAndBackground(t *testing.T) {
	u := unlockedUI(t, newTestVault(t, 0, nil))
	uiWait(u.locker.suspending)
	if u.vlt.Unlocked() {
		t.Fatal("not locked before sleep")
	}
	uiWait(func() {
		if got := u.unlock.status.Text; got != "Vor dem Ruhezustand gesperrt." {
			t.Errorf("unlock screen says %q", got)
		}
		u.locker.suspending() // locked already: nothing happens
	})
}

// TestLockDropsSession: lock closes dialogs, drops the screens' state and disables the
// menu's commands; locking again does nothing.
func TestLockDropsSession(t *testing.T) {
	u := unlockedUI(t, newTestVault(t, 0, nil))
	uiWait(func() {
		u.newPINDialog(6).show()
		u.lock()
		if u.win.Canvas().Overlays().Top() != nil {
			t.Error("a dialog stays on the unlock screen")
		}
		if u.sess != nil || u.vlt.Unlocked() {
			t.Error("still unlocked")
		}
		for _, m := range u.win.MainMenu().Items[:3] {
			for _, it := range m.Items {
				if !it.IsSeparator && !it.IsQuit && !it.Disabled {
					t.Errorf("menu item %q enabled while locked", it.Label)
				}
			}
		}
		test.Type(u.unlock.pin, "12")
		u.lock() // again: the unlock screen and its input stay
		if u.unlock.pin.Text != "12" {
			t.Error("a second lock rebuilt the unlock screen")
		}
	})
}
