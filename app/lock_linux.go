//go:build linux && !android

package app

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/godbus/dbus/v5"
)

// Lock before suspend on Linux: systemd-logind announces a suspend or hibernation with
// the PrepareForSleep(true) signal on the system bus and waits up to InhibitDelayMaxSec
// (default 5 s) for every process holding a "delay" inhibitor for "sleep". The watcher
// holds one while a session is unlocked, locks on the signal (on the UI goroutine,
// through fyne.Do) and then releases it, so the keys are zeroed before the machine
// sleeps; after PrepareForSleep(false) (resume) it takes a new one for the next sleep.
//
// Without a system bus or logind (containers, other init systems) the watcher logs
// that and ends: the wall-clock idle check still locks after a long sleep. Without the
// right to inhibit (polkit) it still locks on the signal, but the machine may already
// sleep before the lock is done — it then happens at wake-up, before anyone sees the
// screen long.

const (
	login1Dest      = "org.freedesktop.login1"
	login1Path      = dbus.ObjectPath("/org/freedesktop/login1")
	login1Manager   = "org.freedesktop.login1.Manager"
	prepareForSleep = login1Manager + ".PrepareForSleep"
	suspendLockWait = 3 * time.Second // how long the watcher waits for the lock before it lets the system sleep
)

// watchSuspend starts watching logind for sleep; sleeping runs on the UI goroutine.
// stop ends the watch (it does not wait: the watcher may be waiting for the UI
// goroutine, which is calling stop).
func watchSuspend(log *slog.Logger, sleeping func()) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	go runSuspendWatch(ctx, log, func() {
		done := make(chan struct{})
		uiDo(func() {
			defer close(done)
			if ctx.Err() == nil {
				sleeping()
			}
		})
		select {
		case <-done:
		case <-time.After(suspendLockWait):
			log.Warn("lock before suspend: the window did not answer in time")
		}
	})
	return cancel
}

// runSuspendWatch runs until ctx ends or the bus goes away; lockNow returns once the
// app is locked.
func runSuspendWatch(ctx context.Context, log *slog.Logger, lockNow func()) {
	conn, err := dbus.ConnectSystemBus(dbus.WithContext(ctx))
	if err != nil {
		log.Info("lock before suspend is not available: no system D-Bus", "err", err)
		return
	}
	defer conn.Close()
	err = conn.AddMatchSignalContext(ctx, dbus.WithMatchObjectPath(login1Path),
		dbus.WithMatchInterface(login1Manager), dbus.WithMatchMember("PrepareForSleep"))
	if err != nil {
		log.Info("lock before suspend is not available: cannot watch logind", "err", err)
		return
	}
	signals := make(chan *dbus.Signal, 4)
	conn.Signal(signals)
	inhibitor := inhibitSleep(ctx, conn, log)
	defer func() { inhibitor.Close() }()
	for {
		select {
		case <-ctx.Done():
			return
		case sig, ok := <-signals:
			if !ok {
				return
			}
			going, ok := sleepSignal(sig)
			switch {
			case !ok:
			case going:
				lockNow()
				inhibitor.Close() // let the system sleep
				inhibitor = nil
			case inhibitor == nil:
				inhibitor = inhibitSleep(ctx, conn, log)
			}
		}
	}
}

// sleepSignal reads a PrepareForSleep signal: going is true before sleep, false after
// resume; ok is false for any other signal.
func sleepSignal(sig *dbus.Signal) (going, ok bool) {
	if sig == nil || sig.Name != prepareForSleep || len(sig.Body) != 1 {
		return false, false
	}
	going, ok = sig.Body[0].(bool)
	return going, ok
}

// inhibitor is logind's delay lock: sleep waits while its file descriptor is open.
type inhibitor struct{ f *os.File }

// Close releases the inhibitor; nil-safe.
func (i *inhibitor) Close() {
	if i != nil && i.f != nil {
		i.f.Close()
		i.f = nil
	}
}

// inhibitSleep takes a delay inhibitor for sleep, or returns nil (and logs) when
// logind refuses or is not there.
func inhibitSleep(ctx context.Context, conn *dbus.Conn, log *slog.Logger) *inhibitor {
	var fd dbus.UnixFD
	err := conn.Object(login1Dest, login1Path).CallWithContext(ctx, login1Manager+".Inhibit", 0,
		"sleep", "FieldOffice", "Lock the case vault before sleep", "delay").Store(&fd)
	if err != nil {
		log.Info("lock before suspend: no delay inhibitor (the lock may happen after wake-up)", "err", err)
		return nil
	}
	return &inhibitor{f: os.NewFile(uintptr(fd), "logind-inhibitor")}
}
