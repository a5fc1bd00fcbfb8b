package assets

import (
	"strings"
	"testing"
)

func TestSchemasRegistry(t *testing.T) {
	var r Schemas
	ids, err := r.Services()
	if err != nil {
		t.Fatal(err)
	}
	want := "anmeldung bewohnerparkausweis gewerbeanmeldung personalausweis"
	if got := strings.Join(ids, " "); got != want {
		t.Fatalf("Services() = %q, want %q", got, want)
	}
	for _, id := range ids {
		s, err := r.Schema(id)
		if err != nil || s.Service != id || s.Workflow == nil {
			t.Errorf("Schema(%q) = %v, %v", id, s, err)
		}
	}
	if _, err := r.Schema("hundesteuer"); err == nil || !strings.Contains(err.Error(), "anmeldung") {
		t.Errorf("unknown service: %v", err)
	}
}
