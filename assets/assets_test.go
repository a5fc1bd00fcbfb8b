package assets_test

import (
	"slices"
	"testing"

	"fieldoffice/assets"
	"fieldoffice/cases"
)

func TestFormsParse(t *testing.T) {
	forms, err := assets.Forms()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"anmeldung", "bewohnerparkausweis", "gewerbeanmeldung", "personalausweis"}
	var got []string
	for id, b := range forms {
		got = append(got, id)
		s, err := cases.ParseSchema(b)
		if err != nil {
			t.Errorf("%s: %v", id, err)
			continue
		}
		if s.Service != id {
			t.Errorf("%s.json declares service %q", id, s.Service)
		}
		if s.Workflow == nil {
			t.Errorf("%s: no workflow", id)
		}
		if len(s.SearchableKeys()) == 0 {
			t.Errorf("%s: no searchable fields", id)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("forms = %v, want %v", got, want)
	}
	if _, err := assets.Form("anmeldung"); err != nil {
		t.Error(err)
	}
	if _, err := assets.Form("gibtsnicht"); err == nil {
		t.Error("Form of an unknown service did not fail")
	}
}
