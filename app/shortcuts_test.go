package app

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// chromeMenuShortcut does what the desktop driver does first with a shortcut: run the
// main-menu item that has it (before the focused widget sees it). It reports whether
// an item had it.
func chromeMenuShortcut(u *UI, s fyne.Shortcut) bool {
	var find func(items []*fyne.MenuItem) *fyne.MenuItem
	find = func(items []*fyne.MenuItem) *fyne.MenuItem {
		for _, it := range items {
			if it.Shortcut != nil && it.Shortcut.ShortcutName() == s.ShortcutName() {
				return it
			}
			if it.ChildMenu != nil {
				if f := find(it.ChildMenu.Items); f != nil {
					return f
				}
			}
		}
		return nil
	}
	for _, m := range u.win.MainMenu().Items {
		if it := find(m.Items); it != nil && it.Action != nil {
			it.Action()
			return true
		}
	}
	return false
}

func ctrl(k fyne.KeyName) *desktop.CustomShortcut {
	return &desktop.CustomShortcut{KeyName: k, Modifier: fyne.KeyModifierShortcutDefault}
}

// TestShortcuts: every shortcut is in the main menu (so it works while an entry has
// the focus) and on the canvas; Ctrl+D opens the device screen, Ctrl+L locks, and
// while locked the commands do nothing.
func TestShortcuts(t *testing.T) {
	u := unlockedUI(t, newTestVault(t, 0, nil))
	uiWait(func() {
		for _, k := range []fyne.KeyName{fyne.KeyS, fyne.KeyF, fyne.KeyR, fyne.KeyL, fyne.KeyN, fyne.KeyD} {
			found := false
			for _, m := range u.win.MainMenu().Items {
				for _, it := range m.Items {
					if it.Shortcut != nil && it.Shortcut.ShortcutName() == ctrl(k).ShortcutName() {
						found = true
						// Ctrl+R needs background sync, which a device without a portal lacks
						if it.Disabled != (k == fyne.KeyR) {
							t.Errorf("menu item %q: disabled = %v while unlocked", it.Label, it.Disabled)
						}
					}
				}
			}
			if !found {
				t.Errorf("no menu item has Ctrl+%s", k)
			}
		}
		// an entry with the focus: the menu still gets Ctrl+D first
		e := widget.NewEntry()
		u.showMain("Test", e)
		u.win.Canvas().Focus(e)
		if !chromeMenuShortcut(u, ctrl(fyne.KeyD)) {
			t.Error("Ctrl+D is not a menu shortcut")
		}
	})
	waitTitle(t, u, "Gerät")
	uiWait(func() { u.win.Canvas().(fyne.Shortcutable).TypedShortcut(ctrl(fyne.KeyL)) })
	waitTitle(t, u, "Entsperren")
	if u.vlt.Unlocked() {
		t.Fatal("Ctrl+L did not lock")
	}
	uiWait(func() {
		u.win.Canvas().(fyne.Shortcutable).TypedShortcut(ctrl(fyne.KeyD))
		chromeMenuShortcut(u, ctrl(fyne.KeyN))
		u.keyDown(&fyne.KeyEvent{Name: fyne.KeyF5})
	})
	waitTitle(t, u, "Entsperren")
}

// TestMenuViewItems: text size and contrast from the menu are applied, remembered and
// checked in the menu.
func TestMenuViewItems(t *testing.T) {
	u := unlockedUI(t, newTestVault(t, 0, nil))
	item := func(label string) *fyne.MenuItem {
		for _, m := range u.win.MainMenu().Items {
			for _, it := range m.Items {
				if it.Label == label {
					return it
				}
				if it.ChildMenu != nil {
					for _, c := range it.ChildMenu.Items {
						if c.Label == label {
							return c
						}
					}
				}
			}
		}
		t.Fatalf("no menu item %q", label)
		return nil
	}
	uiWait(func() {
		item("150\u00a0%").Action()
		if !item("150\u00a0%").Checked || item("100\u00a0%").Checked {
			t.Error("text size not checked in the menu")
		}
		if got := u.app.Preferences().Float(prefTextScale); got != 1.5 {
			t.Errorf("stored scale %v", got)
		}
		item("Hoher Kontrast").Action()
		if !u.app.Preferences().Bool(prefHighContrast) || !item("Hoher Kontrast").Checked {
			t.Error("high contrast not on")
		}
		th := u.app.Settings().Theme().(*fieldTheme)
		if !th.highContrast || th.scale != 1.5 {
			t.Errorf("theme = %+v", th)
		}
		item("Hoher Kontrast").Action()
		item("100\u00a0%").Action()
	})
}

// TestLanguageSwitch: German ⇄ English switches the navigation bar, the sync bar, the
// menu and the unlock screen, and back.
func TestLanguageSwitch(t *testing.T) {
	u := unlockedUI(t, newTestVault(t, 0, nil))
	defer uiWait(func() { setLanguage(LangDE) })
	has := func(want ...string) {
		t.Helper()
		uiWait(func() {
			for _, w := range want {
				if !chromeShows(u.win.Content(), w) {
					t.Errorf("screen %q lacks %q; shows %q", u.win.Title(), w, chromeTexts(u.win.Content()))
				}
			}
		})
	}
	menu := func(want string) {
		t.Helper()
		uiWait(func() {
			if got := u.win.MainMenu().Items[0].Label; got != want {
				t.Errorf("first menu = %q, want %q", got, want)
			}
		})
	}
	has("Vorgänge", "Neuer Antrag", "Gerät", "Sperren", "English", "Nicht mit einem Portal verbunden")
	menu("Datei")

	uiWait(u.toggleLanguage)
	waitTitle(t, u, "FieldOffice – Cases")
	has("Cases", "New application", "Device", "Lock", "Deutsch", "Not connected to a portal")
	menu("File")
	uiWait(u.lock)
	waitTitle(t, u, "Unlock")
	uiWait(func() {
		if u.unlock.button.Text != "Unlock" || !strings.Contains(u.unlock.status.Text, "Locked") {
			t.Errorf("unlock screen: button %q, status %q", u.unlock.button.Text, u.unlock.status.Text)
		}
	})
	menu("File")

	uiWait(u.menuToggleLanguage) // back, from the menu of the unlock screen
	waitTitle(t, u, "Entsperren")
	menu("Datei")
	uiWait(func() {
		if u.unlock.button.Text != "Entsperren" {
			t.Errorf("unlock button %q", u.unlock.button.Text)
		}
		test.Type(u.unlock.pin, testPIN)
		test.Tap(u.unlock.button)
	})
	waitTitle(t, u, "Vorgänge")
	has("Vorgänge", "Sperren", "Jetzt synchronisieren")
}
