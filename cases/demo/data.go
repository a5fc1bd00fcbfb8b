package demo

// City is a German city of the demo data.
type City struct {
	Name  string   // e.g. "Köln"
	Plate string   // licence-plate code, e.g. "K"
	Court string   // the Amtsgericht keeping the commercial register
	PLZ   []string // some of its postcodes
}

// The word lists the generator draws from. They are exported for benchmarks and tests
// that build realistic queries ("Müller Köln", a PLZ prefix); treat them as read-only.
var (
	// Cities are real German cities with their licence-plate code, register court and
	// some of their postcodes.
	Cities = []City{
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
	// Streets are common German street names.
	Streets = []string{"Hauptstraße", "Bahnhofstraße", "Schillerstraße", "Goethestraße", "Gartenstraße",
		"Lindenstraße", "Kirchstraße", "Schulstraße", "Ringstraße", "Am Markt", "Mühlenweg", "Birkenweg",
		"Friedrichstraße", "Kastanienallee", "Rosenstraße", "Bergstraße", "Waldstraße", "Dorfstraße",
		"Wilhelmstraße", "Marktplatz", "Sonnenallee", "Uhlandstraße", "Beethovenstraße", "Parkstraße",
		"Am Stadtpark", "Lessingstraße", "Mozartstraße", "Eichendorffweg", "Weißdornweg", "Große Bleichen"}
	// Family are family names: the most common German ones and those of families who
	// came from Turkey, Poland, Ukraine, Romania, Italy, Syria and Vietnam.
	Family = []string{"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
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
	// Female are female given names.
	Female = []string{"Anna", "Maria", "Sophie", "Laura", "Julia", "Lea", "Lena", "Hannah", "Emma",
		"Mia", "Katharina", "Sabine", "Petra", "Monika", "Ursula", "Claudia", "Susanne", "Andrea", "Jutta",
		"Birgit", "Zoë", "Jana", "Ayşe", "Elif", "Agnieszka", "Olena", "Charlotte", "Marie", "Anne-Kathrin", "Jördis"}
	// Male are male given names.
	Male = []string{"Thomas", "Michael", "Andreas", "Stefan", "Christian", "Peter", "Klaus", "Jürgen",
		"Wolfgang", "Frank", "Markus", "Daniel", "Lukas", "Jonas", "Leon", "Paul", "Felix", "Maximilian",
		"Tobias", "Sebastian", "Jan", "Mehmet", "Mustafa", "Piotr", "Andrii", "Björn", "Jörg", "Uwe",
		"Hans-Peter", "Karl-Heinz"}
	// Assignees are the user IDs of the Sachbearbeitung demo cases are assigned to.
	Assignees = []string{"m.schulz", "a.yilmaz", "k.becker", "s.hoffmann", "t.nguyen", "j.krause", "p.wagner", "buergerbuero-mitte"}
	trades    = []struct{ firm, what, art string }{
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
	notes = []string{"Antragsteller telefonisch erreicht, Unterlagen werden nachgereicht.",
		"Rückfrage zur Wohnungsgeberbestätigung per E-Mail gestellt.",
		"Unterlagen vollständig, Prüfung kann beginnen.",
		"Termin im Bürgerbüro vereinbart.",
		"Gebühr bezahlt, Beleg liegt bei."}
)

// Service is one of the four sample services with the prefix of its Aktenzeichen and
// its share of the generated cases in percent.
type Service struct {
	ID     string // service type, e.g. "anmeldung"
	Prefix string // Aktenzeichen prefix, e.g. "MB" (Meldebehörde)
	Weight int    // percent of the generated cases
}

// Services are the sample services the generator spreads cases over; the weights add
// up to 100.
var Services = []Service{{"anmeldung", "MB", 40}, {"personalausweis", "PA", 30}, {"bewohnerparkausweis", "SV", 15}, {"gewerbeanmeldung", "GA", 15}}

// Prefix returns the Aktenzeichen prefix of service ("MB" for "anmeldung"), or "VG"
// (Vorgang) for a service the demo data does not know.
func Prefix(service string) string {
	for _, s := range Services {
		if s.ID == service {
			return s.Prefix
		}
	}
	return "VG"
}
