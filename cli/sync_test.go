package cli

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fieldoffice/platform"
	"fieldoffice/platform/tpmtest"
	"fieldoffice/portal/server"
	"fieldoffice/storage"
	fsync "fieldoffice/sync"
)

// runPortal starts the reference portal on loopback for the CLI tests.
func runPortal(t *testing.T) (*server.Server, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "portal")
	if err := server.Init(dir, []string{"127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	srv, err := server.Open(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return srv, "https://" + ln.Addr().String()
}

func token(t *testing.T, srv *server.Server, url string) string {
	t.Helper()
	tok, err := srv.Store().CreateToken("Bürgerbüro Nord", time.Hour, url)
	if err != nil {
		t.Fatal(err)
	}
	return tok.Token
}

// TestCLIEnrollSyncRevoke: enroll with a TPM (simulator) through the CLI, sync cases
// down and changes up, resolve a conflict, then the portal revokes the device and the
// next sync wipes it (exit 7).
func TestCLIEnrollSyncRevoke(t *testing.T) {
	srv, url := runPortal(t)
	if _, err := srv.Store().Seed(30, 4); err != nil {
		t.Fatal(err)
	}
	r := newRunner(t, tpmtest.SimSpec(t))
	out := r.must("135790\n", nil, "enroll", "--token", token(t, srv, url), "--user", "anna", "--name", "tablet-12")
	if !strings.Contains(out, "Enrolled: device") || !strings.Contains(out, "in the TPM") {
		t.Fatalf("enroll: %s", out)
	}
	r.env["FIELDOFFICE_PIN"] = "135790"
	var st StatusJSON
	if err := json.Unmarshal([]byte(r.must("", nil, "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Enrollment == nil || !st.Enrollment.Enrolled || st.Enrollment.Office != "Bürgerbüro Nord" || st.Enrollment.KeyKind != fsync.KeyTPM || !st.Recovery {
		t.Fatalf("status after enroll: %+v %+v", st, st.Enrollment)
	}
	r.expect(ExitError, "", nil, "enroll", "--token", token(t, srv, url), "--user", "anna")

	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(r.must("", nil, "sync", "--json")), "\n") {
		lines = append(lines, l)
	}
	var sum SyncJSON
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil || !sum.OK || sum.Pulled != 30 {
		t.Fatalf("sync summary %q: %+v %v", lines[len(lines)-1], sum, err)
	}
	if len(lines) < 3 || !strings.Contains(lines[0], `"phase":"connect"`) {
		t.Errorf("sync events: %v", lines)
	}
	rows := r.rows("case", "list", "--type", "anmeldung")
	if len(rows) == 0 {
		t.Fatal("no anmeldung pulled")
	}
	id := rows[0].ID

	// Conflict: the office and the device change the same field.
	r.must("", nil, "case", "set", id, "telefon=0351 1111111")
	if _, err := srv.Store().SetCaseFields(id, map[string]string{"telefon": "0351 2222222"}); err != nil {
		t.Fatal(err)
	}
	if out := r.must("", nil, "sync"); !strings.Contains(out, "1 conflicts") {
		t.Errorf("sync text: %s", out)
	}
	if rows := r.rows("case", "list", "--conflict"); len(rows) != 1 || rows[0].ID != id {
		t.Fatalf("conflict list: %+v", rows)
	}
	if text := r.must("", nil, "case", "show", id); !strings.Contains(text, "[Konflikte]") || !strings.Contains(text, "0351 2222222") {
		t.Errorf("case show in conflict:\n%s", text)
	}
	r.expect(ExitError, "", nil, "case", "resolve", id, "email", "mine")
	r.must("", nil, "case", "resolve", id, "telefon", "mine")
	r.must("", nil, "sync")
	if pc, _ := srv.Store().Case(id); pc.Values["telefon"] != "0351 1111111" {
		t.Fatalf("portal after resolve: %q", pc.Values["telefon"])
	}

	// An attachment added on another device arrives with the case; its content is
	// downloaded when it is first opened.
	other := newRunner(t, platform.Spec{Kind: platform.KindNone})
	if _, err := srv.Store().SetPolicy(map[string]string{"allow_software_keys": "true"}); err != nil {
		t.Fatal(err)
	}
	other.must("246800\n", nil, "enroll", "--token", token(t, srv, url), "--user", "ben")
	other.env["FIELDOFFICE_PIN"] = "246800"
	other.must("", nil, "sync")
	scan := filepath.Join(t.TempDir(), "Vollmacht.pdf")
	content := []byte(strings.Repeat("%PDF-1.7 Vollmacht\n", 5000))
	if err := os.WriteFile(scan, content, 0o600); err != nil {
		t.Fatal(err)
	}
	sha := strings.TrimSpace(other.must("", nil, "case", "attach", id, scan))
	other.must("", nil, "sync")
	r.must("", nil, "sync")
	out = filepath.Join(t.TempDir(), "download.pdf")
	r.must("", nil, "case", "export-attachment", id, sha, "--out", out)
	if got, err := os.ReadFile(out); err != nil || string(got) != string(content) {
		t.Fatalf("downloaded attachment differs (%v)", err)
	}

	// Revoked: the next sync (even without the PIN) wipes the device.
	dev, _ := fsync.LoadDevice(r.data)
	if _, err := srv.Store().RevokeDevice(dev.DeviceID); err != nil {
		t.Fatal(err)
	}
	res := r.expect(ExitWiped, "", []string{"FIELDOFFICE_PIN="}, "sync", "--check-in")
	if !strings.Contains(res.stderr, "revoked") || !strings.Contains(res.stderr, "erased") {
		t.Errorf("revoked sync: %q", res.stderr)
	}
	for _, f := range []string{storage.FileName, fsync.DeviceFile} {
		if _, err := os.Stat(filepath.Join(r.data, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there after the wipe", f)
		}
	}
}

// TestCLIOfflineLock: past the policy's maximum offline days the vault does not
// unlock; a check-in with the device key alone (no PIN) lifts the lock.
func TestCLIOfflineLock(t *testing.T) {
	srv, url := runPortal(t)
	if _, err := srv.Store().SetPolicy(map[string]string{"allow_software_keys": "true", "max_offline_days": "3"}); err != nil {
		t.Fatal(err)
	}
	r := newRunner(t, platform.Spec{Kind: platform.KindNone})
	out := r.must("135790\n", nil, "enroll", "--token", token(t, srv, url), "--user", "ben")
	if !strings.Contains(out, "software") {
		t.Errorf("enroll with --tpm none: %s", out)
	}
	r.env["FIELDOFFICE_PIN"] = "135790"
	r.must("", nil, "case", "list")

	dev, _ := fsync.LoadDevice(r.data)
	dev.LastContact = time.Now().Add(-4 * 24 * time.Hour)
	if err := dev.Save(r.data); err != nil {
		t.Fatal(err)
	}
	res := r.expect(ExitError, "", nil, "case", "list")
	if !strings.Contains(res.stderr, "offline longer than its policy allows") || !strings.Contains(res.stderr, "fieldoffice sync") {
		t.Errorf("offline lock message: %q", res.stderr)
	}
	var st StatusJSON
	json.Unmarshal([]byte(r.must("", nil, "status", "--json")), &st)
	if st.Enrollment == nil || !st.Enrollment.OfflineLocked {
		t.Errorf("status does not show the offline lock: %+v", st.Enrollment)
	}
	r.must("", []string{"FIELDOFFICE_PIN="}, "sync", "--check-in")
	r.must("", nil, "case", "list")
}

// TestCLIEnrollSoftwareRefused: with the default policy a device without a TPM is not
// enrolled, and nothing is left behind.
func TestCLIEnrollSoftwareRefused(t *testing.T) {
	srv, url := runPortal(t)
	r := newRunner(t, platform.Spec{Kind: platform.KindNone})
	res := r.expect(ExitError, "135790\n", nil, "enroll", "--token", token(t, srv, url), "--user", "ben")
	if !strings.Contains(strings.ToLower(res.stderr), "software") {
		t.Errorf("refusal: %q", res.stderr)
	}
	for _, f := range []string{storage.FileName, fsync.DeviceFile} {
		if _, err := os.Stat(filepath.Join(r.data, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind", f)
		}
	}
}
