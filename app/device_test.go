package app

import (
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
)

// TestDeviceScreenGolden renders the device screen of a software vault (no TPM, not
// enrolled). The values that differ per run (path, dates, size) are fixed first.
func TestDeviceScreenGolden(t *testing.T) {
	u := unlockedUI(t, newTestVault(t, 0, nil))
	in, err := u.loadDeviceInfo()
	if err != nil {
		t.Fatal(err)
	}
	if in.tpm != nil || in.dev != nil || !in.status.SoftwareKey {
		t.Fatalf("test vault: tpm=%v dev=%v software=%v", in.tpm, in.dev, in.status.SoftwareKey)
	}
	day := time.Date(2026, 1, 15, 12, 0, 0, 0, time.Local)
	in.status.Path = "/var/lib/fieldoffice/vault.db"
	in.status.VaultID = "00000000-0000-0000-0000-000000000000"
	in.status.Created = day
	in.status.SizeBytes = 5 << 20
	for i := range in.status.Slots {
		in.status.Slots[i].Created = day
	}
	var w fyne.Window
	uiWait(func() {
		w = test.NewWindow(u.deviceView(in, day.Add(48*time.Hour)))
		w.Resize(fyne.NewSize(900, 1500))
	})
	defer uiWait(w.Close)
	test.AssertRendersToMarkup(t, "chrome/device.xml", w.Canvas())
}

// TestDeviceScreenShows: the device screen opens from the shortcut and shows what the
// software vault is, its user and the keyboard shortcuts.
func TestDeviceScreenShows(t *testing.T) {
	u := unlockedUI(t, newTestVault(t, 0, nil))
	uiWait(func() { u.win.Canvas().(fyne.Shortcutable).TypedShortcut(commandShortcut(commandNamed("menu.device"))) })
	waitTitle(t, u, "Gerät")
	waitFor(t, "the device information", func() bool { return chromeShows(u.win.Content(), "Sicherheitschip (TPM)") })
	uiWait(func() {
		c := u.win.Content()
		for _, want := range []string{
			"nein – Schlüssel nur durch die PIN geschützt", // no TPM
			"Nicht mit einem Portal verbunden.",
			"PIN ohne Sicherheitschip · angemeldet", // the user's slot
			"Tastenkürzel", "Strg+S", "Speichern", "Strg+L", "Sperren",
			"PIN ändern", "Textgröße", "Hoher Kontrast",
		} {
			if !chromeShows(c, want) {
				t.Errorf("device screen lacks %q; it shows %q", want, chromeTexts(c))
			}
		}
	})
}

// TestDeviceTextScale: choosing 200 % on the device screen stores it and doubles the
// theme's text size.
func TestDeviceTextScale(t *testing.T) {
	u := unlockedUI(t, newTestVault(t, 0, nil))
	uiWait(func() {
		rows := u.displayRows()
		size := rows[1].(interface{ SetSelected(string) })
		size.SetSelected(scaleLabel(2))
		if got := u.app.Preferences().Float(prefTextScale); got != 2 {
			t.Errorf("stored scale = %v", got)
		}
		if got := u.app.Settings().Theme().Size(theme.SizeNameText); got != 28 {
			t.Errorf("text size at 200 %% = %v", got)
		}
		u.setTextScale(1)
	})
}

func TestChangePIN(t *testing.T) {
	u := unlockedUI(t, newTestVault(t, 0, nil))
	var p *pinDialog
	uiWait(func() {
		p = u.newPINDialog(6)
		p.show()
	})
	try := func(old, n1, n2 string) {
		t.Helper()
		uiWait(func() {
			p.old.SetText(old)
			p.new1.SetText(n1)
			p.new2.SetText(n2)
			p.change()
		})
		waitFor(t, "the PIN change to answer", func() bool { return !p.busy })
	}
	status := func() string {
		var s string
		uiWait(func() { s = p.status.Text })
		return s
	}

	try("", "13572468", "13572468")
	if got := status(); got != "Bitte geben Sie Ihre bisherige PIN ein." {
		t.Errorf("no old PIN: %q", got)
	}
	try(testPIN, "1357", "1357")
	if got := status(); got != "Die neue PIN muss aus mindestens 6 Ziffern bestehen (nur 0–9)." {
		t.Errorf("short PIN: %q", got)
	}
	try(testPIN, "13572468", "13572469")
	if got := status(); got != "Die beiden neuen PINs stimmen nicht überein." {
		t.Errorf("mismatch: %q", got)
	}
	try("111111", "13572468", "13572468")
	if got := status(); got != "Die bisherige PIN ist falsch. Noch 4 Versuche." {
		t.Errorf("wrong old PIN: %q", got)
	}
	uiWait(func() {
		if p.new1.Text != "" || p.old.Text != "" {
			t.Error("PIN fields not cleared after a wrong PIN")
		}
		if u.win.Canvas().Focused() != p.old {
			t.Error("focus not back on the old PIN")
		}
	})

	// Keyboard: type the PINs, Enter moves on, Enter in the last field changes.
	uiWait(func() {
		test.Type(p.old, testPIN)
		p.old.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
		test.Type(u.win.Canvas().Focused(), "13572468")
		p.new1.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
		test.Type(u.win.Canvas().Focused(), "13572468")
		p.new2.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	})
	waitFor(t, "the confirmation of the change", func() bool {
		top := u.win.Canvas().Overlays().Top()
		return p.wasChanged && top != nil && chromeShows(top, "Ihre PIN wurde geändert.")
	})

	// The new PIN unlocks, the old one does not.
	uiWait(u.lock)
	waitTitle(t, u, "Entsperren")
	uiWait(func() {
		if u.win.Canvas().Overlays().Top() != nil {
			t.Error("a dialog survived the lock")
		}
		test.Type(u.unlock.pin, testPIN)
		test.Tap(u.unlock.button)
	})
	waitFor(t, "the old PIN to fail", func() bool { return u.unlock.status.Text != "" && u.unlock.status.Text != tr("unlock.busy") })
	if u.vlt.Unlocked() {
		t.Fatal("the old PIN still unlocks")
	}
	uiWait(func() {
		test.Type(u.unlock.pin, "13572468")
		test.Tap(u.unlock.button)
	})
	waitTitle(t, u, "Vorgänge")
}

// TestChangePINEscape: Escape in a PIN field closes the dialog and clears the fields.
func TestChangePINEscape(t *testing.T) {
	u := unlockedUI(t, newTestVault(t, 0, nil))
	uiWait(func() {
		p := u.newPINDialog(6)
		p.show()
		test.Type(p.old, "123")
		p.old.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
		if u.win.Canvas().Overlays().Top() != nil {
			t.Error("Escape did not close the dialog")
		}
		if p.old.Text != "" {
			t.Error("the PIN stays in the closed dialog")
		}
	})
}
