package cases

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// messages are the validation messages, German and English, in the words an office uses.
var messages = map[string][2]string{
	"required":          {"Bitte füllen Sie dieses Pflichtfeld aus", "Please fill in this required field"},
	"required.select":   {"Bitte wählen Sie eine Angabe aus", "Please choose an option"},
	"required.checkbox": {"Bitte bestätigen Sie diese Angabe", "Please confirm this"},
	"required.file":     {"Bitte fügen Sie die Anlage bei", "Please attach the document"},
	"required.sign":     {"Die Unterschrift fehlt", "The signature is missing"},
	"required.street":   {"Bitte geben Sie die Straße an", "Please enter the street"},
	"required.house":    {"Bitte geben Sie die Hausnummer an", "Please enter the house number"},
	"required.plz":      {"Bitte geben Sie die Postleitzahl an", "Please enter the postcode"},
	"required.city":     {"Bitte geben Sie den Ort an", "Please enter the town or city"},
	"unknown":           {"Unbekanntes Feld in diesem Formular", "Unknown field in this form"},
	"minlen":            {"Bitte geben Sie mindestens %d Zeichen an", "Please enter at least %d characters"},
	"maxlen":            {"Höchstens %d Zeichen erlaubt", "At most %d characters allowed"},
	"pattern":           {"Die Angabe hat nicht das erwartete Format", "The entry does not have the expected format"},
	"pattern.hint":      {"Die Angabe hat nicht das erwartete Format (%s)", "The entry does not have the expected format (%s)"},
	"number":            {"Bitte geben Sie eine Zahl an", "Please enter a number"},
	"integer":           {"Bitte geben Sie eine ganze Zahl an", "Please enter a whole number"},
	"min":               {"Der Wert muss mindestens %s betragen", "The value must be at least %s"},
	"max":               {"Der Wert darf höchstens %s betragen", "The value must be at most %s"},
	"date":              {"Bitte geben Sie ein gültiges Datum an (TT.MM.JJJJ)", "Please enter a valid date (DD.MM.YYYY)"},
	"future":            {"Das Datum darf nicht in der Zukunft liegen", "The date must not be in the future"},
	"date.min":          {"Das Datum darf nicht vor dem %s liegen", "The date must not be before %s"},
	"date.max":          {"Das Datum darf nicht nach dem %s liegen", "The date must not be after %s"},
	"option":            {"Bitte wählen Sie einen der angebotenen Werte", "Please choose one of the offered values"},
	"option.n":          {"„%s“ gehört nicht zu den angebotenen Werten", "%q is not one of the offered values"},
	"checkbox":          {"Bitte nur ankreuzen oder leer lassen", "Please tick or leave empty"},
	"email":             {"Bitte geben Sie eine gültige E-Mail-Adresse an (name@beispiel.de)", "Please enter a valid e-mail address (name@example.com)"},
	"phone":             {"Bitte geben Sie eine gültige Telefonnummer an (z. B. 030 1234567 oder +49 30 1234567)", "Please enter a valid phone number (e.g. +49 30 1234567)"},
	"iban.format":       {"IBAN ist ungültig (Format: zwei Buchstaben, zwei Prüfziffern, Kontokennung)", "IBAN is invalid (format: two letters, two check digits, account identifier)"},
	"iban.length":       {"IBAN ist ungültig (Länge)", "IBAN is invalid (length)"},
	"iban.length.de":    {"IBAN ist ungültig: eine deutsche IBAN hat 22 Stellen", "IBAN is invalid: a German IBAN has 22 characters"},
	"iban.checksum":     {"IBAN ist ungültig (Prüfsumme)", "IBAN is invalid (checksum)"},
	"plz":               {"Postleitzahl muss fünf Ziffern haben", "Postcode must have five digits"},
	"country":           {"Bitte geben Sie den Staat als Länderkürzel an (z. B. AT)", "Please enter the country as a two-letter code (e.g. AT)"},
	"file":              {"Die Anlage ist ungültig", "The attachment reference is invalid"},
	"sign":              {"Die Unterschrift ist ungültig", "The signature reference is invalid"},
}

func msg(lang, id string, args ...any) string {
	m, ok := messages[id]
	if !ok {
		return id
	}
	t := m[0]
	if isEnglish(lang) {
		t = m[1]
	}
	if len(args) > 0 {
		return fmt.Sprintf(t, args...)
	}
	return t
}

// Validate checks form values against the schema and returns a message per value key
// that is wrong, in lang ("de" or "en"); an empty map means the values are valid.
// now decides what "in the future" means (its calendar day in its location).
//
// Keys are field names, or "NAME.plz" etc. for the parts of an address field. Fields
// hidden by their visible_if condition are neither required nor checked. A value whose
// key is not in the form is reported as unknown, unless it belongs to a hidden field.
// Both stored and typed forms are accepted (dates "TT.MM.JJJJ", numbers "12,5", IBANs
// with spaces); Normalize turns them into the stored form.
func (s *Schema) Validate(v Values, lang string, now time.Time) map[string]string {
	out := map[string]string{}
	known := map[string]bool{}
	for _, f := range s.order {
		for _, k := range f.Keys() {
			known[k] = true
		}
		if !s.Visible(f.Name, v) {
			continue
		}
		f.validate(v, lang, now, out)
	}
	for k := range v {
		if !known[k] && strings.TrimSpace(v[k]) != "" {
			out[k] = msg(lang, "unknown")
		}
	}
	return out
}

// ValidateFields is Validate restricted to the named fields (and their address parts):
// what a workflow transition requires. Hidden fields among them are skipped.
func (s *Schema) ValidateFields(v Values, names []string, lang string, now time.Time) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		f, ok := s.fields[n]
		if !ok || !s.Visible(n, v) {
			continue
		}
		f.validate(v, lang, now, out)
	}
	return out
}

func (f *Field) validate(v Values, lang string, now time.Time, out map[string]string) {
	if f.Type == TypeAddress {
		f.validateAddress(v, lang, out)
		return
	}
	val := strings.TrimSpace(v[f.Name])
	if val == "" || (f.Type == TypeCheckbox && val == "false") {
		if f.Required {
			out[f.Name] = msg(lang, requiredMsg(f.Type))
		}
		return
	}
	if m := f.check1(val, lang, now); m != "" {
		out[f.Name] = m
	}
}

func requiredMsg(t FieldType) string {
	switch t {
	case TypeSelect, TypeMultiselect:
		return "required.select"
	case TypeCheckbox:
		return "required.checkbox"
	case TypeFile:
		return "required.file"
	case TypeSignature:
		return "required.sign"
	}
	return "required"
}

// check1 checks one non-empty value; it returns "" when valid.
func (f *Field) check1(val, lang string, now time.Time) string {
	switch f.Type {
	case TypeText, TypeMultiline:
		n := utf8.RuneCountInString(val)
		if f.MinLength > 0 && n < f.MinLength {
			return msg(lang, "minlen", f.MinLength)
		}
		if f.MaxLength > 0 && n > f.MaxLength {
			return msg(lang, "maxlen", f.MaxLength)
		}
		if f.Type == TypeText && strings.ContainsAny(val, "\r\n") {
			return msg(lang, "pattern")
		}
		return f.checkPattern(val, lang)
	case TypeNumber:
		n, err := parseNumber(val)
		if err != nil || math.IsInf(n, 0) {
			return msg(lang, "number")
		}
		if f.Integer && n != math.Trunc(n) {
			return msg(lang, "integer")
		}
		if f.Min != nil && n < f.Min.Number {
			return msg(lang, "min", formatNumber(f.Min.Number, lang))
		}
		if f.Max != nil && n > f.Max.Number {
			return msg(lang, "max", formatNumber(f.Max.Number, lang))
		}
	case TypeDate:
		d, err := ParseDate(val)
		if err != nil {
			return msg(lang, "date")
		}
		if f.NotInFuture && d.After(today(now)) {
			return msg(lang, "future")
		}
		if f.Min != nil {
			if m, err := ParseDate(f.Min.Date); err == nil && d.Before(m) {
				return msg(lang, "date.min", formatDateIn(m, lang))
			}
		}
		if f.Max != nil {
			if m, err := ParseDate(f.Max.Date); err == nil && d.After(m) {
				return msg(lang, "date.max", formatDateIn(m, lang))
			}
		}
	case TypeSelect:
		if !f.hasOption(val) {
			return msg(lang, "option")
		}
	case TypeMultiselect:
		for _, x := range splitList(val) {
			if !f.hasOption(x) {
				return msg(lang, "option.n", x)
			}
		}
	case TypeCheckbox:
		if val != "true" {
			return msg(lang, "checkbox")
		}
	case TypeEmail:
		if !ValidEmail(val) {
			return msg(lang, "email")
		}
	case TypePhone:
		if !ValidPhone(val) {
			return msg(lang, "phone")
		}
		return f.checkPattern(val, lang)
	case TypeIBAN:
		switch err := CheckIBAN(val); {
		case err == nil:
		case errors.Is(err, ErrIBANLength) && strings.HasPrefix(NormalizeIBAN(val), "DE"):
			return msg(lang, "iban.length.de")
		case errors.Is(err, ErrIBANLength):
			return msg(lang, "iban.length")
		case errors.Is(err, ErrIBANChecksum):
			return msg(lang, "iban.checksum")
		default:
			return msg(lang, "iban.format")
		}
	case TypeFile:
		for _, x := range splitList(val) {
			if !ValidSHA256(x) {
				return msg(lang, "file")
			}
		}
	case TypeSignature:
		if !ValidSHA256(val) {
			return msg(lang, "sign")
		}
	}
	return ""
}

func (f *Field) checkPattern(val, lang string) string {
	if f.re == nil || f.re.MatchString(val) {
		return ""
	}
	if h := f.PatternHint.In(lang); h != "" {
		return msg(lang, "pattern.hint", h)
	}
	return msg(lang, "pattern")
}

func (f *Field) hasOption(v string) bool {
	return slices.ContainsFunc(f.Options, func(o Option) bool { return o.Value == v })
}

func (f *Field) validateAddress(v Values, lang string, out map[string]string) {
	get := func(part string) string { return strings.TrimSpace(v[f.Name+"."+part]) }
	filled := false
	for _, p := range AddressParts {
		if get(p) != "" {
			filled = true
		}
	}
	if !filled && !f.Required {
		return
	}
	for _, r := range []struct{ part, id string }{
		{"strasse", "required.street"}, {"hausnummer", "required.house"}, {"plz", "required.plz"}, {"ort", "required.city"},
	} {
		if get(r.part) == "" {
			out[f.Name+"."+r.part] = msg(lang, r.id)
		}
	}
	country := strings.ToUpper(get("staat"))
	if country != "" && (len(country) != 2 || country[0] < 'A' || country[0] > 'Z' || country[1] < 'A' || country[1] > 'Z') {
		out[f.Name+".staat"] = msg(lang, "country")
	}
	if plz := get("plz"); plz != "" && (country == "" || country == "DE") && !ValidPLZ(plz) {
		out[f.Name+".plz"] = msg(lang, "plz")
	}
}

func formatNumber(n float64, lang string) string {
	s := strconv.FormatFloat(n, 'f', -1, 64)
	if !isEnglish(lang) {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

func formatDateIn(d time.Time, lang string) string {
	if isEnglish(lang) {
		return d.Format("02.01.2006")
	}
	return FormatDate(d)
}

// Normalize returns a copy of v with values in their stored form: spaces trimmed,
// dates "YYYY-MM-DD", numbers with a decimal point, IBANs without spaces and in upper
// case, address countries in upper case, empty values dropped. Values it cannot parse
// are kept as typed, for Validate to report.
func (s *Schema) Normalize(v Values) Values {
	out := maps.Clone(v)
	if out == nil {
		out = Values{}
	}
	for k, val := range out {
		val = strings.TrimSpace(val)
		if val == "" {
			delete(out, k)
			continue
		}
		out[k] = val
		f, ok := s.Field(k)
		if !ok {
			continue
		}
		switch f.Type {
		case TypeDate:
			if d, err := ParseDate(val); err == nil {
				out[k] = ISODate(d)
			}
		case TypeNumber:
			if n, err := parseNumber(val); err == nil && !math.IsInf(n, 0) {
				out[k] = strconv.FormatFloat(n, 'f', -1, 64)
			}
		case TypeIBAN:
			out[k] = NormalizeIBAN(val)
		case TypeMultiselect, TypeFile:
			out[k] = strings.Join(splitList(val), ",")
		case TypeAddress:
			if strings.HasSuffix(k, ".staat") {
				out[k] = strings.ToUpper(val)
			}
		}
	}
	return out
}
