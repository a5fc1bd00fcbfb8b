package storage

import (
	"encoding/json"
	"testing"
	"time"

	"fieldoffice/cases"
)

func TestSummaryCodec(t *testing.T) {
	full := cases.Summary{
		ID: "0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b", Aktenzeichen: "MB-2026-000123", Applicant: "Weiß, Jürgen",
		Service: "anmeldung", Status: "in_bearbeitung", Assignee: "anna", DueDate: "2026-12-15",
		Updated: time.Date(2026, 11, 30, 14, 0, 0, 123, time.UTC), Flags: cases.FlagUnsynced | cases.FlagConflict,
	}
	for name, s := range map[string]cases.Summary{"full": full, "empty": {ID: full.ID}} {
		var got cases.Summary
		if err := decodeSummary(encodeSummary(s), &got); err != nil || got != s {
			t.Errorf("%s: round trip = %+v, %v", name, got, err)
		}
	}
	// Summaries written as JSON by earlier builds still decode.
	legacy, _ := json.Marshal(full)
	var got cases.Summary
	if err := decodeSummary(legacy, &got); err != nil || !got.Updated.Equal(full.Updated) || got.Applicant != full.Applicant {
		t.Errorf("legacy JSON = %+v, %v", got, err)
	}
	enc := encodeSummary(full)
	for name, b := range map[string][]byte{
		"empty":     nil,
		"codec":     append([]byte{0x7f}, enc[1:]...),
		"truncated": enc[:len(enc)-1],
		"trailing":  append(enc[:len(enc):len(enc)], 0),
		"long len":  {summaryCodec, 0xff, 0xff, 0x03},
	} {
		if err := decodeSummary(b, &got); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}
