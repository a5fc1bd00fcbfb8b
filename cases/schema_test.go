package cases_test

import (
	"strings"
	"testing"
	"time"

	"fieldoffice/assets"
	"fieldoffice/cases"
)

func schemaWith(fields string, extra string) string {
	return `{"schema_version": 1, "service": "t", "title": {"de": "T"}, "sections": [{"id": "s", "title": {"de": "S"}, "fields": [` +
		fields + `]}]` + extra + `}`
}

const okField = `{"name": "a", "type": "text", "label": {"de": "A"}}`

func TestParseSchemaErrors(t *testing.T) {
	sel := `{"name": "sel", "type": "select", "label": {"de": "S"}, "options": [{"value": "x", "label": {"de": "X"}}]}`
	wf := func(states, transitions string) string {
		return `, "workflow": {"states": [` + states + `], "transitions": [` + transitions + `]}`
	}
	st := `{"id": "neu", "label": {"de": "Neu"}, "initial": true}, {"id": "fertig", "label": {"de": "Fertig"}, "final": true}`
	tests := []struct{ name, js, want string }{
		{"not json", `{`, "not valid schema JSON"},
		{"unknown key", strings.Replace(schemaWith(okField, ""), `"label"`, `"requried": true, "label"`, 1), `unknown field "requried"`},
		{"trailing", schemaWith(okField, "") + `{}`, "trailing data"},
		{"no version", strings.Replace(schemaWith(okField, ""), `"schema_version": 1`, `"schema_version": 0`, 1), "schema_version: missing"},
		{"newer version", strings.Replace(schemaWith(okField, ""), `"schema_version": 1`, `"schema_version": 9`, 1), "newer than this client"},
		{"bad service", strings.Replace(schemaWith(okField, ""), `"service": "t"`, `"service": "T X"`, 1), "not a service ID"},
		{"no sections", `{"schema_version": 1, "service": "t", "title": {"de": "T"}, "sections": []}`, "no sections"},
		{"duplicate field", schemaWith(okField+","+okField, ""), `"a": duplicate field name`},
		{"bad field name", schemaWith(`{"name": "A b", "type": "text", "label": {"de": "A"}}`, ""), "field name is not a name"},
		{"unknown type", schemaWith(`{"name": "a", "type": "colour", "label": {"de": "A"}}`, ""), `unknown type "colour"`},
		{"no label", schemaWith(`{"name": "a", "type": "text", "label": {"en": "A"}}`, ""), "German label missing"},
		{"select without options", schemaWith(`{"name": "a", "type": "select", "label": {"de": "A"}}`, ""), "a select field needs options"},
		{"duplicate option", schemaWith(`{"name": "a", "type": "multiselect", "label": {"de": "A"}, "options": [{"value": "x", "label": {"de": "X"}}, {"value": "x", "label": {"de": "X"}}]}`, ""), `duplicate option value "x"`},
		{"comma option", schemaWith(`{"name": "a", "type": "multiselect", "label": {"de": "A"}, "options": [{"value": "x,y", "label": {"de": "X"}}]}`, ""), "without commas"},
		{"options on text", schemaWith(`{"name": "a", "type": "text", "label": {"de": "A"}, "options": [{"value": "x", "label": {"de": "X"}}]}`, ""), "options apply to select"},
		{"bad pattern", schemaWith(`{"name": "a", "type": "text", "label": {"de": "A"}, "pattern": "[a-"}`, ""), "pattern does not compile"},
		{"pattern on date", schemaWith(`{"name": "a", "type": "date", "label": {"de": "A"}, "pattern": "x"}`, ""), "pattern applies to text and phone"},
		{"min > max", schemaWith(`{"name": "a", "type": "number", "label": {"de": "A"}, "min": 5, "max": 1}`, ""), "min 5 is greater than max 1"},
		{"date min number", schemaWith(`{"name": "a", "type": "date", "label": {"de": "A"}, "min": 5}`, ""), "must be dates"},
		{"bad date limit", schemaWith(`{"name": "a", "type": "date", "label": {"de": "A"}, "min": "gestern"}`, ""), "not a date"},
		{"min on text", schemaWith(`{"name": "a", "type": "text", "label": {"de": "A"}, "min": 1}`, ""), "min/max apply to number and date"},
		{"future on text", schemaWith(`{"name": "a", "type": "text", "label": {"de": "A"}, "not_in_future": true}`, ""), "not_in_future applies to date"},
		{"length on number", schemaWith(`{"name": "a", "type": "number", "label": {"de": "A"}, "max_length": 3}`, ""), "min_length/max_length apply"},
		{"minlen > maxlen", schemaWith(`{"name": "a", "type": "text", "label": {"de": "A"}, "min_length": 5, "max_length": 3}`, ""), "min_length 5 is greater"},
		{"visible unknown", schemaWith(`{"name": "a", "type": "text", "label": {"de": "A"}, "visible_if": {"field": "b", "equals": ["x"]}}`, ""), `refers to unknown field "b"`},
		{"visible self", schemaWith(`{"name": "a", "type": "text", "label": {"de": "A"}, "visible_if": {"field": "a", "equals": ["x"]}}`, ""), "refers to the field itself"},
		{"visible no values", schemaWith(sel+`,{"name": "a", "type": "text", "label": {"de": "A"}, "visible_if": {"field": "sel", "equals": []}}`, ""), "equals lists no values"},
		{"visible not option", schemaWith(sel+`,{"name": "a", "type": "text", "label": {"de": "A"}, "visible_if": {"field": "sel", "equals": ["y"]}}`, ""), `"y" is not an option of "sel"`},
		{"visible checkbox", schemaWith(`{"name": "c", "type": "checkbox", "label": {"de": "C"}},{"name": "a", "type": "text", "label": {"de": "A"}, "visible_if": {"field": "c", "equals": ["ja"]}}`, ""), `values "true" and "false"`},
		{"visible cycle", schemaWith(`{"name": "a", "type": "text", "label": {"de": "A"}, "visible_if": {"field": "b", "equals": ["x"]}},{"name": "b", "type": "text", "label": {"de": "B"}, "visible_if": {"field": "a", "equals": ["x"]}}`, ""), "form a cycle"},
		{"visible on address", schemaWith(`{"name": "w", "type": "address", "label": {"de": "W"}},{"name": "a", "type": "text", "label": {"de": "A"}, "visible_if": {"field": "w", "equals": ["x"]}}`, ""), "cannot depend on a field of type address"},
		{"wf no initial", schemaWith(okField, wf(`{"id": "neu", "label": {"de": "Neu"}}`, "")), "exactly one state must be initial, found 0"},
		{"wf two initial", schemaWith(okField, wf(`{"id": "neu", "label": {"de": "Neu"}, "initial": true}, {"id": "alt", "label": {"de": "Alt"}, "initial": true}`, "")), "found 2"},
		{"wf dup state", schemaWith(okField, wf(st+`, {"id": "neu", "label": {"de": "Neu"}}`, `{"from": ["neu"], "to": "fertig", "label": {"de": "x"}}`)), `duplicate state id "neu"`},
		{"wf unknown to", schemaWith(okField, wf(st, `{"from": ["neu"], "to": "weg", "label": {"de": "x"}}`)), `to: unknown state "weg"`},
		{"wf unknown from", schemaWith(okField, wf(st, `{"from": ["da"], "to": "fertig", "label": {"de": "x"}}`)), `from: unknown state "da"`},
		{"wf from final", schemaWith(okField, wf(st, `{"from": ["neu"], "to": "fertig", "label": {"de": "x"}}, {"from": ["fertig"], "to": "neu", "label": {"de": "x"}}`)), `"fertig" is final`},
		{"wf unreachable", schemaWith(okField, wf(st, "")), `state "fertig" cannot be reached`},
		{"wf requires unknown", schemaWith(okField, wf(st, `{"from": ["neu"], "to": "fertig", "label": {"de": "x"}, "requires": ["b"]}`)), `requires unknown field "b"`},
		{"wf bad role", schemaWith(okField, wf(st, `{"from": ["neu"], "to": "fertig", "label": {"de": "x"}, "roles": ["Chef In"]}`)), `role "Chef In" is not a name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := cases.ParseSchema([]byte(tt.js))
			if err == nil {
				t.Fatalf("accepted: %+v", s)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\ndoes not contain %q", err, tt.want)
			}
		})
	}
	// And the control: the minimal schema with a workflow parses.
	if _, err := cases.ParseSchema([]byte(schemaWith(okField, wf(st, `{"from": ["neu"], "to": "fertig", "label": {"de": "x"}, "requires": ["a", "assignee"]}`)))); err != nil {
		t.Fatalf("minimal schema: %v", err)
	}
}

// sampleValues are complete, valid applications for the four sample services.
var sampleValues = map[string]cases.Values{
	"anmeldung": {
		"neue_wohnung.strasse": "Lindenstraße", "neue_wohnung.hausnummer": "14", "neue_wohnung.plz": "10969", "neue_wohnung.ort": "Berlin",
		"einzugsdatum": "01.06.2025", "wohnungsstatus": "alleinige", "wohnungsgeber_bestaetigung": "true", "wohnungsgeber_name": "Wohnbau Kreuzberg GmbH",
		"bisherige_wohnung.strasse": "Hauptstraße", "bisherige_wohnung.hausnummer": "3", "bisherige_wohnung.plz": "1010", "bisherige_wohnung.ort": "Wien",
		"bisherige_wohnung.staat": "AT", "bisherige_beibehalten": "nein",
		"familienname": "Schäfer", "vornamen": "Anna Luise", "geschlecht": "weiblich", "geburtsdatum": "1988-04-12", "geburtsort": "Graz, Österreich",
		"staatsangehoerigkeit": "deutsch,andere", "staatsangehoerigkeit_andere": "österreichisch", "religion": "rk", "familienstand": "verheiratet",
		"familienstand_datum": "2015-08-22", "ausweis_nummer": "L01X00T47", "telefon": "+49 30 1234567", "email": "anna.schaefer@example.de",
		"unterschrift": strings.Repeat("ab", 32),
	},
	"gewerbeanmeldung": {
		"rechtsform": "gmbh", "firmenname": "Radwerk Süd GmbH", "registergericht": "Amtsgericht München", "registernummer": "HRB 123456",
		"familienname": "Yılmaz", "vornamen": "Deniz", "geburtsdatum": "12.03.1985", "geburtsort": "Augsburg", "staatsangehoerigkeit": "deutsch,tuerkisch",
		"wohnanschrift.strasse": "Fraunhoferstraße", "wohnanschrift.hausnummer": "7", "wohnanschrift.plz": "80469", "wohnanschrift.ort": "München",
		"betriebsstaette.strasse": "Lindwurmstraße", "betriebsstaette.hausnummer": "88", "betriebsstaette.plz": "80337", "betriebsstaette.ort": "München",
		"taetigkeit": "Einzelhandel mit Fahrrädern und Zubehör, Reparatur von Fahrrädern", "art_betrieb": "handel", "beginn": "2025-07-01",
		"beschaeftigte_vollzeit": "3", "beschaeftigte_teilzeit": "2", "unterschrift": strings.Repeat("cd", 32),
	},
	"bewohnerparkausweis": {
		"familienname": "Becker", "vornamen": "Jonas", "geburtsdatum": "1979-11-02",
		"wohnanschrift.strasse": "Am Markt", "wohnanschrift.hausnummer": "5", "wohnanschrift.plz": "69117", "wohnanschrift.ort": "Heidelberg",
		"kennzeichen": "HD-JB 1979", "fahrzeugart": "pkw", "nutzung": "leasing", "halter_name": "Autohaus Neckar Leasing GmbH",
		"nutzungsbestaetigung": strings.Repeat("01", 32), "fahrzeugschein": strings.Repeat("02", 32),
		"parkzone": "a", "gueltig_ab": "01.07.2025", "laufzeit": "12", "gebuehr": "120", "zahlungsart": "lastschrift",
		"iban": "DE89 3704 0044 0532 0130 00", "kontoinhaber": "Jonas Becker", "sepa_mandat": "true", "unterschrift": strings.Repeat("03", 32),
	},
	"personalausweis": {
		"antragsgrund": "ablauf", "bisheriger_ausweis": "L01X00T47",
		"familienname": "Müller", "vornamen": "Karl-Heinz", "geburtsdatum": "23.05.1956", "geburtsort": "Kassel", "deutsch": "true",
		"anschrift.strasse": "Wilhelmshöher Allee", "anschrift.hausnummer": "101", "anschrift.plz": "34119", "anschrift.ort": "Kassel",
		"groesse": "178", "augenfarbe": "graublau", "lichtbild": strings.Repeat("04", 32), "fingerabdruecke": "true",
		"unterschrift_ausweis": strings.Repeat("05", 32), "pin_brief": "post", "gebuehr": "37", "unterschrift": strings.Repeat("06", 32),
	},
}

func loadForms(t testing.TB) map[string]*cases.Schema {
	t.Helper()
	raw, err := assets.Forms()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*cases.Schema{}
	for id, b := range raw {
		s, err := cases.ParseSchema(b)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		out[id] = s
	}
	return out
}

func TestSampleForms(t *testing.T) {
	now := time.Date(2025, 6, 15, 10, 0, 0, 0, time.UTC)
	forms := loadForms(t)
	if len(forms) != 4 {
		t.Fatalf("%d forms", len(forms))
	}
	for id, s := range forms {
		v, ok := sampleValues[id]
		if !ok {
			t.Fatalf("no sample values for %s", id)
		}
		for _, lang := range []string{"de", "en"} {
			if msgs := s.Validate(v, lang, now); len(msgs) != 0 {
				t.Errorf("%s sample (%s): %v", id, lang, msgs)
			}
		}
		// An empty application lists the required fields, in German.
		msgs := s.Validate(cases.Values{}, "de", now)
		if len(msgs) < 5 {
			t.Errorf("%s: empty form has only %d messages: %v", id, len(msgs), msgs)
		}
		if s.Workflow.Initial() != "eingegangen" {
			t.Errorf("%s: initial state %q", id, s.Workflow.Initial())
		}
	}
	// Form-specific rules.
	checks := []struct {
		service string
		set     cases.Values
		key     string
		want    string
	}{
		{"anmeldung", cases.Values{"neue_wohnung.plz": "1096"}, "neue_wohnung.plz", "Postleitzahl muss fünf Ziffern haben"},
		{"anmeldung", cases.Values{"einzugsdatum": "01.07.2025"}, "einzugsdatum", "Das Datum darf nicht in der Zukunft liegen"},
		{"anmeldung", cases.Values{"bisherige_beibehalten": "ja"}, "bisherige_status", "Bitte wählen Sie eine Angabe aus"},
		{"anmeldung", cases.Values{"wohnungsgeber_bestaetigung": "false"}, "wohnungsgeber_bestaetigung", "Bitte bestätigen Sie diese Angabe"},
		{"gewerbeanmeldung", cases.Values{"registernummer": "123456"}, "registernummer", "Die Angabe hat nicht das erwartete Format (z. B. HRB 12345)"},
		{"gewerbeanmeldung", cases.Values{"art_betrieb": "handwerk"}, "handwerkskarte", "Bitte fügen Sie die Anlage bei"},
		{"gewerbeanmeldung", cases.Values{"beschaeftigte_vollzeit": "2,5"}, "beschaeftigte_vollzeit", "Bitte geben Sie eine ganze Zahl an"},
		{"bewohnerparkausweis", cases.Values{"kennzeichen": "HD JB 1979"}, "kennzeichen", "Die Angabe hat nicht das erwartete Format (z. B. M-AB 1234 oder B-E 12E)"},
		{"bewohnerparkausweis", cases.Values{"iban": "DE89 3704 0044 0532 0130 01"}, "iban", "IBAN ist ungültig (Prüfsumme)"},
		{"personalausweis", cases.Values{"geburtsdatum": "2030-01-01"}, "geburtsdatum", "Das Datum darf nicht in der Zukunft liegen"},
		{"personalausweis", cases.Values{"groesse": "300"}, "groesse", "Der Wert darf höchstens 250 betragen"},
		{"personalausweis", cases.Values{"antragsgrund": "verlust"}, "verlustanzeige", "Bitte fügen Sie die Anlage bei"},
	}
	for _, c := range checks {
		v := cases.Values{}
		for k, x := range sampleValues[c.service] {
			v[k] = x
		}
		for k, x := range c.set {
			v[k] = x
		}
		msgs := forms[c.service].Validate(v, "de", now)
		if msgs[c.key] != c.want || len(msgs) != 1 {
			t.Errorf("%s %v: got %v, want %s: %q", c.service, c.set, msgs, c.key, c.want)
		}
	}
	// Hidden fields: switching the Rechtsform to Einzelunternehmen hides the register
	// fields, so their values no longer matter.
	v := cases.Values{}
	for k, x := range sampleValues["gewerbeanmeldung"] {
		v[k] = x
	}
	v["rechtsform"] = "einzelunternehmen"
	v["registernummer"] = "kaputt"
	if msgs := forms["gewerbeanmeldung"].Validate(v, "de", now); len(msgs) != 0 {
		t.Errorf("hidden register fields validated: %v", msgs)
	}
	// Searchable keys include names and addresses.
	keys := strings.Join(forms["anmeldung"].SearchableKeys(), " ")
	for _, k := range []string{"familienname", "vornamen", "neue_wohnung.strasse", "neue_wohnung.plz"} {
		if !strings.Contains(keys, k) {
			t.Errorf("anmeldung: %s not searchable (%s)", k, keys)
		}
	}
}

func FuzzParseSchema(f *testing.F) {
	raw, err := assets.Forms()
	if err != nil {
		f.Fatal(err)
	}
	for _, b := range raw {
		f.Add(b)
	}
	f.Add([]byte(schemaWith(okField, "")))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := cases.ParseSchema(data)
		if err != nil {
			return
		}
		// A schema that parses must be usable: validation and visibility terminate and
		// do not panic, for empty and for junk values.
		now := time.Date(2025, 6, 15, 0, 0, 0, 0, time.UTC)
		v := cases.Values{}
		s.Validate(v, "de", now)
		for _, k := range s.Keys() {
			v[k] = "true"
		}
		s.Validate(v, "en", now)
		s.Normalize(v)
		if s.Workflow != nil {
			c, err := s.NewCase(now)
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range s.Workflow.States {
				_ = s.Workflow.Check(c, st.ID, "sachbearbeitung", s, now)
			}
			s.Workflow.Allowed(c, "buergerbuero", s, now)
		}
	})
}
