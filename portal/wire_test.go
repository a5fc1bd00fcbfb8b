package portal

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTokenRoundTrip(t *testing.T) {
	tok := EnrollToken{URL: "https://127.0.0.1:8443", CASHA256: strings.Repeat("ab", 32), Secret: "c2VjcmV0", Office: "Bürgerbüro Mitte", Expires: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	s, err := EncodeToken(tok)
	if err != nil || !strings.HasPrefix(s, "FO1.") {
		t.Fatalf("EncodeToken = %q, %v", s, err)
	}
	got, err := ParseToken(" " + s + "\n")
	if err != nil || got != tok {
		t.Fatalf("ParseToken = %+v, %v", got, err)
	}
	for name, bad := range map[string]EnrollToken{
		"http":    {URL: "http://x", CASHA256: tok.CASHA256, Secret: "s"},
		"no host": {URL: "https://", CASHA256: tok.CASHA256, Secret: "s"},
		"hash":    {URL: tok.URL, CASHA256: "AB", Secret: "s"},
		"secret":  {URL: tok.URL, CASHA256: tok.CASHA256},
	} {
		s, _ := EncodeToken(bad)
		if _, err := ParseToken(s); !errors.Is(err, ErrBadToken) {
			t.Errorf("%s: ParseToken err = %v", name, err)
		}
	}
	for _, s := range []string{"", "FO1.", "FO1.!!!", "FO2.e30", "FO1.e30"} {
		if _, err := ParseToken(s); !errors.Is(err, ErrBadToken) {
			t.Errorf("ParseToken(%q) err = %v", s, err)
		}
	}
}

func TestCursor(t *testing.T) {
	for _, seq := range []uint64{0, 1, 1 << 40} {
		got, err := ParseCursor(Cursor(seq))
		if err != nil || got != seq {
			t.Errorf("cursor %d → %d, %v", seq, got, err)
		}
	}
	if n, err := ParseCursor(""); n != 0 || err != nil {
		t.Errorf("empty cursor = %d, %v", n, err)
	}
	for _, bad := range []string{"x1", "c", "c-1", "cabc"} {
		if _, err := ParseCursor(bad); err == nil {
			t.Errorf("ParseCursor(%q) accepted", bad)
		}
	}
}
