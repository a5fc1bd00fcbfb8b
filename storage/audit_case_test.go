package storage

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestCaseAudit: a case's history through the per-case index equals the trail's
// entries for that case, newest first, also with a limit and for case IDs that are
// prefixes of each other.
func TestCaseAudit(t *testing.T) {
	v := MustCreate(t, testConfig(t, nil), CreateOptions{AllowSoftwareKey: true})
	var ids []string
	for i := range 5 {
		c := newCase(t, map[string]string{"name": fmt.Sprintf("Name%d", i)})
		putCases(t, v, c)
		ids = append(ids, c.ID)
	}
	for round := range 3 {
		for _, id := range ids[:3] {
			if _, err := v.AddNote(id, fmt.Sprintf("Vermerk %d", round)); err != nil {
				t.Fatal(err)
			}
		}
	}
	all, err := v.AuditEntries()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		var want []AuditEntry
		for i := len(all) - 1; i >= 0; i-- {
			if all[i].CaseID == id {
				want = append(want, all[i])
			}
		}
		got, err := v.CaseAudit(id, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || len(got) == 0 {
			t.Fatalf("case %s: %d entries, want %d", id, len(got), len(want))
		}
		for i := range got {
			if got[i].Seq != want[i].Seq || got[i].Op != want[i].Op {
				t.Fatalf("case %s entry %d: seq %d %s, want %d %s", id, i, got[i].Seq, got[i].Op, want[i].Seq, want[i].Op)
			}
		}
		if lim, _ := v.CaseAudit(id, 2); len(lim) != min(2, len(want)) || lim[0].Seq != want[0].Seq {
			t.Fatalf("case %s with limit 2: %d entries", id, len(lim))
		}
	}
	if got, err := v.CaseAudit("no-such-case", 10); err != nil || len(got) != 0 {
		t.Fatalf("unknown case: %v, %v", got, err)
	}
}

// TestCaseAuditForgedIndex: an index key that points at another case's entry is
// refused, not shown.
func TestCaseAuditForgedIndex(t *testing.T) {
	v := MustCreate(t, testConfig(t, nil), CreateOptions{AllowSoftwareKey: true})
	a, b := newCase(t, map[string]string{"name": "A"}), newCase(t, map[string]string{"name": "B"})
	putCases(t, v, a, b)
	hb, err := v.CaseAudit(b.ID, 1)
	if err != nil || len(hb) != 1 {
		t.Fatal(hb, err)
	}
	// Someone with the key (a bug, or an edited file re-sealed) adds an index entry
	// under a's ID for b's entry.
	if err := v.Update(func(tx *Tx) error {
		return tx.Put(bucketAuditCase, auditCaseKey(a.ID, hb[0].Seq), nil)
	}); err != nil {
		t.Fatal(err)
	}
	_, err = v.CaseAudit(a.ID, 0)
	var ae *AuditError
	if !errors.As(err, &ae) || !errors.Is(err, ErrTampered) {
		t.Fatalf("CaseAudit with a forged index key = %v; want an AuditError", err)
	}
}

// TestMigrateV2toV3 builds the index for a trail written without it.
func TestMigrateV2toV3(t *testing.T) {
	all := migrations
	withMigrations(t, slices.DeleteFunc(slices.Clone(all), func(m migration) bool { return m.to > 2 }))
	cfg := testConfig(t, nil)
	v := MustCreate(t, cfg, CreateOptions{AllowSoftwareKey: true}) // at format 2
	var ids []string
	for i := range 20 {
		c := newCase(t, map[string]string{"name": fmt.Sprintf("N%d", i)})
		putCases(t, v, c)
		ids = append(ids, c.ID)
	}
	mustClose(t, v)
	// A format-2 build wrote no index: take it out.
	rawUpdate(t, cfg.Dir, func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketMeta).Delete([]byte(prefixCount + string(bucketAuditCase))); err != nil {
			return err
		}
		return tx.DeleteBucket(bucketAuditCase)
	})
	migrations = all
	v = MustOpen(t, cfg)
	if err := v.Unlock("anna", pinAnna); err != nil {
		t.Fatal(err)
	}
	if got := v.Status().FormatVersion; got != 3 {
		t.Fatalf("format %d after Unlock, want 3", got)
	}
	for _, id := range ids {
		if got, err := v.CaseAudit(id, 0); err != nil || len(got) != 1 || got[0].Op != AuditCreate {
			t.Fatalf("case %s after migration: %v, %v", id, got, err)
		}
	}
	if _, err := v.AuditVerify(); err != nil {
		t.Fatal(err)
	}
}
