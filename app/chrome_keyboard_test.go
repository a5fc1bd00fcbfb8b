package app

import (
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"fieldoffice/storage"
)

// TestKeyboardOnlyFlow goes from the unlock screen to a saved edit with the keyboard
// alone, the way the desktop driver delivers keys: typed text and keys to the focused
// widget, Tab as FocusNext, and Ctrl+S to the main menu before the focused widget.
// Then Ctrl+L locks.
func TestKeyboardOnlyFlow(t *testing.T) {
	var id string
	dir := newTestVault(t, 0, func(v *storage.Vault) {
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
	u := newTestUI(t, dir)
	c := u.win.Canvas()
	key := func(name fyne.KeyName) {
		t.Helper()
		uiWait(func() {
			f := c.Focused()
			if f == nil {
				t.Fatalf("%s: nothing has the focus on %q", name, u.win.Title())
			}
			f.TypedKey(&fyne.KeyEvent{Name: name})
		})
	}
	typeText := func(s string) { uiWait(func() { test.Type(c.Focused(), s) }) }

	// Unlock: the PIN field has the focus; type the PIN, Enter.
	waitTitle(t, u, "Entsperren")
	waitFor(t, "the PIN field to have the focus", func() bool { return c.Focused() != nil })
	typeText(testPIN)
	key(fyne.KeyReturn)
	waitTitle(t, u, "Vorgänge")

	// The search box has the focus; ↓ goes to the list, Enter opens the case.
	waitFor(t, "the list", func() bool { return u.list != nil && len(u.list.rows) == 1 && c.Focused() != nil })
	key(fyne.KeyDown)
	waitFor(t, "the list to have the focus", func() bool { return embedded[widget.List](c.Focused()) != nil })
	key(fyne.KeyReturn)
	waitFor(t, "the case screen", func() bool {
		d := u.detail
		return d != nil && d.shown.Load() > 0 && d.visible() && c.Focused() != nil
	})
	d := u.detail
	t.Cleanup(func() { waitFor(t, "the case screen's vault calls", func() bool { return d.jobs.Load() == 0 }) })

	// Tab to the PLZ, change its last digit, Ctrl+S.
	found := false
	for range 80 {
		uiWait(func() {
			e := embedded[widget.Entry](c.Focused())
			found = e != nil && e.Text == "10115"
			if !found {
				test.FocusNext(c)
			}
		})
		if found {
			break
		}
	}
	if !found {
		t.Fatal("Tab never reached the PLZ field")
	}
	key(fyne.KeyEnd)
	key(fyne.KeyBackspace)
	typeText("9")
	uiWait(func() {
		if !chromeMenuShortcut(u, ctrl(fyne.KeyS)) {
			t.Fatal("Ctrl+S is not a menu shortcut")
		}
	})
	waitFor(t, "the save", func() bool {
		cs, err := u.vlt.Case(id)
		return err == nil && cs.Values["neue_wohnung.plz"] == "10119"
	})

	// Ctrl+L locks, from wherever the focus is.
	uiWait(func() { chromeMenuShortcut(u, ctrl(fyne.KeyL)) })
	waitTitle(t, u, "Entsperren")
	if u.vlt.Unlocked() {
		t.Fatal("Ctrl+L did not lock")
	}
}
