package storage

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"fieldoffice/cases"
)

// demoBatch is the number of demo cases per transaction.
const demoBatch = 2000

// DemoData adds n realistic German demo cases, spread over the four sample services
// (anmeldung, gewerbeanmeldung, bewohnerparkausweis, personalausweis), created over
// the two years before now, with names, addresses in real German cities, dates,
// workflow states, Aktenzeichen ("MB-2026-000123"), Sachbearbeitung and
// Wiedervorlage as the state needs them, and valid form values. Each case is written
// like CreateCase (case, summary, index, outbox "create", audit) in transactions of
// demoBatch cases; values are sealed on all cores. The same seed gives the same cases
// (but fresh IDs). Case IDs are UUIDv7s carrying the creation time.
func (v *Vault) DemoData(n int, seed int64, now time.Time) error {
	if n <= 0 {
		return nil
	}
	k, err := v.unlockedKeys()
	if err != nil {
		return err
	}
	now = now.UTC()
	g := &demoGen{rnd: rand.New(rand.NewPCG(uint64(seed), 0x5eed)), now: now, seq: map[string]int{}}
	span := 730 * 24 * time.Hour
	start := now.Add(-span)
	for done := 0; done < n; {
		m := min(demoBatch, n-done)
		batch := make([]*cases.Case, m)
		for i := range batch {
			created := start.Add(time.Duration(float64(span-time.Hour) * float64(done+i) / float64(n)))
			c, err := g.newCase(created)
			if err != nil {
				return err
			}
			batch[i] = c
		}
		if err := v.writeDemoBatch(k, batch, now); err != nil {
			return err
		}
		done += m
	}
	return nil
}

// demoEncoded is one case, encoded by a worker.
type demoEncoded struct {
	caseJSON, sumJSON, outJSON []byte
	sum                        cases.Summary
	opID                       string
	fields                     []string
	index                      [][]byte
}

func (v *Vault) writeDemoBatch(k *keys, batch []*cases.Case, now time.Time) error {
	enc := make([]demoEncoded, len(batch))
	workers := runtime.GOMAXPROCS(0)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	chunk := (len(batch) + workers - 1) / workers
	for w := range workers {
		lo, hi := w*chunk, min((w+1)*chunk, len(batch))
		wg.Go(func() {
			ix := newIndexer(k)
			defer ix.zero()
			for i := lo; i < hi; i++ {
				c := batch[i]
				s := v.schemaFor(c.Service)
				e := &enc[i]
				var err error
				if e.caseJSON, err = json.Marshal(c); err != nil {
					errs[w] = err
					return
				}
				e.sum = c.Summary()
				e.sum.Flags |= cases.FlagUnsynced
				e.sumJSON = encodeSummary(e.sum)
				p := cases.Diff(nil, c)
				e.fields = p.Fields()
				ob, err := newOutboxEntry(c, OpCreate, p, k.user, c.Created)
				if err != nil {
					errs[w] = err
					return
				}
				e.opID = ob.OpID
				if e.outJSON, err = json.Marshal(ob); err != nil {
					errs[w] = err
					return
				}
				_, e.index = ix.indexDiff(c.ID, nil, caseTerms(c, s))
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var txid int
	err := v.Update(func(tx *Tx) error {
		n := len(batch)
		ids, cv, sv := make([][]byte, n), make([][]byte, n), make([][]byte, n)
		var ok, ov [][]byte
		var ik [][]byte
		for i, c := range batch {
			ids[i], cv[i], sv[i] = []byte(c.ID), enc[i].caseJSON, enc[i].sumJSON
			ok, ov = append(ok, []byte(enc[i].opID)), append(ov, enc[i].outJSON)
			ik = append(ik, enc[i].index...)
		}
		for _, b := range [][]byte{bucketCases, bucketSummaries} {
			bk := tx.btx.Bucket(b)
			if bk == nil {
				continue
			}
			for _, id := range ids {
				if bk.Get(id) != nil {
					return fmt.Errorf("%w: %s", ErrCaseExists, id)
				}
			}
		}
		if err := tx.PutBatch(bucketCases, ids, cv); err != nil {
			return err
		}
		if err := tx.PutBatch(bucketSummaries, ids, sv); err != nil {
			return err
		}
		if err := tx.PutBatch(bucketOutbox, ok, ov); err != nil {
			return err
		}
		slices.SortFunc(ik, bytes.Compare)
		iv := make([][]byte, len(ik))
		for i := range iv {
			iv[i] = emptySealedV
		}
		if err := tx.PutBatch(bucketIndex, ik, iv); err != nil {
			return err
		}
		a, err := tx.openAudit()
		if err != nil {
			return err
		}
		defer a.zero()
		ak, av := make([][]byte, n), make([][]byte, n)
		for i, c := range batch {
			e := AuditEntry{Time: now, User: k.user, Op: AuditDemo, CaseID: c.ID, Fields: enc[i].fields}
			if ak[i], av[i], err = a.next(&e); err != nil {
				return err
			}
		}
		if err := tx.writeAuditBatch(a, ak, av); err != nil {
			return err
		}
		txid = tx.btx.ID()
		return nil
	})
	if err != nil {
		return err
	}
	sums := make([]cases.Summary, len(enc))
	for i := range enc {
		sums[i] = enc[i].sum
	}
	v.repo.committed(k, txid, sums)
	return nil
}

// --- the generator -------------------------------------------------------------------

type demoCity struct {
	name, plate, court string
	plz                []string
}

var (
	demoCities = []demoCity{
		{"Berlin", "B", "Amtsgericht Charlottenburg", []string{"10115", "10243", "10405", "10781", "12043", "12627", "13353", "14057"}},
		{"Hamburg", "HH", "Amtsgericht Hamburg", []string{"20095", "20359", "21073", "22085", "22765"}},
		{"München", "M", "Amtsgericht München", []string{"80331", "80469", "80796", "81541", "81675"}},
		{"Köln", "K", "Amtsgericht Köln", []string{"50667", "50733", "50823", "51063", "51105"}},
		{"Frankfurt am Main", "F", "Amtsgericht Frankfurt am Main", []string{"60311", "60385", "60594", "65929"}},
		{"Stuttgart", "S", "Amtsgericht Stuttgart", []string{"70173", "70197", "70372"}},
		{"Düsseldorf", "D", "Amtsgericht Düsseldorf", []string{"40210", "40477", "40545"}},
		{"Leipzig", "L", "Amtsgericht Leipzig", []string{"04109", "04277", "04315"}},
		{"Dresden", "DD", "Amtsgericht Dresden", []string{"01067", "01099", "01307"}},
		{"Hannover", "H", "Amtsgericht Hannover", []string{"30159", "30161", "30449"}},
		{"Nürnberg", "N", "Amtsgericht Nürnberg", []string{"90402", "90419", "90443"}},
		{"Bremen", "HB", "Amtsgericht Bremen", []string{"28195", "28203", "28359"}},
		{"Essen", "E", "Amtsgericht Essen", []string{"45127", "45138"}},
		{"Dortmund", "DO", "Amtsgericht Dortmund", []string{"44135", "44137"}},
		{"Mannheim", "MA", "Amtsgericht Mannheim", []string{"68159", "68165"}},
		{"Karlsruhe", "KA", "Amtsgericht Mannheim", []string{"76133", "76137"}},
		{"Münster", "MS", "Amtsgericht Münster", []string{"48143", "48151"}},
		{"Freiburg im Breisgau", "FR", "Amtsgericht Freiburg", []string{"79098", "79102"}},
		{"Augsburg", "A", "Amtsgericht Augsburg", []string{"86150", "86152"}},
		{"Kiel", "KI", "Amtsgericht Kiel", []string{"24103", "24105"}},
		{"Erfurt", "EF", "Amtsgericht Jena", []string{"99084", "99085"}},
		{"Potsdam", "P", "Amtsgericht Potsdam", []string{"14467", "14469"}},
		{"Mainz", "MZ", "Amtsgericht Mainz", []string{"55116", "55118"}},
		{"Regensburg", "R", "Amtsgericht Regensburg", []string{"93047", "93053"}},
		{"Würzburg", "WÜ", "Amtsgericht Würzburg", []string{"97070", "97072"}},
	}
	demoStreets = []string{"Hauptstraße", "Bahnhofstraße", "Schillerstraße", "Goethestraße", "Gartenstraße",
		"Lindenstraße", "Kirchstraße", "Schulstraße", "Ringstraße", "Am Markt", "Mühlenweg", "Birkenweg",
		"Friedrichstraße", "Kastanienallee", "Rosenstraße", "Bergstraße", "Waldstraße", "Dorfstraße",
		"Wilhelmstraße", "Marktplatz", "Sonnenallee", "Uhlandstraße", "Beethovenstraße", "Parkstraße",
		"Am Stadtpark", "Lessingstraße", "Mozartstraße", "Eichendorffweg", "Weißdornweg", "Große Bleichen"}
	demoFamily = []string{"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
		"Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
		"Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner",
		"Schmitz", "Krause", "Meier", "Lehmann", "Schmid", "Schulze", "Maier", "Köhler", "Herrmann", "König",
		"Walter", "Mayer", "Huber", "Kaiser", "Fuchs", "Peters", "Lang", "Scholz", "Möller", "Weiß", "Jung",
		"Hahn", "Schubert", "Vogel", "Friedrich", "Keller", "Günther", "Frank", "Berger", "Winkler", "Roth",
		"Beck", "Lorenz", "Baumann", "Franke", "Albrecht", "Schuster", "Simon", "Ludwig", "Böhm", "Winter",
		"Kraus", "Martin", "Schumacher", "Krämer", "Vogt", "Stein", "Jäger", "Otto", "Sommer", "Groß",
		"Seidel", "Heinrich", "Brandt", "Haas", "Schreiber", "Graf", "Schulte", "Dietrich", "Ziegler",
		"Kuhn", "Kühn", "Pohl", "Engel", "Horn", "Busch", "Bergmann", "Voigt", "Sauer", "Arnold", "Pfeiffer",
		"Yılmaz", "Kaya", "Demir", "Öztürk", "Şahin", "Nowak", "Kowalski", "Wójcik", "Popescu", "Rossi",
		"Kovalenko", "Al-Hassan", "Nguyen", "von Bergen", "Meyer-Lüdenscheidt"}
	demoFemale = []string{"Anna", "Maria", "Sophie", "Laura", "Julia", "Lea", "Lena", "Hannah", "Emma",
		"Mia", "Katharina", "Sabine", "Petra", "Monika", "Ursula", "Claudia", "Susanne", "Andrea", "Jutta",
		"Birgit", "Zoë", "Jana", "Ayşe", "Elif", "Agnieszka", "Olena", "Charlotte", "Marie", "Anne-Kathrin", "Jördis"}
	demoMale = []string{"Thomas", "Michael", "Andreas", "Stefan", "Christian", "Peter", "Klaus", "Jürgen",
		"Wolfgang", "Frank", "Markus", "Daniel", "Lukas", "Jonas", "Leon", "Paul", "Felix", "Maximilian",
		"Tobias", "Sebastian", "Jan", "Mehmet", "Mustafa", "Piotr", "Andrii", "Björn", "Jörg", "Uwe",
		"Hans-Peter", "Karl-Heinz"}
	demoAssignees = []string{"m.schulz", "a.yilmaz", "k.becker", "s.hoffmann", "t.nguyen", "j.krause", "p.wagner", "buergerbuero-mitte"}
	demoTrades    = []struct{ firm, what, art string }{
		{"Bäckerei", "Herstellung und Verkauf von Backwaren", "handel"},
		{"Café", "Betrieb eines Cafés mit Ausschank alkoholfreier Getränke", "sonstiges"},
		{"IT-Beratung", "Beratung und Entwicklung von Software für kleine Unternehmen", "sonstiges"},
		{"Blumenladen", "Einzelhandel mit Blumen, Pflanzen und Gartenbedarf", "handel"},
		{"Onlinehandel", "Onlinehandel mit Haushaltswaren und Geschenkartikeln", "handel"},
		{"Hausmeisterservice", "Hausmeisterdienste, Gartenpflege und Winterdienst", "sonstiges"},
		{"Metallbau", "Herstellung von Metallkonstruktionen und Geländern", "industrie"},
		{"Reinigungsservice", "Gebäudereinigung für Büros und Praxen", "sonstiges"},
		{"Fahrradladen", "Verkauf und Reparatur von Fahrrädern und Zubehör", "handel"},
		{"Kiosk", "Einzelhandel mit Zeitschriften, Tabakwaren und Getränken", "handel"},
	}
	demoNotes = []string{"Antragsteller telefonisch erreicht, Unterlagen werden nachgereicht.",
		"Rückfrage zur Wohnungsgeberbestätigung per E-Mail gestellt.",
		"Unterlagen vollständig, Prüfung kann beginnen.",
		"Termin im Bürgerbüro vereinbart.",
		"Gebühr bezahlt, Beleg liegt bei."}
)

// demoServices: service ID, Aktenzeichen prefix, weight.
var demoServices = []struct {
	id, prefix string
	weight     int
}{{"anmeldung", "MB", 40}, {"personalausweis", "PA", 30}, {"bewohnerparkausweis", "SV", 15}, {"gewerbeanmeldung", "GA", 15}}

type demoGen struct {
	rnd *rand.Rand
	now time.Time
	seq map[string]int
}

func (g *demoGen) pick(xs []string) string { return xs[g.rnd.IntN(len(xs))] }
func (g *demoGen) chance(p float64) bool   { return g.rnd.Float64() < p }

func (g *demoGen) sha() string {
	var b [32]byte
	for i := range b {
		b[i] = byte(g.rnd.Uint32())
	}
	return fmt.Sprintf("%x", b)
}

func (g *demoGen) date(from, to time.Time) string {
	if !to.After(from) {
		return cases.ISODate(from)
	}
	d := time.Duration(g.rnd.Int64N(int64(to.Sub(from))))
	return cases.ISODate(from.Add(d))
}

func (g *demoGen) iban() string {
	bban := fmt.Sprintf("%08d%010d", 10000000+g.rnd.IntN(89999999), g.rnd.Int64N(9999999999))
	n, _ := new(big.Int).SetString(bban+"131400", 10) // "DE" = 13 14, check "00"
	check := 98 - new(big.Int).Mod(n, big.NewInt(97)).Int64()
	return fmt.Sprintf("DE%02d%s", check, bban)
}

// caseID returns a UUIDv7 carrying t.
func demoID(t time.Time) (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", err
	}
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(t.UnixMilli()))
	copy(id[0:6], ms[2:8])
	return id.String(), nil
}

func (g *demoGen) address(vals cases.Values, field string, city demoCity) {
	vals[field+".strasse"] = g.pick(demoStreets)
	vals[field+".hausnummer"] = strconv.Itoa(1+g.rnd.IntN(120)) + []string{"", "", "", "", "a", "b"}[g.rnd.IntN(6)]
	vals[field+".plz"] = g.pick(city.plz)
	vals[field+".ort"] = city.name
}

func (g *demoGen) newCase(created time.Time) (*cases.Case, error) {
	w := g.rnd.IntN(100)
	svc := demoServices[0]
	for _, s := range demoServices {
		if w < s.weight {
			svc = s
			break
		}
		w -= s.weight
	}
	id, err := demoID(created)
	if err != nil {
		return nil, err
	}
	c := &cases.Case{ID: id, Service: svc.id, Values: cases.Values{}, Created: created.UTC(), Updated: created.UTC()}
	vals := c.Values
	female := g.chance(0.5)
	given := g.pick(demoMale)
	if female {
		given = g.pick(demoFemale)
	}
	if g.chance(0.15) {
		second := g.pick(demoMale)
		if female {
			second = g.pick(demoFemale)
		}
		if second != given {
			given += " " + second
		}
	}
	family := g.pick(demoFamily)
	city := demoCities[g.rnd.IntN(len(demoCities))]
	birth := g.date(time.Date(1940, 1, 1, 0, 0, 0, 0, time.UTC), created.AddDate(-18, 0, 0))
	vals["familienname"], vals["vornamen"], vals["geburtsdatum"] = family, given, birth
	if g.chance(0.1) && female && svc.id != "bewohnerparkausweis" {
		vals["geburtsname"] = g.pick(demoFamily)
	}
	if g.chance(0.4) {
		vals["telefon"] = fmt.Sprintf("0%d %d", 30+g.rnd.IntN(900), 100000+g.rnd.IntN(8999999))
	}
	if g.chance(0.4) {
		local := strings.Join(searchWords(given+"."+family), ".")
		vals["email"] = local + "@" + []string{"web.de", "gmx.de", "t-online.de", "posteo.de", "mailbox.org"}[g.rnd.IntN(5)]
	}
	nat := "deutsch"
	if g.chance(0.15) {
		nat = []string{"tuerkisch", "polnisch", "ukrainisch", "syrisch", "rumaenisch", "italienisch"}[g.rnd.IntN(6)]
	}
	var addrField string
	switch svc.id {
	case "anmeldung":
		addrField = "neue_wohnung"
		g.address(vals, addrField, city)
		vals["einzugsdatum"] = g.date(created.AddDate(0, 0, -14), created)
		vals["wohnungsstatus"] = []string{"alleinige", "alleinige", "alleinige", "haupt", "neben"}[g.rnd.IntN(5)]
		vals["wohnungsgeber_bestaetigung"] = "true"
		vals["wohnungsgeber_name"] = g.pick(demoFamily) + " Immobilien GmbH"
		if g.chance(0.7) {
			g.address(vals, "bisherige_wohnung", demoCities[g.rnd.IntN(len(demoCities))])
			vals["bisherige_beibehalten"] = "nein"
			if g.chance(0.1) {
				vals["bisherige_beibehalten"], vals["bisherige_status"] = "ja", "neben"
			}
		}
		vals["geschlecht"] = map[bool]string{true: "weiblich", false: "maennlich"}[female]
		vals["geburtsort"] = demoCities[g.rnd.IntN(len(demoCities))].name
		vals["staatsangehoerigkeit"] = nat
		vals["familienstand"] = []string{"ledig", "verheiratet", "geschieden", "verwitwet", "ledig"}[g.rnd.IntN(5)]
		vals["religion"] = []string{"rk", "ev", "keine", "keine"}[g.rnd.IntN(4)]
		vals["unterschrift"] = g.sha()
	case "gewerbeanmeldung":
		tr := demoTrades[g.rnd.IntN(len(demoTrades))]
		rf := []string{"einzelunternehmen", "einzelunternehmen", "einzelunternehmen", "gmbh", "gbr", "ug"}[g.rnd.IntN(6)]
		vals["rechtsform"] = rf
		switch rf {
		case "gmbh", "ug":
			suffix := map[string]string{"gmbh": " GmbH", "ug": " UG (haftungsbeschränkt)"}[rf]
			c.Applicant.Organisation = family + " " + tr.firm + suffix
			vals["firmenname"] = c.Applicant.Organisation
			vals["registergericht"] = city.court
			vals["registernummer"] = fmt.Sprintf("HRB %d", 1000+g.rnd.IntN(250000))
		case "gbr":
			c.Applicant.Organisation = tr.firm + " " + family + " & " + g.pick(demoFamily) + " GbR"
			vals["firmenname"] = c.Applicant.Organisation
			vals["anzahl_gesellschafter"] = "2"
		}
		vals["geburtsort"] = demoCities[g.rnd.IntN(len(demoCities))].name
		vals["staatsangehoerigkeit"] = nat
		addrField = "wohnanschrift"
		g.address(vals, addrField, city)
		g.address(vals, "betriebsstaette", city)
		vals["taetigkeit"] = tr.what
		vals["art_betrieb"] = tr.art
		vals["beginn"] = g.date(created.AddDate(0, 0, -10), created.AddDate(0, 2, 0))
		vals["beschaeftigte_vollzeit"] = strconv.Itoa(g.rnd.IntN(6))
		vals["unterschrift"] = g.sha()
	case "bewohnerparkausweis":
		addrField = "wohnanschrift"
		g.address(vals, addrField, city)
		letters := "ABCDEFGHJKLMNPRSTUVWXYZ"
		two := string(letters[g.rnd.IntN(len(letters))])
		if g.chance(0.6) {
			two += string(letters[g.rnd.IntN(len(letters))])
		}
		vals["kennzeichen"] = fmt.Sprintf("%s-%s %d", city.plate, two, 1+g.rnd.IntN(9999))
		if g.chance(0.05) {
			vals["kennzeichen"] += "E"
		}
		vals["fahrzeugart"] = []string{"pkw", "pkw", "pkw", "kraftrad", "wohnmobil"}[g.rnd.IntN(5)]
		vals["nutzung"] = "halter"
		if g.chance(0.2) {
			vals["nutzung"] = []string{"firmenwagen", "leasing", "familie"}[g.rnd.IntN(3)]
			vals["halter_name"] = g.pick(demoFamily) + " Leasing GmbH"
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
			vals["kontoinhaber"] = given + " " + family
			vals["sepa_mandat"] = "true"
		}
		vals["unterschrift"] = g.sha()
	case "personalausweis":
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
		vals["geburtsort"] = demoCities[g.rnd.IntN(len(demoCities))].name
		vals["deutsch"] = "true"
		addrField = "anschrift"
		g.address(vals, addrField, city)
		vals["groesse"] = strconv.Itoa(150 + g.rnd.IntN(50))
		vals["augenfarbe"] = []string{"blau", "graublau", "grau", "gruen", "braun", "dunkelbraun"}[g.rnd.IntN(6)]
		vals["lichtbild"] = g.sha()
		vals["fingerabdruecke"] = "true"
		vals["unterschrift_ausweis"] = g.sha()
		vals["pin_brief"] = []string{"post", "abholung"}[g.rnd.IntN(2)]
		vals["gebuehr"] = "37"
		vals["unterschrift"] = g.sha()
	}
	c.Applicant.FamilyName, c.Applicant.GivenNames = family, given
	c.Applicant.BirthName = vals["geburtsname"]
	c.Applicant.Address = cases.Address{Street: vals[addrField+".strasse"], HouseNumber: vals[addrField+".hausnummer"],
		Postcode: vals[addrField+".plz"], City: vals[addrField+".ort"]}

	// Workflow state, and what the state needs.
	states := []string{"eingegangen", "in_bearbeitung", "in_bearbeitung", "rueckfrage", "zurueckgestellt", "entscheidung", "abgeschlossen", "abgeschlossen", "abgelehnt"}
	if svc.id == "personalausweis" {
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
	g.seq[svc.prefix+strconv.Itoa(created.Year())]++
	if c.Status != "eingegangen" || g.chance(0.6) {
		c.Aktenzeichen = fmt.Sprintf("%s-%d-%06d", svc.prefix, created.Year(), g.seq[svc.prefix+strconv.Itoa(created.Year())])
	}
	if c.Status != "eingegangen" {
		c.Assignee = g.pick(demoAssignees)
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
		c.Notes = append(c.Notes, cases.Note{ID: uuid.Must(uuid.NewV7()).String(), Author: c.Assignee, Text: g.pick(demoNotes), Created: updated.UTC()})
	}
	c.Updated = updated.UTC()
	return c, nil
}
