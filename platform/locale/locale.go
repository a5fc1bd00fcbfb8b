// Package locale fixes the process's locale environment before Fyne reads it.
//
// Fyne (via go-locale) takes the UI language from LC_ALL, LC_MESSAGES or LANG and logs
// "Error parsing user locale C" on every start when that is the C/POSIX locale — the
// default on servers, in CI and in many MDM-started sessions. Import this package for
// its side effect, blank, from main and from tests that use Fyne:
//
//	import _ "fieldoffice/platform/locale"
//
// Its init runs before any fyne.io package's: Go initialises packages in import-path
// order among those whose imports are done, this package imports only the standard
// library, and "fieldoffice/..." sorts before "fyne.io/...". A C/POSIX or empty locale
// is replaced by German (de_DE.UTF-8), FieldOffice's default language; a real locale
// (de_DE, en_GB, ...) is left alone.
package locale

import (
	"os"
	"strings"
)

// Default is the locale set when the environment names none or the C/POSIX locale.
const Default = "de_DE.UTF-8"

func init() { Fix(os.Getenv, os.Setenv, os.Unsetenv) }

// IsC reports whether v names the C or POSIX locale (with or without a codeset).
func IsC(v string) bool {
	base, _, _ := strings.Cut(v, ".")
	return base == "C" || base == "POSIX"
}

// Fix drops C/POSIX values from LC_ALL, LC_MESSAGES and LANG and sets LANG to Default
// when none of them is left. It takes the environment functions so tests need not
// touch the process environment.
func Fix(getenv func(string) string, setenv func(k, v string) error, unsetenv func(string) error) {
	set := false
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		v := getenv(k)
		switch {
		case v == "":
		case IsC(v):
			_ = unsetenv(k)
		default:
			set = true
		}
	}
	if !set {
		_ = setenv("LANG", Default)
	}
}
