package cases_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"fieldoffice/cases"
)

func TestWorkflow(t *testing.T) {
	now := time.Date(2025, 6, 15, 10, 0, 0, 0, time.UTC)
	forms := loadForms(t)
	s := forms["anmeldung"]
	wf := s.Workflow
	full := func() *cases.Case {
		c, err := s.NewCase(now)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range sampleValues["anmeldung"] {
			c.Values[k] = v
		}
		c.Aktenzeichen = "MB-2025-000123"
		c.Assignee = "k.mueller"
		c.DueDate = "2025-06-30"
		c.Applicant = cases.Applicant{FamilyName: "Schäfer", GivenNames: "Anna Luise"}
		return c
	}
	tests := []struct {
		name       string
		from, to   string
		role       string
		edit       func(*cases.Case)
		wantReason string // "" = allowed; else part of the German reason
		wantEn     string
		wantField  string
	}{
		{"start", "eingegangen", "in_bearbeitung", "sachbearbeitung", nil, "", "", ""},
		{"start citizen office", "eingegangen", "in_bearbeitung", "buergerbuero", nil, "", "", ""},
		{"start needs assignee", "eingegangen", "in_bearbeitung", "sachbearbeitung", func(c *cases.Case) { c.Assignee = "" },
			"Für „In Bearbeitung“ fehlen oder sind ungültig: Sachbearbeitung", "For \"In progress\" these are missing or invalid: assignee", "assignee"},
		{"skip to decision", "eingegangen", "entscheidung", "sachbearbeitung", nil,
			"Von „Eingegangen“ nach „Entscheidung“ ist kein Übergang vorgesehen", `No transition from "Received" to "Decision" is provided`, ""},
		{"query needs due date", "in_bearbeitung", "rueckfrage", "sachbearbeitung", func(c *cases.Case) { c.DueDate = "" },
			"Wiedervorlage", "follow-up date", "due_date"},
		{"query", "in_bearbeitung", "rueckfrage", "buergerbuero", nil, "", "", ""},
		{"answer", "rueckfrage", "in_bearbeitung", "sachbearbeitung", nil, "", "", ""},
		{"hold by citizen office", "in_bearbeitung", "zurueckgestellt", "buergerbuero", nil,
			"„Zurückgestellt“ darf nur die Rolle sachbearbeitung (Ihre Rolle: buergerbuero)", "Only role sachbearbeitung", ""},
		{"hold", "rueckfrage", "zurueckgestellt", "sachbearbeitung", nil, "", "", ""},
		{"decision", "in_bearbeitung", "entscheidung", "sachbearbeitung", nil, "", "", ""},
		{"decision invalid form", "in_bearbeitung", "entscheidung", "sachbearbeitung", func(c *cases.Case) { c.Values["neue_wohnung.plz"] = "123" },
			"Für „Entscheidung“ fehlen oder sind ungültig: Anschrift der neuen Wohnung", "Address of the new residence", "neue_wohnung.plz"},
		{"decision needs aktenzeichen", "in_bearbeitung", "entscheidung", "sachbearbeitung", func(c *cases.Case) { c.Aktenzeichen = "" },
			"Aktenzeichen", "reference number", "aktenzeichen"},
		{"close", "entscheidung", "abgeschlossen", "sachbearbeitung", nil, "", "", ""},
		{"close needs signature", "entscheidung", "abgeschlossen", "sachbearbeitung", func(c *cases.Case) { delete(c.Values, "unterschrift") },
			"Unterschrift der antragstellenden Person", "Signature of the applicant", "unterschrift"},
		{"immediate registration", "in_bearbeitung", "abgeschlossen", "buergerbuero", nil, "", "", ""},
		{"immediate needs confirmation", "in_bearbeitung", "abgeschlossen", "buergerbuero", func(c *cases.Case) { c.Values["wohnungsgeber_bestaetigung"] = "false" },
			"Wohnungsgeberbestätigung", "Landlord's confirmation", "wohnungsgeber_bestaetigung"},
		{"reject", "entscheidung", "abgelehnt", "sachbearbeitung", nil, "", "", ""},
		{"final", "abgeschlossen", "in_bearbeitung", "sachbearbeitung", nil,
			"kann nicht mehr geändert werden", "can no longer change", ""},
		{"same state", "in_bearbeitung", "in_bearbeitung", "sachbearbeitung", nil, "bereits im Status „In Bearbeitung“", "already in status", ""},
		{"unknown target", "in_bearbeitung", "erledigt", "sachbearbeitung", nil, "Unbekannter Zielstatus „erledigt“", "Unknown target status", ""},
		{"unknown current", "kaputt", "in_bearbeitung", "sachbearbeitung", nil, "unbekannten Status „kaputt“", "unknown status", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := full()
			c.Status = tt.from
			if tt.edit != nil {
				tt.edit(c)
			}
			err := wf.Check(c, tt.to, tt.role, s, now)
			if tt.wantReason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if err := wf.Transition(c, tt.to, tt.role, s, now); err != nil || c.Status != tt.to {
					t.Fatalf("Transition: %v, status %s", err, c.Status)
				}
				return
			}
			var te *cases.TransitionError
			if !errors.As(err, &te) {
				t.Fatalf("want *TransitionError, got %v", err)
			}
			if te.From != tt.from || te.To != tt.to {
				t.Errorf("error from/to = %s/%s", te.From, te.To)
			}
			if !strings.Contains(te.Message("de"), tt.wantReason) {
				t.Errorf("de reason %q\nwant it to contain %q", te.Message("de"), tt.wantReason)
			}
			if !strings.Contains(te.Message("en"), tt.wantEn) || !strings.Contains(err.Error(), tt.wantEn) {
				t.Errorf("en reason %q / %q\nwant it to contain %q", te.Message("en"), err, tt.wantEn)
			}
			if tt.wantField != "" {
				if _, ok := te.Fields[tt.wantField]; !ok {
					t.Errorf("Fields = %v, want %s", te.Fields, tt.wantField)
				}
			}
			before := c.Status
			if wf.Transition(c, tt.to, tt.role, s, now) == nil || c.Status != before {
				t.Error("Transition changed the status despite the refusal")
			}
		})
	}
}

func TestWorkflowAllowed(t *testing.T) {
	now := time.Date(2025, 6, 15, 10, 0, 0, 0, time.UTC)
	s := loadForms(t)["personalausweis"]
	c, _ := s.NewCase(now)
	c.Status = "in_bearbeitung"
	c.Aktenzeichen = "PA-2025-77"
	c.Applicant.FamilyName = "Müller"
	got := s.Workflow.Allowed(c, "buergerbuero", s, now)
	type row struct {
		to      string
		enabled bool
	}
	want := []row{{"rueckfrage", false}, {"zurueckgestellt", false}, {"entscheidung", false}}
	if len(got) != len(want) {
		t.Fatalf("Allowed = %+v", got)
	}
	for i, w := range want {
		if got[i].To != w.to || got[i].Enabled != w.enabled {
			t.Errorf("[%d] = %s enabled=%v, want %v", i, got[i].To, got[i].Enabled, w)
		}
		if !got[i].Enabled && (got[i].Reason.De == "" || got[i].Err == nil) {
			t.Errorf("[%d] disabled without reason", i)
		}
	}
	if !strings.Contains(got[0].Reason.De, "Wiedervorlage") || !strings.Contains(got[1].Reason.De, "darf nur die Rolle sachbearbeitung") {
		t.Errorf("reasons: %q / %q", got[0].Reason.De, got[1].Reason.De)
	}
	if got[0].Label.De != "Rückfrage stellen" {
		t.Errorf("label %q", got[0].Label.De)
	}
	c.DueDate = "2025-07-01"
	if got := s.Workflow.Allowed(c, "sachbearbeitung", s, now); !got[0].Enabled || !got[1].Enabled || got[2].Enabled {
		t.Errorf("with due date, as Sachbearbeitung: %+v", got)
	}
	// The ID card's own states: ordered, ready, handed over.
	c.Status = "bestellt"
	if got := s.Workflow.Allowed(c, "buergerbuero", s, now); len(got) != 1 || got[0].To != "abholbereit" || !got[0].Enabled {
		t.Errorf("from bestellt: %+v", got)
	}
}
