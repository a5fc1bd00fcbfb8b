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

// Shared test helpers of package app. Area tests add their own helpers with their
// area's prefix (listXxx, detailXxx, …) in their own files.

const testPIN = "246810"

// newTestVault creates a vault (software slot, cheap KDF) for user "schmidt" with
// PIN testPIN and n demo cases, and returns its data directory. fill, if not nil,
// runs on the unlocked vault before it is closed.
func newTestVault(t testing.TB, n int, fill func(v *storage.Vault)) string {
	t.Helper()
	dir := t.TempDir()
	v, err := storage.Create(storage.Config{Dir: dir, Spec: platform.Spec{Kind: platform.KindNone}, KDF: crypto.KDFParams{Time: 1, MemoryKiB: 1024, Threads: 1}},
		storage.CreateOptions{User: "schmidt", PIN: []byte(testPIN), AllowSoftwareKey: true})
	if err != nil {
		t.Fatal(err)
	}
	v.SetForms(assets.Schemas{})
	if n > 0 {
		if err := v.DemoData(n, 1, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if fill != nil {
		fill(v)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// newTestUI starts the app on a test app and data dir and waits for the first screen.
func newTestUI(t *testing.T, dir string) *UI {
	t.Helper()
	a := test.NewTempApp(t)
	u, err := New(a, Config{DataDir: dir, TPMSpec: "none"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The widget part as a UI callback: an answer of this test's background work
		// may still arrive and update the same widgets.
		uiWait(u.stopUI)
		u.release()
	})
	return u
}

// unlockedUI starts the app on dir and unlocks it with testPIN; it returns when the
// case list shows.
func unlockedUI(t *testing.T, dir string) *UI {
	t.Helper()
	u := newTestUI(t, dir)
	waitTitle(t, u, tr("screen.unlock"))
	uiWait(func() {
		test.Type(u.unlock.pin, testPIN)
		test.Tap(u.unlock.button)
	})
	waitTitle(t, u, tr("screen.cases"))
	return u
}

// waitFor polls cond on the UI goroutine until it is true or 10 s passed.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var ok bool
		uiWait(func() { ok = cond() })
		if ok {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// waitTitle waits until the window title contains want (screens change from goroutines).
func waitTitle(t testing.TB, u *UI, want string) {
	t.Helper()
	waitFor(t, "window title "+want, func() bool { return strings.Contains(u.win.Title(), want) })
}
