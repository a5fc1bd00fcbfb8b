package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"fieldoffice/assets"
	"fieldoffice/platform"
	"fieldoffice/storage"
	fsync "fieldoffice/sync"
)

// session is what exists between unlock and lock: the unlocked vault's user, the
// forms, and — on an enrolled device — the sync engine running in the background.
// Every field is set before the session is published and not changed afterwards;
// methods run on any goroutine.
type session struct {
	user   string
	role   string // workflow role ("sachbearbeitung" until the portal assigns roles)
	forms  storage.Forms
	dev    *fsync.Device // nil when the device is not enrolled
	key    platform.DeviceKey
	engine *fsync.Engine
	bg     *fsync.Background
	cancel context.CancelFunc
}

// goDo runs work off the UI goroutine and then done on it. Every storage, TPM and
// network call of the app goes through it (or its own goroutine ending in fyne.Do).
func goDo[T any](work func() (T, error), done func(T, error)) {
	go func() {
		v, err := work()
		uiDo(func() { done(v, err) })
	}()
}

// startSession runs after a successful unlock (off the UI goroutine): it picks the
// forms (the portal's when enrolled), and starts background sync on an enrolled
// device. A device key that cannot be loaded leaves the session without sync (the
// sync bar says why); the vault stays usable offline.
func (u *UI) startSession() (*session, error) {
	s := &session{user: u.vlt.User(), role: "sachbearbeitung", forms: assets.Schemas{}}
	dev, err := fsync.LoadDevice(u.cfg.DataDir)
	switch {
	case errors.Is(err, fsync.ErrNotEnrolled):
		u.vlt.SetForms(s.forms)
		return s, nil
	case err != nil:
		u.vlt.SetForms(s.forms)
		return s, err
	}
	s.dev = dev
	if f, ferr := dev.Schemas(assets.Schemas{}); ferr == nil || f != nil {
		s.forms = f
	}
	u.vlt.SetForms(s.forms)
	s.key, err = loadDeviceKey(u.vlt, dev)
	if err != nil {
		return s, err
	}
	client, err := dev.Client(s.key, fsync.ClientConfig{Logger: u.log})
	if err != nil {
		return s, err
	}
	s.engine = &fsync.Engine{Vault: u.vlt, Client: client, Device: dev, DataDir: u.cfg.DataDir, Role: s.role, Logger: u.log,
		Key: s.key, Actions: appActions{u: u, v: u.vlt}}
	s.engine.OnEvent = func(ev fsync.Event) { uiDo(func() { u.syncEvent(ev) }) }
	interval := time.Duration(dev.Policy.SyncIntervalMinutes) * time.Minute
	s.bg = &fsync.Background{
		Run:       s.engine.Run,
		Interval:  interval,
		ProbeAddr: fsync.ProbeAddrOf(dev.PortalURL),
		OnResult: func(reason string, sum fsync.Summary, err error) {
			uiDo(func() { u.syncResult(reason, sum, err) })
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.bg.Start(ctx)
	s.bg.Trigger(fsync.ReasonUnlock)
	return s, nil
}

// loadDeviceKey loads the enrolled device's mTLS key (TPM or software).
func loadDeviceKey(v *storage.Vault, dev *fsync.Device) (platform.DeviceKey, error) {
	if dev.KeyKind == fsync.KeySoftware {
		return platform.ParseSoftwareDeviceKey(dev.KeyBlob)
	}
	tpm := v.TPM()
	if tpm == nil {
		return nil, errors.New("the device key is in a TPM, but the vault was opened without one")
	}
	return platform.LoadDeviceKey(tpm, dev.KeyBlob)
}

// end stops background sync and releases the device key (off the UI goroutine:
// Stop waits for a run to end).
func (s *session) end() {
	if s == nil {
		return
	}
	if s.bg != nil {
		s.bg.Stop()
	}
	if s.cancel != nil {
		s.cancel()
	}
	if s.key != nil {
		s.key.Close()
	}
}

// edited tells background sync that the user changed something (call after every
// saved change).
func (u *UI) edited() {
	u.bar.refreshPending()
	if u.sess != nil && u.sess.bg != nil {
		u.sess.bg.Edited()
	}
}

// syncNow asks for a sync run now ("Jetzt synchronisieren").
func (u *UI) syncNow() {
	if u.sess != nil && u.sess.bg != nil {
		u.sess.bg.Trigger(fsync.ReasonNow)
	}
}

// appActions carries out the portal's remote actions in the app (sync/actions.go):
// wipe erases the vault while its TPM stays open for the report (the screen follows
// when the run ends with sync.ErrWiped), lock locks the session, resync drops the
// cursor.
type appActions struct {
	u *UI
	v *storage.Vault
}

func (a appActions) Wipe(context.Context) (string, error) {
	rep, err := a.v.Wipe()
	if err != nil {
		return "", err
	}
	a.u.log.Warn("remote wipe ordered by the portal: vault crypto-erased", "path", rep.Path)
	return fmt.Sprintf("key slots erased, %d bytes overwritten, vault removed", rep.Overwritten), nil
}

func (a appActions) Lock() (string, error) {
	uiDo(a.u.lock)
	return "app locked", nil
}

func (a appActions) Resync() (bool, error) {
	if !a.v.Unlocked() {
		return false, nil
	}
	return true, a.v.UpdateSyncState(func(s *storage.SyncState) { s.Cursor = "" })
}
