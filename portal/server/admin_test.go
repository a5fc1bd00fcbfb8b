package server_test

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"fieldoffice/portal"
	"fieldoffice/portal/server"
)

// TestRestart: a portal closed in the middle of a device's work and opened again
// keeps cases, feed, op results, devices, policy and blobs.
func TestRestart(t *testing.T) {
	p := newPortal(t)
	p.allowSoftwareKeys()
	d := p.enroll()
	if _, err := p.store().Seed(5, 3); err != nil {
		t.Fatal(err)
	}
	c, create := newAnmeldung(t, "Schmitz")
	d.push(create)
	data := []byte("Lichtbild, 3,5 × 4,5 cm")
	sha := sha256hex(data)
	d.putPart(sha, data, 0, 10) // half an upload

	p.restart()
	d.base = p.url
	if _, n, complete := d.head(sha); n != 10 || complete {
		t.Fatalf("partial blob after restart: %d %v", n, complete)
	}
	resp, body := d.putPart(sha, data, 10, len(data))
	blobState(t, resp, body, int64(len(data)), true)
	if r := d.push(create)[0]; r.Status != portal.ResultDuplicate || r.First != portal.ResultApplied {
		t.Fatalf("op after restart: %+v", r)
	}
	all, cursor := d.pullAll("")
	if len(all) != 6 || decodeCase(t, all[5].Case).ID != c.ID {
		t.Fatalf("feed after restart: %d", len(all))
	}
	var pol portal.Policy
	d.getJSON(portal.PathPolicy, &pol)
	if !pol.AllowSoftwareKeys {
		t.Fatal("policy lost")
	}

	// Killed again, in the middle of a pull: the cursor still works afterwards.
	p.restart()
	d.base = p.url
	if _, err := p.store().AssignCase(c.ID, "p.wagner"); err != nil {
		t.Fatal(err)
	}
	page := d.pull(cursor, 10)
	if len(page.Changes) != 1 || decodeCase(t, page.Changes[0].Case).Revision != 2 {
		t.Fatalf("pull after restart: %+v", page)
	}
	resp, body = d.do(http.MethodGet, portal.PathBlobs+sha, nil, nil)
	if resp.StatusCode != 200 || string(body) != string(data) {
		t.Fatalf("blob after restart: %d", resp.StatusCode)
	}

	// An upload left alone for more than 30 days is removed at the next start.
	stale := []byte("nie fertig geworden")
	staleSHA := sha256hex(stale)
	d.putPart(staleSHA, stale, 0, 5)
	old := time.Now().Add(-31 * 24 * time.Hour)
	if err := os.Chtimes(filepath.Join(p.dir, "blobs", "partial", staleSHA), old, old); err != nil {
		t.Fatal(err)
	}
	p.restart()
	d.base = p.url
	if status, _, _ := d.head(staleSHA); status != http.StatusNotFound {
		t.Errorf("stale upload after restart: %d", status)
	}
	if st, err := p.store().Blob(sha); err != nil || !st.Complete || st.Received != int64(len(data)) {
		t.Errorf("a complete blob was pruned: %+v %v", st, err)
	}
	if st, err := p.store().Blob(staleSHA); err != nil || st.Exists {
		t.Errorf("stale upload: %+v %v", st, err)
	}
}

// TestAdminSocket: while a server runs, the admin operations go through its socket;
// without one, through the store.
func TestAdminSocket(t *testing.T) {
	p := newPortal(t)
	sock := filepath.Join(p.dir, "admin.sock")
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("admin socket: %v %v", err, fi)
	}
	if _, err := server.OpenStore(p.dir, nil); !errors.Is(err, server.ErrInUse) {
		t.Fatalf("OpenStore while serving: %v", err)
	}
	a, via, err := server.OpenAdmin(p.dir)
	if err != nil || via != "socket" {
		t.Fatalf("OpenAdmin: %v %q", err, via)
	}
	defer a.Close()

	// The token's URL defaults to where the server listens.
	tok, err := a.CreateToken("Meldebehörde", 2*time.Hour, "")
	if err != nil || tok.URL != p.url || tok.Expires.Before(time.Now().Add(time.Hour)) {
		t.Fatalf("CreateToken: %v %+v", err, tok)
	}
	if _, err := portal.ParseToken(tok.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateToken("", time.Hour, ""); !errors.Is(err, server.ErrInvalidInput) {
		t.Errorf("token without office: %v", err)
	}
	if _, err := a.CreateToken("x", time.Hour, "http://insecure"); !errors.Is(err, server.ErrInvalidInput) {
		t.Errorf("token with http URL: %v", err)
	}
	if n, err := a.Seed(3, 9); err != nil || n != 3 {
		t.Fatalf("Seed: %d %v", n, err)
	}
	list, err := a.Cases()
	if err != nil || len(list) != 3 || list[0].Revision != 1 {
		t.Fatalf("Cases: %v %+v", err, list)
	}
	id := list[0].ID
	c, err := a.AssignCase(id, "t.nguyen")
	if err != nil || c.Assignee != "t.nguyen" || c.Revision != 2 {
		t.Fatalf("AssignCase: %v %+v", err, c)
	}
	if c, err = a.SetCaseFields(id, map[string]string{"due_date": "01.10.2026"}); err != nil || c.DueDate != "2026-10-01" {
		t.Fatalf("SetCaseFields: %v %+v", err, c)
	}
	var ve *server.ValidationError
	if _, err := a.SetCaseFields(id, map[string]string{"due_date": "morgen"}); !errors.As(err, &ve) || ve.Fields["due_date"] == "" {
		t.Errorf("invalid edit over the socket: %v", err)
	}
	if _, err := a.Case(uuid.NewString()); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("unknown case over the socket: %v", err)
	}
	if got, err := a.Case(id); err != nil || got.Revision != 3 {
		t.Errorf("Case: %v", err)
	}
	pol, err := a.SetPolicy(map[string]string{"allow_software_keys": "true"})
	if err != nil || !pol.AllowSoftwareKeys || pol.Version != 2 {
		t.Fatalf("SetPolicy: %v %+v", err, pol)
	}
	if _, err := a.SetPolicy(map[string]string{"nope": "1"}); !errors.Is(err, server.ErrInvalidInput) {
		t.Errorf("bad policy over the socket: %v", err)
	}
	d := p.enroll()
	devs, err := a.Devices()
	if err != nil || len(devs) != 1 || devs[0].ID != d.id {
		t.Fatalf("Devices: %v %+v", err, devs)
	}
	if dev, err := a.RevokeDevice(d.id); err != nil || !dev.IsRevoked() {
		t.Fatalf("RevokeDevice: %v", err)
	}
	resp, body := d.do(http.MethodGet, portal.PathPolicy, nil, nil)
	problemOf(t, resp, body, http.StatusForbidden, portal.ProblemDeviceRevoked)

	// Without the admin secret the socket refuses.
	os.WriteFile(filepath.Join(p.dir, "admin.secret.bak"), nil, 0o600)
	secret, _ := os.ReadFile(filepath.Join(p.dir, "admin.secret"))
	os.WriteFile(filepath.Join(p.dir, "admin.secret"), []byte("wrong\n"), 0o600)
	if _, err := server.DialAdmin(p.dir); err == nil {
		t.Error("DialAdmin with a wrong secret worked")
	}
	os.WriteFile(filepath.Join(p.dir, "admin.secret"), secret, 0o600)

	// Stopped: the socket is gone and the store opens directly.
	p.stop()
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket after Close: %v", err)
	}
	a2, via, err := server.OpenAdmin(p.dir)
	if err != nil || via != "store" {
		t.Fatalf("OpenAdmin without server: %v %q", err, via)
	}
	defer a2.Close()
	if devs, _ := a2.Devices(); len(devs) != 1 || !devs[0].IsRevoked() {
		t.Errorf("devices from the store: %+v", devs)
	}
	if u, _ := a2.(*server.Store).ListenURL(); u == "" {
		t.Error("listen URL not recorded")
	}
}
