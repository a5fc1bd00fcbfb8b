package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"fieldoffice/portal"
	"fieldoffice/storage"
	fsync "fieldoffice/sync"
)

// unlockReady waits for the unlock screen with the focus on the PIN (the screen is
// built on the UI goroutine while the test goroutine polls).
func unlockReady(t *testing.T, u *UI) {
	t.Helper()
	waitTitle(t, u, tr("screen.unlock"))
	waitFor(t, "focus on the PIN", func() bool { return u.win.Canvas().Focused() == u.unlock.pin })
}

// unlockTapPIN taps pin on the PIN pad (on the UI goroutine).
func unlockTapPIN(u *UI, pin string) {
	for _, r := range pin {
		test.Tap(u.unlock.keys[r])
	}
}

// unlockStatus waits until the unlock screen's status contains want and returns it.
func unlockStatus(t *testing.T, u *UI, want string) string {
	t.Helper()
	var msg string
	waitFor(t, "unlock status "+want, func() bool {
		msg = u.unlock.status.Text
		return strings.Contains(msg, want) && !u.unlocking() && u.win.Canvas().Focused() == u.unlock.pin
	})
	return msg
}

// unlockType types chars into the focused object, as the window does with key presses.
func unlockType(u *UI, chars string) {
	for _, r := range chars {
		u.win.Canvas().Focused().TypedRune(r)
	}
}

// unlockKey sends a key to the focused object, as the window does.
func unlockKey(u *UI, name fyne.KeyName) {
	u.win.Canvas().Focused().TypedKey(&fyne.KeyEvent{Name: name})
}

// TestUnlockPadWrongThenRight: the PIN pad (taps) types into the hidden PIN field, ⌫
// deletes, a wrong PIN says how many tries are left and clears the field, the right
// one opens the case list.
func TestUnlockPadWrongThenRight(t *testing.T) {
	u := newTestUI(t, newTestVault(t, 3, nil))
	unlockReady(t, u)
	uiWait(func() {
		if !u.unlock.pin.Password {
			t.Error("the PIN field shows the PIN")
		}
		unlockTapPIN(u, "12⌫")
		if got := u.unlock.pin.Text; got != "1" {
			t.Errorf("after 1, 2, ⌫ the PIN field holds %q", got)
		}
		if u.win.Canvas().Focused() != u.unlock.pin {
			t.Error("the PIN field lost the focus to the pad")
		}
		unlockTapPIN(u, "11111")
		test.Tap(u.unlock.button)
		if u.unlock.pin.Text != "" {
			t.Error("PIN field not cleared at once")
		}
		if !u.unlocking() || !u.unlock.pin.Disabled() || !u.unlock.keys['5'].Disabled() {
			t.Error("the screen is not busy while unlocking")
		}
	})
	msg := unlockStatus(t, u, "falsch")
	if msg != "Die PIN ist falsch. Noch 4 Versuche." {
		t.Errorf("status after a wrong PIN = %q", msg)
	}
	uiWait(func() {
		if u.unlock.pin.Text != "" || u.unlock.pin.Disabled() {
			t.Error("PIN field not cleared and enabled after the attempt")
		}
		unlockTapPIN(u, testPIN)
		test.Tap(u.unlock.button)
	})
	waitTitle(t, u, tr("screen.cases"))
}

// TestUnlockKeyboard: the focus starts on the PIN field; only digits are taken;
// Escape clears; Enter unlocks; a PIN too short is refused without costing a try.
func TestUnlockKeyboard(t *testing.T) {
	u := newTestUI(t, newTestVault(t, 3, nil))
	unlockReady(t, u)
	uiWait(func() {
		c := u.win.Canvas()
		if c.Focused() != u.unlock.pin {
			t.Fatalf("focus on %T, want the PIN field", c.Focused())
		}
		unlockType(u, "12a3 ")
		if got := u.unlock.pin.Text; got != "123" {
			t.Errorf("typed 12a3: field holds %q", got)
		}
		unlockKey(u, fyne.KeyEscape)
		if u.unlock.pin.Text != "" {
			t.Error("Escape did not clear the PIN")
		}
		unlockType(u, "123")
		unlockKey(u, fyne.KeyReturn)
		if got := u.unlock.status.Text; got != tr("error.badPin") {
			t.Errorf("short PIN: status %q", got)
		}
		unlockType(u, "999999")
		unlockKey(u, fyne.KeyReturn)
	})
	if msg := unlockStatus(t, u, "falsch"); !strings.Contains(msg, "Noch 4 Versuche") {
		t.Errorf("after a short and a wrong PIN: %q (the short one must not count)", msg)
	}
	uiWait(func() {
		c := u.win.Canvas()
		if c.Focused() != u.unlock.pin {
			t.Errorf("focus after a wrong PIN on %T", c.Focused())
		}
		unlockType(u, testPIN)
		unlockKey(u, fyne.KeyEnter)
	})
	waitTitle(t, u, tr("screen.cases"))
}

// TestUnlockLockedSlot: a slot locked by wrong PINs says so on the button and at once
// in the status, and an attempt is refused with the same message.
func TestUnlockLockedSlot(t *testing.T) {
	dir := newTestVault(t, 0, nil)
	v, err := storage.Open(storage.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for range storage.MaxFailures {
		if err := v.Unlock("schmidt", []byte("000000")); !errors.Is(err, storage.ErrWrongPIN) {
			t.Fatalf("wrong PIN: %v", err)
		}
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	u := newTestUI(t, dir)
	unlockReady(t, u)
	want := tr("error.slotLocked")
	uiWait(func() {
		if got := u.unlock.status.Text; got != want {
			t.Errorf("status of a locked single slot = %q", got)
		}
		if b := u.unlock.user.buttons["schmidt"]; b == nil || b.Text != "schmidt – gesperrt" {
			t.Errorf("user button does not say locked: %+v", b)
		}
		u.unlock.status.SetText("")
		test.Type(u.unlock.pin, testPIN)
		unlockKey(u, fyne.KeyReturn)
	})
	unlockStatus(t, u, want)
}

// TestUnlockUserPicker: several users on a shared tablet: nobody is preselected, a PIN
// without a user is refused, picking a user (button) moves the focus to the PIN.
func TestUnlockUserPicker(t *testing.T) {
	dir := newTestVault(t, 2, func(v *storage.Vault) {
		for _, name := range []string{"meier", "yilmaz"} {
			if err := v.AddUser(name, []byte("135790")); err != nil {
				t.Fatal(err)
			}
		}
	})
	u := newTestUI(t, dir)
	unlockReady(t, u)
	uiWait(func() {
		p := u.unlock.user
		if len(p.buttons) != 3 || p.Selected != "" {
			t.Fatalf("picker: %d buttons, selected %q; want 3, none", len(p.buttons), p.Selected)
		}
		test.Type(u.unlock.pin, "135790")
		unlockKey(u, fyne.KeyReturn)
		if got := u.unlock.status.Text; got != tr("unlock.noUser") {
			t.Errorf("PIN without a user: %q", got)
		}
		u.win.Canvas().Unfocus()
		test.Tap(p.buttons["meier"])
		if p.Selected != "meier" || u.win.Canvas().Focused() != u.unlock.pin {
			t.Errorf("after tapping meier: selected %q, focus %T", p.Selected, u.win.Canvas().Focused())
		}
		// Space on a focused user button picks it too (keyboard only).
		u.win.Canvas().Focus(p.buttons["yilmaz"])
		unlockKey(u, fyne.KeySpace)
		if p.Selected != "yilmaz" {
			t.Errorf("Space on yilmaz: selected %q", p.Selected)
		}
		unlockType(u, "135790")
		unlockKey(u, fyne.KeyReturn)
	})
	waitTitle(t, u, tr("screen.cases"))
	var who string
	uiWait(func() { who = u.sess.user })
	if who != "yilmaz" {
		t.Errorf("session user %q, want yilmaz", who)
	}
}

// TestUnlockOfflineTooLong: an enrolled device past the policy's offline days is not
// unlocked; the message says so and the check-in button appears.
func TestUnlockOfflineTooLong(t *testing.T) {
	dir := newTestVault(t, 0, nil)
	old := time.Now().Add(-30 * 24 * time.Hour)
	dev := fsync.Device{Version: 1, DeviceID: "dev-1", CA: []byte{1}, Certificate: []byte{1}, KeyKind: fsync.KeySoftware,
		Policy: portal.Policy{MaxOfflineDays: 14}, Enrolled: old, LastContact: old}
	b, _ := json.Marshal(dev)
	if err := os.WriteFile(filepath.Join(dir, fsync.DeviceFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	u := newTestUI(t, dir)
	unlockReady(t, u)
	uiWait(func() {
		test.Type(u.unlock.pin, testPIN)
		unlockKey(u, fyne.KeyReturn)
	})
	unlockStatus(t, u, tr("error.offline"))
	uiWait(func() {
		if !u.unlock.checkIn.Visible() {
			t.Error("no check-in button")
		}
		if u.sess != nil {
			t.Error("unlocked although offline too long")
		}
	})
}

func TestUnlockUserMessages(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&storage.WrongPINError{User: "a", Left: 3}, "Die PIN ist falsch. Noch 3 Versuche."},
		{&storage.WrongPINError{User: "a", Left: 1}, "Noch 1 Versuch, danach wird der Zugang gesperrt."},
		{&storage.WrongPINError{User: "a", Left: 0}, "gesperrt"},
		{fmt.Errorf("unlock: %w", storage.ErrSlotLocked), "Ihr Zugang ist nach zu vielen falschen PINs gesperrt"},
		{fmt.Errorf("unlock: %w", storage.ErrTPMRefused), "Wiederherstellungsschlüssel"},
		{fmt.Errorf("unlock: %w", storage.ErrTPMLockout), "warten"},
		{fmt.Errorf("open: %w", storage.ErrRollback), "zurückgespielte Kopie"},
		{&storage.TamperError{Bucket: "cases", Key: "x"}, "verändert"},
		{fmt.Errorf("%w (20 days)", fsync.ErrOfflineTooLong), "offline"},
		{fsync.ErrRevoked, "gesperrt"},
		{errors.New("boom"), tr("error.unexpected")},
	} {
		if got := userMessage(c.err); !strings.Contains(got, c.want) {
			t.Errorf("userMessage(%v) = %q, want it to contain %q", c.err, got, c.want)
		}
	}
}

// unlockGoldenUI prepares a UI for golden markup: the test theme (independent of
// theme.go) and a 10" tablet's window.
func unlockGoldenUI(t *testing.T, dir string) *UI {
	t.Helper()
	u := newTestUI(t, dir)
	uiWait(func() {
		u.app.Settings().SetTheme(test.Theme())
		u.win.Resize(fyne.NewSize(1024, 640))
	})
	return u
}

// TestUnlockGolden: the unlock screen for one user and for a shared tablet.
func TestUnlockGolden(t *testing.T) {
	u := unlockGoldenUI(t, newTestVault(t, 0, nil))
	unlockReady(t, u)
	uiWait(func() {
		u.win.Canvas().Unfocus() // the cursor blinks: its colour at capture time varies
		test.AssertRendersToMarkup(t, "unlock/single.xml", u.win.Canvas())
	})

	dir := newTestVault(t, 0, func(v *storage.Vault) {
		for _, name := range []string{"meier", "yilmaz"} {
			if err := v.AddUser(name, []byte("135790")); err != nil {
				t.Fatal(err)
			}
		}
	})
	u = unlockGoldenUI(t, dir)
	unlockReady(t, u)
	uiWait(func() {
		u.unlock.user.SetSelected("meier")
		test.Type(u.unlock.pin, "12")
		u.win.Canvas().Unfocus() // the cursor blinks: its colour at capture time varies
		test.AssertRendersToMarkup(t, "unlock/shared.xml", u.win.Canvas())
	})
}
