package cases

import (
	"errors"
	"math/big"
	"regexp"
	"strconv"
	"strings"
)

// IBAN check errors.
var (
	ErrIBANFormat   = errors.New("IBAN format")
	ErrIBANLength   = errors.New("IBAN length")
	ErrIBANChecksum = errors.New("IBAN checksum")
)

// ibanLengths are the IBAN lengths of the SEPA countries an office here meets most.
// Countries not listed are checked for format and checksum only.
var ibanLengths = map[string]int{
	"AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18,
	"EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21, "HU": 28, "IE": 22,
	"IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18,
	"NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TR": 26,
}

var ibanRe = regexp.MustCompile(`^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$`)

// NormalizeIBAN removes spaces and upper-cases s: "de89 3704 ..." → "DE893704...".
func NormalizeIBAN(s string) string {
	return strings.ToUpper(strings.Join(strings.Fields(s), ""))
}

// CheckIBAN checks an IBAN (spaces allowed) per ISO 13616: format, the country's length
// where known (DE: 22) and the mod-97 checksum. The error is ErrIBANFormat,
// ErrIBANLength or ErrIBANChecksum.
func CheckIBAN(s string) error {
	s = NormalizeIBAN(s)
	if !ibanRe.MatchString(s) {
		return ErrIBANFormat
	}
	if n, ok := ibanLengths[s[:2]]; ok && len(s) != n {
		return ErrIBANLength
	}
	// Move the first four characters to the end, letters to numbers (A=10 … Z=35).
	var b strings.Builder
	for _, r := range s[4:] + s[:4] {
		if r >= 'A' && r <= 'Z' {
			b.WriteString(strconv.Itoa(int(r-'A') + 10))
		} else {
			b.WriteRune(r)
		}
	}
	n, ok := new(big.Int).SetString(b.String(), 10)
	if !ok || new(big.Int).Mod(n, big.NewInt(97)).Int64() != 1 {
		return ErrIBANChecksum
	}
	return nil
}

var plzRe = regexp.MustCompile(`^[0-9]{5}$`)

// ValidPLZ reports whether s is a German postal code: five digits.
func ValidPLZ(s string) bool { return plzRe.MatchString(strings.TrimSpace(s)) }

var emailRe = regexp.MustCompile(`^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:".]{2,}$`)

// ValidEmail reports whether s looks like a plain e-mail address (name@example.de).
// Display names ("Anna <a@b.de>") are not accepted.
func ValidEmail(s string) bool {
	s = strings.TrimSpace(s)
	return len(s) <= 254 && emailRe.MatchString(s) && !strings.Contains(s, "..")
}

var phoneRe = regexp.MustCompile(`^(\+[1-9]|0)[0-9 /-]*$`)

// ValidPhone reports whether s is a phone number as people write it in Germany:
// starting with + and a country code (+49 …) or with 0, then digits, spaces, '/' and
// '-', 6 to 15 digits in all. E.g. "+49 30 1234567", "030/123 456-7", "0171 2345678".
func ValidPhone(s string) bool {
	s = strings.TrimSpace(s)
	if !phoneRe.MatchString(s) {
		return false
	}
	digits := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	return digits >= 6 && digits <= 15
}

var sha256Re = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ValidSHA256 reports whether s is a lower-case hex SHA-256 digest.
func ValidSHA256(s string) bool { return sha256Re.MatchString(s) }

// parseNumber parses a decimal number with a comma or a point as decimal separator.
// Thousands separators are not accepted (they are ambiguous).
func parseNumber(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if strings.Count(s, ",") > 0 && strings.Contains(s, ".") {
		return 0, strconv.ErrSyntax
	}
	s = strings.Replace(s, ",", ".", 1)
	if s == "" || strings.ContainsAny(s, "eEnNiIxX_") { // no exponents, NaN, Inf, hex
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseFloat(s, 64)
}

func splitList(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
