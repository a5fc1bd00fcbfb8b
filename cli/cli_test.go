package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"fieldoffice/platform"
	"fieldoffice/platform/tpmtest"
	"fieldoffice/storage"
)

// runner runs fieldoffice commands in-process against one data dir and TPM spec.
type runner struct {
	t    *testing.T
	data string
	tpm  string
	env  map[string]string
	now  func() time.Time // nil: time.Now
}

type result struct {
	code           int
	stdout, stderr string
}

func newRunner(t *testing.T, spec platform.Spec) *runner {
	return &runner{t: t, data: filepath.Join(t.TempDir(), "data"), tpm: spec.String(), env: map[string]string{}}
}

// run runs args with the given stdin and extra environment ("K=V").
func (r *runner) run(stdin string, env []string, args ...string) result {
	r.t.Helper()
	e := map[string]string{"FIELDOFFICE_DATA": r.data, "FIELDOFFICE_TPM": r.tpm}
	for k, v := range r.env {
		e[k] = v
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		e[k] = v
	}
	var out, errb bytes.Buffer
	code := Run(context.Background(), Env{
		Args: args, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return e[k] }, Now: r.now,
	})
	return result{code, out.String(), errb.String()}
}

func (r *runner) must(stdin string, env []string, args ...string) string {
	r.t.Helper()
	res := r.run(stdin, env, args...)
	if res.code != 0 {
		r.t.Fatalf("fieldoffice %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), res.code, res.stdout, res.stderr)
	}
	return res.stdout
}

func (r *runner) expect(code int, stdin string, env []string, args ...string) result {
	r.t.Helper()
	res := r.run(stdin, env, args...)
	if res.code != code {
		r.t.Fatalf("fieldoffice %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), res.code, code, res.stdout, res.stderr)
	}
	return res
}

// status runs `status` and returns its output; exit 6 (not compliant — e.g. not
// enrolled) is as fine as 0 here: the tests of compliance check the code themselves.
func (r *runner) status(args ...string) string {
	r.t.Helper()
	res := r.run("", nil, append([]string{"status"}, args...)...)
	if res.code != ExitOK && res.code != ExitNonCompliant {
		r.t.Fatalf("fieldoffice status: exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	return res.stdout
}

// flow is the admin flow every TPM kind must support. It returns the recovery key file.
func flow(t *testing.T, r *runner) string {
	keyFile := filepath.Join(t.TempDir(), "recovery.key")
	r.must("", nil, "keygen-recovery", "--out", keyFile)
	r.expect(ExitError, "", nil, "keygen-recovery", "--out", keyFile) // never overwrites

	// status before init
	var st StatusJSON
	if err := json.Unmarshal([]byte(r.status("--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Initialised {
		t.Fatal("status says initialised before init")
	}

	r.expect(ExitUsage, "", nil, "init") // no --user
	r.expect(ExitAuth, "12ab\n", nil, "init", "--user", "anna")
	r.must("135790\n", nil, "init", "--user", "anna", "--recovery-pubkey", keyFile+".pub")
	r.expect(ExitError, "135790\n", nil, "init", "--user", "anna")

	if err := json.Unmarshal([]byte(r.status("--json")), &st); err != nil {
		t.Fatal(err)
	}
	if !st.Initialised || st.Store == nil || st.Store.FormatVersion < 1 || !st.Recovery ||
		len(st.Users) != 1 || st.Users[0].Name != "anna" || st.Users[0].Type != "tpm" ||
		fmt.Sprint(st.TPM.PCRs) != "[7]" || st.TPM.Hardware {
		t.Fatalf("status after init: %+v %+v", st, st.TPM)
	}
	plain := r.status()
	for _, want := range []string{"Initialised:", "anna", "PCRs bound:", "7"} {
		if !strings.Contains(plain, want) {
			t.Errorf("status output lacks %q:\n%s", want, plain)
		}
	}

	id := strings.TrimSpace(r.must("135790\n", nil, "case", "new", "--type", "anmeldung",
		"--set", "familienname=Müller", "--set", "vornamen=Jörg", "--set", "neue_wohnung.plz=04109"))
	out := r.must("135790\n", nil, "case", "show", id, "--json")
	var rec CaseJSON
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.ID != id || rec.Service != "anmeldung" || rec.Values["familienname"] != "Müller" || rec.Applicant.GivenNames != "Jörg" ||
		rec.Applicant.Address.Postcode != "04109" || rec.Status != "eingegangen" || rec.Unsynced != 1 {
		t.Fatalf("case show = %+v", rec)
	}
	if out := r.must("", []string{"FIELDOFFICE_PIN=135790"}, "case", "list"); !strings.Contains(out, id) {
		t.Fatalf("case list lacks %s:\n%s", id, out)
	}

	// wrong PIN: exit 3 and tries left; nothing about the PIN in the message
	res := r.expect(ExitAuth, "000000\n", nil, "case", "list")
	if !strings.Contains(res.stderr, "4") || strings.Contains(res.stderr, "000000") {
		t.Errorf("wrong PIN message: %q", res.stderr)
	}

	// a second user; several users need --user
	r.must("135790\n864200\n", nil, "user", "add", "ben")
	r.expect(ExitUsage, "135790\n", nil, "case", "list")
	r.must("864200\n", nil, "case", "list", "--user", "ben")
	r.must("864200\n975310\n", nil, "user", "passwd", "ben")
	r.expect(ExitAuth, "864200\n", nil, "case", "list", "--user", "ben")
	r.must("975310\n", nil, "case", "list", "--user", "ben")
	r.must("975310\n", nil, "user", "remove", "anna", "--user", "ben")
	r.expect(ExitError, "975310\n", nil, "user", "remove", "ben", "--user", "ben") // never the last
	return keyFile
}

func TestCLIFlowSimulator(t *testing.T) {
	r := newRunner(t, tpmtest.SimSpec(t))
	flow(t, r)
}

func TestCLIFlowSoftwareKey(t *testing.T) {
	r := newRunner(t, platform.Spec{Kind: platform.KindNone})
	r.expect(ExitUsage, "135790\n", nil, "init", "--user", "anna")
	r.must("135790\n", nil, "init", "--user", "anna", "--allow-software-key")
	out := r.status()
	if !strings.Contains(out, "NOT hardware-protected") {
		t.Errorf("status does not say the software key is not hardware-protected:\n%s", out)
	}
}

// TestCLIFlowSWTPM runs the flow against swtpm over the mssim protocol, then changes
// PCR 7 (as a firmware update would) and recovers with the recovery key.
func TestCLIFlowSWTPM(t *testing.T) {
	spec := tpmtest.StartSWTPM(t)
	r := newRunner(t, spec)
	keyFile := flow(t, r)

	tpm, err := platform.Open(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := tpm.(platform.PCRExtender).ExtendPCR(7, []byte("firmware update")); err != nil {
		t.Fatal(err)
	}
	tpm.Close()

	res := r.expect(ExitTPMRefuse, "975310\n", nil, "case", "list", "--user", "ben")
	if !strings.Contains(res.stderr, "fieldoffice recover") {
		t.Errorf("TPM refusal does not point to recover: %q", res.stderr)
	}
	r.expect(ExitUsage, "", nil, "recover", "--user", "ben")
	r.must("112233\n", nil, "recover", "--recovery-key", keyFile, "--user", "ben")
	r.must("112233\n", nil, "case", "list", "--user", "ben")
}

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{errors.New("boom"), ExitError},
		{fmt.Errorf("%w: x", errUsage), ExitUsage},
		{&storage.WrongPINError{User: "a", Left: 2}, ExitAuth},
		{fmt.Errorf("unlock: %w", storage.ErrSlotLocked), ExitAuth},
		{&storage.TamperError{Bucket: "cases", Key: "k"}, ExitTampered},
		{&storage.CorruptError{Path: "p", Reason: "r"}, ExitTampered},
		{fmt.Errorf("unlock: %w", storage.ErrTPMRefused), ExitTPMRefuse},
		{fmt.Errorf("unseal: %w", platform.ErrWrongTPM), ExitTPMRefuse},
	} {
		if got := ExitCode(tc.err); got != tc.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestParsePCRs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		err  bool
	}{
		{"", "[]", false}, {"none", "[]", false}, {"7", "[7]", false}, {"7,14", "[7 14]", false},
		{"7,7", "[7]", false}, {"24", "", true}, {"x", "", true}, {"-1", "", true},
	} {
		got, err := parsePCRs(tc.in)
		if (err != nil) != tc.err || (err == nil && fmt.Sprint(got) != tc.want) {
			t.Errorf("parsePCRs(%q) = %v, %v", tc.in, got, err)
		}
	}
}

// TestCLISlotLockAndReset: five wrong PINs in a row lock a slot (exit 3 even with the
// right PIN), another user releases it.
func TestCLISlotLockAndReset(t *testing.T) {
	r := newRunner(t, platform.Spec{Kind: platform.KindNone})
	r.must("135790\n", nil, "init", "--user", "anna", "--allow-software-key")
	r.must("135790\n864200\n", nil, "user", "add", "ben", "--user", "anna")
	for i := 4; i >= 0; i-- {
		res := r.expect(ExitAuth, "000000\n", nil, "case", "list", "--user", "anna")
		if !strings.Contains(res.stderr, fmt.Sprint(i)) {
			t.Errorf("attempt with %d left: %q", i, res.stderr)
		}
	}
	res := r.expect(ExitAuth, "135790\n", nil, "case", "list", "--user", "anna")
	if !strings.Contains(res.stderr, "locked") {
		t.Errorf("locked slot message: %q", res.stderr)
	}
	if out := r.status(); !strings.Contains(out, "LOCKED") {
		t.Errorf("status does not show the locked slot:\n%s", out)
	}
	r.expect(ExitUsage, "864200\n", nil, "user", "reset", "anna")
	r.must("864200\n", nil, "user", "reset", "anna", "--user", "ben")
	r.must("135790\n", nil, "case", "list", "--user", "anna")
}

// TestCLITamperedValue: a changed byte in a stored case gives exit code 4 and names
// bucket and key; the case content is not printed.
func TestCLITamperedValue(t *testing.T) {
	r := newRunner(t, platform.Spec{Kind: platform.KindNone})
	r.must("135790\n", nil, "init", "--user", "anna", "--allow-software-key")
	id := strings.TrimSpace(r.must("135790\n", nil, "case", "new", "--type", "anmeldung", "--set", "familienname=Geheimnis"))

	for _, tc := range []struct {
		bucket string
		args   []string
	}{
		{"cases", []string{"case", "show", id}},
		{"summaries", []string{"case", "list"}},
	} {
		db, err := bolt.Open(filepath.Join(r.data, storage.FileName), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket([]byte(tc.bucket))
			v := bytes.Clone(b.Get([]byte(id)))
			v[len(v)/2] ^= 0x01
			return b.Put([]byte(id), v)
		})
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		res := r.expect(ExitTampered, "135790\n", nil, tc.args...)
		if !strings.Contains(res.stderr, tc.bucket) || !strings.Contains(res.stderr, id) || strings.Contains(res.stdout+res.stderr, "Geheimnis") {
			t.Errorf("%v: stderr %q stdout %q", tc.args, res.stderr, res.stdout)
		}
	}
}

// TestCLISecondInstance: while the vault is open elsewhere, a command fails quickly
// with "already open" instead of hanging.
func TestCLISecondInstance(t *testing.T) {
	r := newRunner(t, platform.Spec{Kind: platform.KindNone})
	r.must("135790\n", nil, "init", "--user", "anna", "--allow-software-key")
	v, err := storage.Open(storage.Config{Dir: r.data})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	res := r.expect(ExitError, "", nil, "status")
	if !strings.Contains(res.stderr, "open in another process") {
		t.Errorf("second instance: %q", res.stderr)
	}
}

func TestCLIForms(t *testing.T) {
	r := newRunner(t, platform.Spec{Kind: platform.KindNone})
	var list []FormJSON
	if err := json.Unmarshal([]byte(r.must("", nil, "forms", "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 4 || list[0].Service != "anmeldung" || list[0].Title != "Anmeldung einer Wohnung" {
		t.Fatalf("forms list: %+v", list)
	}
	var f FormJSON
	if err := json.Unmarshal([]byte(r.must("", nil, "forms", "show", "gewerbeanmeldung", "--json", "--lang", "en")), &f); err != nil {
		t.Fatal(err)
	}
	if f.Service != "gewerbeanmeldung" || len(f.Fields) < 10 || len(f.States) == 0 || len(f.Steps) == 0 || f.Title == "Gewerbeanmeldung" {
		t.Fatalf("forms show (en): %+v", f)
	}
	if out := r.must("", nil, "forms", "show", "anmeldung"); !strings.Contains(out, "neue_wohnung.{strasse") || !strings.Contains(out, "eingegangen") {
		t.Errorf("forms show text:\n%s", out)
	}
	r.expect(ExitUsage, "", nil, "forms", "show", "hundesteuer")
}
