package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"fieldoffice/portal"
	"fieldoffice/portal/server"
	"fieldoffice/storage/crypto"
)

// enrollDirect enrolls a software-key device on the store (no server runs) and
// returns its ID.
func enrollDirect(t *testing.T, dir string) string {
	t.Helper()
	st, err := server.OpenStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	info, err := st.CreateToken("Bürgerbüro Süd", time.Hour, "https://127.0.0.1:8443")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := portal.ParseToken(info.Token)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := st.Enroll(portal.EnrollRequest{Secret: tok.Secret, CSR: csr, DeviceName: "tablet-11", User: "k.becker", TPMKind: "none", Software: true})
	if err != nil {
		t.Fatal(err)
	}
	return resp.DeviceID
}

// reportDirect reports an action's outcome as the device would (on the store).
func reportDirect(t *testing.T, dir, deviceID, actionID string, res portal.ActionResult) {
	t.Helper()
	st, err := server.OpenStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.ReportAction(deviceID, actionID, res); err != nil {
		t.Fatal(err)
	}
}

func showDevice(t *testing.T, dir, id string) server.DeviceDetails {
	t.Helper()
	code, out, stderr := portald(t, dir, "device", "show", id, "--json")
	var d server.DeviceDetails
	if code != exitOK || json.Unmarshal([]byte(out), &d) != nil {
		t.Fatalf("device show --json: %d %s %s", code, out, stderr)
	}
	return d
}

// queued runs `device KIND ID --json` and returns the action.
func queued(t *testing.T, dir, word, id string) server.DeviceAction {
	t.Helper()
	code, out, stderr := portald(t, dir, "device", word, id, "--json")
	var a server.DeviceAction
	if code != exitOK || json.Unmarshal([]byte(out), &a) != nil {
		t.Fatalf("device %s: %d %s %s", word, code, out, stderr)
	}
	return a
}

func TestDeviceActionCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "portal")
	if code, _, stderr := portald(t, dir, "init"); code != exitOK {
		t.Fatalf("init: %s", stderr)
	}
	if code, out, _ := portald(t, dir, "policy", "set", "allow_software_keys=true", "pcrs=7,14"); code != exitOK || !regexp.MustCompile(`pcrs\s+7,14\n`).MatchString(out) {
		t.Fatalf("policy set pcrs=7,14: %d %s", code, out)
	}
	if code, out, _ := portald(t, dir, "policy", "show", "--json"); code != exitOK || !strings.Contains(out, "\"pcrs\": [\n    7,\n    14\n  ]") {
		t.Errorf("policy show --json: %s", out)
	}
	id := enrollDirect(t, dir)

	// Usage mistakes.
	for _, args := range [][]string{{"device", "wipe"}, {"device", "lock", id, "x"}, {"device", "cancel", id}, {"device", "show"}, {"device", "frob", id}} {
		if code, _, stderr := portald(t, dir, args...); code != exitUsage {
			t.Errorf("portald %v: %d %s", args, code, stderr)
		}
	}
	if code, _, stderr := portald(t, dir, "device", "lock", "no-such-device"); code != exitError || !strings.Contains(stderr, "not found") {
		t.Errorf("lock of an unknown device: %d %s", code, stderr)
	}

	// Without a server: on the store.
	if code, out, _ := portald(t, dir, "device", "lock", id); code != exitOK || !strings.Contains(out, "lock of device "+id+" pending") {
		t.Errorf("device lock: %d %s", code, out)
	}
	lock := showDevice(t, dir, id).Actions[0]
	resync := queued(t, dir, "resync", id)
	rotate := queued(t, dir, "rotate", id)
	if resync.Kind != portal.ActionResync || rotate.Kind != portal.ActionRotateCert || lock.Kind != portal.ActionLock {
		t.Fatalf("kinds: %s %s %s", lock.Kind, resync.Kind, rotate.Kind)
	}
	d := showDevice(t, dir, id)
	if d.PendingActions != 3 || d.State != "active" || d.User != "k.becker" || d.TPMKind != "none" || !d.Software ||
		d.CertSerial == "" || d.CertExpires.IsZero() || d.PolicyVersion != 2 || d.PolicyCurrent != 2 {
		t.Fatalf("device show: %+v", d)
	}

	// The device reports; show has the outcomes.
	doneAt := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	reportDirect(t, dir, id, lock.ID, portal.ActionResult{Status: portal.ActionDone, Time: doneAt})
	reportDirect(t, dir, id, resync.ID, portal.ActionResult{Status: portal.ActionFailed, Detail: "kein Netz\nabgebrochen", Time: doneAt})
	if code, out, _ := portald(t, dir, "device", "cancel", id, rotate.ID); code != exitOK || !strings.Contains(out, "cancelled") {
		t.Errorf("device cancel: %d %s", code, out)
	}
	if code, _, stderr := portald(t, dir, "device", "cancel", id, lock.ID); code != exitError || !strings.Contains(stderr, "done already") {
		t.Errorf("cancel of a done action: %d %s", code, stderr)
	}
	code, out, _ := portald(t, dir, "device", "show", id)
	for _, want := range []string{"tablet-11", "k.becker", "software key (tpm kind none)", "version 2", "serial " + d.CertSerial,
		"pending actions  0", "lock", "done", "failed", "kein Netz abgebrochen", "cancelled", "revoked          no", "wiped            no"} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("device show lacks %q:\n%s", want, out)
		}
	}
	d = showDevice(t, dir, id)
	if a := d.Actions[0]; a.Status != portal.ActionDone || !a.Time.Equal(doneAt) || a.Reported.IsZero() {
		t.Errorf("lock in show: %+v", a)
	}
	if a := d.Actions[1]; a.Status != portal.ActionFailed || a.Detail != "kein Netz\nabgebrochen" {
		t.Errorf("resync in show: %+v", a)
	}

	// Wipe with a server running: the commands go through the socket.
	var serveOut, serveErr lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--dir", dir, "--listen", "127.0.0.1:0"}, &serveOut, &serveErr, func(string) string { return "" })
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(serveOut.String(), "admin socket") {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start: %s", serveErr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	wipe := queued(t, dir, "wipe", id)
	if wipe.Kind != portal.ActionWipe || wipe.Status != server.ActionPending {
		t.Fatalf("wipe: %+v", wipe)
	}
	if d := showDevice(t, dir, id); d.PendingActions != 1 || d.Actions[3].ID != wipe.ID {
		t.Errorf("show over the socket: %+v", d)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("serve: %d %s", code, serveErr.String())
	}
	reportDirect(t, dir, id, wipe.ID, portal.ActionResult{Status: portal.ActionDone, Time: doneAt})
	d = showDevice(t, dir, id)
	if d.State != "wiped" || !d.Wiped.Equal(doneAt) || d.PendingActions != 0 {
		t.Errorf("after the wipe: %+v", d)
	}
	if code, out, _ := portald(t, dir, "device", "list"); code != exitOK || !strings.Contains(out, "wiped 2026-03-02") {
		t.Errorf("device list: %s", out)
	}
	if code, _, stderr := portald(t, dir, "device", "lock", id); code != exitError || !strings.Contains(stderr, "wiped") {
		t.Errorf("lock of a wiped device: %d %s", code, stderr)
	}
}

func TestRecoveryCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "portal")
	if code, _, stderr := portald(t, dir, "init"); code != exitOK {
		t.Fatalf("init: %s", stderr)
	}
	code, pub, _ := portald(t, dir, "recovery", "show")
	pubKey, err := crypto.ParseRecoveryPublicKey([]byte(pub))
	if code != exitOK || err != nil {
		t.Fatalf("recovery show: %d %v %s", code, err, pub)
	}
	if code, _, _ := portald(t, dir, "recovery", "export"); code != exitUsage {
		t.Errorf("export without --out: %d", code)
	}
	out := filepath.Join(t.TempDir(), "org-recovery.pem")
	code, stdout, stderr := portald(t, dir, "recovery", "export", "--out", out)
	if code != exitOK || !strings.Contains(stdout, out) || !strings.Contains(stderr, "OFFLINE") {
		t.Fatalf("recovery export: %d %s %s", code, stdout, stderr)
	}
	fi, err := os.Stat(out)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("exported file: %v %v", err, fi)
	}
	raw, _ := os.ReadFile(out)
	key, err := crypto.ParseRecoveryPrivateKey(raw)
	if err != nil || !key.PublicKey().Equal(pubKey) {
		t.Fatalf("exported key: %v", err)
	}
	if code, _, stderr := portald(t, dir, "recovery", "export", "--out", out); code != exitError || !strings.Contains(stderr, "refusing to overwrite") {
		t.Errorf("export onto an existing file: %d %s", code, stderr)
	}
	out2 := filepath.Join(t.TempDir(), "second.pem")
	if code, stdout, _ := portald(t, dir, "recovery", "export", "--out", out2, "--remove"); code != exitOK || !strings.Contains(stdout, "removed") {
		t.Errorf("export --remove: %d %s", code, stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "recovery.key")); !os.IsNotExist(err) {
		t.Errorf("recovery.key after --remove: %v", err)
	}
	if code, _, _ := portald(t, dir, "recovery", "show"); code != exitOK {
		t.Error("recovery show needs no private key")
	}
}
