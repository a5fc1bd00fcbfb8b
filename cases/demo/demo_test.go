package demo_test

import (
	"maps"
	"testing"
	"time"

	"fieldoffice/assets"
	"fieldoffice/cases"
	"fieldoffice/cases/demo"
)

// TestCasesValid generates cases and checks each against its service's sample schema
// and workflow, and that the spread over services and states is realistic.
func TestCasesValid(t *testing.T) {
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	const n = 1000
	g := demo.NewGenerator(42, now)
	perService, perStatus := map[string]int{}, map[string]int{}
	ids := map[string]bool{}
	for i := range n {
		created := demo.Created(now, i, n)
		c, err := g.Case(created)
		if err != nil {
			t.Fatal(err)
		}
		s, err := assets.Schemas{}.Schema(c.Service)
		if err != nil {
			t.Fatal(err)
		}
		if msgs := s.Validate(c.Values, "de", now); len(msgs) > 0 {
			t.Errorf("case %d (%s) invalid: %v", i, c.Service, msgs)
		}
		if _, ok := s.Workflow.State(c.Status); !ok {
			t.Errorf("case %d: unknown status %q", i, c.Status)
		}
		switch {
		case !cases.ValidID(c.ID) || ids[c.ID]:
			t.Errorf("case %d: ID %q invalid or repeated", i, c.ID)
		case c.Applicant.DisplayName() == "" || !cases.ValidPLZ(c.Applicant.Address.Postcode):
			t.Errorf("case %d: applicant %+v", i, c.Applicant)
		case !c.Created.Equal(created.UTC()) || c.Updated.Before(c.Created) || c.Updated.After(now):
			t.Errorf("case %d: created %v updated %v", i, c.Created, c.Updated)
		case c.Status != "eingegangen" && (c.Assignee == "" || c.Aktenzeichen == ""):
			t.Errorf("case %d in %s without assignee or Aktenzeichen", i, c.Status)
		case c.Revision != 0:
			t.Errorf("case %d: revision %d", i, c.Revision)
		}
		ids[c.ID] = true
		perService[c.Service]++
		perStatus[c.Status]++
	}
	if len(perService) != 4 || len(perStatus) < 7 {
		t.Fatalf("services %v statuses %v", perService, perStatus)
	}
	if perService["anmeldung"] < perService["gewerbeanmeldung"] {
		t.Errorf("weights not followed: %v", perService)
	}
}

// TestSameSeedSameCases: a seed reproduces the cases except their IDs.
func TestSameSeedSameCases(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a, b := demo.NewGenerator(7, now), demo.NewGenerator(7, now)
	other := demo.NewGenerator(8, now)
	differ := false
	for i := range 50 {
		created := demo.Created(now, i, 50)
		x, _ := a.Case(created)
		y, _ := b.Case(created)
		z, _ := other.Case(created)
		if x.ID == y.ID {
			t.Fatalf("case %d: IDs repeat", i)
		}
		if !maps.Equal(x.Values, y.Values) || x.Status != y.Status || x.Aktenzeichen != y.Aktenzeichen || x.Applicant != y.Applicant {
			t.Fatalf("case %d differs for the same seed:\n%+v\n%+v", i, x, y)
		}
		differ = differ || !maps.Equal(x.Values, z.Values)
	}
	if !differ {
		t.Fatal("another seed gave the same cases")
	}
}

func TestHelpers(t *testing.T) {
	if got := demo.Aktenzeichen("MB", 2026, 123); got != "MB-2026-000123" {
		t.Errorf("Aktenzeichen = %q", got)
	}
	if demo.Prefix("gewerbeanmeldung") != "GA" || demo.Prefix("unbekannt") != "VG" {
		t.Error("Prefix")
	}
	now := time.Now()
	if first, last := demo.Created(now, 0, 10), demo.Created(now, 9, 10); !first.Before(last) || !last.Before(now) || now.Sub(first) > demo.Span {
		t.Errorf("Created: %v … %v", first, last)
	}
	total := 0
	for _, s := range demo.Services {
		total += s.Weight
	}
	if total != 100 {
		t.Errorf("weights add up to %d", total)
	}
}
