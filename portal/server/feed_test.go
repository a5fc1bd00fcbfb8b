package server_test

import (
	"net/http"
	"testing"

	"fieldoffice/assets"
	"fieldoffice/portal"
)

func TestChangesPaging(t *testing.T) {
	p := newPortal(t)
	p.allowSoftwareKeys()
	d := p.enroll()
	if page := d.pull("", 10); len(page.Changes) != 0 || page.More || page.Next != portal.Cursor(0) {
		t.Fatalf("empty feed: %+v", page)
	}
	if n, err := p.store().Seed(25, 1); err != nil || n != 25 {
		t.Fatalf("Seed: %d %v", n, err)
	}

	// Pages of 10, 10, 5; each case once, in server order, revision 1, valid.
	cursor, seen := "", map[string]bool{}
	var lastSeq uint64
	for i, want := range []struct {
		n    int
		more bool
	}{{10, true}, {10, true}, {5, false}} {
		page := d.pull(cursor, 10)
		if len(page.Changes) != want.n || page.More != want.more {
			t.Fatalf("page %d: %d changes, more %v", i, len(page.Changes), page.More)
		}
		for _, ch := range page.Changes {
			c := decodeCase(t, ch.Case)
			if ch.Seq <= lastSeq || seen[c.ID] || c.Revision != 1 || c.Aktenzeichen == "" {
				t.Fatalf("change %d: case %s revision %d Aktenzeichen %q", ch.Seq, c.ID, c.Revision, c.Aktenzeichen)
			}
			s, _ := assets.Schemas{}.Schema(c.Service)
			if msgs := s.Validate(c.Values, "de", c.Updated); len(msgs) > 0 {
				t.Errorf("seeded case %s invalid: %v", c.ID, msgs)
			}
			lastSeq, seen[c.ID] = ch.Seq, true
		}
		if page.Next != portal.Cursor(lastSeq) {
			t.Fatalf("next %q, last seq %d", page.Next, lastSeq)
		}
		cursor = page.Next
	}
	if page := d.pull(cursor, 10); len(page.Changes) != 0 || page.More || page.Next != cursor {
		t.Fatalf("after the end: %+v", page)
	}

	// An office edit moves the case to the end of the feed: the device gets it once,
	// at revision 2, and a pull from the start still has 25 entries.
	list, _ := p.store().Cases()
	edited := list[3].ID
	if _, err := p.store().AssignCase(edited, "z.neu"); err != nil {
		t.Fatal(err)
	}
	page := d.pull(cursor, 10)
	if len(page.Changes) != 1 || page.More {
		t.Fatalf("after the edit: %d changes", len(page.Changes))
	}
	if c := decodeCase(t, page.Changes[0].Case); c.ID != edited || c.Revision != 2 || c.Assignee != "z.neu" {
		t.Fatalf("edited case: %s revision %d assignee %q", c.ID, c.Revision, c.Assignee)
	}
	all, _ := d.pullAll("")
	if len(all) != 25 || decodeCase(t, all[24].Case).ID != edited {
		t.Fatalf("full pull: %d changes", len(all))
	}

	// A limit above the maximum is clamped; bad parameters are 400.
	if page := d.pull("", 5000); len(page.Changes) != 25 {
		t.Errorf("limit 5000: %d", len(page.Changes))
	}
	for _, q := range []string{"?limit=0", "?limit=x", "?since=x1", "?since=c-1", "?since=c999999"} {
		resp, body := d.do(http.MethodGet, portal.PathChanges+q, nil, nil)
		problemOf(t, resp, body, http.StatusBadRequest, portal.ProblemBadRequest)
	}
	if page := d.pull("", 0+1); len(page.Changes) != 1 || !page.More {
		t.Errorf("limit 1: %+v", page)
	}
}

// TestChangesCostIsPerPage: a page near the end of a large feed reads only its
// entries (checked by the store API, not by timing): the cursor after the last entry
// is the feed's end, and asking there is answered from an empty page.
func TestChangesFromStore(t *testing.T) {
	p := newPortal(t)
	if _, err := p.store().Seed(1500, 2); err != nil {
		t.Fatal(err)
	}
	end, err := p.store().FeedEnd()
	if err != nil || end != 1500 {
		t.Fatalf("FeedEnd %d %v", end, err)
	}
	page, err := p.store().Changes(end-3, 200)
	if err != nil || len(page.Changes) != 3 || page.More || page.Next != portal.Cursor(end) {
		t.Fatalf("tail page: %v %d %v %s", err, len(page.Changes), page.More, page.Next)
	}
	page, err = p.store().Changes(0, 5000)
	if err != nil || len(page.Changes) != portal.MaxChangesLimit || !page.More {
		t.Fatalf("first page: %v %d %v", err, len(page.Changes), page.More)
	}
}
