package cases

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"
)

var (
	t0 = time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)
	n1 = Note{ID: "n1", Author: "k.mueller", Text: "Wohnungsgeberbestätigung angefordert", Created: t0}
	n2 = Note{ID: "n2", Author: "s.yilmaz", Text: "Rückruf vereinbart", Created: t0.Add(time.Hour)}
	n3 = Note{ID: "n3", Author: "portal", Text: "Unterlagen nachgereicht", Created: t0.Add(2 * time.Hour)}
	a1 = AttachmentRef{SHA256: "aa" + sha[2:], Name: "mietvertrag.pdf", MediaType: "application/pdf", Size: 1200, Added: t0}
	a2 = AttachmentRef{SHA256: "bb" + sha[2:], Name: "foto.jpg", MediaType: "image/jpeg", Size: 88000, Added: t0.Add(time.Minute)}
	a3 = AttachmentRef{SHA256: "cc" + sha[2:], Name: "scan.pdf", MediaType: "application/pdf", Size: 5000, Added: t0.Add(2 * time.Minute)}
)

func baseCase() *Case {
	return &Case{
		ID: "0197a0b2-0000-7000-8000-000000000001", Service: "anmeldung", Aktenzeichen: "MB-2025-1",
		Applicant: Applicant{FamilyName: "Schäfer", GivenNames: "Anna", Address: Address{Street: "Lindenstraße", HouseNumber: "14", Postcode: "10969", City: "Berlin"}},
		Values:    Values{"familienname": "Schäfer", "vornamen": "Anna", "neue_wohnung.plz": "10969", "religion": "rk"},
		Status:    "in_bearbeitung", Assignee: "k.mueller", DueDate: "2025-06-30",
		Notes: []Note{n1, n2}, Attachments: []AttachmentRef{a1, a2}, Revision: 7, Created: t0, Updated: t0,
	}
}

func TestDiffApply(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*Case)
		fields []string
	}{
		{"nothing", func(*Case) {}, nil},
		{"value", func(c *Case) { c.Values["neue_wohnung.plz"] = "10961" }, []string{"values.neue_wohnung.plz"}},
		{"value added", func(c *Case) { c.Values["email"] = "a@b.de" }, []string{"values.email"}},
		{"value deleted", func(c *Case) { delete(c.Values, "religion") }, []string{"values.religion"}},
		{"value emptied is deletion", func(c *Case) { c.Values["religion"] = "" }, []string{"values.religion"}},
		{"attributes", func(c *Case) {
			c.Status = "rueckfrage"
			c.DueDate = ""
			c.Assignee = "s.yilmaz"
			c.Applicant.Address.Postcode = "10961"
			c.Applicant.BirthName = "Weber"
		}, []string{"status", "assignee", "due_date", "applicant.birth_name", "applicant.address.postcode"}},
		{"note added", func(c *Case) { c.Notes = append(c.Notes, n3) }, []string{"notes.n3"}},
		{"note edited", func(c *Case) { c.Notes[0].Text = "erledigt" }, []string{"notes.n1"}},
		{"note deleted", func(c *Case) { c.Notes = c.Notes[1:] }, []string{"notes.n1"}},
		{"attachment swapped", func(c *Case) { c.Attachments = []AttachmentRef{a1, a3} }, []string{"attachments." + a2.SHA256, "attachments." + a3.SHA256}},
		{"timestamps and revision ignored", func(c *Case) { c.Updated = t0.Add(time.Hour); c.Revision = 8 }, nil},
		{"same instant other zone", func(c *Case) { c.Notes[0].Created = c.Notes[0].Created.In(time.FixedZone("CEST", 7200)) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, nw := baseCase(), baseCase()
			tt.edit(nw)
			p := Diff(old, nw)
			if got := p.Fields(); !slices.Equal(got, tt.fields) && len(got)+len(tt.fields) > 0 {
				t.Fatalf("Diff fields = %v, want %v", got, tt.fields)
			}
			c := baseCase()
			if err := p.Apply(c); err != nil {
				t.Fatal(err)
			}
			if d := Diff(c, nw); len(d) != 0 {
				t.Errorf("after Apply, still differs: %+v", d)
			}
			// Replaying is harmless.
			if err := p.Apply(c); err != nil {
				t.Errorf("replay: %v", err)
			}
		})
	}
}

func TestApplyMismatch(t *testing.T) {
	c := baseCase()
	p := Patch{
		{Field: "status", Old: "in_bearbeitung", New: "rueckfrage"},
		{Field: "values.neue_wohnung.plz", Old: "10115", New: "10961"}, // stale
	}
	err := p.Apply(c)
	var me *MismatchError
	if !errors.As(err, &me) || me.Field != "values.neue_wohnung.plz" || me.Got != "10969" || me.Want != "10115" {
		t.Fatalf("Apply = %v", err)
	}
	if c.Status != "in_bearbeitung" {
		t.Error("a failed patch changed the case")
	}
	for _, p := range []Patch{
		{{Field: "revision", Old: "7", New: "8"}},
		{{Field: "values", Old: "", New: "x"}},
		{{Field: "status", Old: "in_bearbeitung", New: "a"}, {Field: "status", Old: "in_bearbeitung", New: "b"}},
		{{Field: "due_date", Old: "2025-06-30", New: "30.07.2025"}},
		{{Field: "notes.n9", Old: "", New: `{"id": "n8"}`}},
		{{Field: "attachments.x", Old: "", New: `nope`}},
		{{Field: "values.bad key", Old: "", New: "x"}},
	} {
		c := baseCase()
		if err := p.Apply(c); err == nil {
			t.Errorf("Apply(%v) accepted", p)
		} else if !reflect.DeepEqual(c, baseCase()) {
			t.Errorf("Apply(%v) failed but changed the case", p)
		}
	}
}

func TestMerge(t *testing.T) {
	type edit func(*Case)
	tests := []struct {
		name        string
		mine, their edit
		want        edit     // applied to base to get the expected merged case
		conflicts   []string // fields
	}{
		{"different fields",
			func(c *Case) { c.Values["neue_wohnung.plz"] = "10961" },
			func(c *Case) { c.Status = "rueckfrage"; c.DueDate = "2025-07-15" },
			func(c *Case) {
				c.Values["neue_wohnung.plz"] = "10961"
				c.Status = "rueckfrage"
				c.DueDate = "2025-07-15"
			}, nil},
		{"same field same value",
			func(c *Case) { c.Assignee = "s.yilmaz" },
			func(c *Case) { c.Assignee = "s.yilmaz" },
			func(c *Case) { c.Assignee = "s.yilmaz" }, nil},
		{"same field different values keeps theirs",
			func(c *Case) { c.Values["vornamen"] = "Anna Luise"; c.Values["email"] = "a@b.de" },
			func(c *Case) { c.Values["vornamen"] = "Anna-Luise" },
			func(c *Case) { c.Values["vornamen"] = "Anna-Luise"; c.Values["email"] = "a@b.de" }, []string{"values.vornamen"}},
		{"deleted mine, unchanged theirs",
			func(c *Case) { delete(c.Values, "religion") },
			func(c *Case) { c.Status = "entscheidung" },
			func(c *Case) { delete(c.Values, "religion"); c.Status = "entscheidung" }, nil},
		{"deleted theirs, unchanged mine",
			func(c *Case) { c.Assignee = "x" },
			func(c *Case) { delete(c.Values, "religion"); c.DueDate = "" },
			func(c *Case) { delete(c.Values, "religion"); c.DueDate = ""; c.Assignee = "x" }, nil},
		{"deleted mine, changed theirs",
			func(c *Case) { delete(c.Values, "religion") },
			func(c *Case) { c.Values["religion"] = "ev" },
			func(c *Case) { c.Values["religion"] = "ev" }, []string{"values.religion"}},
		{"deleted both",
			func(c *Case) { delete(c.Values, "religion") },
			func(c *Case) { delete(c.Values, "religion") },
			func(c *Case) { delete(c.Values, "religion") }, nil},
		{"notes added on both sides",
			func(c *Case) { c.Notes = append(c.Notes, n3) },
			func(c *Case) {
				c.Notes = append(c.Notes, Note{ID: "n4", Author: "portal", Text: "Bescheid versandt", Created: t0.Add(-time.Hour)})
			},
			func(c *Case) {
				c.Notes = []Note{{ID: "n4", Author: "portal", Text: "Bescheid versandt", Created: t0.Add(-time.Hour)}, n1, n2, n3}
			}, nil},
		{"note deleted mine, untouched theirs",
			func(c *Case) { c.Notes = []Note{n2} },
			func(c *Case) { c.Notes = append(c.Notes, n3) },
			func(c *Case) { c.Notes = []Note{n2, n3} }, nil},
		{"note deleted theirs, edited mine",
			func(c *Case) { c.Notes[0].Text = "ergänzt" },
			func(c *Case) { c.Notes = []Note{n2} },
			func(c *Case) { c.Notes = []Note{n2} }, []string{"notes.n1"}},
		{"note edited both differently",
			func(c *Case) { c.Notes[1].Text = "Rückruf am Montag" },
			func(c *Case) { c.Notes[1].Text = "Rückruf am Dienstag" },
			func(c *Case) { c.Notes[1].Text = "Rückruf am Dienstag" }, []string{"notes.n2"}},
		{"attachments: add mine, delete theirs",
			func(c *Case) { c.Attachments = append(c.Attachments, a3) },
			func(c *Case) { c.Attachments = []AttachmentRef{a2} },
			func(c *Case) { c.Attachments = []AttachmentRef{a2, a3} }, nil},
		{"attachments: both delete the same, both add the same",
			func(c *Case) { c.Attachments = []AttachmentRef{a2, a3} },
			func(c *Case) { c.Attachments = []AttachmentRef{a3, a2} },
			func(c *Case) { c.Attachments = []AttachmentRef{a2, a3} }, nil},
		{"applicant parts merge",
			func(c *Case) { c.Applicant.Address.Street = "Oranienstraße"; c.Applicant.Address.HouseNumber = "2" },
			func(c *Case) { c.Applicant.Address.Postcode = "10999"; c.Applicant.Address.HouseNumber = "2a" },
			func(c *Case) {
				c.Applicant.Address.Street = "Oranienstraße"
				c.Applicant.Address.HouseNumber = "2a"
				c.Applicant.Address.Postcode = "10999"
			}, []string{"applicant.address.house_number"}},
		{"status conflict",
			func(c *Case) { c.Status = "rueckfrage" },
			func(c *Case) { c.Status = "zurueckgestellt" },
			func(c *Case) { c.Status = "zurueckgestellt" }, []string{"status"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, mine, theirs := baseCase(), baseCase(), baseCase()
			tt.mine(mine)
			mine.Updated = t0.Add(3 * time.Hour)
			tt.their(theirs)
			theirs.Revision = 9
			theirs.Updated = t0.Add(time.Hour)
			merged, conflicts := Merge(base, mine, theirs)
			want := baseCase()
			tt.want(want)
			if d := Diff(want, merged); len(d) != 0 {
				t.Errorf("merged differs from want: %+v", d)
			}
			if merged.Revision != 9 || !merged.Updated.Equal(mine.Updated) {
				t.Errorf("revision %d, updated %v", merged.Revision, merged.Updated)
			}
			var got []string
			for _, c := range conflicts {
				got = append(got, c.Field)
				mv, _ := mine.Get(c.Field)
				tv, _ := theirs.Get(c.Field)
				bv, _ := base.Get(c.Field)
				if c.Mine != mv || c.Theirs != tv || c.Base != bv {
					t.Errorf("conflict %+v: want mine %q theirs %q base %q", c, mv, tv, bv)
				}
				// Resolving with mine turns the merged case into mine for that field.
				r := merged.Clone()
				if err := (Patch{c.Resolve(c.Mine)}).Apply(r); err != nil {
					t.Errorf("resolve %s: %v", c.Field, err)
				} else if v, _ := r.Get(c.Field); v != mv {
					t.Errorf("resolved %s = %q", c.Field, v)
				}
			}
			if !slices.Equal(got, tt.conflicts) {
				t.Errorf("conflicts = %v, want %v", got, tt.conflicts)
			}
			// Merge must not alter its inputs.
			if !reflect.DeepEqual(base, baseCase()) {
				t.Error("Merge changed base")
			}
		})
	}
}

func TestMergeNilBase(t *testing.T) {
	mine, theirs := baseCase(), baseCase()
	mine.Values["email"] = "a@b.de"
	merged, conflicts := Merge(nil, mine, theirs)
	if len(conflicts) != 0 || merged.Values["email"] != "a@b.de" {
		t.Errorf("conflicts %v, merged %v", conflicts, merged.Values)
	}
}

func TestCaseHelpers(t *testing.T) {
	c, err := NewCase("anmeldung", t0)
	if err != nil || !ValidID(c.ID) || c.Values == nil {
		t.Fatalf("NewCase = %+v, %v", c, err)
	}
	if _, err := NewCase("Bad Type", t0); err == nil {
		t.Error("NewCase accepted a bad service")
	}
	b := baseCase()
	s := b.Summary()
	if s.Applicant != "Schäfer, Anna" || s.Flags != FlagAttachments|FlagNotes || s.DueDate != "2025-06-30" || s.Aktenzeichen != "MB-2025-1" {
		t.Errorf("Summary = %+v", s)
	}
	if s.Overdue(time.Date(2025, 6, 30, 23, 0, 0, 0, time.UTC)) || !s.Overdue(time.Date(2025, 7, 1, 0, 30, 0, 0, time.UTC)) {
		t.Error("Overdue")
	}
	if got := b.Applicant.Address.String(); got != "Lindenstraße 14, 10969 Berlin" {
		t.Errorf("Address = %q", got)
	}
	if got := (Applicant{Organisation: "Radwerk Süd GmbH"}).DisplayName(); got != "Radwerk Süd GmbH" {
		t.Errorf("DisplayName = %q", got)
	}
	cl := b.Clone()
	cl.Values["x"] = "y"
	cl.Notes[0].Text = "z"
	if b.Values["x"] != "" || b.Notes[0].Text == "z" {
		t.Error("Clone shares state")
	}
	v := Values{"d": "01.02.2025", "n": "1,5", "c": "true", "m": "a, b"}
	if d, ok := v.Date("d"); !ok || ISODate(d) != "2025-02-01" {
		t.Error("Values.Date")
	}
	if n, ok := v.Number("n"); !ok || n != 1.5 {
		t.Error("Values.Number")
	}
	if !v.Bool("c") || v.Bool("x") || !slices.Equal(v.List("m"), []string{"a", "b"}) {
		t.Error("Values.Bool/List")
	}
}
