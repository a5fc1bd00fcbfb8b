package app

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"fieldoffice/portal"
	"fieldoffice/portal/server"
	"fieldoffice/portal/servertest"
	fsync "fieldoffice/sync"
)

// enrollPortal starts the reference portal on loopback with policy settings applied
// and returns it with its URL.
func enrollPortal(t *testing.T, policy map[string]string) (*server.Server, string) {
	t.Helper()
	t.Setenv("FIELDOFFICE_CONFIG", filepath.Join(t.TempDir(), "no-config.toml"))
	p := servertest.Start(t)
	if len(policy) > 0 {
		if _, err := p.Store().SetPolicy(policy); err != nil {
			t.Fatal(err)
		}
	}
	return p.Server(), p.URL()
}

// enrollToken creates a one-time token.
func enrollToken(t *testing.T, srv *server.Server, url string) string {
	t.Helper()
	tok, err := srv.Store().CreateToken("Bürgerbüro Mitte", time.Hour, url)
	if err != nil {
		t.Fatal(err)
	}
	return tok.Token
}

// setupReady waits for the setup screen and shows it again through showSetup (as
// open does, which may still be running on the UI goroutine), so that the focus is on
// the token field.
func setupReady(t *testing.T, u *UI) {
	t.Helper()
	waitTitle(t, u, tr("screen.setup"))
	uiWait(u.showSetup)
	waitFor(t, "focus on the token", func() bool { return u.win.Canvas().Focused() == u.unlock.setup.token })
}

// enrollFill types into the setup form and submits it (on the UI goroutine).
func enrollFill(u *UI, token, user, pin, pin2 string) {
	f := u.unlock.setup
	if token != "" {
		f.token.SetText("")
		test.Type(f.token, token)
	}
	if user != "" {
		f.user.SetText("")
		test.Type(f.user, user)
	}
	test.Type(f.pin, pin)
	test.Type(f.pin2, pin2)
	test.Tap(f.button)
}

// enrollStatus waits until the enrollment is no longer busy and returns the status.
func enrollStatus(t *testing.T, u *UI) string {
	t.Helper()
	var msg string
	waitFor(t, "enrollment to end", func() bool {
		f := u.unlock.setup
		if f.busy == nil {
			msg = "" // the setup screen is gone: enrolled
			return true
		}
		msg = f.status.Text
		// Tapping the button took the focus; the result gives it to a field.
		return !f.busy.running() && u.win.Canvas().Focused() != nil
	})
	return msg
}

// TestEnrollFromSetupScreen: a device without a vault shows the setup screen; token,
// user and PIN twice enroll it with the portal (software key, as the policy allows),
// create the vault and the record, and the unlock screen follows.
func TestEnrollFromSetupScreen(t *testing.T) {
	srv, url := enrollPortal(t, map[string]string{"allow_software_keys": "true"})
	dir := t.TempDir()
	u := newTestUI(t, dir)
	setupReady(t, u)
	uiWait(func() {
		enrollFill(u, enrollToken(t, srv, url), "anna", "135790", "135790")
	})
	unlockReady(t, u)
	uiWait(func() {
		if got := u.unlock.status.Text; got != tr("setup.done") {
			t.Errorf("unlock status after enrollment = %q", got)
		}
	})
	dev, err := fsync.LoadDevice(dir)
	if err != nil {
		t.Fatal(err)
	}
	if dev.KeyKind != fsync.KeySoftware || dev.Office != "Bürgerbüro Mitte" || dev.PortalURL != url {
		t.Errorf("enrollment record: key %s, office %q, portal %s", dev.KeyKind, dev.Office, dev.PortalURL)
	}
	if _, err := os.Stat(filepath.Join(dir, "vault.db")); err != nil {
		t.Errorf("no vault: %v", err)
	}
	uiWait(func() {
		test.Type(u.unlock.pin, "135790")
		unlockKey(u, fyne.KeyReturn)
	})
	waitTitle(t, u, tr("screen.cases"))
}

// TestEnrollPINPolicy: a PIN shorter than the portal's policy asks for keeps the
// enrollment (the one-time token is used up) and asks only for a longer PIN.
func TestEnrollPINPolicy(t *testing.T) {
	srv, url := enrollPortal(t, map[string]string{"allow_software_keys": "true", "min_pin_length": "8"})
	dir := t.TempDir()
	u := newTestUI(t, dir)
	setupReady(t, u)
	uiWait(func() { enrollFill(u, enrollToken(t, srv, url), "anna", "135790", "135790") })
	if msg := enrollStatus(t, u); msg != tr("enroll.err.pinPolicy", 8) {
		t.Fatalf("status = %q", msg)
	}
	uiWait(func() {
		f := u.unlock.setup
		if !f.token.Disabled() || !f.user.Disabled() || f.pin.Disabled() {
			t.Error("token and user must be locked, the PIN open")
		}
		if u.win.Canvas().Focused() != f.pin {
			t.Errorf("focus on %T, want the PIN", u.win.Canvas().Focused())
		}
		enrollFill(u, "", "", "13579024", "13579024")
	})
	unlockReady(t, u)
	if _, err := fsync.LoadDevice(dir); err != nil {
		t.Fatal(err)
	}
}

// TestEnrollErrors: what the user reads when the enrollment cannot work.
func TestEnrollErrors(t *testing.T) {
	srv, url := enrollPortal(t, nil) // software keys not allowed
	good := enrollToken(t, srv, url)
	tok, err := portal.ParseToken(good)
	if err != nil {
		t.Fatal(err)
	}
	forged := tok
	forged.Secret = "not-the-secret"
	wrongCA := tok
	wrongCA.CASHA256 = strings.Repeat("0", 64)
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	unreachable := tok
	unreachable.URL = "https://" + dead.Addr().String()
	dead.Close()
	enc := func(tk portal.EnrollToken) string {
		s, err := portal.EncodeToken(tk)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	u := newTestUI(t, t.TempDir())
	setupReady(t, u)
	for _, c := range []struct {
		name, token, user, pin, pin2, want string
	}{
		{"no token", "", "anna", "135790", "135790", tr("setup.needToken")},
		{"garbage", "hello", "anna", "135790", "135790", tr("enroll.err.badToken")},
		{"bad user", good, "Anna Schmidt", "135790", "135790", tr("enroll.err.userName")},
		{"short PIN", good, "anna", "1357", "1357", tr("error.badPin")},
		{"PINs differ", good, "anna", "135790", "135791", tr("setup.pinMismatch")},
		{"forged secret", enc(forged), "anna", "135790", "135790", tr("enroll.err.tokenRefused")},
		{"wrong CA", enc(wrongCA), "anna", "135790", "135790", tr("enroll.err.caMismatch")},
		{"unreachable", enc(unreachable), "anna", "135790", "135790", tr("enroll.err.unreachable")},
		{"software key refused", good, "anna", "135790", "135790", tr("enroll.err.softwareKey")},
	} {
		uiWait(func() {
			f := u.unlock.setup
			f.token.SetText("")
			f.user.SetText("")
			enrollFill(u, c.token, c.user, c.pin, c.pin2)
		})
		if got := enrollStatus(t, u); got != c.want {
			t.Errorf("%s: status %q, want %q", c.name, got, c.want)
		}
	}
	uiWait(func() {
		if u.unlock.setup.pending.enrolled() {
			t.Error("a refused enrollment is pending")
		}
		if !u.unlock.setup.detailsBox.Visible() {
			t.Error("no details for IT after a refused enrollment")
		}
	})
}

func TestEnrollMessages(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("%w on 01.01.2026 10:00", errTokenExpired), tr("enroll.err.expired")},
		{fmt.Errorf("%w: x", errWrongPortal), tr("enroll.err.wrongPortal")},
		{errAlreadyEnrolled, tr("enroll.err.enrolled")},
		{&pinPolicyError{Min: 8}, tr("enroll.err.pinPolicy", 8)},
		{fmt.Errorf("open TPM auto: %w", fmt.Errorf("x: %w", errors.New("y"))), tr("enroll.err.failed")},
	} {
		if got := enrollMessage(c.err); got != c.want {
			t.Errorf("enrollMessage(%v) = %q, want %q", c.err, got, c.want)
		}
	}
	if !validUserName("anna.schmidt@amt") || validUserName(".anna") || validUserName("Jürgen") || validUserName("") {
		t.Error("validUserName disagrees with storage's rule")
	}
}

// TestSetupGolden: the setup screen.
func TestSetupGolden(t *testing.T) {
	t.Setenv("FIELDOFFICE_CONFIG", filepath.Join(t.TempDir(), "no-config.toml"))
	u := unlockGoldenUI(t, t.TempDir())
	setupReady(t, u)
	uiWait(func() {
		u.cfg.DataDir = "/var/lib/fieldoffice"
		u.showSetup()
		u.unlock.setup.device.SetText("tablet-12")
		u.win.Canvas().Unfocus() // a focused entry's cursor blinks: its colour at capture time varies
		test.AssertRendersToMarkup(t, "unlock/setup.xml", u.win.Canvas())
	})
}
