package cli

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fieldoffice/platform"
	"fieldoffice/platform/tpmtest"
	"fieldoffice/portal/server"
	"fieldoffice/portal/servertest"
	"fieldoffice/storage"
	fsync "fieldoffice/sync"
)

// runPortal starts the reference portal on loopback for the CLI tests.
func runPortal(t *testing.T) (*server.Server, string) {
	t.Helper()
	p := servertest.Start(t)
	return p.Server(), p.URL()
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
	if err := json.Unmarshal([]byte(r.status("--json")), &st); err != nil {
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
	r.expect(ExitUsage, "", nil, "case", "resolve", id, "telefon")                         // no choice
	r.expect(ExitUsage, "", nil, "case", "resolve", id, "telefon", "mine", "--value", "x") // two
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
	json.Unmarshal([]byte(r.status("--json")), &st)
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

// TestCLISystemConfig: the system configuration supplies data dir and TPM; env and
// flags override it; its portal_url refuses tokens of other portals.
func TestCLISystemConfig(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "config.toml")
	data := filepath.Join(dir, "from-config")
	body := "data_dir = \"" + data + "\"\ntpm = \"none\"\nportal_url = \"https://portal.example.org:8443\"\n"
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FIELDOFFICE_CONFIG", conf)
	r := newRunner(t, platform.Spec{Kind: platform.KindNone})
	r.env["FIELDOFFICE_DATA"], r.env["FIELDOFFICE_TPM"] = "", ""
	r.must("135790\n", nil, "init", "--user", "anna", "--allow-software-key")
	if _, err := os.Stat(filepath.Join(data, storage.FileName)); err != nil {
		t.Fatalf("init did not use the configured data dir: %v", err)
	}
	// The environment wins over the file.
	r.env["FIELDOFFICE_DATA"] = r.data
	if out := r.status(); !strings.Contains(out, "no vault in "+r.data) {
		t.Errorf("env did not override the config:\n%s", out)
	}
	// A token for another portal is refused before anything is created.
	srv, url := runPortal(t)
	res := r.expect(ExitError, "135790\n", nil, "enroll", "--token", token(t, srv, url), "--user", "anna")
	if !strings.Contains(res.stderr, "this install belongs to https://portal.example.org:8443") {
		t.Errorf("foreign token: %q", res.stderr)
	}
	// A broken file is named.
	os.WriteFile(conf, []byte("tpm = \"quantum\"\n"), 0o644)
	if res := r.expect(ExitError, "", nil, "case", "list"); !strings.Contains(res.stderr, conf) {
		t.Errorf("broken config: %q", res.stderr)
	}
}

// TestCLIStatusCompliance: status --json on an enrolled device reports the policy in
// force and each rule; exit 0 when compliant, 6 when a rule is violated, and back.
func TestCLIStatusCompliance(t *testing.T) {
	srv, url := runPortal(t)
	if _, err := srv.Store().SetPolicy(map[string]string{"allow_software_keys": "true", "max_offline_days": "5"}); err != nil {
		t.Fatal(err)
	}
	r := newRunner(t, platform.Spec{Kind: platform.KindNone})
	r.must("135790\n", nil, "enroll", "--token", token(t, srv, url), "--user", "ben")
	r.env["FIELDOFFICE_PIN"] = "135790"
	id := strings.TrimSpace(r.must("", nil, "case", "new", "--type", "anmeldung", "--set", "familienname=Kunz"))
	r.must("", nil, "case", "note", id, "Rückruf")

	var st StatusJSON
	if err := json.Unmarshal([]byte(r.must("", nil, "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if !st.Compliant || st.Policy == nil || st.Policy.MaxOfflineDays != 5 || st.Policy.Version < 2 || st.Sync == nil || st.Sync.PendingOps != 2 {
		t.Fatalf("status: compliant %v policy %+v sync %+v rules %+v", st.Compliant, st.Policy, st.Sync, st.Compliance)
	}
	rule := func(st StatusJSON, name string) RuleJSON {
		for _, r := range st.Compliance {
			if r.Rule == name {
				return r
			}
		}
		t.Fatalf("no rule %s in %+v", name, st.Compliance)
		return RuleJSON{}
	}
	// Offline too long → not compliant (exit 6), the rule says why.
	dev, _ := fsync.LoadDevice(r.data)
	dev.LastContact = time.Now().Add(-6 * 24 * time.Hour)
	dev.Save(r.data)
	res := r.expect(ExitNonCompliant, "", nil, "status", "--json")
	json.Unmarshal([]byte(res.stdout), &st)
	if st.Compliant || rule(st, RuleOffline).OK || !strings.Contains(rule(st, RuleOffline).Why, "5 days") {
		t.Fatalf("offline rule: %+v", rule(st, RuleOffline))
	}
	// Syncing brings it back, and the pending changes go out.
	r.must("", []string{"FIELDOFFICE_PIN="}, "sync", "--check-in")
	r.must("", nil, "sync")
	json.Unmarshal([]byte(r.must("", nil, "status", "--json")), &st)
	if !st.Compliant || st.Sync.PendingOps != 0 || st.Sync.LastSuccess == "" {
		t.Fatalf("after sync: %+v %+v", st.Compliance, st.Sync)
	}
	// A stricter policy: software keys forbidden → rule violated, and unlock refused.
	if _, err := srv.Store().SetPolicy(map[string]string{"allow_software_keys": "false"}); err != nil {
		t.Fatal(err)
	}
	r.must("", []string{"FIELDOFFICE_PIN="}, "sync", "--check-in")
	res = r.expect(ExitNonCompliant, "", nil, "status", "--json")
	json.Unmarshal([]byte(res.stdout), &st)
	if rule(st, RuleKeyProtection).OK {
		t.Fatalf("key protection with a software key under a strict policy: %+v", st.Compliance)
	}
	res = r.expect(ExitError, "", nil, "case", "list")
	if !strings.Contains(res.stderr, "does not allow keys outside a TPM") {
		t.Errorf("unlock with a forbidden software key: %q", res.stderr)
	}
}

// TestCLIDoctor: doctor checks store, audit, key, portal, clock and certificate, and
// says what to do when one fails.
func TestCLIDoctor(t *testing.T) {
	srv, url := runPortal(t)
	if _, err := srv.Store().SetPolicy(map[string]string{"allow_software_keys": "true"}); err != nil {
		t.Fatal(err)
	}
	r := newRunner(t, platform.Spec{Kind: platform.KindNone})
	if res := r.expect(ExitError, "", nil, "doctor"); !strings.Contains(res.stdout, "fieldoffice enroll") {
		t.Errorf("doctor without a vault:\n%s", res.stdout)
	}
	r.must("135790\n", nil, "enroll", "--token", token(t, srv, url), "--user", "ben")
	r.env["FIELDOFFICE_PIN"] = "135790"
	var checks []CheckJSON
	if err := json.Unmarshal([]byte(r.must("", nil, "doctor", "--json", "--unlock")), &checks); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range checks {
		got[c.Check] = c.Result
	}
	for check, want := range map[string]string{"store": CheckOK, "audit": CheckOK, "values": CheckOK, "portal": CheckOK, "clock": CheckOK, "certificate": CheckOK, "device key": CheckOK, "tpm": CheckWarn} {
		if got[check] != want {
			t.Errorf("check %s = %q, want %q (%+v)", check, got[check], want, checks)
		}
	}
	// A clock an hour off fails, with what to do.
	r.now = func() time.Time { return time.Now().Add(time.Hour) }
	res := r.expect(ExitError, "", nil, "doctor")
	if !strings.Contains(res.stdout, "clock") || !strings.Contains(res.stdout, "NTP") {
		t.Errorf("doctor with a wrong clock:\n%s", res.stdout)
	}
	r.now = nil
	// The portal gone: fails with a network hint.
	srv.Close()
	res = r.expect(ExitError, "", nil, "doctor")
	if !strings.Contains(res.stdout, "cannot be reached") {
		t.Errorf("doctor without the portal:\n%s", res.stdout)
	}
}

// TestCLIRecoverAfterTPMReplaced: the device's TPM is replaced (another simulator):
// the vault refuses (exit 5), the organisation's recovery key from the portal opens
// it offline, and the device enrolls again with a new key in the new TPM — without
// losing the changes made before.
func TestCLIRecoverAfterTPMReplaced(t *testing.T) {
	srv, url := runPortal(t)
	r := newRunner(t, tpmtest.SimSpec(t))
	r.must("135790\n", nil, "enroll", "--token", token(t, srv, url), "--user", "anna")
	r.env["FIELDOFFICE_PIN"] = "135790"
	id := strings.TrimSpace(r.must("", nil, "case", "new", "--type", "anmeldung", "--set", "familienname=Voigt"))

	// The mainboard is replaced: another TPM.
	r.tpm = tpmtest.SimSpec(t).String()
	res := r.expect(ExitTPMRefuse, "", nil, "case", "list")
	if !strings.Contains(res.stderr, "fieldoffice recover") {
		t.Errorf("TPM replaced: %q", res.stderr)
	}
	keyFile := filepath.Join(srv.Store().Dir(), "recovery.key")
	r.must("246800\n", []string{"FIELDOFFICE_PIN="}, "recover", "--recovery-key", keyFile, "--user", "anna")
	r.env["FIELDOFFICE_PIN"] = "246800"
	if rows := r.rows("case", "list"); len(rows) != 1 || rows[0].ID != id {
		t.Fatalf("after recovery: %+v", rows)
	}
	// The device key was in the old TPM: sync cannot authenticate until re-enrolled.
	if res := r.run("", nil, "sync"); res.code == ExitOK {
		t.Fatal("sync with the device key of a replaced TPM succeeded")
	}
	r.expect(ExitError, "", nil, "enroll", "--token", token(t, srv, url), "--user", "anna")
	r.must("", nil, "enroll", "--force", "--token", token(t, srv, url), "--user", "anna")
	r.must("", nil, "sync")
	if c, err := srv.Store().Case(id); err != nil || c.Values["familienname"] != "Voigt" {
		t.Fatalf("case made before the replacement on the portal: %+v %v", c, err)
	}
}

// TestCLIRemoteActions: actions queued in the portal while the device is offline are
// carried out at its next contact and reported: rotate-cert (new certificate used
// from then on), resync (everything pulled again), lock (no session in the CLI), and
// wipe (erased, reported with the time, then the portal refuses the device).
func TestCLIRemoteActions(t *testing.T) {
	srv, url := runPortal(t)
	srv.Store().SetPolicy(map[string]string{"allow_software_keys": "true"})
	srv.Store().Seed(12, 3)
	r := newRunner(t, tpmtest.SimSpec(t))
	r.must("135790\n", nil, "enroll", "--token", token(t, srv, url), "--user", "anna")
	r.env["FIELDOFFICE_PIN"] = "135790"
	r.must("", nil, "sync")
	dev, _ := fsync.LoadDevice(r.data)
	oldCert := dev.Certificate

	store := srv.Store()
	for _, kind := range []string{"rotate-cert", "resync", "lock"} {
		if _, err := store.QueueAction(dev.DeviceID, kind); err != nil {
			t.Fatal(err)
		}
	}
	var sum SyncJSON
	lines := strings.Split(strings.TrimSpace(r.must("", nil, "sync", "--json")), "\n")
	json.Unmarshal([]byte(lines[len(lines)-1]), &sum)
	if !sum.OK || sum.Pulled != 0 { // pulled again from the start, but nothing new: nothing doubled
		t.Fatalf("sync after resync: %+v", sum)
	}
	det, err := store.DeviceDetails(dev.DeviceID)
	if err != nil || det.PendingActions != 0 {
		t.Fatalf("device details: %+v %v", det, err)
	}
	for _, a := range det.Actions {
		if a.Status != "done" {
			t.Errorf("action %s: %s (%s)", a.Kind, a.Status, a.Detail)
		}
	}
	dev2, _ := fsync.LoadDevice(r.data)
	if string(dev2.Certificate) == string(oldCert) {
		t.Error("certificate not rotated")
	}
	r.must("", nil, "sync") // with the new certificate

	// Wipe, queued while the device is away; carried out at the next check-in, no PIN.
	if _, err := store.QueueAction(dev.DeviceID, "wipe"); err != nil {
		t.Fatal(err)
	}
	res := r.expect(ExitWiped, "", []string{"FIELDOFFICE_PIN="}, "sync", "--check-in")
	if !strings.Contains(res.stderr, "erased") {
		t.Errorf("wipe message: %q", res.stderr)
	}
	for _, f := range []string{storage.FileName, fsync.DeviceFile} {
		if _, err := os.Stat(filepath.Join(r.data, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there after the remote wipe", f)
		}
	}
	det, _ = store.DeviceDetails(dev.DeviceID)
	last := det.Actions[len(det.Actions)-1]
	if det.State != "wiped" || last.Kind != "wipe" || last.Status != "done" || last.Time.IsZero() || !strings.Contains(last.Detail, "overwritten") {
		t.Fatalf("portal after the wipe: state %s, action %+v", det.State, last)
	}
}
