package app

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"time"

	"fieldoffice/assets"
)

// Languages and strings
//
// Every string the app shows goes through tr(key, args...). The strings live in
// assets/translations/<lang>/<area>.json (flat key → text, Fyne's lang JSON format,
// one file per area of the app), embedded in the binary. German is the default and
// complete; English falls back to German for a missing key, and a key missing in
// both shows as the key itself (a test catches that).
//
// Why not fyne.io/fyne/v2/lang directly: Fyne 2.7 picks the language from the
// operating system's locale list once and offers no call to switch it while the app
// runs, but caseworkers switch between German and English in the app (a colleague
// from another country on a shared tablet). The files keep Fyne's format so that a
// later Fyne with a language switch takes them as they are.

// Languages the app speaks.
const (
	LangDE = "de"
	LangEN = "en"
)

var (
	catalogOnce stdsync.Once
	catalog     map[string]map[string]string // lang → key → text
	catalogErr  error
	current     atomic.Value // string: the language in use
)

func init() { current.Store(LangDE) }

// loadCatalog reads every translations/<lang>/*.json.
func loadCatalog() (map[string]map[string]string, error) {
	catalogOnce.Do(func() {
		catalog = map[string]map[string]string{}
		catalogErr = fs.WalkDir(assets.Translations, "translations", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || path.Ext(p) != ".json" {
				return err
			}
			lang := path.Base(path.Dir(p))
			b, err := fs.ReadFile(assets.Translations, p)
			if err != nil {
				return err
			}
			var m map[string]string
			if err := json.Unmarshal(b, &m); err != nil {
				return fmt.Errorf("translations %s: %w", p, err)
			}
			if catalog[lang] == nil {
				catalog[lang] = map[string]string{}
			}
			for k, v := range m {
				if _, dup := catalog[lang][k]; dup {
					return fmt.Errorf("translations %s: key %q defined twice", p, k)
				}
				catalog[lang][k] = v
			}
			return nil
		})
	})
	return catalog, catalogErr
}

// setLanguage switches the language of tr (LangDE or LangEN; anything else is German).
func setLanguage(lang string) {
	if lang != LangEN {
		lang = LangDE
	}
	current.Store(lang)
}

// language returns the language in use.
func language() string { return current.Load().(string) }

// tr returns the text of key in the current language, formatted with args
// (fmt verbs) when there are any.
func tr(key string, args ...any) string {
	cat, _ := loadCatalog()
	text, ok := cat[language()][key]
	if !ok {
		if text, ok = cat[LangDE][key]; !ok {
			text = key
		}
	}
	if len(args) > 0 {
		return fmt.Sprintf(text, args...)
	}
	return text
}

// formatDate formats t as the current language writes a date: TT.MM.JJJJ in German,
// 02 Jan 2006 in English.
func formatDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if language() == LangEN {
		return t.Format("02 Jan 2006")
	}
	return t.Format("02.01.2006")
}

// formatISODate formats an ISO date ("2026-12-15") for display; "" stays "".
func formatISODate(iso string) string {
	t, err := time.Parse(time.DateOnly, iso)
	if err != nil {
		return iso
	}
	return formatDate(t)
}

// formatDateTime formats t with the time of day.
func formatDateTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return formatDate(t.Local()) + " " + t.Local().Format("15:04")
}

// formatBytes formats a size the way the current language writes numbers.
func formatBytes(n int64) string {
	var s string
	switch {
	case n >= 1<<30:
		s = fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		s = fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		s = fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
	if language() == LangDE {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

// relativeTime says how long ago t was: "gerade eben", "vor 5 Minuten", …
func relativeTime(t, now time.Time) string {
	if t.IsZero() {
		return tr("time.never")
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return tr("time.justNow")
	case d < 2*time.Minute:
		return tr("time.minuteAgo")
	case d < time.Hour:
		return tr("time.minutesAgo", int(d/time.Minute))
	case d < 2*time.Hour:
		return tr("time.hourAgo")
	case d < 24*time.Hour:
		return tr("time.hoursAgo", int(d/time.Hour))
	case d < 48*time.Hour:
		return tr("time.dayAgo")
	}
	return tr("time.daysAgo", int(d/(24*time.Hour)))
}
