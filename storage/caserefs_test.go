package storage

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"fieldoffice/cases"
)

// CaseRefs and SearchRefs share the vault's decoded summaries; a change replaces the
// changed case's Summary and leaves the one handed out before as it was.
func TestCaseRefsShared(t *testing.T) {
	v, _ := repoVault(t)
	now := time.Now()
	if err := v.DemoData(300, 1, now); err != nil {
		t.Fatal(err)
	}
	q := CaseQuery{Sort: "aktenzeichen"}
	before, err := v.CaseRefs(q)
	if err != nil || len(before) != 300 {
		t.Fatalf("CaseRefs: %d %v", len(before), err)
	}
	vals, err := v.Cases(q)
	if err != nil || !slices.Equal(vals, derefSummaries(before)) {
		t.Fatalf("Cases differs from CaseRefs: %v", err)
	}
	changed := before[0]
	old := *changed
	if _, err := v.SetFields(changed.ID, map[string]string{"assignee": "neu"}); err != nil {
		t.Fatal(err)
	}
	after, err := v.CaseRefs(q)
	if err != nil || len(after) != len(before) {
		t.Fatalf("CaseRefs after the change: %d %v", len(after), err)
	}
	if *changed != old {
		t.Errorf("the Summary handed out before changed: %+v", *changed)
	}
	for i, s := range after {
		switch {
		case s.ID == changed.ID:
			if s == changed || s.Assignee != "neu" {
				t.Errorf("changed case: same pointer %v, assignee %q", s == changed, s.Assignee)
			}
		case s != before[i]:
			t.Errorf("unchanged case %s: a new Summary (%v)", s.ID, s.ID == before[i].ID)
		}
	}

	// SearchRefs: Search's hits filtered and ordered by the query, the same summaries.
	c, err := v.Case(after[len(after)/2].ID)
	if err != nil {
		t.Fatal(err)
	}
	text := c.Applicant.FamilyName
	for _, q := range []CaseQuery{{}, {Sort: "applicant"}, {Status: c.Status, Sort: "due", Desc: true}, {Sort: "updated", Offset: 1, Limit: 2}} {
		hits, err := v.Search(text, 0)
		if err != nil || len(hits) == 0 {
			t.Fatalf("Search(%q): %d hits, %v", text, len(hits), err)
		}
		hits = slices.DeleteFunc(hits, func(s cases.Summary) bool { return !q.Match(s) })
		SortSummaries(hits, q)
		hits = hits[min(q.Offset, len(hits)):]
		if q.Limit > 0 {
			hits = hits[:min(q.Limit, len(hits))]
		}
		got, err := v.SearchRefs(text, q)
		if err != nil || !slices.Equal(derefSummaries(got), hits) {
			t.Errorf("SearchRefs(%q, %+v) = %d hits, %v; want %d", text, q, len(got), err, len(hits))
		}
		for _, s := range got {
			if i := slices.IndexFunc(after, func(a *cases.Summary) bool { return a.ID == s.ID }); after[i] != s {
				t.Errorf("SearchRefs: a copy of %s, not the shared Summary", s.ID)
			}
		}
	}
}

func TestListCachePut(t *testing.T) {
	b, d := &cases.Summary{ID: "b"}, &cases.Summary{ID: "d"}
	c := &listCache{all: []*cases.Summary{b, d}}
	ids := func() string {
		var s []string
		for _, x := range c.all {
			s = append(s, x.ID+x.Status)
		}
		return strings.Join(s, " ")
	}
	c.put([]cases.Summary{{ID: "c"}})
	if got := ids(); got != "b c d" {
		t.Errorf("one new: %s", got)
	}
	c.put([]cases.Summary{{ID: "e"}, {ID: "a", Status: "1"}, {ID: "d", Status: "2"}, {ID: "cc"}, {ID: "a", Status: "3"}, {ID: "d", Status: "4"}})
	if got := ids(); got != "a3 b c cc d4 e" {
		t.Errorf("many new: %s", got)
	}
	if d.Status != "" || c.all[1] != b {
		t.Errorf("a Summary in the cache changed or was replaced without need: %+v", c.all)
	}
	c.put(nil)
	if got := ids(); got != "a3 b c cc d4 e" {
		t.Errorf("nothing: %s", got)
	}
}

// A summaryDecoder decodes as decodeSummary does, interns the repetitive fields and
// cuts the others from blocks, also across blocks and for fields longer than one.
func TestSummaryDecoder(t *testing.T) {
	d := newSummaryDecoder()
	at := time.Date(2026, 11, 30, 14, 0, 0, 0, time.UTC)
	var got []cases.Summary
	for i := range 2000 {
		s := cases.Summary{
			ID: fmt.Sprintf("0193a5b2-7c3d-7e4f-8a9b-%012d", i), Aktenzeichen: fmt.Sprintf("MB-2026-%06d", i),
			Applicant: fmt.Sprintf("Weiß, Jürgen %d", i), Service: "anmeldung", Status: []string{"eingegangen", "in_bearbeitung"}[i%2],
			Assignee: "anna", DueDate: fmt.Sprintf("2026-12-%02d", 1+i%28), Updated: at.Add(time.Duration(i)), Flags: cases.Flags(i % 16),
		}
		switch i {
		case 7:
			s.Applicant = strings.Repeat("Mustermann-", blockSize/5)
		case 8:
			s.Aktenzeichen, s.Applicant, s.Assignee, s.DueDate = "", "", "", ""
		}
		var plain, shared cases.Summary
		enc := encodeSummary(s)
		if err := decodeSummary(enc, &plain); err != nil || plain != s {
			t.Fatalf("%d: decodeSummary = %+v, %v", i, plain, err)
		}
		if err := d.decode(enc, &shared); err != nil || shared != s {
			t.Fatalf("%d: summaryDecoder = %+v, %v", i, shared, err)
		}
		got = append(got, shared)
	}
	for i, s := range got {
		if i >= 2 && unsafe.StringData(s.Status) != unsafe.StringData(got[i%2].Status) {
			t.Fatalf("%d: Status %q not interned", i, s.Status)
		}
	}
	if n := len(d.interned); n < 28+2 || n > 28+2+3 {
		t.Errorf("%d values interned", n)
	}
	if err := d.decode(encodeSummary(got[0])[:20], &cases.Summary{}); err == nil {
		t.Error("a truncated summary decoded")
	}
}
