package app

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"fieldoffice/assets"
	"fieldoffice/platform"
	"fieldoffice/storage"
	"fieldoffice/storage/crypto"
)

func TestSetupScreenWithoutVault(t *testing.T) {
	u := newTestUI(t, t.TempDir())
	waitTitle(t, u, "Einrichtung")
	if !strings.HasPrefix(u.win.Title(), "FieldOffice") {
		t.Errorf("title %q does not start with FieldOffice", u.win.Title())
	}
}

// softwareVault creates a vault with a software slot (no TPM) and one case.
func softwareVault(t *testing.T, pin string) string {
	t.Helper()
	dir := t.TempDir()
	v, err := storage.Create(storage.Config{Dir: dir, Spec: platform.Spec{Kind: platform.KindNone}, KDF: crypto.KDFParams{Time: 1, MemoryKiB: 1024, Threads: 1}},
		storage.CreateOptions{User: "schmidt", PIN: []byte(pin), AllowSoftwareKey: true})
	if err != nil {
		t.Fatal(err)
	}
	v.SetForms(assets.Schemas{})
	if _, err := v.NewCase("anmeldung", map[string]string{"vornamen": "Anna", "familienname": "Schäfer"}); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestUnlockWrongThenRightPIN(t *testing.T) {
	dir := softwareVault(t, "246810")
	u := newTestUI(t, dir)
	waitTitle(t, u, "Entsperren")

	uiWait(func() {
		if got := u.unlock.user.Selected; got != "schmidt" {
			t.Errorf("preselected user = %q, want schmidt", got)
		}
		test.Type(u.unlock.pin, "111111")
		test.Tap(u.unlock.button)
	})
	deadline := time.Now().Add(10 * time.Second)
	var msg string
	for time.Now().Before(deadline) {
		uiWait(func() { msg = u.unlock.status.Text })
		if strings.Contains(msg, "falsch") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(msg, "Die PIN ist falsch. Noch 4 Versuche.") {
		t.Fatalf("status after wrong PIN = %q", msg)
	}
	uiWait(func() {
		if u.unlock.pin.Text != "" {
			t.Error("PIN entry not cleared after an attempt")
		}
		test.Type(u.unlock.pin, "246810")
		test.Tap(u.unlock.button)
	})
	waitTitle(t, u, "Vorgänge")
}
