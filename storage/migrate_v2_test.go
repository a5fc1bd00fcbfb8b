package storage

import (
	"path/filepath"
	"testing"
	"time"

	"fieldoffice/assets"
	"fieldoffice/cases"
	"fieldoffice/platform"
)

// TestMigrateV1 opens the format-1 vault in testdata/v1 (three cases.Record values)
// and checks that Unlock migrates it to the case repository.
func TestMigrateV1(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, filepath.Join("testdata", "v1", FileName), filepath.Join(dir, FileName))
	cfg := Config{Dir: dir, Spec: platform.Spec{Kind: platform.KindNone}, KDF: testKDF, LockTimeout: time.Second}
	v := MustOpen(t, cfg)
	if st := v.Status(); st.FormatVersion != 1 {
		t.Fatalf("testdata vault at format %d", st.FormatVersion)
	}
	v.SetForms(assets.Schemas{})
	if err := v.Unlock("anna", []byte("123456")); err != nil {
		t.Fatal(err)
	}
	if st := v.Status(); st.FormatVersion != FormatVersion() { // through every step
		t.Fatalf("after Unlock: format %d", st.FormatVersion)
	}
	t0 := time.Date(2025, 3, 3, 9, 15, 0, 0, time.UTC)
	for _, tc := range []struct {
		id, service, family, given, city string
		created, updated                 time.Time
		value, want                      string
	}{
		{"01955c3a-2b00-7000-8000-000000000001", "anmeldung", "Müller", "Jürgen", "Berlin", t0, t0, "einzugsdatum", "2025-02-15"},
		{"01955c3a-2b00-7000-8000-000000000002", "gewerbeanmeldung", "Weiß", "Zoë", "München", t0.Add(time.Hour), t0.Add(2 * time.Hour), "betriebsbezeichnung", "Weiß Bäckerei GmbH"},
		{"01955c3a-2b00-7000-8000-000000000003", "personalausweis", "Großmann", "Öznur", "Köln", t0.Add(3 * time.Hour), t0.Add(3 * time.Hour), "augenfarbe", "braun"},
	} {
		c, err := v.Case(tc.id)
		if err != nil {
			t.Fatal(err)
		}
		if c.Service != tc.service || c.Status != "eingegangen" || c.Applicant.FamilyName != tc.family || c.Applicant.GivenNames != tc.given ||
			c.Applicant.Address.City != tc.city || !c.Created.Equal(tc.created) || !c.Updated.Equal(tc.updated) || c.Values[tc.value] != tc.want {
			t.Errorf("migrated case %+v", c)
		}
		got, err := v.Search(tc.family+" "+tc.given, 0)
		if err != nil || len(got) != 1 || got[0].ID != tc.id {
			t.Errorf("Search(%s %s): %v %v", tc.family, tc.given, got, err)
		}
	}
	list, err := v.Cases(CaseQuery{Sort: "applicant"})
	if err != nil || len(list) != 3 || list[0].Applicant != "Großmann, Öznur" || list[0].Flags != cases.FlagUnsynced {
		t.Fatalf("Cases: %+v %v", list, err)
	}
	rep, err := v.AuditVerify()
	entries, _ := v.AuditEntries()
	if err != nil || rep.Entries != 1 || entries[0].Op != AuditMigrate || entries[0].User != "anna" {
		t.Fatalf("audit: %+v %v %+v", rep, err, entries)
	}
	if ob, _ := v.Outbox(); len(ob) != 3 || ob[0].Kind != OpCreate || ob[0].User != "anna" {
		t.Fatalf("outbox after migration: %+v", ob)
	}
	// The migrated vault works as any other and reopens at format 2.
	if _, err := v.SetFields(list[0].ID, map[string]string{"assignee": "m.schulz"}); err != nil {
		t.Fatal(err)
	}
	mustClose(t, v)
	v = MustOpen(t, cfg)
	if err := v.Unlock("anna", []byte("123456")); err != nil {
		t.Fatal(err)
	}
	if rep, err := v.AuditVerify(); err != nil || rep.Entries != 2 {
		t.Fatalf("audit after reopen: %+v %v", rep, err)
	}
	if got, err := v.Search("grossmann", 0); err != nil || len(got) != 1 || got[0].Assignee != "m.schulz" {
		t.Fatalf("Search after reopen: %+v %v", got, err)
	}
}
