// Package assets holds the files FieldOffice ships inside the binary: the sample form
// schemas of the four demo services (forms/<service>.json, read by cases.ParseSchema)
// and, later, icons, translations and demo data.
//
// The portal delivers the real forms at enrollment; these are the defaults for the demo,
// the reference portal and the tests.
package assets

import (
	"embed"
	"io/fs"
	"path"
	"strings"
)

// FS holds forms/*.json.
//
//go:embed forms/*.json
var FS embed.FS

// Forms returns the raw JSON of each sample form schema, by service ID (the file name
// without ".json"): "anmeldung", "bewohnerparkausweis", "gewerbeanmeldung",
// "personalausweis".
func Forms() (map[string][]byte, error) {
	names, err := fs.Glob(FS, "forms/*.json")
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(names))
	for _, n := range names {
		b, err := FS.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out[strings.TrimSuffix(path.Base(n), ".json")] = b
	}
	return out, nil
}

// Form returns the raw JSON of one sample form schema.
func Form(service string) ([]byte, error) {
	return FS.ReadFile("forms/" + service + ".json")
}
