package cases

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Case is a Vorgang: one application (Antrag) of one service type, with its form values,
// its place in the workflow and everything a caseworker attached to it.
//
// The JSON form is stable; storage and the portal exchange it as is. Form values are
// plain strings in Values, keyed by the schema's field names (see Schema for the
// stored format per field type). An empty string and a missing key mean the same: no
// value.
type Case struct {
	ID           string    `json:"id"`                 // UUIDv7, time-ordered, assigned once
	Service      string    `json:"service"`            // service type ID, e.g. "anmeldung"
	Aktenzeichen string    `json:"aktenzeichen"`       // reference number, e.g. "MA-2025-000123"; may be empty until the portal assigns one
	Applicant    Applicant `json:"applicant"`          // Antragsteller/in
	Values       Values    `json:"values"`             // form values by field name
	Status       string    `json:"status"`             // workflow state ID, e.g. "eingegangen"
	Assignee     string    `json:"assignee,omitempty"` // Sachbearbeiter/in (user or team ID), empty when unassigned
	// DueDate is the Wiedervorlage (follow-up date) as an ISO date "YYYY-MM-DD", or "".
	DueDate     string          `json:"due_date,omitempty"`
	Notes       []Note          `json:"notes,omitempty"`       // Vermerke, oldest first
	Attachments []AttachmentRef `json:"attachments,omitempty"` // Anlagen, oldest first
	Revision    int64           `json:"revision"`              // the portal's revision of this case; 0 if never synced
	Created     time.Time       `json:"created"`               // local creation time (UTC)
	Updated     time.Time       `json:"updated"`               // local time of the last change (UTC)
}

// Values are form values by field name. All values are strings in a canonical stored
// form: dates "YYYY-MM-DD", numbers with a decimal point, checkboxes "true"/"false",
// multi-selects comma-separated option values, files and signatures SHA-256 hex
// digests (files: comma-separated) of attachments. A postal-address field "x" is stored
// as parts "x.strasse", "x.hausnummer", "x.plz", "x.ort" and optionally "x.zusatz" and
// "x.staat".
type Values map[string]string

// Bool reports whether the checkbox value of field is "true".
func (v Values) Bool(field string) bool { return v[field] == "true" }

// Date returns the date value of field; ok is false when it is empty or not a date.
func (v Values) Date(field string) (d time.Time, ok bool) {
	d, err := ParseDate(v[field])
	return d, err == nil
}

// Number returns the numeric value of field (decimal comma or point); ok is false when
// it is empty or not a number.
func (v Values) Number(field string) (n float64, ok bool) {
	n, err := parseNumber(v[field])
	return n, err == nil
}

// List returns the comma-separated values of a multi-select or file field.
func (v Values) List(field string) []string { return splitList(v[field]) }

// Applicant is the person (or business) who applied.
type Applicant struct {
	FamilyName   string  `json:"family_name,omitempty"`  // Familienname
	GivenNames   string  `json:"given_names,omitempty"`  // Vornamen
	BirthName    string  `json:"birth_name,omitempty"`   // Geburtsname
	Organisation string  `json:"organisation,omitempty"` // Firma / Organisation, when a business applies
	Address      Address `json:"address"`                // postal address
}

// DisplayName is the name as a list shows it: "Familienname, Vornamen", else the
// organisation, else "".
func (a Applicant) DisplayName() string {
	switch {
	case a.FamilyName != "" && a.GivenNames != "":
		return a.FamilyName + ", " + a.GivenNames
	case a.FamilyName != "":
		return a.FamilyName
	case a.Organisation != "":
		return a.Organisation
	default:
		return a.GivenNames
	}
}

// Address is a postal address (Straße Hausnummer, PLZ Ort).
type Address struct {
	Street      string `json:"street,omitempty"`       // Straße
	HouseNumber string `json:"house_number,omitempty"` // Hausnummer, e.g. "12a"
	Addition    string `json:"addition,omitempty"`     // Adresszusatz, e.g. "bei Müller", "3. OG links"
	Postcode    string `json:"postcode,omitempty"`     // PLZ
	City        string `json:"city,omitempty"`         // Ort
	Country     string `json:"country,omitempty"`      // ISO 3166 alpha-2; empty means DE
}

// String formats the address in the German way: "Straße Hausnummer, PLZ Ort".
func (a Address) String() string {
	line1 := strings.TrimSpace(a.Street + " " + a.HouseNumber)
	line2 := strings.TrimSpace(a.Postcode + " " + a.City)
	if a.Country != "" && a.Country != "DE" {
		line2 = strings.TrimSpace(line2 + ", " + a.Country)
	}
	switch {
	case line1 == "":
		return line2
	case line2 == "":
		return line1
	}
	return line1 + ", " + line2
}

// Note is a Vermerk on a case.
type Note struct {
	ID      string    `json:"id"`      // UUID, unique within the case
	Author  string    `json:"author"`  // user ID of the author
	Text    string    `json:"text"`    // the note
	Created time.Time `json:"created"` // when it was written
}

// AttachmentRef names an Anlage. The content lives in the blob store under its SHA-256.
type AttachmentRef struct {
	SHA256    string    `json:"sha256"`     // lower-case hex of the content's SHA-256; identifies the attachment within the case
	Name      string    `json:"name"`       // file name as the user sees it
	MediaType string    `json:"media_type"` // e.g. "image/jpeg", "application/pdf"
	Size      int64     `json:"size"`       // bytes
	Added     time.Time `json:"added"`      // when it was attached
}

// NewCase returns an empty case of the given service type with a fresh UUIDv7, status
// unset (use Schema.NewCase to start it in the workflow's initial state).
func NewCase(service string, now time.Time) (*Case, error) {
	if !typeRe.MatchString(service) {
		return nil, fmt.Errorf("invalid service type %q: use lower-case letters, digits, '-' and '_'", service)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("new case ID: %w", err)
	}
	now = now.UTC()
	return &Case{ID: id.String(), Service: service, Values: Values{}, Created: now, Updated: now}, nil
}

// NewNote returns a note with a fresh ID.
func NewNote(author, text string, now time.Time) Note {
	return Note{ID: uuid.Must(uuid.NewV7()).String(), Author: author, Text: text, Created: now.UTC()}
}

// Clone returns a deep copy of c.
func (c *Case) Clone() *Case {
	if c == nil {
		return nil
	}
	d := *c
	d.Values = maps.Clone(c.Values)
	if d.Values == nil {
		d.Values = Values{}
	}
	d.Notes = slices.Clone(c.Notes)
	d.Attachments = slices.Clone(c.Attachments)
	return &d
}

// Note returns the note with the given ID.
func (c *Case) Note(id string) (Note, bool) {
	for _, n := range c.Notes {
		if n.ID == id {
			return n, true
		}
	}
	return Note{}, false
}

// Attachment returns the attachment with the given SHA-256.
func (c *Case) Attachment(sha string) (AttachmentRef, bool) {
	for _, a := range c.Attachments {
		if a.SHA256 == sha {
			return a, true
		}
	}
	return AttachmentRef{}, false
}

// Flags mark a Summary for the case list. Storage adds FlagUnsynced and FlagConflict,
// which a Case itself does not know.
type Flags uint8

// The flags of a Summary.
const (
	FlagUnsynced    Flags = 1 << iota // local changes not yet accepted by the portal
	FlagConflict                      // a merge left conflicts for the user to resolve
	FlagAttachments                   // the case has Anlagen
	FlagNotes                         // the case has Vermerke
)

// Summary is what the case list shows of a case: small, so a list of 100,000 decodes
// fast and never needs the whole case.
type Summary struct {
	ID           string    `json:"id"`
	Aktenzeichen string    `json:"aktenzeichen,omitempty"`
	Applicant    string    `json:"applicant,omitempty"` // Applicant.DisplayName()
	Service      string    `json:"service"`
	Status       string    `json:"status"`
	Assignee     string    `json:"assignee,omitempty"`
	DueDate      string    `json:"due_date,omitempty"` // ISO date or ""
	Updated      time.Time `json:"updated"`
	Flags        Flags     `json:"flags,omitempty"`
}

// Summary returns the list view of c. Only the content flags are set.
func (c *Case) Summary() Summary {
	s := Summary{
		ID: c.ID, Aktenzeichen: c.Aktenzeichen, Applicant: c.Applicant.DisplayName(),
		Service: c.Service, Status: c.Status, Assignee: c.Assignee, DueDate: c.DueDate, Updated: c.Updated,
	}
	if len(c.Attachments) > 0 {
		s.Flags |= FlagAttachments
	}
	if len(c.Notes) > 0 {
		s.Flags |= FlagNotes
	}
	return s
}

// Overdue reports whether the Wiedervorlage is set and before today (in now's location).
func (s Summary) Overdue(now time.Time) bool {
	d, err := ParseDate(s.DueDate)
	if s.DueDate == "" || err != nil {
		return false
	}
	return d.Before(today(now))
}
