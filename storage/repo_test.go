package storage

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"fieldoffice/assets"
	"fieldoffice/cases"
)

// repoVault returns an unlocked vault with the sample forms.
func repoVault(t testing.TB) (*Vault, Config) {
	t.Helper()
	cfg := testConfig(t, newFakeTPM())
	cfg.Logger = nil
	v := MustCreate(t, cfg, CreateOptions{})
	v.SetForms(assets.Schemas{})
	return v, cfg
}

// newAnmeldung creates a draft Anmeldung for the given applicant.
func newAnmeldung(t testing.TB, v *Vault, family, given, street, plz, city string) *cases.Case {
	t.Helper()
	s, err := assets.Schemas{}.Schema("anmeldung")
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.NewCase(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c.Applicant = cases.Applicant{FamilyName: family, GivenNames: given,
		Address: cases.Address{Street: street, HouseNumber: "1", Postcode: plz, City: city}}
	c.Values["familienname"], c.Values["vornamen"] = family, given
	c.Values["neue_wohnung.strasse"], c.Values["neue_wohnung.hausnummer"] = street, "1"
	c.Values["neue_wohnung.plz"], c.Values["neue_wohnung.ort"] = plz, city
	if err := v.CreateCase(c); err != nil {
		t.Fatal(err)
	}
	return c
}

// snapshot is everything a change writes, for "nothing changed" checks.
type snapshot struct {
	Case    *cases.Case
	Outbox  int
	Audit   int
	Summary []cases.Summary
}

func snap(t testing.TB, v *Vault, id string) snapshot {
	t.Helper()
	c, err := v.Case(id)
	if err != nil {
		t.Fatal(err)
	}
	ob, err := v.Outbox()
	if err != nil {
		t.Fatal(err)
	}
	au, err := v.AuditEntries()
	if err != nil {
		t.Fatal(err)
	}
	ss, err := v.Cases(CaseQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return snapshot{c, len(ob), len(au), ss}
}

func TestRepoChangesAreAtomic(t *testing.T) {
	v, _ := repoVault(t)
	c := newAnmeldung(t, v, "Müller", "Jürgen", "Hauptstraße", "10115", "Berlin")
	sha := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name   string
		change func() (*cases.Case, error)
		check  func(t *testing.T, c *cases.Case)
		fields []string
		op     string
	}{
		{"set", func() (*cases.Case, error) {
			return v.SetFields(c.ID, map[string]string{"einzugsdatum": "01.02.2025", "assignee": "m.schulz"})
		}, func(t *testing.T, c *cases.Case) {
			if c.Values["einzugsdatum"] != "2025-02-01" || c.Assignee != "m.schulz" {
				t.Fatalf("values %v assignee %q", c.Values, c.Assignee)
			}
		}, []string{"assignee", "values.einzugsdatum"}, OpPatch},
		{"update", func() (*cases.Case, error) {
			return v.UpdateCase(c.ID, []cases.FieldChange{{Field: "due_date", Old: "", New: "2026-01-15"}})
		}, func(t *testing.T, c *cases.Case) {
			if c.DueDate != "2026-01-15" {
				t.Fatal(c.DueDate)
			}
		}, []string{"due_date"}, OpPatch},
		{"transition", func() (*cases.Case, error) {
			return v.TransitionCase(c.ID, "in_bearbeitung", cases.RoleSachbearbeitung)
		},
			func(t *testing.T, c *cases.Case) {
				if c.Status != "in_bearbeitung" {
					t.Fatal(c.Status)
				}
			}, []string{"status"}, OpTransition},
		{"note", func() (*cases.Case, error) { return v.AddNote(c.ID, "Unterlagen vollständig") },
			func(t *testing.T, c *cases.Case) {
				if len(c.Notes) != 1 || c.Notes[0].Text != "Unterlagen vollständig" || c.Notes[0].Author != "anna" {
					t.Fatalf("%+v", c.Notes)
				}
			}, nil, OpNote},
		{"attach", func() (*cases.Case, error) {
			return v.AddAttachment(c.ID, cases.AttachmentRef{SHA256: sha, Name: "meldeschein.pdf", MediaType: "application/pdf", Size: 1234})
		}, func(t *testing.T, c *cases.Case) {
			if _, ok := c.Attachment(sha); !ok {
				t.Fatal("no attachment")
			}
		}, []string{"attachments." + sha}, OpAttach},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := snap(t, v, c.ID)
			got, err := tc.change()
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, got)
			after := snap(t, v, c.ID)
			if !reflect.DeepEqual(after.Case, got) {
				t.Fatalf("stored case differs from returned")
			}
			if after.Outbox != before.Outbox+1 || after.Audit != before.Audit+1 {
				t.Fatalf("outbox %d→%d audit %d→%d", before.Outbox, after.Outbox, before.Audit, after.Audit)
			}
			ob, _ := v.Outbox()
			last := ob[len(ob)-1]
			if last.Kind != tc.op || last.CaseID != c.ID || last.User != "anna" {
				t.Fatalf("outbox entry %+v", last)
			}
			au, _ := v.AuditEntries()
			la := au[len(au)-1]
			if la.Op != tc.op || la.CaseID != c.ID || (tc.fields != nil && !reflect.DeepEqual(la.Fields, tc.fields)) {
				t.Fatalf("audit entry %+v", la)
			}
			if tc.fields == nil && (len(la.Fields) != 1 || !strings.HasPrefix(la.Fields[0], "notes.")) {
				t.Fatalf("audit fields %v", la.Fields)
			}
			want := got.Summary()
			want.Flags |= cases.FlagUnsynced
			if sum := after.Summary[0]; sum != want {
				t.Fatalf("summary %+v", sum)
			}
			// Audit entries carry field names, never values.
			raw, _ := json.Marshal(la)
			if bytes.Contains(raw, []byte("Unterlagen")) || bytes.Contains(raw, []byte("m.schulz")) {
				t.Fatalf("audit entry holds a value: %s", raw)
			}
		})
	}
	// Failures write nothing.
	for _, tc := range []struct {
		name   string
		change func() (*cases.Case, error)
		want   func(error) bool
	}{
		{"CAS mismatch", func() (*cases.Case, error) {
			return v.UpdateCase(c.ID, []cases.FieldChange{{Field: "assignee", Old: "someone", New: "x"}, {Field: "aktenzeichen", Old: "", New: "MB-1"}})
		}, func(err error) bool {
			var me *cases.MismatchError
			return errors.As(err, &me) && me.Field == "assignee"
		}},
		{"invalid patch", func() (*cases.Case, error) {
			return v.UpdateCase(c.ID, []cases.FieldChange{{Field: "aktenzeichen", Old: "", New: "MB-1"}, {Field: "nonsense", New: "x"}})
		}, func(err error) bool { return errors.Is(err, cases.ErrUnknownField) }},
		{"invalid value", func() (*cases.Case, error) {
			return v.SetFields(c.ID, map[string]string{"aktenzeichen": "MB-1", "neue_wohnung.plz": "1234"})
		}, func(err error) bool {
			var ve *ValidationError
			return errors.As(err, &ve) && ve.Fields["neue_wohnung.plz"] == "Postleitzahl muss fünf Ziffern haben" && len(ve.Fields) == 1
		}},
		{"status via SetFields", func() (*cases.Case, error) {
			return v.SetFields(c.ID, map[string]string{"status": "abgeschlossen"})
		}, func(err error) bool { var ve *ValidationError; return errors.As(err, &ve) && ve.Fields["status"] != "" }},
		{"illegal transition", func() (*cases.Case, error) {
			return v.TransitionCase(c.ID, "abgeschlossen", cases.RoleBuergerbuero)
		}, func(err error) bool {
			var te *cases.TransitionError
			return errors.As(err, &te) && strings.Contains(te.Message("de"), "Abgeschlossen") && len(te.Fields) > 0
		}},
		{"role refused", func() (*cases.Case, error) {
			return v.TransitionCase(c.ID, "entscheidung", cases.RoleBuergerbuero)
		}, func(err error) bool {
			var te *cases.TransitionError
			return errors.As(err, &te) && strings.Contains(te.Message("de"), "Rolle")
		}},
		{"empty note", func() (*cases.Case, error) { return v.AddNote(c.ID, "  ") }, func(err error) bool { var ve *ValidationError; return errors.As(err, &ve) }},
		{"bad attachment", func() (*cases.Case, error) {
			return v.AddAttachment(c.ID, cases.AttachmentRef{SHA256: "xyz", Name: "a"})
		}, func(err error) bool { return err != nil }},
		{"unknown case", func() (*cases.Case, error) { return v.AddNote("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "x") }, func(err error) bool { return errors.Is(err, ErrNotFound) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := snap(t, v, c.ID)
			got, err := tc.change()
			if got != nil || !tc.want(err) {
				t.Fatalf("got %v, err %v", got, err)
			}
			if after := snap(t, v, c.ID); !reflect.DeepEqual(before, after) {
				t.Fatalf("something changed:\n%+v\n%+v", before, after)
			}
		})
	}
	// A failing write inside the transaction (a fault injected after the case was
	// put) rolls everything back too.
	before := snap(t, v, c.ID)
	_, err := v.change(c.ID, OpPatch, func(c *cases.Case, cx changeCtx) error {
		c.Assignee = "x"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	injected := errors.New("injected")
	err = v.Update(func(tx *Tx) error {
		old, _ := tx.getCase(c.ID)
		next := old.Clone()
		next.Assignee = "y"
		if _, err := tx.writeCase(old, next, nil, OpPatch, cases.Diff(old, next), time.Now()); err != nil {
			return err
		}
		return injected
	})
	if err != injected {
		t.Fatal(err)
	}
	if after := snap(t, v, c.ID); after.Case.Assignee != "x" || after.Outbox != before.Outbox+1 || after.Audit != before.Audit+1 {
		t.Fatalf("after injected failure: %+v", after)
	}
	if _, err := v.AuditVerify(); err != nil {
		t.Fatal(err)
	}
}

func TestCreateCaseValidation(t *testing.T) {
	v, _ := repoVault(t)
	s, _ := assets.Schemas{}.Schema("anmeldung")
	c, _ := s.NewCase(time.Now())
	c.Values["einzugsdatum"] = "31.02.2025"
	c.Values["email"] = "kein-at-zeichen"
	c.Values["erfunden"] = "x"
	err := v.CreateCase(c)
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) != 3 || ve.Fields["email"] == "" || ve.Fields["erfunden"] != msgUnknownField ||
		!strings.Contains(ve.Fields["einzugsdatum"], "gültiges Datum") {
		t.Fatalf("CreateCase: %v", err)
	}
	if list, _ := v.Cases(CaseQuery{}); len(list) != 0 {
		t.Fatal("invalid case stored")
	}
	// A draft: required fields may be empty; typed dates are normalised.
	c, _ = s.NewCase(time.Now())
	c.Values["einzugsdatum"] = "01.02.2025"
	if err := v.CreateCase(c); err != nil {
		t.Fatal(err)
	}
	if c.Values["einzugsdatum"] != "2025-02-01" || c.Status != "eingegangen" {
		t.Fatalf("stored %+v", c)
	}
	if err := v.CreateCase(c); !errors.Is(err, ErrCaseExists) {
		t.Fatalf("second create: %v", err)
	}
	ob, _ := v.Outbox()
	if len(ob) != 1 || ob[0].Kind != OpCreate || len(ob[0].Patch) == 0 {
		t.Fatalf("outbox %+v", ob)
	}
}

func TestCasesFilterSort(t *testing.T) {
	v, _ := repoVault(t)
	a := newAnmeldung(t, v, "Özdemir", "Ayşe", "Am Markt", "50667", "Köln")
	b := newAnmeldung(t, v, "Albers", "Jan", "Ringstraße", "80331", "München")
	c := newAnmeldung(t, v, "Müller", "Jürgen", "Hauptstraße", "10115", "Berlin")
	must := func(_ *cases.Case, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(v.SetFields(a.ID, map[string]string{"assignee": "m.schulz", "due_date": "2026-03-01", "aktenzeichen": "MB-2026-000003"}))
	must(v.TransitionCase(a.ID, "in_bearbeitung", cases.RoleSachbearbeitung))
	must(v.SetFields(b.ID, map[string]string{"due_date": "2026-01-10", "aktenzeichen": "MB-2026-000001"}))
	must(v.SetFields(c.ID, map[string]string{"aktenzeichen": "MB-2026-000002"}))
	// Mark c in conflict, and b as synced (no outbox entries).
	if err := v.Update(func(tx *Tx) error {
		cb, _ := json.Marshal([]cases.Conflict{{Field: "assignee", Mine: "a", Theirs: "b"}})
		if err := tx.Put(bucketConflicts, []byte(c.ID), cb); err != nil {
			return err
		}
		var del [][]byte
		tx.ForEach(bucketOutbox, func(k, val []byte) error {
			if bytes.Contains(val, []byte(b.ID)) {
				del = append(del, bytes.Clone(k))
			}
			return nil
		})
		for _, k := range del {
			tx.Delete(bucketOutbox, k)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	must(v.AddNote(c.ID, "Konflikt prüfen")) // rewrites c's summary with the conflict flag
	must(v.AddNote(b.ID, "x"))               // b unsynced again…
	if err := v.Update(func(tx *Tx) error {  // …and synced again, summary rewritten
		var del [][]byte
		tx.ForEach(bucketOutbox, func(k, val []byte) error {
			if bytes.Contains(val, []byte(b.ID)) {
				del = append(del, bytes.Clone(k))
			}
			return nil
		})
		for _, k := range del {
			tx.Delete(bucketOutbox, k)
		}
		bc, _ := tx.getCase(b.ID)
		sb, _ := json.Marshal(bc.Summary())
		return tx.Put(bucketSummaries, []byte(b.ID), sb)
	}); err != nil {
		t.Fatal(err)
	}
	ids := func(ss []cases.Summary) []string {
		var out []string
		for _, s := range ss {
			out = append(out, map[string]string{a.ID: "a", b.ID: "b", c.ID: "c"}[s.ID])
		}
		return out
	}
	for _, tc := range []struct {
		q    CaseQuery
		want []string
	}{
		{CaseQuery{}, []string{"a", "c", "b"}}, // by updated: a (transition), c (note), b (note)
		{CaseQuery{Desc: true}, []string{"b", "c", "a"}},
		{CaseQuery{Status: "in_bearbeitung"}, []string{"a"}},
		{CaseQuery{Status: "eingegangen", Sort: "aktenzeichen"}, []string{"b", "c"}},
		{CaseQuery{Service: "anmeldung", Sort: "aktenzeichen", Desc: true}, []string{"a", "c", "b"}},
		{CaseQuery{Service: "personalausweis"}, nil},
		{CaseQuery{Sort: "due"}, []string{"b", "a", "c"}},
		{CaseQuery{Sort: "due", Desc: true}, []string{"a", "b", "c"}},
		{CaseQuery{DueBefore: "2026-02-01"}, []string{"b"}},
		{CaseQuery{Unsynced: true, Sort: "applicant"}, []string{"c", "a"}},
		{CaseQuery{Conflict: true}, []string{"c"}},
		{CaseQuery{Sort: "applicant"}, []string{"b", "c", "a"}}, // Albers, Müller (mue), Özdemir (oez)
		{CaseQuery{Sort: "status"}, []string{"b", "c", "a"}},
		{CaseQuery{Sort: "applicant", Offset: 1, Limit: 1}, []string{"c"}},
		{CaseQuery{Sort: "applicant", Offset: 5}, nil},
	} {
		got, err := v.Cases(tc.q)
		if err != nil || !slices.Equal(ids(got), tc.want) {
			t.Errorf("%+v: got %v, want %v (%v)", tc.q, ids(got), tc.want, err)
		}
	}
}

func TestSearch(t *testing.T) {
	v, cfg := repoVault(t)
	mueller := newAnmeldung(t, v, "Müller", "Jürgen", "Hauptstraße", "10115", "Berlin")
	weiss := newAnmeldung(t, v, "Weiß", "Zoë", "Marienplatz", "80331", "München")
	mueller2 := newAnmeldung(t, v, "Mueller-Lüdenscheidt", "Anna", "Schloßallee", "50667", "Köln")
	if _, err := v.SetFields(weiss.ID, map[string]string{"aktenzeichen": "MB-2026-000123", "bisherige_wohnung.strasse": "Gänseweg",
		"bisherige_wohnung.hausnummer": "3", "bisherige_wohnung.plz": "04109", "bisherige_wohnung.ort": "Leipzig"}); err != nil {
		t.Fatal(err)
	}
	name := map[string]string{mueller.ID: "mueller", weiss.ID: "weiss", mueller2.ID: "mueller2"}
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"Müller", []string{"mueller2", "mueller"}},
		{"mueller", []string{"mueller2", "mueller"}},
		{"MUELLER jürgen", []string{"mueller"}},
		{"Muel", []string{"mueller2", "mueller"}},
		{"müller berlin", []string{"mueller"}},
		{"müller münchen", nil},
		{"Weiss", []string{"weiss"}},
		{"weiß zoe", []string{"weiss"}},
		{"Hauptstrasse", []string{"mueller"}},
		{"Schlossallee", []string{"mueller2"}},
		{"straße", nil}, // words match from their start
		{"Lüdenscheidt", []string{"mueller2"}},
		{"10115", []string{"mueller"}},
		{"101", []string{"mueller"}},
		{"MB-2026-000123", []string{"weiss"}},
		{"2026 123", nil},
		{"000123", []string{"weiss"}},
		{"Gaenseweg leipzig", []string{"weiss"}}, // searchable form field (previous address)
		{"ber", []string{"mueller"}},
		{"be", nil}, // two letters: whole words only
		{"Xaver", nil},
		{"", nil},
		{"  --  ", nil},
	} {
		got, err := v.Search(tc.q, 0)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range got {
			names = append(names, name[s.ID])
		}
		if !slices.Equal(names, tc.want) {
			t.Errorf("Search(%q) = %v, want %v", tc.q, names, tc.want)
		}
	}
	if got, _ := v.Search("müller", 1); len(got) != 1 || got[0].ID != mueller2.ID {
		t.Errorf("limit 1: %v", got)
	}
	// An update moves the index: the old name is gone, the new one found.
	if _, err := v.SetFields(mueller.ID, map[string]string{"applicant.family_name": "Schulze", "familienname": "Schulze"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := v.Search("jürgen müller", 0); len(got) != 0 {
		t.Errorf("old name still found: %v", got)
	}
	if got, _ := v.Search("schulze jürgen", 0); len(got) != 1 {
		t.Errorf("new name not found: %v", got)
	}
	// The file shows no term.
	mustClose(t, v)
	raw, err := os.ReadFile(filepath.Join(cfg.Dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"mueller", "Müller", "M\\u00fcller", "muel", "Schulze", "schulze", "berlin", "Berlin", "Hauptstra", "hauptstrasse", "10115", "MB-2026", "jürgen", "juergen"} {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("vault file contains %q", s)
		}
	}
}

func TestSearchTamperedIndex(t *testing.T) {
	v, cfg := repoVault(t)
	a := newAnmeldung(t, v, "Albers", "Jan", "Ringstraße", "80331", "München")
	b := newAnmeldung(t, v, "Becker", "Eva", "Ringstraße", "80331", "München")
	mustClose(t, v)
	// Copy Albers' "albers" entry to Becker's ID: the moved entry does not open.
	rawUpdate(t, cfg.Dir, func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketIndex)
		var keys [][]byte
		bk.ForEach(func(k, _ []byte) error {
			if bytes.HasSuffix(k, uuidBytes(a.ID)) {
				keys = append(keys, bytes.Clone(k))
			}
			return nil
		})
		for _, k := range keys {
			nk := append(bytes.Clone(k[:len(k)-16]), uuidBytes(b.ID)...)
			if bk.Get(nk) == nil {
				bk.Put(nk, bytes.Clone(bk.Get(k)))
			}
		}
		return nil
	})
	v = MustOpen(t, cfg)
	if err := v.Unlock("anna", pinAnna); err != nil {
		t.Fatal(err)
	}
	v.SetForms(assets.Schemas{})
	if got, err := v.Search("albers", 0); !errors.Is(err, ErrTampered) {
		t.Fatalf("Search over a forged entry: %v, %v", got, err)
	}
}

func uuidBytes(id string) []byte {
	u := uuid.MustParse(id)
	return u[:]
}

func TestAuditVerify(t *testing.T) {
	v, cfg := repoVault(t)
	c := newAnmeldung(t, v, "Albers", "Jan", "Ringstraße", "80331", "München")
	for _, n := range []string{"eins", "zwei", "drei"} {
		if _, err := v.AddNote(c.ID, n); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := v.AuditVerify()
	if err != nil || rep.Entries != 4 || len(rep.Head) != 64 {
		t.Fatalf("AuditVerify: %+v %v", rep, err)
	}
	entries, _ := v.AuditEntries()
	if len(entries) != 4 || entries[0].Op != AuditCreate || entries[3].Op != AuditNote || entries[3].Seq != 4 {
		t.Fatalf("entries %+v", entries)
	}
	mustClose(t, v)
	pristine, _ := os.ReadFile(filepath.Join(cfg.Dir, FileName))

	// resealed rewrites an audit entry with the records key (as someone who has it but
	// not the audit key could), so the chain, not the seal, must catch it.
	type edit func(t *testing.T, v *Vault)
	reseal := func(fn func(entries map[uint64][]byte) map[uint64][]byte) edit {
		return func(t *testing.T, v *Vault) {
			err := v.Update(func(tx *Tx) error {
				m := map[uint64][]byte{}
				tx.ForEach(bucketAudit, func(k, val []byte) error {
					if len(k) == 8 {
						m[seqOf(k)] = bytes.Clone(val)
					}
					return nil
				})
				for s := range m {
					tx.Delete(bucketAudit, auditKey(s))
				}
				for s, val := range fn(m) {
					if err := tx.Put(bucketAudit, auditKey(s), val); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name string
		raw  func(tx *bolt.Tx) error // edit of the raw file
		edit edit                    // edit through the records key
		seq  uint64
	}{
		{"removed (raw)", func(tx *bolt.Tx) error { return tx.Bucket(bucketAudit).Delete(auditKey(2)) }, nil, 2},
		{"altered (raw)", func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketAudit)
			val := bytes.Clone(b.Get(auditKey(3)))
			val[20] ^= 1
			return b.Put(auditKey(3), val)
		}, nil, 3},
		{"reordered (raw)", func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketAudit)
			x, y := bytes.Clone(b.Get(auditKey(2))), bytes.Clone(b.Get(auditKey(3)))
			b.Put(auditKey(2), y)
			return b.Put(auditKey(3), x)
		}, nil, 2},
		{"removed last (raw)", func(tx *bolt.Tx) error { return tx.Bucket(bucketAudit).Delete(auditKey(4)) }, nil, 4},
		{"removed, renumbered", nil, reseal(func(m map[uint64][]byte) map[uint64][]byte {
			out := map[uint64][]byte{1: m[1], 2: m[3], 3: m[4]}
			for s, val := range out {
				var e AuditEntry
				json.Unmarshal(val, &e)
				e.Seq = s
				out[s], _ = json.Marshal(e)
			}
			return out
		}), 2},
		{"altered field list", nil, reseal(func(m map[uint64][]byte) map[uint64][]byte {
			var e AuditEntry
			json.Unmarshal(m[3], &e)
			e.User = "mallory"
			m[3], _ = json.Marshal(e)
			return m
		}), 3},
		{"reordered", nil, reseal(func(m map[uint64][]byte) map[uint64][]byte {
			var e2, e3 AuditEntry
			json.Unmarshal(m[2], &e2)
			json.Unmarshal(m[3], &e3)
			e2.Seq, e3.Seq = 3, 2
			m[2], _ = json.Marshal(e3)
			m[3], _ = json.Marshal(e2)
			return m
		}), 2},
		{"dropped at the end", nil, reseal(func(m map[uint64][]byte) map[uint64][]byte { delete(m, 4); return m }), 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			c.Dir = t.TempDir()
			if err := os.WriteFile(filepath.Join(c.Dir, FileName), pristine, 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.raw != nil {
				rawUpdate(t, c.Dir, tc.raw)
			}
			v := MustOpen(t, c)
			if err := v.Unlock("anna", pinAnna); err != nil {
				t.Fatal(err)
			}
			if tc.edit != nil {
				tc.edit(t, v)
			}
			_, err := v.AuditVerify()
			var ae *AuditError
			if !errors.As(err, &ae) || !errors.Is(err, ErrTampered) || ae.Seq != tc.seq {
				t.Fatalf("AuditVerify: %v (want entry %d)", err, tc.seq)
			}
		})
	}
}

func TestOutboxOrder(t *testing.T) {
	v, _ := repoVault(t)
	a := newAnmeldung(t, v, "Albers", "Jan", "Ringstraße", "80331", "München")
	b := newAnmeldung(t, v, "Becker", "Eva", "Ringstraße", "80331", "München")
	v.AddNote(a.ID, "1")
	v.SetFields(b.ID, map[string]string{"assignee": "x"})
	v.TransitionCase(b.ID, "in_bearbeitung", cases.RoleSachbearbeitung)
	ob, err := v.Outbox()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, e := range ob {
		got = append(got, e.Kind+":"+map[string]string{a.ID: "a", b.ID: "b"}[e.CaseID])
		if i > 0 && ob[i-1].OpID >= e.OpID {
			t.Fatal("op IDs not increasing")
		}
	}
	if want := []string{"create:a", "create:b", "note:a", "patch:b", "transition:b"}; !slices.Equal(got, want) {
		t.Fatalf("outbox %v, want %v", got, want)
	}
	if ob[4].Patch[0] != (cases.FieldChange{Field: "status", Old: "eingegangen", New: "in_bearbeitung"}) {
		t.Fatalf("transition patch %+v", ob[4].Patch)
	}
}

func TestBases(t *testing.T) {
	v, _ := repoVault(t)
	a := newAnmeldung(t, v, "Albers", "Jan", "Ringstraße", "80331", "München")
	if _, err := v.Base(a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Base before sync: %v", err)
	}
	a.Revision = 7
	if err := v.PutBase(a); err != nil {
		t.Fatal(err)
	}
	if got, err := v.Base(a.ID); err != nil || !reflect.DeepEqual(got, a) {
		t.Fatalf("Base: %v %+v", err, got)
	}
}

func TestDemoData(t *testing.T) {
	v, _ := repoVault(t)
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	if err := v.DemoData(1000, 42, now); err != nil {
		t.Fatal(err)
	}
	list, err := v.Cases(CaseQuery{})
	if err != nil || len(list) != 1000 {
		t.Fatalf("Cases: %d %v", len(list), err)
	}
	perService := map[string]int{}
	perStatus := map[string]int{}
	err = v.ReadAll(bucketCases, func(k, val []byte) error {
		c, err := decodeCaseJSON(bucketCases, string(k), val)
		if err != nil {
			return err
		}
		s, err := assets.Schemas{}.Schema(c.Service)
		if err != nil {
			return err
		}
		if msgs := s.Validate(c.Values, "de", now); len(msgs) > 0 {
			t.Errorf("case %s (%s) invalid: %v", c.ID, c.Service, msgs)
		}
		if _, ok := s.Workflow.State(c.Status); !ok {
			t.Errorf("case %s: status %q", c.ID, c.Status)
		}
		if c.Applicant.DisplayName() == "" || !cases.ValidPLZ(c.Applicant.Address.Postcode) || c.Created.After(now) {
			t.Errorf("case %s: applicant %+v created %v", c.ID, c.Applicant, c.Created)
		}
		if c.Status != "eingegangen" && (c.Assignee == "" || c.Aktenzeichen == "") {
			t.Errorf("case %s in %s without assignee or Aktenzeichen", c.ID, c.Status)
		}
		perService[c.Service]++
		perStatus[c.Status]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(perService) != 4 || len(perStatus) < 7 {
		t.Fatalf("services %v statuses %v", perService, perStatus)
	}
	ob, _ := v.Outbox()
	if len(ob) != 1000 {
		t.Fatalf("outbox %d", len(ob))
	}
	if rep, err := v.AuditVerify(); err != nil || rep.Entries != 1000 {
		t.Fatalf("AuditVerify %+v %v", rep, err)
	}
	// Searchable: the first case's applicant finds it.
	c, _ := v.Case(list[0].ID)
	got, err := v.Search(c.Applicant.FamilyName+" "+c.Applicant.Address.City, 0)
	if err != nil || !slices.ContainsFunc(got, func(s cases.Summary) bool { return s.ID == c.ID }) {
		t.Fatalf("Search demo case: %v %d", err, len(got))
	}
	// More demo data adds to it; a write afterwards keeps the list current.
	if err := v.DemoData(10, 43, now); err != nil {
		t.Fatal(err)
	}
	if _, err := v.SetFields(c.ID, map[string]string{"assignee": "neu"}); err != nil {
		t.Fatal(err)
	}
	list, _ = v.Cases(CaseQuery{Sort: "updated", Desc: true, Limit: 1})
	if all, _ := v.Cases(CaseQuery{}); len(all) != 1010 || list[0].ID != c.ID || list[0].Assignee != "neu" {
		t.Fatalf("after more: %d, first %+v", len(all), list[0])
	}
}
