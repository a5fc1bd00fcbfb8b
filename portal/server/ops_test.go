package server_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"fieldoffice/cases"
	"fieldoffice/portal"
	"fieldoffice/portal/server"
)

// TestOps walks one case through the four results; each step depends on the ones
// before it.
func TestOps(t *testing.T) {
	p := newPortal(t)
	p.allowSoftwareKeys()
	d := p.enroll()
	c, create := newAnmeldung(t, "Weber")
	rev := int64(0)

	applied := func(t *testing.T, r portal.OpResult, wantRev int64) *cases.Case {
		t.Helper()
		if r.Status != portal.ResultApplied || r.Revision != wantRev {
			t.Fatalf("want applied at revision %d, got %+v", wantRev, r)
		}
		got := decodeCase(t, r.Case)
		if got.Revision != wantRev {
			t.Fatalf("case JSON at revision %d", got.Revision)
		}
		return got
	}

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"create", func(t *testing.T) {
			r := d.push(create)[0]
			got := applied(t, r, 1)
			if got.Status != "eingegangen" || got.Values["familienname"] != "Weber" || got.Applicant.FamilyName != "Weber" || !got.Created.Equal(c.Created.UTC().Truncate(0)) {
				t.Fatalf("created case %+v", got)
			}
			rev = 1
			if all, _ := d.pullAll(""); len(all) != 1 || decodeCase(t, all[0].Case).ID != c.ID {
				t.Fatal("created case not in the feed")
			}
		}},
		{"duplicate op ID", func(t *testing.T) {
			r := d.push(create)[0]
			if r.Status != portal.ResultDuplicate || r.First != portal.ResultApplied || r.Revision != 1 || r.OpID != create.OpID || len(r.Case) == 0 {
				t.Fatalf("duplicate: %+v", r)
			}
			if got, _ := p.store().Case(c.ID); got.Revision != 1 {
				t.Fatal("duplicate applied again")
			}
		}},
		{"patch", func(t *testing.T) {
			r := d.push(patchOp(c.ID, rev, server.KindPatch, map[string][2]string{"values.email": {"", "anna.weber@web.de"}}))[0]
			applied(t, r, 2)
			rev = 2
		}},
		{"merge with an office edit of another field", func(t *testing.T) {
			if _, err := p.store().SetCaseFields(c.ID, map[string]string{"telefon": "0221 999999"}); err != nil {
				t.Fatal(err)
			}
			r := d.push(patchOp(c.ID, rev, server.KindPatch, map[string][2]string{"values.vornamen": {"Anna", "Anna Maria"}, "applicant.given_names": {"Anna", "Anna Maria"}}))[0]
			got := applied(t, r, 4)
			if got.Values["telefon"] != "0221 999999" || got.Values["vornamen"] != "Anna Maria" || got.Applicant.GivenNames != "Anna Maria" {
				t.Fatalf("merged case: %v", got.Values)
			}
			rev = 4
		}},
		{"conflict on the same field", func(t *testing.T) {
			if _, err := p.store().SetCaseFields(c.ID, map[string]string{"familienname": "Weber-Schulz"}); err != nil {
				t.Fatal(err)
			}
			r := d.push(patchOp(c.ID, rev, server.KindPatch, map[string][2]string{"values.familienname": {"Weber", "Weber-Krause"}, "values.email": {"anna.weber@web.de", "a@web.de"}}))[0]
			if r.Status != portal.ResultConflict || !slices.Equal(r.Conflict, []string{"values.familienname"}) || r.Revision != 5 || r.Reason == "" {
				t.Fatalf("conflict: %+v", r)
			}
			if got := decodeCase(t, r.Case); got.Values["familienname"] != "Weber-Schulz" || got.Values["email"] != "anna.weber@web.de" {
				t.Fatalf("conflict case: nothing of the op may be applied: %v", got.Values)
			}
			rev = 5
		}},
		{"no-op: the field holds the new value already", func(t *testing.T) {
			r := d.push(patchOp(c.ID, 3, server.KindPatch, map[string][2]string{"values.familienname": {"Weber", "Weber-Schulz"}}))[0]
			applied(t, r, 5)
		}},
		{"rejected: bad PLZ", func(t *testing.T) {
			r := d.push(patchOp(c.ID, rev, server.KindPatch, map[string][2]string{"values.neue_wohnung.plz": {"50667", "123"}}))[0]
			if r.Status != portal.ResultRejected || !strings.Contains(r.Fields["values.neue_wohnung.plz"], "fünf Ziffern") || r.Reason == "" {
				t.Fatalf("bad PLZ: %+v", r)
			}
		}},
		{"rejected: illegal transition", func(t *testing.T) {
			r := d.push(patchOp(c.ID, rev, server.KindTransition, map[string][2]string{"status": {"eingegangen", "abgeschlossen"}}))[0]
			if r.Status != portal.ResultRejected || !strings.Contains(r.Reason, "kein Übergang") {
				t.Fatalf("illegal transition: %+v", r)
			}
		}},
		{"rejected: transition needs an assignee", func(t *testing.T) {
			r := d.push(patchOp(c.ID, rev, server.KindTransition, map[string][2]string{"status": {"eingegangen", "in_bearbeitung"}}))[0]
			if r.Status != portal.ResultRejected || r.Fields["assignee"] == "" {
				t.Fatalf("transition without assignee: %+v", r)
			}
		}},
		{"transition with what it needs in the same op", func(t *testing.T) {
			r := d.push(patchOp(c.ID, rev, server.KindTransition, map[string][2]string{"status": {"eingegangen", "in_bearbeitung"}, "assignee": {"", "m.schulz"}}))[0]
			if got := applied(t, r, 6); got.Status != "in_bearbeitung" || got.Assignee != "m.schulz" {
				t.Fatalf("transition: %+v", got)
			}
			rev = 6
		}},
		{"rejected: role may not", func(t *testing.T) {
			op := patchOp(c.ID, rev, server.KindTransition, map[string][2]string{"status": {"in_bearbeitung", "zurueckgestellt"}, "due_date": {"", "2026-12-01"}})
			op.Role = cases.RoleBuergerbuero
			if r := d.push(op)[0]; r.Status != portal.ResultRejected || !strings.Contains(r.Reason, "Rolle") {
				t.Fatalf("role: %+v", r)
			}
		}},
		{"note", func(t *testing.T) {
			n := cases.NewNote("m.schulz", "Unterlagen vollständig.", time.Now())
			b, _ := json.Marshal(n)
			r := d.push(patchOp(c.ID, rev, server.KindNote, map[string][2]string{"notes." + n.ID: {"", string(b)}}))[0]
			if got := applied(t, r, 7); len(got.Notes) != 1 || got.Notes[0].Text != n.Text {
				t.Fatalf("note: %+v", got.Notes)
			}
			rev = 7
		}},
		{"rejected: unknown field, malformed note", func(t *testing.T) {
			r := d.push(patchOp(c.ID, rev, server.KindPatch, map[string][2]string{"revision": {"7", "8"}}))[0]
			if r.Status != portal.ResultRejected || r.Fields["revision"] == "" {
				t.Fatalf("unknown field: %+v", r)
			}
			r = d.push(patchOp(c.ID, rev, server.KindPatch, map[string][2]string{"notes.x": {"", "{}"}, "values.nix": {"", "1"}}))[0]
			if r.Status != portal.ResultRejected || len(r.Fields) != 2 {
				t.Fatalf("malformed note, unknown value: %+v", r)
			}
		}},
		{"rejected: unknown case, create without service", func(t *testing.T) {
			r := d.push(patchOp(uuid.NewString(), 1, server.KindPatch, map[string][2]string{"assignee": {"", "x"}}))[0]
			if r.Status != portal.ResultRejected || r.Reason != "Der Vorgang ist dem Portal nicht bekannt" {
				t.Fatalf("unknown case: %+v", r)
			}
			_, op := newAnmeldung(t, "Ohne")
			op.Service = ""
			if r := d.push(op)[0]; r.Status != portal.ResultRejected || r.Fields["service"] == "" {
				t.Fatalf("no service: %+v", r)
			}
		}},
		{"create of an existing case compares like a patch", func(t *testing.T) {
			op := create
			op.OpID = uuid.NewString()
			r := d.push(op)[0]
			if r.Status != portal.ResultConflict || !slices.Contains(r.Conflict, "values.familienname") || !slices.Contains(r.Conflict, "status") {
				t.Fatalf("re-create: %+v", r)
			}
			op.OpID, op.Service = uuid.NewString(), "gewerbeanmeldung"
			if r := d.push(op)[0]; r.Status != portal.ResultConflict || !slices.Equal(r.Conflict, []string{"service"}) {
				t.Fatalf("re-create as another service: %+v", r)
			}
		}},
		{"office edit is validated like an op", func(t *testing.T) {
			_, err := p.store().SetCaseFields(c.ID, map[string]string{"neue_wohnung.plz": "1234"})
			var ve *server.ValidationError
			if !errors.As(err, &ve) || ve.Fields["values.neue_wohnung.plz"] == "" || !errors.Is(err, server.ErrInvalidInput) {
				t.Fatalf("office edit with a bad PLZ: %v", err)
			}
			if _, err := p.store().SetCaseFields(c.ID, map[string]string{"status": "abgeschlossen"}); !errors.As(err, &ve) {
				t.Fatalf("office edit with an illegal transition: %v", err)
			}
			if _, err := p.store().SetCaseFields(uuid.NewString(), map[string]string{"assignee": "x"}); !errors.Is(err, server.ErrNotFound) {
				t.Fatalf("office edit of an unknown case: %v", err)
			}
			if got, _ := p.store().Case(c.ID); got.Revision != rev {
				t.Fatalf("a refused edit wrote: revision %d", got.Revision)
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.FailNow()
		}
	}
	checkLogClean(t, p.logs.String(), "Weber", "Anna", "web.de", "50667")
}

func TestIdempotencyKey(t *testing.T) {
	p := newPortal(t)
	p.allowSoftwareKeys()
	d := p.enroll()
	c, create := newAnmeldung(t, "Krause")
	req := portal.OpsRequest{Ops: []portal.Op{create, patchOp(c.ID, 1, server.KindPatch, map[string][2]string{"assignee": {"", "j.krause"}})}}

	resp1, body1 := d.pushRaw("batch-1", req)
	resp2, body2 := d.pushRaw("batch-1", req)
	if resp1.StatusCode != 200 || resp2.StatusCode != 200 || string(body1) != string(body2) || resp2.Header.Get("Idempotency-Replayed") != "true" {
		t.Fatalf("replay: %d %d\n%s\n%s", resp1.StatusCode, resp2.StatusCode, body1, body2)
	}
	var out portal.OpsResponse
	mustJSON(t, body2, &out)
	if out.Results[0].Status != portal.ResultApplied || out.Results[1].Status != portal.ResultApplied || out.Results[1].Revision != 2 {
		t.Fatalf("results %+v", out.Results)
	}
	if got, _ := p.store().Case(c.ID); got.Revision != 2 {
		t.Fatalf("replay applied again: revision %d", got.Revision)
	}
	// The same ops under a new key: duplicates, with the first answers' fields.
	resp, body := d.pushRaw("batch-2", req)
	mustJSON(t, body, &out)
	if resp.StatusCode != 200 || out.Results[1].Status != portal.ResultDuplicate || out.Results[1].First != portal.ResultApplied || out.Results[1].Revision != 2 {
		t.Fatalf("new key: %s", body)
	}

	cases := []struct {
		name   string
		key    string
		req    any
		status int
		typ    string
	}{
		{"same key, other body", "batch-1", portal.OpsRequest{Ops: req.Ops[:1]}, http.StatusConflict, portal.ProblemConflict},
		{"no key", "", req, http.StatusBadRequest, portal.ProblemBadRequest},
		{"key with spaces", "a b", req, http.StatusBadRequest, portal.ProblemBadRequest},
		{"too many ops", "big", portal.OpsRequest{Ops: make([]portal.Op, portal.MaxOpsPerBatch+1)}, http.StatusRequestEntityTooLarge, portal.ProblemTooLarge},
		{"op without ID", "bad-op", portal.OpsRequest{Ops: []portal.Op{{CaseID: c.ID, Kind: "patch"}}}, http.StatusBadRequest, portal.ProblemBadRequest},
		{"unknown kind", "bad-kind", portal.OpsRequest{Ops: []portal.Op{{OpID: uuid.NewString(), CaseID: c.ID, Kind: "delete"}}}, http.StatusBadRequest, portal.ProblemBadRequest},
		{"not JSON", "not-json", "[", http.StatusBadRequest, portal.ProblemBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := d.pushRaw(tc.key, tc.req)
			problemOf(t, resp, body, tc.status, tc.typ)
		})
	}
	// A refused batch applied nothing and recorded no answer: the key is still free.
	good := portal.OpsRequest{Ops: []portal.Op{patchOp(c.ID, 2, server.KindPatch, map[string][2]string{"due_date": {"", "2026-09-01"}})}}
	if resp, body := d.pushRaw("bad-op", good); resp.StatusCode != 200 {
		t.Fatalf("key of a refused batch: %d %s", resp.StatusCode, body)
	}
}
