package cases

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SchemaVersion is the version of the schema format this package reads. A schema with
// a higher version is refused: the portal must not send forms this client cannot show.
const SchemaVersion = 1

// Text is a text in German and English. German is the default; En may be empty, then
// German is shown.
type Text struct {
	De string `json:"de"`
	En string `json:"en,omitempty"`
}

// In returns the text in lang ("de" or "en"; anything starting with "en" is English,
// everything else German).
func (t Text) In(lang string) string {
	if isEnglish(lang) && t.En != "" {
		return t.En
	}
	return t.De
}

func isEnglish(lang string) bool { return strings.HasPrefix(strings.ToLower(lang), "en") }

// FieldType is the type of a form field.
type FieldType string

// The field types. The comment says how a value is stored in Values.
const (
	TypeText        FieldType = "text"        // one line
	TypeMultiline   FieldType = "multiline"   // several lines
	TypeNumber      FieldType = "number"      // decimal, "12.5" (input "12,5" is accepted)
	TypeDate        FieldType = "date"        // "YYYY-MM-DD" (input "TT.MM.JJJJ" is accepted)
	TypeSelect      FieldType = "select"      // one option value
	TypeMultiselect FieldType = "multiselect" // option values, comma-separated
	TypeCheckbox    FieldType = "checkbox"    // "true" or "false"/""
	TypeEmail       FieldType = "email"       // name@example.de
	TypePhone       FieldType = "phone"       // "+49 30 1234567", "030/1234567"
	TypeIBAN        FieldType = "iban"        // "DE89370400440532013000" (spaces accepted)
	TypeAddress     FieldType = "address"     // composite: NAME.strasse, NAME.hausnummer, NAME.plz, NAME.ort, NAME.zusatz, NAME.staat
	TypeFile        FieldType = "file"        // SHA-256 hex of attachments, comma-separated
	TypeSignature   FieldType = "signature"   // SHA-256 hex of the signature image attachment
)

var knownTypes = []FieldType{TypeText, TypeMultiline, TypeNumber, TypeDate, TypeSelect, TypeMultiselect,
	TypeCheckbox, TypeEmail, TypePhone, TypeIBAN, TypeAddress, TypeFile, TypeSignature}

// AddressParts are the value-key suffixes of an address field, in display order.
// "zusatz" (addition) and "staat" (country, ISO alpha-2, empty = DE) are optional.
var AddressParts = []string{"strasse", "hausnummer", "zusatz", "plz", "ort", "staat"}

// Schema is the form of one service type, as data: the portal delivers it, the app
// renders it, Validate checks values against it. Read it with ParseSchema.
type Schema struct {
	SchemaVersion int       `json:"schema_version"`     // format version, ≤ SchemaVersion
	Service       string    `json:"service"`            // service type ID, e.g. "anmeldung"
	Revision      int       `json:"revision,omitempty"` // the form's own revision, raised by the portal on change
	Title         Text      `json:"title"`              // e.g. "Anmeldung einer Wohnung"
	Authority     Text      `json:"authority,omitzero"` // e.g. "Meldebehörde"
	Description   Text      `json:"description,omitzero"`
	Sections      []Section `json:"sections"`
	Workflow      *Workflow `json:"workflow,omitempty"`

	fields map[string]*Field // by name, set by ParseSchema
	order  []*Field          // all fields in form order
}

// Section is a titled group of fields.
type Section struct {
	ID     string  `json:"id"`
	Title  Text    `json:"title"`
	Help   Text    `json:"help,omitzero"`
	Fields []Field `json:"fields"`
}

// Field is one form field. Which attributes apply depends on Type; ParseSchema refuses
// attributes that make no sense for the type.
type Field struct {
	Name     string    `json:"name"` // value key; letters, digits, '_' and '-', unique in the schema
	Type     FieldType `json:"type"`
	Label    Text      `json:"label"`
	Help     Text      `json:"help,omitzero"`
	Required bool      `json:"required,omitempty"`

	Min     *Limit `json:"min,omitempty"`     // number: smallest value; date: earliest day ("YYYY-MM-DD")
	Max     *Limit `json:"max,omitempty"`     // number: largest value; date: latest day
	Integer bool   `json:"integer,omitempty"` // number: whole numbers only

	MinLength int    `json:"min_length,omitempty"` // text, multiline: in characters
	MaxLength int    `json:"max_length,omitempty"` // text, multiline: in characters; 0 = no limit
	Pattern   string `json:"pattern,omitempty"`    // text, phone: Go regexp the whole value must match
	// PatternHint tells the user what the pattern wants, e.g. "Format: M-AB 1234".
	PatternHint Text `json:"pattern_hint,omitzero"`

	Options []Option `json:"options,omitempty"` // select, multiselect

	VisibleIf   *Condition `json:"visible_if,omitempty"`    // shown (and validated) only when the condition holds
	NotInFuture bool       `json:"not_in_future,omitempty"` // date: not after today
	Searchable  bool       `json:"searchable,omitempty"`    // goes into the blind search index

	re *regexp.Regexp
}

// Option is a choice of a select or multiselect field.
type Option struct {
	Value string `json:"value"`
	Label Text   `json:"label"`
}

// Condition makes a field visible only when another field has one of some values.
// For a checkbox the values are "true"/"false"; for a multiselect the condition holds
// when any selected value is listed.
type Condition struct {
	Field  string   `json:"field"`
	Equals []string `json:"equals"`
}

// Limit is a min or max: a number (JSON number) for number fields or an ISO date (JSON
// string "YYYY-MM-DD") for date fields.
type Limit struct {
	Number float64
	Date   string // ISO date when the limit is a date
}

// MarshalJSON writes a number or a date string.
func (l Limit) MarshalJSON() ([]byte, error) {
	if l.Date != "" {
		return json.Marshal(l.Date)
	}
	return json.Marshal(l.Number)
}

// UnmarshalJSON reads a number or a date string.
func (l *Limit) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		d, err := ParseDate(s)
		if err != nil {
			return fmt.Errorf("limit %q is not a date YYYY-MM-DD", s)
		}
		*l = Limit{Date: ISODate(d)}
		return nil
	}
	var n float64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("limit must be a number or a date string: %s", b)
	}
	*l = Limit{Number: n}
	return nil
}

func (l Limit) String() string {
	if l.Date != "" {
		return l.Date
	}
	return strconv.FormatFloat(l.Number, 'f', -1, 64)
}

// SchemaError is a problem in a schema, found by ParseSchema.
type SchemaError struct {
	Path string // where, e.g. `sections[1].fields[3] "plz"` or "workflow.transitions[2]"
	Msg  string
}

func (e *SchemaError) Error() string {
	if e.Path == "" {
		return "form schema: " + e.Msg
	}
	return "form schema: " + e.Path + ": " + e.Msg
}

var (
	nameRe   = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)
	optionRe = regexp.MustCompile(`^[^,\s][^,]{0,127}$`)
)

// ParseSchema reads a form schema from JSON and checks the schema itself: known format
// version, service ID, unique section and field names, known field types, attributes
// that fit the type, options for selects, patterns that compile, min ≤ max, visible_if
// referring to an existing earlier-resolvable field without cycles, and — when present —
// the workflow (see Workflow). Unknown JSON keys are refused, so a typo ("requried")
// does not silently drop a rule. All problems are reported, joined.
func ParseSchema(data []byte) (*Schema, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Schema
	if err := dec.Decode(&s); err != nil {
		return nil, &SchemaError{Msg: "not valid schema JSON: " + err.Error()}
	}
	if dec.More() {
		return nil, &SchemaError{Msg: "trailing data after the schema"}
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s *Schema) check() error {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, &SchemaError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	switch {
	case s.SchemaVersion < 1:
		add("schema_version", "missing or not positive")
	case s.SchemaVersion > SchemaVersion:
		add("schema_version", "%d is newer than this client understands (%d); update FieldOffice", s.SchemaVersion, SchemaVersion)
	}
	if !typeRe.MatchString(s.Service) {
		add("service", "%q is not a service ID (lower-case letters, digits, '-' and '_')", s.Service)
	}
	if s.Title.De == "" {
		add("title", "German title missing")
	}
	if len(s.Sections) == 0 {
		add("sections", "no sections")
	}
	s.fields = map[string]*Field{}
	s.order = nil
	sectionIDs := map[string]bool{}
	for i := range s.Sections {
		sec := &s.Sections[i]
		sp := fmt.Sprintf("sections[%d]", i)
		if !nameRe.MatchString(sec.ID) {
			add(sp, "section id %q is not a name (lower-case letters, digits, '_' and '-')", sec.ID)
		} else if sectionIDs[sec.ID] {
			add(sp, "duplicate section id %q", sec.ID)
		}
		sectionIDs[sec.ID] = true
		if sec.Title.De == "" {
			add(sp, "German title missing")
		}
		for j := range sec.Fields {
			f := &sec.Fields[j]
			fp := fmt.Sprintf("%s.fields[%d] %q", sp, j, f.Name)
			if !nameRe.MatchString(f.Name) {
				add(fp, "field name is not a name (lower-case letters, digits, '_' and '-')")
			} else if _, dup := s.fields[f.Name]; dup {
				add(fp, "duplicate field name")
			} else {
				s.fields[f.Name] = f
			}
			s.order = append(s.order, f)
			for _, msg := range f.check() {
				add(fp, "%s", msg)
			}
		}
	}
	// Address parts must not collide with other field names ("x" address and a field "x.plz" cannot
	// happen since names have no dots; nothing to do).
	for _, f := range s.order {
		if f.VisibleIf == nil {
			continue
		}
		fp := fmt.Sprintf("field %q visible_if", f.Name)
		ctl, ok := s.fields[f.VisibleIf.Field]
		switch {
		case !ok:
			add(fp, "refers to unknown field %q", f.VisibleIf.Field)
			continue
		case ctl == f:
			add(fp, "refers to the field itself")
			continue
		case ctl.Type == TypeAddress || ctl.Type == TypeFile || ctl.Type == TypeSignature:
			add(fp, "cannot depend on a field of type %s", ctl.Type)
		}
		if len(f.VisibleIf.Equals) == 0 {
			add(fp, "equals lists no values")
		}
		for _, v := range f.VisibleIf.Equals {
			switch ctl.Type {
			case TypeSelect, TypeMultiselect:
				if !slices.ContainsFunc(ctl.Options, func(o Option) bool { return o.Value == v }) {
					add(fp, "%q is not an option of %q", v, ctl.Name)
				}
			case TypeCheckbox:
				if v != "true" && v != "false" {
					add(fp, "checkbox %q has the values \"true\" and \"false\", not %q", ctl.Name, v)
				}
			}
		}
	}
	// Cycles: follow visible_if chains; a chain longer than the number of fields loops.
	for _, f := range s.order {
		seen := 0
		for g := f; g.VisibleIf != nil; {
			next, ok := s.fields[g.VisibleIf.Field]
			if !ok || next == g {
				break
			}
			if seen++; seen > len(s.order) {
				add(fmt.Sprintf("field %q visible_if", f.Name), "visibility conditions form a cycle")
				break
			}
			g = next
		}
	}
	if s.Workflow != nil {
		errs = append(errs, s.Workflow.check(s)...)
	}
	return errors.Join(errs...)
}

func (f *Field) check() []string {
	var msgs []string
	bad := func(format string, args ...any) { msgs = append(msgs, fmt.Sprintf(format, args...)) }
	if !slices.Contains(knownTypes, f.Type) {
		bad("unknown type %q (known: %s)", f.Type, joinTypes())
		return msgs
	}
	if f.Label.De == "" {
		bad("German label missing")
	}
	is := func(ts ...FieldType) bool { return slices.Contains(ts, f.Type) }
	if (f.Min != nil || f.Max != nil) && !is(TypeNumber, TypeDate) {
		bad("min/max apply to number and date fields only")
	}
	if f.Integer && !is(TypeNumber) {
		bad("integer applies to number fields only")
	}
	if is(TypeNumber) {
		for _, l := range []*Limit{f.Min, f.Max} {
			if l != nil && l.Date != "" {
				bad("min/max of a number field must be numbers")
			}
		}
		if f.Min != nil && f.Max != nil && f.Min.Date == "" && f.Max.Date == "" && f.Min.Number > f.Max.Number {
			bad("min %s is greater than max %s", f.Min, f.Max)
		}
	}
	if is(TypeDate) {
		for _, l := range []*Limit{f.Min, f.Max} {
			if l != nil && l.Date == "" {
				bad("min/max of a date field must be dates \"YYYY-MM-DD\"")
			}
		}
		if f.Min != nil && f.Max != nil && f.Min.Date != "" && f.Max.Date != "" && f.Min.Date > f.Max.Date {
			bad("min %s is after max %s", f.Min, f.Max)
		}
	}
	if f.NotInFuture && !is(TypeDate) {
		bad("not_in_future applies to date fields only")
	}
	if (f.MinLength != 0 || f.MaxLength != 0) && !is(TypeText, TypeMultiline) {
		bad("min_length/max_length apply to text and multiline fields only")
	}
	if f.MinLength < 0 || f.MaxLength < 0 {
		bad("min_length/max_length must not be negative")
	}
	if f.MaxLength != 0 && f.MinLength > f.MaxLength {
		bad("min_length %d is greater than max_length %d", f.MinLength, f.MaxLength)
	}
	if f.Pattern != "" {
		if !is(TypeText, TypePhone) {
			bad("pattern applies to text and phone fields only")
		}
		re, err := regexp.Compile(`^(?:` + f.Pattern + `)$`)
		if err != nil {
			bad("pattern does not compile: %v", err)
		} else {
			f.re = re
		}
	}
	if is(TypeSelect, TypeMultiselect) {
		if len(f.Options) == 0 {
			bad("a %s field needs options", f.Type)
		}
		seen := map[string]bool{}
		for _, o := range f.Options {
			switch {
			case !optionRe.MatchString(o.Value):
				bad("option value %q must be non-empty, without commas and leading space", o.Value)
			case seen[o.Value]:
				bad("duplicate option value %q", o.Value)
			case o.Label.De == "":
				bad("option %q has no German label", o.Value)
			}
			seen[o.Value] = true
		}
	} else if len(f.Options) > 0 {
		bad("options apply to select and multiselect fields only")
	}
	return msgs
}

func joinTypes() string {
	s := make([]string, len(knownTypes))
	for i, t := range knownTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// Field returns the field with the given name. For an address part ("neue_wohnung.plz")
// it returns the address field.
func (s *Schema) Field(name string) (*Field, bool) {
	if f, ok := s.fields[name]; ok {
		return f, true
	}
	if base, part, ok := strings.Cut(name, "."); ok {
		if f, ok := s.fields[base]; ok && f.Type == TypeAddress && slices.Contains(AddressParts, part) {
			return f, true
		}
	}
	return nil, false
}

// Fields returns all fields in form order.
func (s *Schema) Fields() []*Field { return slices.Clone(s.order) }

// Keys returns the value keys the form uses, in form order: a field's name, or for an
// address field its parts (NAME.strasse, …).
func (s *Schema) Keys() []string {
	var keys []string
	for _, f := range s.order {
		keys = append(keys, f.Keys()...)
	}
	return keys
}

// Keys returns the value keys of f: its name, or for an address its parts.
func (f *Field) Keys() []string {
	if f.Type != TypeAddress {
		return []string{f.Name}
	}
	keys := make([]string, len(AddressParts))
	for i, p := range AddressParts {
		keys[i] = f.Name + "." + p
	}
	return keys
}

// SearchableKeys returns the value keys of the fields marked searchable.
func (s *Schema) SearchableKeys() []string {
	var keys []string
	for _, f := range s.order {
		if f.Searchable {
			keys = append(keys, f.Keys()...)
		}
	}
	return keys
}

// Visible reports whether field name is shown for these values: it has no condition,
// or the field it depends on is itself visible and has one of the listed values.
// Unknown fields are not visible.
func (s *Schema) Visible(name string, v Values) bool {
	f, ok := s.Field(name)
	for depth := 0; ok && depth <= len(s.order); depth++ {
		if f.VisibleIf == nil {
			return true
		}
		ctl, found := s.fields[f.VisibleIf.Field]
		if !found {
			return false
		}
		val := v[ctl.Name]
		if ctl.Type == TypeMultiselect {
			if !slices.ContainsFunc(splitList(val), func(x string) bool { return slices.Contains(f.VisibleIf.Equals, x) }) {
				return false
			}
		} else {
			if ctl.Type == TypeCheckbox && val == "" {
				val = "false"
			}
			if !slices.Contains(f.VisibleIf.Equals, strings.TrimSpace(val)) {
				return false
			}
		}
		f = ctl
	}
	return ok
}

// NewCase returns a new case of this schema's service, in the workflow's initial state.
func (s *Schema) NewCase(now time.Time) (*Case, error) {
	c, err := NewCase(s.Service, now)
	if err != nil {
		return nil, err
	}
	if s.Workflow != nil {
		c.Status = s.Workflow.Initial()
	}
	return c, nil
}

// OptionLabel returns the label of option value of f in lang, or the value itself.
func (f *Field) OptionLabel(value, lang string) string {
	for _, o := range f.Options {
		if o.Value == value {
			return o.Label.In(lang)
		}
	}
	return value
}
