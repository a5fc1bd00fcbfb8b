// Package demo generates realistic German demo cases (Vorgänge) for the four sample
// services (anmeldung, gewerbeanmeldung, bewohnerparkausweis, personalausweis): names,
// addresses in real German cities, dates, workflow states, Aktenzeichen,
// Sachbearbeitung and Wiedervorlage as the state needs them, and form values that
// validate against the sample schemas (assets/forms).
//
// It is pure Go (no I/O). The device's vault (storage.Vault.DemoData) and the
// reference portal (`portald seed`) both draw their demo data from it:
//
//	g := demo.NewGenerator(seed, now)
//	for i := range n {
//		c, err := g.Case(demo.Created(now, i, n))
//		…
//	}
//
// The same seed and now give the same sequence of cases, except for the case and note
// IDs, which are fresh UUIDv7s (a case ID carries the case's creation time).
package demo

import (
	"encoding/binary"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"

	"fieldoffice/cases"
)

// Span is how far back the generated cases go: Created spreads them over the two
// years before now.
const Span = 730 * 24 * time.Hour

// Created returns the creation time of case i of n (0 ≤ i < n) when n cases are spread
// evenly over the Span before now, oldest first; the newest is an hour or more old.
func Created(now time.Time, i, n int) time.Time {
	start := now.UTC().Add(-Span)
	return start.Add(time.Duration(float64(Span-time.Hour) * float64(i) / float64(n)))
}

// Generator makes demo cases. It is not safe for concurrent use.
type Generator struct {
	rnd *rand.Rand
	now time.Time
	seq map[string]int // Aktenzeichen counter per prefix and year
}

// NewGenerator returns a generator whose cases are the same for the same seed and now.
// now decides a case's age (older cases are further in their workflow) and is never
// exceeded by a generated date other than a planned start or follow-up date.
func NewGenerator(seed int64, now time.Time) *Generator {
	return &Generator{rnd: rand.New(rand.NewPCG(uint64(seed), 0x5eed)), now: now.UTC(), seq: map[string]int{}}
}

// Case returns a new demo case created at created (which should not be after the
// generator's now). Its Revision is 0; the values validate against the service's
// sample schema, and the status is one of its workflow's states. Aktenzeichen are
// numbered per service prefix and year within this generator ("MB-2026-000123"); a
// case still "eingegangen" may have none yet. The error is only that of making a UUID.
func (g *Generator) Case(created time.Time) (*cases.Case, error) {
	svc := g.service()
	id, err := caseID(created)
	if err != nil {
		return nil, fmt.Errorf("demo case ID: %w", err)
	}
	c := &cases.Case{ID: id, Service: svc.ID, Values: cases.Values{}, Created: created.UTC(), Updated: created.UTC()}
	p := g.person(c.Values, svc, created)
	var addrField string
	switch svc.ID {
	case "anmeldung":
		addrField = g.anmeldung(c.Values, p, created)
	case "gewerbeanmeldung":
		addrField = g.gewerbeanmeldung(c, p, created)
	case "bewohnerparkausweis":
		addrField = g.bewohnerparkausweis(c.Values, p, created)
	case "personalausweis":
		addrField = g.personalausweis(c.Values, p)
	}
	vals := c.Values
	c.Applicant.FamilyName, c.Applicant.GivenNames = p.family, p.given
	c.Applicant.BirthName = vals["geburtsname"]
	c.Applicant.Address = cases.Address{Street: vals[addrField+".strasse"], HouseNumber: vals[addrField+".hausnummer"],
		Postcode: vals[addrField+".plz"], City: vals[addrField+".ort"]}
	g.workflow(c, svc, created)
	return c, nil
}

func (g *Generator) pick(xs []string) string { return xs[g.rnd.IntN(len(xs))] }
func (g *Generator) chance(p float64) bool   { return g.rnd.Float64() < p }

// sha returns a random SHA-256 hex digest, standing in for a signature or a scanned
// document (the demo data has no attachment content).
func (g *Generator) sha() string {
	var b [32]byte
	for i := range b {
		b[i] = byte(g.rnd.Uint32())
	}
	return fmt.Sprintf("%x", b)
}

// date returns an ISO date between from and to.
func (g *Generator) date(from, to time.Time) string {
	if !to.After(from) {
		return cases.ISODate(from)
	}
	d := time.Duration(g.rnd.Int64N(int64(to.Sub(from))))
	return cases.ISODate(from.Add(d))
}

// iban returns a German IBAN with a valid check sum.
func (g *Generator) iban() string {
	bban := fmt.Sprintf("%08d%010d", 10000000+g.rnd.IntN(89999999), g.rnd.Int64N(9999999999))
	n, _ := new(big.Int).SetString(bban+"131400", 10) // "DE" = 13 14, check "00"
	check := 98 - new(big.Int).Mod(n, big.NewInt(97)).Int64()
	return fmt.Sprintf("DE%02d%s", check, bban)
}

// caseID returns a UUIDv7 carrying t.
func caseID(t time.Time) (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", err
	}
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(t.UnixMilli()))
	copy(id[0:6], ms[2:8])
	return id.String(), nil
}

// service picks a service by weight.
func (g *Generator) service() Service {
	w := g.rnd.IntN(100)
	for _, s := range Services {
		if w < s.Weight {
			return s
		}
		w -= s.Weight
	}
	return Services[0]
}

// person is the applicant the generator made up for a case.
type person struct {
	female        bool
	given, family string
	city          City
	nationality   string // option value of staatsangehoerigkeit
}

// person makes up the applicant and fills the values every form shares (names, birth
// date, phone, e-mail).
func (g *Generator) person(vals cases.Values, svc Service, created time.Time) person {
	p := person{female: g.chance(0.5)}
	// given draws a male name first and, for a woman, a female one after it: the order
	// of draws is part of what a seed produces.
	given := func() string {
		name := g.pick(Male)
		if p.female {
			name = g.pick(Female)
		}
		return name
	}
	p.given = given()
	if g.chance(0.15) {
		if second := given(); second != p.given {
			p.given += " " + second
		}
	}
	p.family = g.pick(Family)
	p.city = Cities[g.rnd.IntN(len(Cities))]
	birth := g.date(time.Date(1940, 1, 1, 0, 0, 0, 0, time.UTC), created.AddDate(-18, 0, 0))
	vals["familienname"], vals["vornamen"], vals["geburtsdatum"] = p.family, p.given, birth
	if g.chance(0.1) && p.female && svc.ID != "bewohnerparkausweis" {
		vals["geburtsname"] = g.pick(Family)
	}
	if g.chance(0.4) {
		vals["telefon"] = fmt.Sprintf("0%d %d", 30+g.rnd.IntN(900), 100000+g.rnd.IntN(8999999))
	}
	if g.chance(0.4) {
		vals["email"] = mailLocal(p.given+"."+p.family) + "@" + []string{"web.de", "gmx.de", "t-online.de", "posteo.de", "mailbox.org"}[g.rnd.IntN(5)]
	}
	p.nationality = "deutsch"
	if g.chance(0.15) {
		p.nationality = []string{"tuerkisch", "polnisch", "ukrainisch", "syrisch", "rumaenisch", "italienisch"}[g.rnd.IntN(6)]
	}
	return p
}

// address fills the parts of address field with a street in city.
func (g *Generator) address(vals cases.Values, field string, city City) {
	vals[field+".strasse"] = g.pick(Streets)
	vals[field+".hausnummer"] = strconv.Itoa(1+g.rnd.IntN(120)) + []string{"", "", "", "", "a", "b"}[g.rnd.IntN(6)]
	vals[field+".plz"] = g.pick(city.PLZ)
	vals[field+".ort"] = city.Name
}

// anmeldung fills a residence registration; it returns the applicant's address field.
func (g *Generator) anmeldung(vals cases.Values, p person, created time.Time) string {
	g.address(vals, "neue_wohnung", p.city)
	vals["einzugsdatum"] = g.date(created.AddDate(0, 0, -14), created)
	vals["wohnungsstatus"] = []string{"alleinige", "alleinige", "alleinige", "haupt", "neben"}[g.rnd.IntN(5)]
	vals["wohnungsgeber_bestaetigung"] = "true"
	vals["wohnungsgeber_name"] = g.pick(Family) + " Immobilien GmbH"
	if g.chance(0.7) {
		g.address(vals, "bisherige_wohnung", Cities[g.rnd.IntN(len(Cities))])
		vals["bisherige_beibehalten"] = "nein"
		if g.chance(0.1) {
			vals["bisherige_beibehalten"], vals["bisherige_status"] = "ja", "neben"
		}
	}
	vals["geschlecht"] = map[bool]string{true: "weiblich", false: "maennlich"}[p.female]
	vals["geburtsort"] = Cities[g.rnd.IntN(len(Cities))].Name
	vals["staatsangehoerigkeit"] = p.nationality
	vals["familienstand"] = []string{"ledig", "verheiratet", "geschieden", "verwitwet", "ledig"}[g.rnd.IntN(5)]
	vals["religion"] = []string{"rk", "ev", "keine", "keine"}[g.rnd.IntN(4)]
	vals["unterschrift"] = g.sha()
	return "neue_wohnung"
}

// gewerbeanmeldung fills a trade registration (and the organisation, for a company);
// it returns the applicant's address field.
func (g *Generator) gewerbeanmeldung(c *cases.Case, p person, created time.Time) string {
	vals := c.Values
	tr := trades[g.rnd.IntN(len(trades))]
	rf := []string{"einzelunternehmen", "einzelunternehmen", "einzelunternehmen", "gmbh", "gbr", "ug"}[g.rnd.IntN(6)]
	vals["rechtsform"] = rf
	switch rf {
	case "gmbh", "ug":
		suffix := map[string]string{"gmbh": " GmbH", "ug": " UG (haftungsbeschränkt)"}[rf]
		c.Applicant.Organisation = p.family + " " + tr.firm + suffix
		vals["firmenname"] = c.Applicant.Organisation
		vals["registergericht"] = p.city.Court
		vals["registernummer"] = fmt.Sprintf("HRB %d", 1000+g.rnd.IntN(250000))
	case "gbr":
		c.Applicant.Organisation = tr.firm + " " + p.family + " & " + g.pick(Family) + " GbR"
		vals["firmenname"] = c.Applicant.Organisation
		vals["anzahl_gesellschafter"] = "2"
	}
	vals["geburtsort"] = Cities[g.rnd.IntN(len(Cities))].Name
	vals["staatsangehoerigkeit"] = p.nationality
	g.address(vals, "wohnanschrift", p.city)
	g.address(vals, "betriebsstaette", p.city)
	vals["taetigkeit"] = tr.what
	vals["art_betrieb"] = tr.art
	vals["beginn"] = g.date(created.AddDate(0, 0, -10), created.AddDate(0, 2, 0))
	vals["beschaeftigte_vollzeit"] = strconv.Itoa(g.rnd.IntN(6))
	vals["unterschrift"] = g.sha()
	return "wohnanschrift"
}

// bewohnerparkausweis fills a resident parking permit; it returns the applicant's
// address field.
func (g *Generator) bewohnerparkausweis(vals cases.Values, p person, created time.Time) string {
	g.address(vals, "wohnanschrift", p.city)
	const letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
	two := string(letters[g.rnd.IntN(len(letters))])
	if g.chance(0.6) {
		two += string(letters[g.rnd.IntN(len(letters))])
	}
	vals["kennzeichen"] = fmt.Sprintf("%s-%s %d", p.city.Plate, two, 1+g.rnd.IntN(9999))
	if g.chance(0.05) {
		vals["kennzeichen"] += "E"
	}
	vals["fahrzeugart"] = []string{"pkw", "pkw", "pkw", "kraftrad", "wohnmobil"}[g.rnd.IntN(5)]
	vals["nutzung"] = "halter"
	if g.chance(0.2) {
		vals["nutzung"] = []string{"firmenwagen", "leasing", "familie"}[g.rnd.IntN(3)]
		vals["halter_name"] = g.pick(Family) + " Leasing GmbH"
		vals["nutzungsbestaetigung"] = g.sha()
	}
	vals["fahrzeugschein"] = g.sha()
	vals["parkzone"] = []string{"a", "b", "c", "d"}[g.rnd.IntN(4)]
	vals["gueltig_ab"] = g.date(created, created.AddDate(0, 1, 0))
	vals["laufzeit"] = []string{"12", "24"}[g.rnd.IntN(2)]
	vals["gebuehr"] = map[string]string{"12": "30.7", "24": "61.4"}[vals["laufzeit"]]
	vals["zahlungsart"] = []string{"lastschrift", "ueberweisung", "karte"}[g.rnd.IntN(3)]
	if vals["zahlungsart"] == "lastschrift" {
		vals["iban"] = g.iban()
		vals["kontoinhaber"] = p.given + " " + p.family
		vals["sepa_mandat"] = "true"
	}
	vals["unterschrift"] = g.sha()
	return "wohnanschrift"
}

// personalausweis fills an ID-card application; it returns the applicant's address
// field.
func (g *Generator) personalausweis(vals cases.Values, p person) string {
	reason := []string{"ablauf", "ablauf", "ablauf", "erstausstellung", "verlust", "namensaenderung", "beschaedigung"}[g.rnd.IntN(7)]
	vals["antragsgrund"] = reason
	switch reason {
	case "ablauf", "namensaenderung", "beschaedigung":
		const alpha = "CFGHJKLMNPRTVWXYZ0123456789"
		var b [9]byte
		for i := range b {
			b[i] = alpha[g.rnd.IntN(len(alpha))]
		}
		vals["bisheriger_ausweis"] = string(b[:])
	case "verlust":
		vals["verlustanzeige"] = g.sha()
	}
	if g.chance(0.1) {
		vals["express"] = "true"
	}
	vals["geburtsort"] = Cities[g.rnd.IntN(len(Cities))].Name
	vals["deutsch"] = "true"
	g.address(vals, "anschrift", p.city)
	vals["groesse"] = strconv.Itoa(150 + g.rnd.IntN(50))
	vals["augenfarbe"] = []string{"blau", "graublau", "grau", "gruen", "braun", "dunkelbraun"}[g.rnd.IntN(6)]
	vals["lichtbild"] = g.sha()
	vals["fingerabdruecke"] = "true"
	vals["unterschrift_ausweis"] = g.sha()
	vals["pin_brief"] = []string{"post", "abholung"}[g.rnd.IntN(2)]
	vals["gebuehr"] = "37"
	vals["unterschrift"] = g.sha()
	return "anschrift"
}

// workflow puts c into a workflow state fitting its age and sets what the state needs:
// Aktenzeichen, Sachbearbeitung, Wiedervorlage, sometimes a Vermerk, and Updated.
func (g *Generator) workflow(c *cases.Case, svc Service, created time.Time) {
	states := []string{"eingegangen", "in_bearbeitung", "in_bearbeitung", "rueckfrage", "zurueckgestellt", "entscheidung", "abgeschlossen", "abgeschlossen", "abgelehnt"}
	if svc.ID == "personalausweis" {
		states = append(states, "bestellt", "abholbereit")
	}
	age := g.now.Sub(created)
	c.Status = "eingegangen"
	if age > 3*24*time.Hour || g.chance(0.3) {
		c.Status = g.pick(states)
		if age > 120*24*time.Hour && g.chance(0.7) {
			c.Status = []string{"abgeschlossen", "abgeschlossen", "abgelehnt"}[g.rnd.IntN(3)]
		}
	}
	key := svc.Prefix + strconv.Itoa(created.Year())
	g.seq[key]++
	if c.Status != "eingegangen" || g.chance(0.6) {
		c.Aktenzeichen = Aktenzeichen(svc.Prefix, created.Year(), g.seq[key])
	}
	if c.Status != "eingegangen" {
		c.Assignee = g.pick(Assignees)
	}
	switch c.Status {
	case "rueckfrage", "zurueckgestellt":
		c.DueDate = g.date(created.AddDate(0, 0, 7), created.AddDate(0, 0, 60))
	case "in_bearbeitung", "entscheidung":
		if g.chance(0.5) {
			c.DueDate = g.date(created.AddDate(0, 0, 7), created.AddDate(0, 0, 60))
		}
	}
	updated := created.Add(time.Duration(g.rnd.Int64N(int64(min(age, 60*24*time.Hour)) + 1)))
	if g.chance(0.2) && c.Status != "eingegangen" {
		c.Notes = append(c.Notes, cases.Note{ID: uuid.Must(uuid.NewV7()).String(), Author: c.Assignee, Text: g.pick(notes), Created: updated.UTC()})
	}
	c.Updated = updated.UTC()
}

// Aktenzeichen formats a reference number: prefix, year and a six-digit number, e.g.
// "MB-2026-000123".
func Aktenzeichen(prefix string, year, n int) string {
	return fmt.Sprintf("%s-%d-%06d", prefix, year, n)
}

// mailLocal turns "Jördis Anne.Müller" into "joerdis.anne.mueller": lower case, umlauts
// and other accented letters folded, every run of other characters one dot.
func mailLocal(s string) string {
	var words []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			words = append(words, b.String())
			b.Reset()
		}
	}
	for _, r := range strings.ToLower(s) {
		if f, ok := cases.FoldLetter(r); ok {
			b.WriteString(f)
			continue
		}
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(r)
		default:
			flush()
		}
	}
	flush()
	return strings.Join(words, ".")
}
