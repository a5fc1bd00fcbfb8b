package cli

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"fieldoffice/platform"
	"fieldoffice/platform/tpmtest"
	"fieldoffice/storage"
)

// caseRunner is a runner with an initialised software-key vault (user anna) whose
// PIN comes from the environment.
func caseRunner(t *testing.T) *runner {
	t.Helper()
	r := newRunner(t, platform.Spec{Kind: platform.KindNone})
	r.must("135790\n", nil, "init", "--user", "anna", "--allow-software-key")
	r.env["FIELDOFFICE_PIN"] = "135790"
	return r
}

func (r *runner) caseJSON(id string) CaseJSON {
	r.t.Helper()
	var c CaseJSON
	if err := json.Unmarshal([]byte(r.must("", nil, "case", "show", id, "--json")), &c); err != nil {
		r.t.Fatal(err)
	}
	return c
}

func (r *runner) rows(args ...string) []CaseRowJSON {
	r.t.Helper()
	var rows []CaseRowJSON
	if err := json.Unmarshal([]byte(r.must("", nil, append(args, "--json")...)), &rows); err != nil {
		r.t.Fatal(err)
	}
	return rows
}

// TestCLICaseLifecycle walks a case through the commands a script uses: create,
// invalid and valid edits, refused and allowed transitions, a note, an attachment in
// and out, list filters, search, and the audit trail.
func TestCLICaseLifecycle(t *testing.T) {
	r := caseRunner(t)

	// Invalid input on create: exit 1, the field's message, nothing written.
	res := r.expect(ExitError, "", nil, "case", "new", "--type", "anmeldung", "--set", "familienname=Weiß", "--set", "neue_wohnung.plz=123")
	if !strings.Contains(res.stderr, "neue_wohnung.plz: Postleitzahl muss fünf Ziffern haben") || !strings.Contains(res.stderr, "nothing was saved") {
		t.Errorf("case new with a bad PLZ: %q", res.stderr)
	}
	if rows := r.rows("case", "list"); len(rows) != 0 {
		t.Fatalf("invalid case was written: %+v", rows)
	}
	r.expect(ExitUsage, "", nil, "case", "new", "--type", "hundesteuer")

	id := strings.TrimSpace(r.must("", nil, "case", "new", "--type", "anmeldung",
		"--set", "familienname=Weiß", "--set", "vornamen=Jürgen",
		"--set", "neue_wohnung.strasse=Lindenstraße", "--set", "neue_wohnung.hausnummer=12",
		"--set", "neue_wohnung.plz=04109", "--set", "neue_wohnung.ort=Leipzig", "--set", "einzugsdatum=02.11.2026"))

	// case set: a bad value changes nothing, a good one is normalised and stored.
	res = r.expect(ExitError, "", nil, "case", "set", id, "neue_wohnung.plz=4109", "vornamen=Jürgen Karl")
	if !strings.Contains(res.stderr, "Postleitzahl muss fünf Ziffern haben") {
		t.Errorf("case set bad PLZ: %q", res.stderr)
	}
	if c := r.caseJSON(id); c.Values["vornamen"] != "Jürgen" || c.Values["neue_wohnung.plz"] != "04109" || c.Unsynced != 1 {
		t.Fatalf("after a refused set: %+v", c.Values)
	}
	r.must("", nil, "case", "set", id, "vornamen=Jürgen Karl", "due_date=15.12.2026")
	c := r.caseJSON(id)
	if c.Values["vornamen"] != "Jürgen Karl" || c.Applicant.GivenNames != "Jürgen Karl" || c.DueDate != "2026-12-15" || c.Values["einzugsdatum"] != "2026-11-02" || c.Unsynced != 2 {
		t.Fatalf("after set: values %+v due %q unsynced %d", c.Values, c.DueDate, c.Unsynced)
	}

	// Workflow: in_bearbeitung needs an assignee; a jump to abgeschlossen is not a step.
	res = r.expect(ExitError, "", nil, "case", "transition", id, "in_bearbeitung")
	if !strings.Contains(res.stderr, "refused") || !strings.Contains(res.stderr, "assignee") {
		t.Errorf("transition without assignee: %q", res.stderr)
	}
	r.expect(ExitError, "", nil, "case", "transition", id, "abgeschlossen")
	r.must("", nil, "case", "set", id, "assignee=anna")
	if out := r.must("", nil, "case", "transition", id, "in_bearbeitung"); strings.TrimSpace(out) != "in_bearbeitung" {
		t.Errorf("transition printed %q", out)
	}

	r.must("", nil, "case", "note", id, "Wohnungsgeberbestätigung", "nachgereicht")

	// Attachment: stored sealed, exported byte-identical, existing file not overwritten.
	payload := make([]byte, 300<<10)
	rand.Read(payload)
	in := filepath.Join(t.TempDir(), "Mietvertrag.pdf")
	if err := os.WriteFile(in, payload, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(payload)
	sha := strings.TrimSpace(r.must("", nil, "case", "attach", id, in))
	if sha != hex.EncodeToString(sum[:]) {
		t.Fatalf("attach printed %q, want the SHA-256 of the file", sha)
	}
	c = r.caseJSON(id)
	if len(c.Attachments) != 1 || c.Attachments[0].Name != "Mietvertrag.pdf" || c.Attachments[0].MediaType != "application/pdf" || c.Attachments[0].Size != int64(len(payload)) {
		t.Fatalf("attachments: %+v", c.Attachments)
	}
	if len(c.Notes) != 1 || c.Notes[0].Text != "Wohnungsgeberbestätigung nachgereicht" || c.Notes[0].Author != "anna" {
		t.Fatalf("notes: %+v", c.Notes)
	}
	out := filepath.Join(t.TempDir(), "export.pdf")
	r.must("", nil, "case", "export-attachment", id, sha, "--out", out)
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("exported attachment differs (err %v)", err)
	}
	r.expect(ExitError, "", nil, "case", "export-attachment", id, sha, "--out", out)
	r.expect(ExitError, "", nil, "case", "export-attachment", id, strings.Repeat("ab", 32), "--out", out+"2")

	// A second case to filter and search against.
	other := strings.TrimSpace(r.must("", nil, "case", "new", "--type", "bewohnerparkausweis",
		"--set", "familienname=Strauß", "--set", "vornamen=Käthe"))

	if rows := r.rows("case", "list", "--status", "in_bearbeitung"); len(rows) != 1 || rows[0].ID != id || !rows[0].Unsynced || rows[0].Applicant != "Weiß, Jürgen Karl" {
		t.Errorf("list --status in_bearbeitung: %+v", rows)
	}
	if rows := r.rows("case", "list", "--type", "bewohnerparkausweis"); len(rows) != 1 || rows[0].ID != other {
		t.Errorf("list --type: %+v", rows)
	}
	if rows := r.rows("case", "list", "--due-before", "01.01.2027"); len(rows) != 1 || rows[0].ID != id {
		t.Errorf("list --due-before: %+v", rows)
	}
	if rows := r.rows("case", "list", "--unsynced", "--sort", "applicant"); len(rows) != 2 || rows[0].ID != other {
		t.Errorf("list --unsynced --sort applicant: %+v", rows)
	}
	if rows := r.rows("case", "list", "--conflict"); len(rows) != 0 {
		t.Errorf("list --conflict: %+v", rows)
	}
	r.expect(ExitUsage, "", nil, "case", "list", "--sort", "size")

	// Search folds case and umlauts: "weiss" finds Weiß, "strauss" Strauß, "lindenstr" the street.
	for q, want := range map[string]string{"weiss": id, "STRAUSS": other, "lindenstr": id, "kaethe": other, "leipzig": id} {
		rows := r.rows("case", "search", q)
		if len(rows) != 1 || rows[0].ID != want {
			t.Errorf("search %q: %+v, want %s", q, rows, want)
		}
	}

	// Text output speaks German and shows the form by section.
	text := r.must("", nil, "case", "show", id)
	for _, want := range []string{"Aktenzeichen:", "In Bearbeitung", "Weiß, Jürgen Karl", "Lindenstraße 12, 04109 Leipzig", "[Vermerke]", "[Anlagen]", "Mietvertrag.pdf"} {
		if !strings.Contains(text, want) {
			t.Errorf("case show lacks %q:\n%s", want, text)
		}
	}

	// Audit: one entry per change, field names but never values.
	var entries []AuditEntryJSON
	if err := json.Unmarshal([]byte(r.must("", nil, "audit", "export", "--json")), &entries); err != nil {
		t.Fatal(err)
	}
	ops := []string{}
	for _, e := range entries {
		ops = append(ops, e.Op)
		if e.User != "anna" {
			t.Errorf("audit entry %d by %q", e.Seq, e.User)
		}
	}
	if got := strings.Join(ops, ","); got != "create,patch,patch,transition,note,attach,create" {
		t.Errorf("audit ops = %s", got)
	}
	raw := r.must("", nil, "audit", "export", "--json")
	if !strings.Contains(raw, "vornamen") || strings.Contains(raw, "Jürgen") || strings.Contains(raw, "Weiß") {
		t.Errorf("audit export must name fields, not values:\n%s", raw)
	}
	var rep AuditVerifyJSON
	if err := json.Unmarshal([]byte(r.must("", nil, "audit", "verify", "--json")), &rep); err != nil || !rep.OK || rep.Entries != 7 {
		t.Fatalf("audit verify: %+v %v", rep, err)
	}
}

// TestCLIAuditTampered: removing an audit entry from the file is found by audit verify
// (exit 4) and named by its sequence number.
func TestCLIAuditTampered(t *testing.T) {
	r := caseRunner(t)
	id := strings.TrimSpace(r.must("", nil, "case", "new", "--type", "anmeldung", "--set", "familienname=Roth"))
	r.must("", nil, "case", "note", id, "erster Vermerk")
	r.must("", nil, "case", "note", id, "zweiter Vermerk")
	r.must("", nil, "audit", "verify")

	db, err := bolt.Open(filepath.Join(r.data, storage.FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("audit")).Delete(binary.BigEndian.AppendUint64(nil, 2))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	res := r.expect(ExitTampered, "", nil, "audit", "verify", "--json")
	var rep AuditVerifyJSON
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil || rep.OK || rep.Seq != 2 {
		t.Fatalf("audit verify after removing entry 2: %+v %v, stderr %q", rep, err, res.stderr)
	}
	if !strings.Contains(res.stderr, "entry 2") {
		t.Errorf("stderr does not name the entry: %q", res.stderr)
	}
}

// TestCLIDemoData fills the store and the list sees it.
func TestCLIDemoData(t *testing.T) {
	r := caseRunner(t)
	if out := r.must("", nil, "demo-data", "--cases", "120"); !strings.Contains(out, "added 120") {
		t.Errorf("demo-data: %q", out)
	}
	rows := r.rows("case", "list")
	if len(rows) != 120 {
		t.Fatalf("list after demo-data: %d cases", len(rows))
	}
	services := map[string]int{}
	for _, row := range rows {
		services[row.Service]++
		if row.Applicant == "" {
			t.Errorf("demo case %s without applicant", row.ID)
		}
	}
	if len(services) != 4 {
		t.Errorf("demo cases over %d services: %v", len(services), services)
	}
	r.must("", nil, "audit", "verify")
	r.expect(ExitUsage, "", nil, "demo-data")
}

// copyDir copies the files of dir src (not recursive) to dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCLIRollbackSWTPM: an older copy of the data directory put back is refused at
// unlock with exit code 4 and a message that says rollback; status says the vault
// is protected. Recovery (IT's decision) accepts the copy.
func TestCLIRollbackSWTPM(t *testing.T) {
	spec := tpmtest.StartSWTPM(t)
	r := newRunner(t, spec)
	keys := filepath.Join(t.TempDir(), "recovery.key")
	r.must("", nil, "keygen-recovery", "--out", keys)
	r.must("135790\n", nil, "init", "--user", "anna", "--recovery-pubkey", keys+".pub")
	r.env["FIELDOFFICE_PIN"] = "135790"

	var st StatusJSON
	if err := json.Unmarshal([]byte(r.status("--json")), &st); err != nil {
		t.Fatal(err)
	}
	if !st.TPM.RollbackProtection {
		t.Fatalf("status on swtpm: rollback protection off: %+v", st.TPM)
	}

	id := strings.TrimSpace(r.must("", nil, "case", "new", "--type", "anmeldung", "--set", "familienname=Roth"))
	old := filepath.Join(t.TempDir(), "copy")
	copyDir(t, r.data, old)
	r.must("", nil, "case", "note", id, "nach der Kopie")

	if err := os.RemoveAll(r.data); err != nil {
		t.Fatal(err)
	}
	copyDir(t, old, r.data)
	res := r.expect(ExitTampered, "", nil, "case", "show", id)
	if !strings.Contains(res.stderr, "rollback") {
		t.Errorf("rollback message: %q", res.stderr)
	}

	r.must("246800\n", nil, "recover", "--recovery-key", keys, "--user", "anna")
	r.env["FIELDOFFICE_PIN"] = "246800"
	if c := r.caseJSON(id); len(c.Notes) != 0 {
		t.Errorf("recovered copy has %d notes, want the copy's 0", len(c.Notes))
	}
}

// TestCLIStatusNoRollback: without a persistent TPM counter status says that a
// rollback is not detected.
func TestCLIStatusNoRollback(t *testing.T) {
	r := caseRunner(t)
	var st StatusJSON
	if err := json.Unmarshal([]byte(r.status("--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.TPM != nil && st.TPM.RollbackProtection {
		t.Fatalf("status without TPM claims rollback protection: %+v", st.TPM)
	}
	if out := r.status(); !strings.Contains(out, "Rollback detection:") || !strings.Contains(out, "not detected") && !strings.Contains(out, "no") {
		t.Errorf("status text:\n%s", out)
	}
}
