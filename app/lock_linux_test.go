//go:build linux && !android

package app

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"github.com/godbus/dbus/v5"
)

// chromeLogind plays systemd-logind on a private bus: it hands out delay inhibitors
// (pipes) and records the calls.
type chromeLogind struct {
	calls chan []string
	keep  []*os.File
}

func (l *chromeLogind) Inhibit(what, who, why, mode string) (dbus.UnixFD, *dbus.Error) {
	r, w, err := os.Pipe()
	if err != nil {
		return 0, dbus.MakeFailedError(err)
	}
	l.keep = append(l.keep, r, w)
	l.calls <- []string{what, mode}
	return dbus.UnixFD(w.Fd()), nil
}

// TestSuspendWatchLogind: the watcher takes a delay inhibitor, locks on
// PrepareForSleep(true) and takes a new inhibitor after PrepareForSleep(false). It runs
// against a private dbus-daemon with a fake logind.
func TestSuspendWatchLogind(t *testing.T) {
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("no dbus-daemon:", err)
	}
	sock := filepath.Join(t.TempDir(), "bus")
	addr := "unix:path=" + sock
	cmd := exec.Command(daemon, "--session", "--nofork", "--nopidfile", "--address="+addr)
	if err := cmd.Start(); err != nil {
		t.Skip("dbus-daemon does not start:", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the private bus did not come up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", addr)

	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fake := &chromeLogind{calls: make(chan []string, 4)}
	defer func() {
		for _, f := range fake.keep {
			f.Close()
		}
	}()
	if err := conn.Export(fake, login1Path, login1Manager); err != nil {
		t.Fatal(err)
	}
	if reply, err := conn.RequestName(login1Dest, dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("request name: %v %v", reply, err)
	}

	test.NewTempApp(t) // fyne.Do
	slept := make(chan struct{}, 2)
	stop := watchSuspend(slog.New(slog.DiscardHandler), func() { slept <- struct{}{} })
	defer stop()

	inhibited := func(what string) {
		t.Helper()
		select {
		case c := <-fake.calls:
			if c[0] != "sleep" || c[1] != "delay" {
				t.Errorf("%s: Inhibit(%v), want a delay lock for sleep", what, c)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no inhibitor taken", what)
		}
	}
	inhibited("start")
	if err := conn.Emit(login1Path, prepareForSleep, true); err != nil {
		t.Fatal(err)
	}
	select {
	case <-slept:
	case <-time.After(5 * time.Second):
		t.Fatal("PrepareForSleep(true) did not lock")
	}
	if err := conn.Emit(login1Path, prepareForSleep, false); err != nil {
		t.Fatal(err)
	}
	inhibited("resume")
	select {
	case <-slept:
		t.Error("resume locked again")
	case <-time.After(50 * time.Millisecond):
	}
}

func TestSleepSignal(t *testing.T) {
	for _, c := range []struct {
		sig         *dbus.Signal
		going, isOK bool
	}{
		{&dbus.Signal{Name: prepareForSleep, Body: []any{true}}, true, true},
		{&dbus.Signal{Name: prepareForSleep, Body: []any{false}}, false, true},
		{&dbus.Signal{Name: prepareForSleep, Body: []any{"yes"}}, false, false},
		{&dbus.Signal{Name: login1Manager + ".PrepareForShutdown", Body: []any{true}}, false, false},
		{nil, false, false},
	} {
		going, ok := sleepSignal(c.sig)
		if going != c.going || ok != c.isOK {
			t.Errorf("sleepSignal(%v) = %v, %v", c.sig, going, ok)
		}
	}
}
