package cases

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Field paths name what a FieldChange changes:
//
//	aktenzeichen, status, assignee, due_date
//	applicant.family_name, applicant.given_names, applicant.birth_name, applicant.organisation
//	applicant.address.street, .house_number, .addition, .postcode, .city, .country
//	values.KEY            a form value (KEY as in Values, e.g. "values.neue_wohnung.plz")
//	notes.ID              a Vermerk; the value is the note as JSON
//	attachments.SHA256    an Anlage reference; the value is the AttachmentRef as JSON
//
// The empty string means "absent": a change with Old "" adds, one with New "" removes
// (a form value, a note, an attachment) or clears (an attribute). ID, Service, Revision
// and the timestamps are not patchable.
var attrPaths = []string{
	"aktenzeichen", "status", "assignee", "due_date",
	"applicant.family_name", "applicant.given_names", "applicant.birth_name", "applicant.organisation",
	"applicant.address.street", "applicant.address.house_number", "applicant.address.addition",
	"applicant.address.postcode", "applicant.address.city", "applicant.address.country",
}

// FieldChange is one field's change: from Old to New. See attrPaths for the field paths.
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// Patch is a list of field changes, at most one per field. It is what goes into the
// outbox and to the portal: the portal applies it per field, compare-and-set.
type Patch []FieldChange

// Fields returns the field paths the patch touches (for the audit trail: names, not values).
func (p Patch) Fields() []string {
	out := make([]string, len(p))
	for i, ch := range p {
		out[i] = ch.Field
	}
	return out
}

// MismatchError is returned by Apply when a field's current value is not the change's Old.
type MismatchError struct {
	Field     string
	Want, Got string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("cases: patch does not apply: field %s changed meanwhile", e.Field)
}

// Diff returns the changes that turn old into new, in a stable order: attributes, then
// form values, notes and attachments by key. A nil case counts as empty.
func Diff(old, new *Case) Patch {
	if old == nil {
		old = &Case{}
	}
	if new == nil {
		new = &Case{}
	}
	var p Patch
	for _, f := range attrPaths {
		a, _ := old.Get(f)
		b, _ := new.Get(f)
		if a != b {
			p = append(p, FieldChange{Field: f, Old: a, New: b})
		}
	}
	diffMaps := func(prefix string, a, b map[string]string) {
		keys := slices.Sorted(maps.Keys(a))
		for k := range b {
			if _, ok := a[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range slices.Compact(keys) {
			if a[k] != b[k] {
				p = append(p, FieldChange{Field: prefix + k, Old: a[k], New: b[k]})
			}
		}
	}
	diffMaps("values.", nonEmpty(old.Values), nonEmpty(new.Values))
	diffMaps("notes.", noteMap(old.Notes), noteMap(new.Notes))
	diffMaps("attachments.", attachmentMap(old.Attachments), attachmentMap(new.Attachments))
	return p
}

func nonEmpty(v Values) map[string]string {
	m := make(map[string]string, len(v))
	for k, x := range v {
		if x != "" {
			m[k] = x
		}
	}
	return m
}

func noteMap(ns []Note) map[string]string {
	m := make(map[string]string, len(ns))
	for _, n := range ns {
		m[n.ID] = encodeNote(n)
	}
	return m
}

func attachmentMap(as []AttachmentRef) map[string]string {
	m := make(map[string]string, len(as))
	for _, a := range as {
		m[a.SHA256] = encodeAttachment(a)
	}
	return m
}

// The JSON of list items is the value of their field path; times in UTC so that the
// same instant always encodes the same.
func encodeNote(n Note) string {
	n.Created = n.Created.UTC()
	b, _ := json.Marshal(n)
	return string(b)
}

func encodeAttachment(a AttachmentRef) string {
	a.Added = a.Added.UTC()
	b, _ := json.Marshal(a)
	return string(b)
}

// ErrUnknownField is returned (wrapped) for a field path that names nothing patchable.
var ErrUnknownField = errors.New("unknown field path")

// Get returns the value at a field path ("" when absent).
func (c *Case) Get(path string) (string, error) {
	switch path {
	case "aktenzeichen":
		return c.Aktenzeichen, nil
	case "status":
		return c.Status, nil
	case "assignee":
		return c.Assignee, nil
	case "due_date":
		return c.DueDate, nil
	}
	if p := c.attr(path); p != nil {
		return *p, nil
	}
	head, key, _ := strings.Cut(path, ".")
	if key == "" {
		return "", fmt.Errorf("cases: %w %q", ErrUnknownField, path)
	}
	switch head {
	case "values":
		return c.Values[key], nil
	case "notes":
		if n, ok := c.Note(key); ok {
			return encodeNote(n), nil
		}
		return "", nil
	case "attachments":
		if a, ok := c.Attachment(key); ok {
			return encodeAttachment(a), nil
		}
		return "", nil
	}
	return "", fmt.Errorf("cases: %w %q", ErrUnknownField, path)
}

func (c *Case) attr(path string) *string {
	a := &c.Applicant
	switch path {
	case "aktenzeichen":
		return &c.Aktenzeichen
	case "status":
		return &c.Status
	case "assignee":
		return &c.Assignee
	case "due_date":
		return &c.DueDate
	case "applicant.family_name":
		return &a.FamilyName
	case "applicant.given_names":
		return &a.GivenNames
	case "applicant.birth_name":
		return &a.BirthName
	case "applicant.organisation":
		return &a.Organisation
	case "applicant.address.street":
		return &a.Address.Street
	case "applicant.address.house_number":
		return &a.Address.HouseNumber
	case "applicant.address.addition":
		return &a.Address.Addition
	case "applicant.address.postcode":
		return &a.Address.Postcode
	case "applicant.address.city":
		return &a.Address.City
	case "applicant.address.country":
		return &a.Address.Country
	}
	return nil
}

// Set sets the value at a field path; "" removes a form value, note or attachment.
// A due_date must be "" or an ISO date; a note or attachment must be valid JSON of the
// item with the ID or SHA-256 the path names. Lists stay sorted oldest first.
func (c *Case) Set(path, value string) error {
	if path == "due_date" && value != "" {
		if d, err := ParseDate(value); err != nil || ISODate(d) != value {
			return fmt.Errorf("cases: due_date %q is not a date YYYY-MM-DD", value)
		}
	}
	if p := c.attr(path); p != nil {
		*p = value
		return nil
	}
	head, key, _ := strings.Cut(path, ".")
	if key == "" {
		return fmt.Errorf("cases: %w %q", ErrUnknownField, path)
	}
	switch head {
	case "values":
		if !fieldRe.MatchString(key) {
			return fmt.Errorf("cases: invalid value key %q", key)
		}
		if value == "" {
			delete(c.Values, key)
			return nil
		}
		if c.Values == nil {
			c.Values = Values{}
		}
		c.Values[key] = value
		return nil
	case "notes":
		c.Notes = slices.DeleteFunc(c.Notes, func(n Note) bool { return n.ID == key })
		if value == "" {
			return nil
		}
		var n Note
		if err := json.Unmarshal([]byte(value), &n); err != nil || n.ID != key {
			return fmt.Errorf("cases: %s: not a note with ID %q", path, key)
		}
		c.Notes = append(c.Notes, n)
		slices.SortStableFunc(c.Notes, func(a, b Note) int {
			return cmp.Or(a.Created.Compare(b.Created), strings.Compare(a.ID, b.ID))
		})
		return nil
	case "attachments":
		c.Attachments = slices.DeleteFunc(c.Attachments, func(a AttachmentRef) bool { return a.SHA256 == key })
		if value == "" {
			return nil
		}
		var a AttachmentRef
		if err := json.Unmarshal([]byte(value), &a); err != nil || a.SHA256 != key {
			return fmt.Errorf("cases: %s: not an attachment with SHA-256 %q", path, key)
		}
		c.Attachments = append(c.Attachments, a)
		slices.SortStableFunc(c.Attachments, func(a, b AttachmentRef) int {
			return cmp.Or(a.Added.Compare(b.Added), strings.Compare(a.SHA256, b.SHA256))
		})
		return nil
	}
	return fmt.Errorf("cases: %w %q", ErrUnknownField, path)
}

// Apply applies the patch to c, compare-and-set per field: every change's Old must
// equal the field's current value, else nothing is changed and the error is a
// *MismatchError naming the first such field. A field that already has the change's New
// value counts as applied (replaying a patch is harmless). Timestamps are left alone.
func (p Patch) Apply(c *Case) error {
	seen := map[string]bool{}
	for _, ch := range p {
		if seen[ch.Field] {
			return fmt.Errorf("cases: patch changes field %s twice", ch.Field)
		}
		seen[ch.Field] = true
		cur, err := c.Get(ch.Field)
		if err != nil {
			return err
		}
		if cur != ch.Old && cur != ch.New {
			return &MismatchError{Field: ch.Field, Want: ch.Old, Got: cur}
		}
	}
	work := c.Clone()
	for _, ch := range p {
		if err := work.Set(ch.Field, ch.New); err != nil {
			return err
		}
	}
	*c = *work
	return nil
}

// Touch sets c.Updated to now (UTC); storage calls it when it records a local change.
func (c *Case) Touch(now time.Time) { c.Updated = now.UTC() }
