package app

import (
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
)

// TestPolicyIdleLockFromPortal: the portal's idle-lock minutes reach the enrolled app
// with the background sync after unlock and become the app's idle limit; a stricter
// value set later in the portal takes effect at the next sync.
func TestPolicyIdleLockFromPortal(t *testing.T) {
	srv, url := enrollPortal(t, map[string]string{"allow_software_keys": "true", "idle_lock_minutes": "7"})
	dir := t.TempDir()
	u := newTestUI(t, dir)
	setupReady(t, u)
	uiWait(func() { enrollFill(u, enrollToken(t, srv, url), "anna", "135790", "135790") })
	unlockReady(t, u)
	uiWait(func() {
		test.Type(u.unlock.pin, "135790")
		unlockKey(u, fyne.KeyReturn)
	})
	waitTitle(t, u, tr("screen.cases"))
	waitFor(t, "the policy's 7 minutes", func() bool { return u.locker.idle == 7*time.Minute })

	if _, err := srv.Store().SetPolicy(map[string]string{"idle_lock_minutes": "2"}); err != nil {
		t.Fatal(err)
	}
	uiWait(u.syncNow)
	waitFor(t, "the stricter 2 minutes", func() bool { return u.locker.idle == 2*time.Minute })
}
