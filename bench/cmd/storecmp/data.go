package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/google/uuid"
)

// benchCase is a case as a caseworker's store would hold it: the shape follows
// cases.Case (ID, service, reference number, applicant, form values, status,
// assignee, due date, notes, attachment references, revision, timestamps), written
// here on its own so that the benchmark depends only on the stable storage API.
type benchCase struct {
	ID          string            `json:"id"`
	Service     string            `json:"service"`
	Reference   string            `json:"reference"`
	Applicant   applicant         `json:"applicant"`
	Values      map[string]string `json:"values"`
	Status      string            `json:"status"`
	Assignee    string            `json:"assignee"`
	Due         string            `json:"due"`
	Notes       []note            `json:"notes"`
	Attachments []attachment      `json:"attachments"`
	Revision    int64             `json:"revision"`
	Created     time.Time         `json:"created"`
	Updated     time.Time         `json:"updated"`
}

type applicant struct {
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name"`
	BirthDate   string `json:"birth_date"`
	Street      string `json:"street"`
	HouseNumber string `json:"house_number"`
	PostalCode  string `json:"postal_code"`
	City        string `json:"city"`
	Email       string `json:"email"`
	Phone       string `json:"phone"`
}

type note struct {
	Author string    `json:"author"`
	At     time.Time `json:"at"`
	Text   string    `json:"text"`
}

type attachment struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	Type   string `json:"type"`
}

var (
	firstNames = []string{"Anna", "Jürgen", "Sabine", "Mehmet", "Katharina", "Lukas", "Björn", "Özlem", "Małgorzata", "Heinz",
		"Ursula", "Maximilian", "Leonie", "Günther", "Sophie", "Dieter", "Fatma", "Jörg", "Ingrid", "Paul", "Lea", "Käthe"}
	lastNames = []string{"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
		"Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann", "Yılmaz", "Krüger", "Weiß", "Groß"}
	streets = []string{"Hauptstraße", "Schulstraße", "Gartenstraße", "Bahnhofstraße", "Dorfstraße", "Bergstraße", "Lindenstraße",
		"Kirchstraße", "Waldstraße", "Ringstraße", "Mühlenweg", "Am Marktplatz", "Goethestraße", "Schillerstraße", "Friedrich-Ebert-Straße"}
	cities = []struct{ plz, name string }{{"10115", "Berlin"}, {"20095", "Hamburg"}, {"80331", "München"}, {"50667", "Köln"},
		{"60311", "Frankfurt am Main"}, {"70173", "Stuttgart"}, {"40213", "Düsseldorf"}, {"04109", "Leipzig"}, {"44135", "Dortmund"},
		{"45127", "Essen"}, {"28195", "Bremen"}, {"01067", "Dresden"}, {"30159", "Hannover"}, {"90402", "Nürnberg"}, {"47051", "Duisburg"}}
	services  = []string{"anmeldung", "gewerbeanmeldung", "bewohnerparkausweis", "personalausweis"}
	statuses  = []string{"entwurf", "eingereicht", "in_pruefung", "rueckfrage", "genehmigt", "abgelehnt", "abgeschlossen"}
	assignees = []string{"sb.meier", "sb.kaya", "sb.hoffmann", "sb.nowak", "sb.braun"}
	sentences = []string{
		"Antragsteller hat die Unterlagen vollständig eingereicht.",
		"Meldebescheinigung wurde ausgedruckt und übergeben.",
		"Wohnungsgeberbestätigung liegt vor, Einzugsdatum geprüft.",
		"Rückfrage zur Gewerbetätigkeit telefonisch geklärt.",
		"Personalausweis abgelaufen, vorläufiger Ausweis beantragt.",
		"Kennzeichen stimmt mit der Zulassungsbescheinigung Teil I überein.",
		"Gebühr in Höhe von 30,00 € per EC-Karte bezahlt.",
		"Termin zur Abholung für nächste Woche vereinbart.",
		"Biometrisches Lichtbild entspricht nicht den Vorgaben, neues Foto angefordert.",
		"Zuzug aus dem Ausland, Nachweis der Staatsangehörigkeit erforderlich.",
		"Bewohnerparkzone 3 zugeordnet, Gültigkeit zwölf Monate.",
		"Wiedervorlage gesetzt, Antwort der Gewerbeaufsicht steht aus.",
	}
	attachTypes = []struct{ name, mime string }{{"Wohnungsgeberbestaetigung.pdf", "application/pdf"},
		{"Lichtbild.jpg", "image/jpeg"}, {"Fahrzeugschein.pdf", "application/pdf"}, {"Gewerbeanzeige_Scan.png", "image/png"}}
)

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// makeCase returns a case with realistic German content, padded with notes to about
// size bytes of JSON.
func makeCase(r *rand.Rand, id string, created time.Time, size int) benchCase {
	city := pick(r, cities)
	first, last := pick(r, firstNames), pick(r, lastNames)
	svc := pick(r, services)
	c := benchCase{
		ID:        id,
		Service:   svc,
		Reference: fmt.Sprintf("%s-%d/%04d", map[string]string{"anmeldung": "32.1", "gewerbeanmeldung": "33.2", "bewohnerparkausweis": "36.4", "personalausweis": "32.2"}[svc], created.Year(), r.IntN(10000)),
		Applicant: applicant{
			FirstName: first, LastName: last,
			BirthDate:   fmt.Sprintf("%04d-%02d-%02d", 1940+r.IntN(66), 1+r.IntN(12), 1+r.IntN(28)),
			Street:      pick(r, streets),
			HouseNumber: fmt.Sprintf("%d%s", 1+r.IntN(180), pick(r, []string{"", "", "", "a", "b"})),
			PostalCode:  city.plz, City: city.name,
			Email: strings.ToLower(fmt.Sprintf("%s.%s%d@example.de", first, last, r.IntN(100))),
			Phone: fmt.Sprintf("+49 %d %d", 30+r.IntN(900), 100000+r.IntN(9000000)),
		},
		Values: map[string]string{
			"einzugsdatum":          created.AddDate(0, 0, -r.IntN(14)).Format(time.DateOnly),
			"bisherige_wohnung":     fmt.Sprintf("%s %d, %s %s", pick(r, streets), 1+r.IntN(99), pick(r, cities).plz, pick(r, cities).name),
			"wohnungsgeber":         pick(r, lastNames) + " Immobilien GmbH",
			"familienstand":         pick(r, []string{"ledig", "verheiratet", "geschieden", "verwitwet"}),
			"staatsangehoerigkeit":  pick(r, []string{"deutsch", "türkisch", "polnisch", "italienisch", "syrisch"}),
			"religion":              pick(r, []string{"rk", "ev", "--"}),
			"iban":                  fmt.Sprintf("DE%02d 3704 0044 %04d %04d %02d", 10+r.IntN(89), r.IntN(10000), r.IntN(10000), r.IntN(100)),
			"kennzeichen":           fmt.Sprintf("%s-%s %d", pick(r, []string{"B", "HH", "M", "K", "F", "S"}), pick(r, []string{"AB", "XY", "KL", "MÜ"}), 1+r.IntN(9999)),
			"taetigkeit":            pick(r, []string{"Einzelhandel mit Lebensmitteln", "IT-Dienstleistungen", "Friseursalon", "Gastronomie (Imbiss)"}),
			"beginn_taetigkeit":     created.AddDate(0, 1, 0).Format(time.DateOnly),
			"anzahl_beschaeftigte":  fmt.Sprint(r.IntN(25)),
			"ausweis_gueltig_bis":   created.AddDate(r.IntN(10), 0, 0).Format(time.DateOnly),
			"groesse_cm":            fmt.Sprint(150 + r.IntN(50)),
			"augenfarbe":            pick(r, []string{"blau", "braun", "grün", "grau"}),
			"ordensname_kuenstler":  "",
			"zustellung_per_post":   pick(r, []string{"ja", "nein"}),
			"einverstaendnis_dsgvo": "ja",
		},
		Status:   pick(r, statuses),
		Assignee: pick(r, assignees),
		Due:      created.AddDate(0, 0, 7+r.IntN(30)).Format(time.DateOnly),
		Revision: int64(1 + r.IntN(20)),
		Created:  created,
		Updated:  created.Add(time.Duration(r.IntN(3600*24*10)) * time.Second),
	}
	for range 1 + r.IntN(3) {
		a := pick(r, attachTypes)
		var sum [32]byte
		for i := range sum {
			sum[i] = byte(r.Uint32())
		}
		c.Attachments = append(c.Attachments, attachment{Name: a.name, Type: a.mime, Size: int64(20_000 + r.IntN(3_000_000)), SHA256: fmt.Sprintf("%x", sum)})
	}
	// Pad with notes (the free-text history of the case) to about size bytes.
	b, _ := json.Marshal(c)
	for n := len(b); n < size; {
		t := pick(r, sentences)
		if r.IntN(2) == 0 {
			t += " " + pick(r, sentences)
		}
		nt := note{Author: pick(r, assignees), At: created.Add(time.Duration(r.IntN(3600*24*30)) * time.Second), Text: t}
		c.Notes = append(c.Notes, nt)
		nb, _ := json.Marshal(nt)
		n += len(nb) + 1
	}
	return c
}

// workload is the data both stores get: keys (UUIDv7 strings, time-ordered) and JSON
// values, plus the lookups and changes, all drawn from one seeded generator.
type workload struct {
	keys, vals [][]byte
	lookups    []int    // indexes into keys
	changed    []int    // indexes into keys, one per single-record commit
	changes    [][]byte // the changed case for each commit
	bytes      int64
}

func makeWorkload(seed uint64, n, size, lookups, commits int) (*workload, error) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	w := &workload{keys: make([][]byte, n), vals: make([][]byte, n)}
	start := time.Now().Add(-365 * 24 * time.Hour).UTC().Truncate(time.Second)
	for i := range n {
		id, err := uuid.NewV7()
		if err != nil {
			return nil, err
		}
		c := makeCase(r, id.String(), start.Add(time.Duration(i)*300*time.Millisecond), size)
		b, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		w.keys[i], w.vals[i] = []byte(c.ID), b
		w.bytes += int64(len(b))
	}
	for range lookups {
		w.lookups = append(w.lookups, r.IntN(n))
	}
	for range commits {
		i := r.IntN(n)
		var c benchCase
		if err := json.Unmarshal(w.vals[i], &c); err != nil {
			return nil, err
		}
		c.Status = pick(r, statuses)
		c.Revision++
		c.Updated = time.Now().UTC().Truncate(time.Second)
		c.Notes = append(c.Notes, note{Author: pick(r, assignees), At: c.Updated, Text: pick(r, sentences)})
		b, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		w.changed = append(w.changed, i)
		w.changes = append(w.changes, b)
	}
	return w, nil
}
