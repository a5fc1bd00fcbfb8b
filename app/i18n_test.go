package app

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestTranslationsComplete: every key the code uses exists in German, every English
// key exists in German (English may lag behind, German may not), and English covers
// every key (a missing one would show German in the English UI).
func TestTranslationsComplete(t *testing.T) {
	cat, err := loadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	de, en := cat[LangDE], cat[LangEN]
	for k := range en {
		if _, ok := de[k]; !ok {
			t.Errorf("key %q is English only", k)
		}
	}
	for k := range de {
		if _, ok := en[k]; !ok {
			t.Errorf("key %q has no English text", k)
		}
	}
	re := regexp.MustCompile(`\btr\("([^"]+)"`)
	files, _ := filepath.Glob("*.go")
	files = slices.DeleteFunc(files, func(f string) bool { return strings.HasSuffix(f, "_test.go") })
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			if _, ok := de[m[1]]; !ok {
				t.Errorf("%s uses key %q, which has no German text", f, m[1])
			}
		}
	}
}

func TestTrAndFormats(t *testing.T) {
	defer setLanguage(LangDE)
	setLanguage(LangDE)
	if got := tr("error.wrongPin", 3); got != "Die PIN ist falsch. Noch 3 Versuche." {
		t.Errorf("tr de = %q", got)
	}
	if got := tr("no.such.key"); got != "no.such.key" {
		t.Errorf("missing key = %q", got)
	}
	d := time.Date(2026, 12, 15, 9, 30, 0, 0, time.UTC)
	if got := formatDate(d); got != "15.12.2026" {
		t.Errorf("formatDate de = %q", got)
	}
	if got := formatBytes(1536 << 10); got != "1,5 MiB" {
		t.Errorf("formatBytes de = %q", got)
	}
	now := d.Add(5 * time.Minute)
	if got := relativeTime(d, now); got != "vor 5 Minuten" {
		t.Errorf("relativeTime = %q", got)
	}
	setLanguage(LangEN)
	if got := tr("error.wrongPin", 3); got != "Wrong PIN. 3 tries left." {
		t.Errorf("tr en = %q", got)
	}
	if got := formatISODate("2026-12-15"); got != "15 Dec 2026" {
		t.Errorf("formatISODate en = %q", got)
	}
	if got := relativeTime(d, d.Add(3*time.Hour)); got != "3 hours ago" {
		t.Errorf("relativeTime en = %q", got)
	}
	setLanguage("fr")
	if language() != LangDE {
		t.Errorf("unknown language gives %q", language())
	}
}
