package cases

import (
	"testing"
	"time"
)

// testSchema has one field of every type, and conditions.
const testSchema = `{
  "schema_version": 1, "service": "test", "title": {"de": "Test", "en": "Test"},
  "sections": [{"id": "s", "title": {"de": "Alles"}, "fields": [
    {"name": "name", "type": "text", "label": {"de": "Name"}, "required": true, "min_length": 2, "max_length": 5},
    {"name": "kz", "type": "text", "label": {"de": "Kennzeichen"}, "pattern": "[A-Z]{1,3}-[A-Z]{1,2} [1-9][0-9]{0,3}", "pattern_hint": {"de": "z. B. M-AB 1234", "en": "e.g. M-AB 1234"}},
    {"name": "notiz", "type": "multiline", "label": {"de": "Notiz"}, "max_length": 10},
    {"name": "groesse", "type": "number", "label": {"de": "Größe"}, "integer": true, "min": 50, "max": 250},
    {"name": "betrag", "type": "number", "label": {"de": "Betrag"}, "min": 0.5},
    {"name": "geb", "type": "date", "label": {"de": "Geburtsdatum"}, "not_in_future": true, "min": "1900-01-01"},
    {"name": "beginn", "type": "date", "label": {"de": "Beginn"}, "max": "2030-12-31"},
    {"name": "art", "type": "select", "label": {"de": "Art"}, "required": true, "options": [{"value": "a", "label": {"de": "A"}}, {"value": "b", "label": {"de": "B"}}]},
    {"name": "mehr", "type": "multiselect", "label": {"de": "Mehr"}, "options": [{"value": "x", "label": {"de": "X"}}, {"value": "y", "label": {"de": "Y"}}]},
    {"name": "ok", "type": "checkbox", "label": {"de": "Bestätigt"}, "required": true},
    {"name": "mail", "type": "email", "label": {"de": "E-Mail"}},
    {"name": "tel", "type": "phone", "label": {"de": "Telefon"}},
    {"name": "iban", "type": "iban", "label": {"de": "IBAN"}, "visible_if": {"field": "art", "equals": ["b"]}, "required": true},
    {"name": "inhaber", "type": "text", "label": {"de": "Kontoinhaber"}, "visible_if": {"field": "iban_ok", "equals": ["true"]}, "required": true},
    {"name": "iban_ok", "type": "checkbox", "label": {"de": "IBAN geprüft"}, "visible_if": {"field": "art", "equals": ["b"]}},
    {"name": "wohnung", "type": "address", "label": {"de": "Wohnung"}, "required": true},
    {"name": "alt", "type": "address", "label": {"de": "Alte Wohnung"}},
    {"name": "datei", "type": "file", "label": {"de": "Datei"}, "visible_if": {"field": "mehr", "equals": ["y"]}, "required": true},
    {"name": "sig", "type": "signature", "label": {"de": "Unterschrift"}}
  ]}]
}`

var now = time.Date(2025, 6, 15, 10, 0, 0, 0, time.UTC)

const sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func mustSchema(t testing.TB, js string) *Schema {
	t.Helper()
	s, err := ParseSchema([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validBase() Values {
	return Values{
		"name": "Anna", "art": "a", "ok": "true",
		"wohnung.strasse": "Hauptstraße", "wohnung.hausnummer": "12a", "wohnung.plz": "80331", "wohnung.ort": "München",
	}
}

func TestValidate(t *testing.T) {
	s := mustSchema(t, testSchema)
	if got := s.Validate(validBase(), "de", now); len(got) != 0 {
		t.Fatalf("valid base: %v", got)
	}
	tests := []struct {
		name   string
		set    Values // merged over validBase; "" deletes
		key    string // expected message key ("" = valid)
		de, en string
	}{
		{"required text", Values{"name": ""}, "name", "Bitte füllen Sie dieses Pflichtfeld aus", "Please fill in this required field"},
		{"required spaces", Values{"name": "   "}, "name", "Bitte füllen Sie dieses Pflichtfeld aus", ""},
		{"min length", Values{"name": "A"}, "name", "Bitte geben Sie mindestens 2 Zeichen an", "Please enter at least 2 characters"},
		{"max length runes", Values{"name": "Jürgä"}, "", "", ""},
		{"max length", Values{"name": "Annabell"}, "name", "Höchstens 5 Zeichen erlaubt", "At most 5 characters allowed"},
		{"text newline", Values{"name": "An\nna"}, "name", "Die Angabe hat nicht das erwartete Format", ""},
		{"pattern ok", Values{"kz": "M-AB 1234"}, "", "", ""},
		{"pattern hint", Values{"kz": "MAB1234"}, "kz", "Die Angabe hat nicht das erwartete Format (z. B. M-AB 1234)", "The entry does not have the expected format (e.g. M-AB 1234)"},
		{"pattern anchored", Values{"kz": "xM-AB 1234"}, "kz", "Die Angabe hat nicht das erwartete Format (z. B. M-AB 1234)", ""},
		{"multiline", Values{"notiz": "zeile\nzwei"}, "", "", ""},
		{"multiline long", Values{"notiz": "zeile\nzwei\ndrei"}, "notiz", "Höchstens 10 Zeichen erlaubt", ""},
		{"number", Values{"groesse": "172"}, "", "", ""},
		{"number nan", Values{"groesse": "gross"}, "groesse", "Bitte geben Sie eine Zahl an", "Please enter a number"},
		{"number NaN literal", Values{"groesse": "NaN"}, "groesse", "Bitte geben Sie eine Zahl an", ""},
		{"number integer", Values{"groesse": "172,5"}, "groesse", "Bitte geben Sie eine ganze Zahl an", "Please enter a whole number"},
		{"number min", Values{"groesse": "20"}, "groesse", "Der Wert muss mindestens 50 betragen", "The value must be at least 50"},
		{"number max", Values{"groesse": "251"}, "groesse", "Der Wert darf höchstens 250 betragen", "The value must be at most 250"},
		{"number decimal comma", Values{"betrag": "0,75"}, "", "", ""},
		{"number min decimal", Values{"betrag": "0,4"}, "betrag", "Der Wert muss mindestens 0,5 betragen", "The value must be at least 0.5"},
		{"number both separators", Values{"betrag": "1.000,5"}, "betrag", "Bitte geben Sie eine Zahl an", ""},
		{"date iso", Values{"geb": "1980-02-29"}, "", "", ""},
		{"date german", Values{"geb": "29.02.1980"}, "", "", ""},
		{"date german short", Values{"geb": "1.2.1980"}, "", "", ""},
		{"date today", Values{"geb": "15.06.2025"}, "", "", ""},
		{"date invalid day", Values{"geb": "31.02.1980"}, "geb", "Bitte geben Sie ein gültiges Datum an (TT.MM.JJJJ)", "Please enter a valid date (DD.MM.YYYY)"},
		{"date garbage", Values{"geb": "gestern"}, "geb", "Bitte geben Sie ein gültiges Datum an (TT.MM.JJJJ)", ""},
		{"date us", Values{"geb": "02/29/1980"}, "geb", "Bitte geben Sie ein gültiges Datum an (TT.MM.JJJJ)", ""},
		{"date future", Values{"geb": "16.06.2025"}, "geb", "Das Datum darf nicht in der Zukunft liegen", "The date must not be in the future"},
		{"date min", Values{"geb": "31.12.1899"}, "geb", "Das Datum darf nicht vor dem 01.01.1900 liegen", "The date must not be before 01.01.1900"},
		{"date max", Values{"beginn": "2031-01-01"}, "beginn", "Das Datum darf nicht nach dem 31.12.2030 liegen", ""},
		{"select required", Values{"art": ""}, "art", "Bitte wählen Sie eine Angabe aus", "Please choose an option"},
		{"select unknown", Values{"art": "c"}, "art", "Bitte wählen Sie einen der angebotenen Werte", "Please choose one of the offered values"},
		{"multiselect", Values{"mehr": "x"}, "", "", ""},
		{"multiselect unknown", Values{"mehr": "x,z"}, "mehr", "„z“ gehört nicht zu den angebotenen Werten", `"z" is not one of the offered values`},
		{"checkbox required", Values{"ok": "false"}, "ok", "Bitte bestätigen Sie diese Angabe", "Please confirm this"},
		{"checkbox junk", Values{"ok": "ja"}, "ok", "Bitte nur ankreuzen oder leer lassen", ""},
		{"email ok", Values{"mail": "anna.schaefer@beispiel.de"}, "", "", ""},
		{"email bad", Values{"mail": "anna@beispiel"}, "mail", "Bitte geben Sie eine gültige E-Mail-Adresse an (name@beispiel.de)", "Please enter a valid e-mail address (name@example.com)"},
		{"email display name", Values{"mail": "Anna <a@b.de>"}, "mail", "Bitte geben Sie eine gültige E-Mail-Adresse an (name@beispiel.de)", ""},
		{"phone +49", Values{"tel": "+49 30 1234567"}, "", "", ""},
		{"phone 0", Values{"tel": "030/123 456-7"}, "", "", ""},
		{"phone mobile", Values{"tel": "0171 2345678"}, "", "", ""},
		{"phone letters", Values{"tel": "030 CALL ME"}, "tel", "Bitte geben Sie eine gültige Telefonnummer an (z. B. 030 1234567 oder +49 30 1234567)", "Please enter a valid phone number (e.g. +49 30 1234567)"},
		{"phone no prefix", Values{"tel": "30 1234567"}, "tel", "Bitte geben Sie eine gültige Telefonnummer an (z. B. 030 1234567 oder +49 30 1234567)", ""},
		{"phone short", Values{"tel": "0301"}, "tel", "Bitte geben Sie eine gültige Telefonnummer an (z. B. 030 1234567 oder +49 30 1234567)", ""},
		{"iban hidden not required", Values{"art": "a"}, "", "", ""},
		{"iban hidden not checked", Values{"art": "a", "iban": "DE00"}, "", "", ""},
		{"iban visible required", Values{"art": "b"}, "iban", "Bitte füllen Sie dieses Pflichtfeld aus", ""},
		{"iban valid spaced", Values{"art": "b", "iban": "DE89 3704 0044 0532 0130 00"}, "", "", ""},
		{"iban valid lower", Values{"art": "b", "iban": "de89370400440532013000"}, "", "", ""},
		{"iban checksum", Values{"art": "b", "iban": "DE89 3704 0044 0532 0130 01"}, "iban", "IBAN ist ungültig (Prüfsumme)", "IBAN is invalid (checksum)"},
		{"iban de length", Values{"art": "b", "iban": "DE89 3704 0044 0532 0130 0"}, "iban", "IBAN ist ungültig: eine deutsche IBAN hat 22 Stellen", "IBAN is invalid: a German IBAN has 22 characters"},
		{"iban format", Values{"art": "b", "iban": "1234"}, "iban", "IBAN ist ungültig (Format: zwei Buchstaben, zwei Prüfziffern, Kontokennung)", ""},
		{"iban AT valid", Values{"art": "b", "iban": "AT61 1904 3002 3457 3201"}, "", "", ""},
		{"iban GB valid", Values{"art": "b", "iban": "GB29 NWBK 6016 1331 9268 19"}, "", "", ""},
		{"chain hidden", Values{"art": "a", "iban_ok": "true"}, "", "", ""}, // inhaber depends on iban_ok, hidden by art
		{"chain visible", Values{"art": "b", "iban": "DE89370400440532013000", "iban_ok": "true"}, "inhaber", "Bitte füllen Sie dieses Pflichtfeld aus", ""},
		{"address plz", Values{"wohnung.plz": "8033"}, "wohnung.plz", "Postleitzahl muss fünf Ziffern haben", "Postcode must have five digits"},
		{"address plz letters", Values{"wohnung.plz": "8033A"}, "wohnung.plz", "Postleitzahl muss fünf Ziffern haben", ""},
		{"address missing street", Values{"wohnung.strasse": ""}, "wohnung.strasse", "Bitte geben Sie die Straße an", "Please enter the street"},
		{"address abroad", Values{"wohnung.plz": "1010", "wohnung.staat": "AT"}, "", "", ""},
		{"address bad country", Values{"wohnung.staat": "Österreich"}, "wohnung.staat", "Bitte geben Sie den Staat als Länderkürzel an (z. B. AT)", ""},
		{"optional address empty", Values{}, "", "", ""},
		{"optional address partial", Values{"alt.ort": "Berlin"}, "alt.strasse", "Bitte geben Sie die Straße an", ""},
		{"file hidden", Values{"mehr": "x"}, "", "", ""},
		{"file required", Values{"mehr": "x,y"}, "datei", "Bitte fügen Sie die Anlage bei", "Please attach the document"},
		{"file ok", Values{"mehr": "y", "datei": sha + "," + sha}, "", "", ""},
		{"file bad", Values{"mehr": "y", "datei": "foto.jpg"}, "datei", "Die Anlage ist ungültig", ""},
		{"signature ok", Values{"sig": sha}, "", "", ""},
		{"signature bad", Values{"sig": "ja"}, "sig", "Die Unterschrift ist ungültig", ""},
		{"unknown key", Values{"gibtsnicht": "1"}, "gibtsnicht", "Unbekanntes Feld in diesem Formular", "Unknown field in this form"},
		{"unknown empty ignored", Values{"gibtsnicht": ""}, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := validBase()
			for k, x := range tt.set {
				if x == "" {
					delete(v, k)
				} else {
					v[k] = x
				}
			}
			for _, lang := range []string{"de", "en"} {
				got := s.Validate(v, lang, now)
				if tt.key == "" {
					if len(got) != 0 {
						t.Fatalf("%s: want valid, got %v", lang, got)
					}
					continue
				}
				want := tt.de
				if lang == "en" {
					want = tt.en
				}
				if len(got) != 1 && !(tt.key == "alt.strasse" && len(got) == 3) {
					t.Errorf("%s: want one message for %s, got %v", lang, tt.key, got)
				}
				m, ok := got[tt.key]
				if !ok {
					t.Fatalf("%s: no message for %s: %v", lang, tt.key, got)
				}
				if want != "" && m != want {
					t.Errorf("%s: %s = %q, want %q", lang, tt.key, m, want)
				}
			}
		})
	}
}

func TestParseFormatDate(t *testing.T) {
	for _, tt := range []struct{ in, iso string }{
		{"2025-03-14", "2025-03-14"}, {"14.03.2025", "2025-03-14"}, {" 1.3.2025 ", "2025-03-01"}, {"29.02.2024", "2024-02-29"},
		{"29.02.2025", ""}, {"2025-3-14", ""}, {"14.03.25", ""}, {"", ""}, {"00.01.2025", ""}, {"14.13.2025", ""}, {"+1.01.2025", ""}, {"2025-03-14T00:00", ""},
	} {
		d, err := ParseDate(tt.in)
		if tt.iso == "" {
			if err == nil {
				t.Errorf("ParseDate(%q) = %v, want error", tt.in, d)
			}
			continue
		}
		if err != nil || ISODate(d) != tt.iso {
			t.Errorf("ParseDate(%q) = %v, %v; want %s", tt.in, d, err, tt.iso)
		}
	}
	if got := FormatDate(time.Date(2025, 3, 1, 23, 0, 0, 0, time.UTC)); got != "01.03.2025" {
		t.Errorf("FormatDate = %q", got)
	}
}

func TestNormalize(t *testing.T) {
	s := mustSchema(t, testSchema)
	got := s.Normalize(Values{"geb": " 1.2.1980", "betrag": "12,50", "iban": "de89 3704 0044 0532 0130 00", "mehr": "x, y", "name": "  ", "wohnung.staat": "at", "other": "x"})
	want := Values{"geb": "1980-02-01", "betrag": "12.5", "iban": "DE89370400440532013000", "mehr": "x,y", "wohnung.staat": "AT", "other": "x"}
	if len(got) != len(want) {
		t.Fatalf("Normalize = %v", got)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
}

func TestChecks(t *testing.T) {
	for _, iban := range []string{"DE89370400440532013000", "DE02120300000000202051", "FR1420041010050500013M02606", "NL91ABNA0417164300"} {
		if err := CheckIBAN(iban); err != nil {
			t.Errorf("CheckIBAN(%s) = %v", iban, err)
		}
	}
	for _, iban := range []string{"DE88370400440532013000", "XX89370400440532013000", "DE8937040044053201300", ""} {
		if CheckIBAN(iban) == nil {
			t.Errorf("CheckIBAN(%s) accepted", iban)
		}
	}
	if !ValidPLZ("01067") || ValidPLZ("1067") || ValidPLZ("010677") {
		t.Error("ValidPLZ")
	}
}
