package storage

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"fieldoffice/cases"
)

// portalCase returns c as the portal would send it: revision rev, JSON.
func portalCase(t testing.TB, c *cases.Case, rev int64, edit func(*cases.Case)) []byte {
	t.Helper()
	p := c.Clone()
	p.Revision = rev
	if edit != nil {
		edit(p)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// synced creates a case and pretends the portal applied its create op at revision 1.
func synced(t testing.TB, v *Vault, family string) *cases.Case {
	t.Helper()
	c := newAnmeldung(t, v, family, "Eva", "Lindenstraße", "04109", "Leipzig")
	ops, err := v.OutboxBatch(10)
	if err != nil || len(ops) != 1 {
		t.Fatalf("outbox = %d ops, %v", len(ops), err)
	}
	st, err := v.RecordResults([]OpOutcome{{OpID: ops[0].OpID, Status: "applied", Case: portalCase(t, c, 1, nil)}})
	if err != nil || st.Applied != 1 {
		t.Fatalf("RecordResults = %+v, %v", st, err)
	}
	got, err := v.Case(c.ID)
	if err != nil || got.Revision != 1 {
		t.Fatalf("after applied: revision %v, %v", got, err)
	}
	return got
}

func summaryOf(t testing.TB, v *Vault, id string) cases.Summary {
	t.Helper()
	list, err := v.Cases(CaseQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("case %s not in the list", id)
	return cases.Summary{}
}

func TestApplyPullNewAndUpdated(t *testing.T) {
	v, _ := repoVault(t)
	s, _ := v.formsOf().Schema("gewerbeanmeldung")
	fresh, err := s.NewCase(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fresh.Applicant.FamilyName, fresh.Aktenzeichen = "Öztürk", "GA-2026-000007"
	st, err := v.ApplyPull([][]byte{portalCase(t, fresh, 3, nil)}, "c17")
	if err != nil || st.New != 1 {
		t.Fatalf("ApplyPull = %+v, %v", st, err)
	}
	if got, err := v.Case(fresh.ID); err != nil || got.Revision != 3 || got.Aktenzeichen != "GA-2026-000007" {
		t.Fatalf("pulled case = %+v, %v", got, err)
	}
	if sum := summaryOf(t, v, fresh.ID); sum.Flags&(cases.FlagUnsynced|cases.FlagConflict) != 0 {
		t.Errorf("pulled case flags = %b", sum.Flags)
	}
	if hits, err := v.Search("oeztuerk", 10); err != nil || len(hits) != 1 {
		t.Errorf("search for the pulled case: %v, %v", hits, err)
	}
	if st, err := v.SyncState(); err != nil || st.Cursor != "c17" || st.Pulled != 1 {
		t.Errorf("sync state = %+v, %v", st, err)
	}
	if n, _ := v.OutboxLen(); n != 0 {
		t.Errorf("a pull queued %d ops", n)
	}
	// The same revision again changes nothing; a newer one replaces the case.
	if st, err := v.ApplyPull([][]byte{portalCase(t, fresh, 3, nil)}, "c18"); err != nil || st.Unchanged != 1 {
		t.Fatalf("same revision: %+v, %v", st, err)
	}
	if st, err := v.ApplyPull([][]byte{portalCase(t, fresh, 4, func(c *cases.Case) { c.Assignee = "mueller" })}, "c19"); err != nil || st.Updated != 1 {
		t.Fatalf("newer revision: %+v, %v", st, err)
	}
	if got, _ := v.Case(fresh.ID); got.Assignee != "mueller" {
		t.Errorf("assignee after pull = %q", got.Assignee)
	}
}

func TestApplyPullMalformedStoresNothing(t *testing.T) {
	v, _ := repoVault(t)
	good := newAnmeldung(t, v, "Roth", "Ida", "Am Markt", "01067", "Dresden")
	for name, bad := range map[string][]byte{
		"not json":   []byte("{"),
		"no id":      []byte(`{"service":"anmeldung"}`),
		"no service": []byte(`{"id":"` + good.ID + `"}`),
	} {
		_, err := v.ApplyPull([][]byte{portalCase(t, good, 9, nil), bad}, "c99")
		if err == nil || !strings.Contains(err.Error(), "portal sent") {
			t.Errorf("%s: err = %v", name, err)
		}
		if st, _ := v.SyncState(); st.Cursor != "" {
			t.Errorf("%s: cursor moved to %q", name, st.Cursor)
		}
		if got, _ := v.Case(good.ID); got.Revision != 0 {
			t.Errorf("%s: first case of the page was stored", name)
		}
	}
}

func TestPullMergesDifferentFields(t *testing.T) {
	v, _ := repoVault(t)
	c := synced(t, v, "Schäfer")
	if _, err := v.SetFields(c.ID, map[string]string{"telefon": "0341 1234567"}); err != nil {
		t.Fatal(err)
	}
	st, err := v.ApplyPull([][]byte{portalCase(t, c, 2, func(p *cases.Case) { p.Values["email"] = "eva@example.org" })}, "c2")
	if err != nil || st.Merged != 1 {
		t.Fatalf("ApplyPull = %+v, %v", st, err)
	}
	got, _ := v.Case(c.ID)
	if got.Values["telefon"] != "0341 1234567" || got.Values["email"] != "eva@example.org" || got.Revision != 2 {
		t.Fatalf("merged case values %v revision %d", got.Values, got.Revision)
	}
	if sum := summaryOf(t, v, c.ID); sum.Flags&cases.FlagUnsynced == 0 || sum.Flags&cases.FlagConflict != 0 {
		t.Errorf("flags after a clean merge = %b", sum.Flags)
	}
	if ops, _ := v.OutboxBatch(10); len(ops) != 1 || ops[0].Patch[0].Field != "values.telefon" {
		t.Errorf("outbox after merge = %+v", ops)
	}
}

func TestPullConflictThenResolve(t *testing.T) {
	for _, tc := range []struct {
		choice, want string
		op           bool // a new op carries the choice
	}{
		{ResolveMine, "0341 1111111", true},
		{ResolveTheirs, "0341 2222222", false},
		{"0341 3333333", "0341 3333333", true},
	} {
		t.Run(tc.choice, func(t *testing.T) {
			v, _ := repoVault(t)
			c := synced(t, v, "Weiß")
			if _, err := v.SetFields(c.ID, map[string]string{"telefon": "0341 1111111", "email": "w@example.org"}); err != nil {
				t.Fatal(err)
			}
			st, err := v.ApplyPull([][]byte{portalCase(t, c, 2, func(p *cases.Case) { p.Values["telefon"] = "0341 2222222" })}, "c2")
			if err != nil || st.Conflicts != 1 {
				t.Fatalf("ApplyPull = %+v, %v", st, err)
			}
			cs, err := v.Conflicts(c.ID)
			if err != nil || len(cs) != 1 || cs[0].Field != "values.telefon" || cs[0].Mine != "0341 1111111" || cs[0].Theirs != "0341 2222222" {
				t.Fatalf("conflicts = %+v, %v", cs, err)
			}
			got, _ := v.Case(c.ID)
			if got.Values["telefon"] != "0341 2222222" || got.Values["email"] != "w@example.org" {
				t.Fatalf("while in conflict the case holds %v", got.Values)
			}
			if list, _ := v.Cases(CaseQuery{Conflict: true}); len(list) != 1 {
				t.Fatalf("conflict filter: %d cases", len(list))
			}
			if _, err := v.ResolveConflict(c.ID, "values.email", ResolveMine); !errors.Is(err, ErrNoConflict) {
				t.Errorf("resolving a field not in conflict: %v", err)
			}

			got, err = v.ResolveConflict(c.ID, "values.telefon", tc.choice)
			if err != nil {
				t.Fatal(err)
			}
			if got.Values["telefon"] != tc.want {
				t.Errorf("after resolve telefon = %q, want %q", got.Values["telefon"], tc.want)
			}
			if cs, _ := v.Conflicts(c.ID); len(cs) != 0 {
				t.Errorf("conflicts left: %+v", cs)
			}
			ops, _ := v.OutboxBatch(10)
			// The first op keeps only email; telefon travels in the resolution's op.
			var telefonOps []cases.FieldChange
			for _, op := range ops {
				for _, ch := range op.Patch {
					if ch.Field == "values.telefon" {
						telefonOps = append(telefonOps, ch)
					}
				}
			}
			switch {
			case tc.op && (len(telefonOps) != 1 || telefonOps[0].Old != "0341 2222222" || telefonOps[0].New != tc.want):
				t.Errorf("resolution op = %+v", telefonOps)
			case !tc.op && len(telefonOps) != 0:
				t.Errorf("choosing the portal's value queued %+v", telefonOps)
			}
			if sum := summaryOf(t, v, c.ID); sum.Flags&cases.FlagConflict != 0 {
				t.Errorf("still flagged in conflict")
			}
			var ops2 []string
			entries, _ := v.AuditEntries()
			for _, e := range entries {
				ops2 = append(ops2, e.Op)
			}
			if !strings.HasSuffix(strings.Join(ops2, ","), "pull,resolve") {
				t.Errorf("audit = %v", ops2)
			}
			if _, err := v.AuditVerify(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestRecordResults(t *testing.T) {
	v, _ := repoVault(t)
	c := synced(t, v, "Krüger")
	if _, err := v.SetFields(c.ID, map[string]string{"telefon": "030 1234567", "email": "k@example.org"}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.AddNote(c.ID, "Rückruf vereinbart"); err != nil {
		t.Fatal(err)
	}
	ops, _ := v.OutboxBatch(10)
	if len(ops) != 2 {
		t.Fatalf("outbox: %d ops", len(ops))
	}
	// The portal: the patch conflicts on telefon (an office edit), the note applies.
	cur := portalCase(t, c, 2, func(p *cases.Case) { p.Values["telefon"] = "030 7654321" })
	after, _ := v.Case(c.ID)
	noteCase := portalCase(t, after, 3, func(p *cases.Case) {
		p.Values["telefon"], p.Values["email"] = "030 7654321", ""
	})
	st, err := v.RecordResults([]OpOutcome{
		{OpID: ops[0].OpID, Status: "conflict", Case: cur, Conflicts: []string{"values.telefon"}},
		{OpID: ops[1].OpID, Status: "applied", Case: noteCase},
		{OpID: "0193a5b2-0000-7000-8000-000000000000", Status: "applied"},
	})
	if err != nil || st.Conflict != 1 || st.Applied != 1 || st.Requeued != 1 || st.Unknown != 1 {
		t.Fatalf("RecordResults = %+v, %v", st, err)
	}
	left, _ := v.OutboxBatch(10)
	if len(left) != 1 || len(left[0].Patch) != 1 || left[0].Patch[0].Field != "values.email" || left[0].BaseRevision != 2 {
		t.Fatalf("requeued = %+v", left)
	}
	cs, _ := v.Conflicts(c.ID)
	if len(cs) != 1 || cs[0].Field != "values.telefon" || cs[0].Theirs != "030 7654321" || cs[0].Mine != "030 1234567" {
		t.Fatalf("conflicts = %+v", cs)
	}
	got, _ := v.Case(c.ID)
	if got.Values["email"] != "k@example.org" || got.Values["telefon"] != "030 7654321" || len(got.Notes) != 1 || got.Revision != 3 {
		t.Fatalf("case after results: values %v notes %d rev %d", got.Values, len(got.Notes), got.Revision)
	}

	// The requeued op applies (as a duplicate of an applied op, too).
	final := portalCase(t, got, 4, nil)
	if st, err := v.RecordResults([]OpOutcome{{OpID: left[0].OpID, Status: "duplicate", First: "applied", Case: final}}); err != nil || st.Duplicate != 1 {
		t.Fatalf("duplicate: %+v, %v", st, err)
	}
	if n, _ := v.OutboxLen(); n != 0 {
		t.Errorf("outbox not empty: %d", n)
	}
	if sum := summaryOf(t, v, c.ID); sum.Flags&cases.FlagUnsynced != 0 || sum.Flags&cases.FlagConflict == 0 {
		t.Errorf("flags = %b (want synced, in conflict)", sum.Flags)
	}
	if st, _ := v.SyncState(); st.Pushed != 3 {
		t.Errorf("pushed = %d", st.Pushed)
	}
}

func TestRecordRejected(t *testing.T) {
	v, _ := repoVault(t)
	c := synced(t, v, "Fischer")
	if _, err := v.TransitionCase(c.ID, "zurueckgestellt", "sachbearbeitung"); err == nil {
		t.Fatal("transition without due date allowed")
	}
	if _, err := v.SetFields(c.ID, map[string]string{"due_date": "2027-01-15", "telefon": "040 555"}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.TransitionCase(c.ID, "zurueckgestellt", "sachbearbeitung"); err != nil {
		t.Fatal(err)
	}
	ops, _ := v.OutboxBatch(10)
	if len(ops) != 2 {
		t.Fatalf("ops: %d", len(ops))
	}
	st, err := v.RecordResults([]OpOutcome{
		{OpID: ops[1].OpID, Status: "rejected", Reason: "Nur die Sachbearbeitung darf zurückstellen"},
	})
	if err != nil || st.Rejected != 1 {
		t.Fatalf("RecordResults = %+v, %v", st, err)
	}
	got, _ := v.Case(c.ID)
	if got.Status != c.Status || got.DueDate != "2027-01-15" {
		t.Errorf("after rejection status %q due %q", got.Status, got.DueDate)
	}
	rej, err := v.Rejections(c.ID)
	if err != nil || len(rej) != 1 || !strings.Contains(rej[0].Reason, "Sachbearbeitung") {
		t.Fatalf("rejections = %+v, %v", rej, err)
	}
	if sum := summaryOf(t, v, c.ID); sum.Flags&cases.FlagConflict == 0 || sum.Flags&cases.FlagUnsynced == 0 {
		t.Errorf("flags = %b", sum.Flags)
	}
	// The user's next change clears the refusal.
	if _, err := v.AddNote(c.ID, "Zurückstellung mit Leitung geklärt"); err != nil {
		t.Fatal(err)
	}
	if rej, _ := v.Rejections(c.ID); len(rej) != 0 {
		t.Errorf("rejections after a new change: %+v", rej)
	}
}

// TestOutboxIndexSurvivesReopen: the per-case op index and the cursor are stored,
// not kept in memory.
func TestOutboxIndexSurvivesReopen(t *testing.T) {
	v, cfg := repoVault(t)
	c := synced(t, v, "Lange")
	if _, err := v.SetFields(c.ID, map[string]string{"telefon": "089 1234567"}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.ApplyPull(nil, "c5"); err != nil {
		t.Fatal(err)
	}
	mustClose(t, v)
	v = MustOpen(t, cfg)
	if err := v.Unlock("anna", pinAnna); err != nil {
		t.Fatal(err)
	}
	v.SetForms(v.formsOf())
	err := v.View(func(tx *Tx) error {
		ops, err := tx.pendingOps(c.ID)
		if len(ops) != 1 {
			t.Errorf("pending ops after reopen: %v", ops)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := v.SyncState(); st.Cursor != "c5" {
		t.Errorf("cursor = %q", st.Cursor)
	}
}

// TestDemoDataIndexesOps: demo cases are unsynced creations whose ops the per-case
// index knows, like any other change.
func TestDemoDataIndexesOps(t *testing.T) {
	v, _ := repoVault(t)
	if err := v.DemoData(30, 1, time.Now()); err != nil {
		t.Fatal(err)
	}
	list, _ := v.Cases(CaseQuery{})
	err := v.View(func(tx *Tx) error {
		for _, s := range list {
			ops, err := tx.pendingOps(s.ID)
			if err != nil || len(ops) != 1 {
				t.Errorf("case %s: pending ops %v, %v", s.ID, ops, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestStatusCountsWhileLocked: pending changes and conflicts are visible to status
// without the PIN.
func TestStatusCountsWhileLocked(t *testing.T) {
	v, _ := repoVault(t)
	c := synced(t, v, "Busch")
	v.set(t, c.ID, "telefon", "0361 1111111")
	if _, err := v.ApplyPull([][]byte{portalCase(t, c, 2, func(p *cases.Case) { p.Values["telefon"] = "0361 2222222" })}, "c2"); err != nil {
		t.Fatal(err)
	}
	newAnmeldung(t, v, "Lorenz", "Ute", "Ring", "99084", "Erfurt")
	v.Lock()
	if st := v.Status(); st.PendingOps != 2 || st.Conflicts != 1 {
		t.Fatalf("locked status: pending %d conflicts %d", st.PendingOps, st.Conflicts)
	}
}

func (v *Vault) set(t testing.TB, id, k, val string) {
	t.Helper()
	if _, err := v.SetFields(id, map[string]string{k: val}); err != nil {
		t.Fatal(err)
	}
}

// A typed value is taken literally by ResolveConflictValue, even the words that
// ResolveConflict reads as a choice.
func TestResolveConflictValueLiteral(t *testing.T) {
	for _, word := range []string{ResolveMine, ResolveTheirs} {
		t.Run(word, func(t *testing.T) {
			v, _ := repoVault(t)
			c := synced(t, v, "Weiß")
			if _, err := v.SetFields(c.ID, map[string]string{"vornamen": "Eva Maria"}); err != nil {
				t.Fatal(err)
			}
			if st, err := v.ApplyPull([][]byte{portalCase(t, c, 2, func(p *cases.Case) { p.Values["vornamen"] = "Eva Marie" })}, "c2"); err != nil || st.Conflicts != 1 {
				t.Fatalf("ApplyPull = %+v, %v", st, err)
			}
			got, err := v.ResolveConflictValue(c.ID, "values.vornamen", word)
			if err != nil {
				t.Fatal(err)
			}
			if got.Values["vornamen"] != word {
				t.Fatalf("vornamen = %q, want the literal %q", got.Values["vornamen"], word)
			}
		})
	}
}
