package cases

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// The JSON of a case is stored and sent as is: its keys must not change by accident.
func TestCaseJSONStable(t *testing.T) {
	c := baseCase()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"id"`, `"service"`, `"aktenzeichen"`, `"applicant"`, `"family_name"`, `"given_names"`, `"house_number"`,
		`"postcode"`, `"values"`, `"status"`, `"assignee"`, `"due_date"`, `"notes"`, `"attachments"`, `"sha256"`, `"media_type"`,
		`"revision"`, `"created"`, `"updated"`, `"neue_wohnung.plz"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s: %s", key, b)
		}
	}
	var back Case
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, c) {
		t.Errorf("round trip:\n%+v\n%+v", back, *c)
	}
	s, _ := json.Marshal(c.Summary())
	if want := `{"id":"0197a0b2-0000-7000-8000-000000000001","aktenzeichen":"MB-2025-1","applicant":"Schäfer, Anna","service":"anmeldung","status":"in_bearbeitung","assignee":"k.mueller","due_date":"2025-06-30","updated":"2025-06-01T09:00:00Z","flags":12}`; string(s) != want {
		t.Errorf("summary JSON\n%s\nwant\n%s", s, want)
	}
}

// A parsed schema marshals back to JSON that parses to the same schema.
func TestSchemaRoundTrip(t *testing.T) {
	s := mustSchema(t, testSchema)
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := ParseSchema(b)
	if err != nil {
		t.Fatalf("re-parse: %v\n%s", err, b)
	}
	b2, _ := json.Marshal(s2)
	if string(b) != string(b2) {
		t.Errorf("not stable:\n%s\n%s", b, b2)
	}
}
