package cases

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrDate is returned (wrapped) by ParseDate for text that is not a date.
var ErrDate = errors.New("not a date (want TT.MM.JJJJ or YYYY-MM-DD)")

// ParseDate parses a calendar date given either in the stored ISO form "2025-03-14" or
// as a German user types it, "14.03.2025" (also "14.3.2025"). The result is midnight UTC
// of that day. Surrounding spaces are ignored; impossible dates (31.02.) are refused.
func ParseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	var y, m, d string
	switch {
	case strings.Count(s, "-") == 2:
		p := strings.Split(s, "-")
		y, m, d = p[0], p[1], p[2]
		if len(m) != 2 || len(d) != 2 {
			return time.Time{}, fmt.Errorf("%q: %w", s, ErrDate)
		}
	case strings.Count(s, ".") == 2:
		p := strings.Split(s, ".")
		d, m, y = p[0], p[1], p[2]
		if len(d) < 1 || len(d) > 2 || len(m) < 1 || len(m) > 2 {
			return time.Time{}, fmt.Errorf("%q: %w", s, ErrDate)
		}
	default:
		return time.Time{}, fmt.Errorf("%q: %w", s, ErrDate)
	}
	if len(y) != 4 {
		return time.Time{}, fmt.Errorf("%q: %w", s, ErrDate)
	}
	yi, err1 := atoiDigits(y)
	mi, err2 := atoiDigits(m)
	di, err3 := atoiDigits(d)
	if err1 != nil || err2 != nil || err3 != nil || yi < 1 || mi < 1 || mi > 12 || di < 1 || di > 31 {
		return time.Time{}, fmt.Errorf("%q: %w", s, ErrDate)
	}
	t := time.Date(yi, time.Month(mi), di, 0, 0, 0, 0, time.UTC)
	if t.Day() != di { // 31.02. rolls over
		return time.Time{}, fmt.Errorf("%q: %w", s, ErrDate)
	}
	return t, nil
}

func atoiDigits(s string) (int, error) {
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.Atoi(s)
}

// FormatDate formats t's calendar day the German way, "TT.MM.JJJJ".
func FormatDate(t time.Time) string { return t.Format("02.01.2006") }

// ISODate formats t's calendar day in the stored form, "YYYY-MM-DD".
func ISODate(t time.Time) string { return t.Format(time.DateOnly) }

// today returns the calendar day of now (in now's location) as midnight UTC, comparable
// with the result of ParseDate.
func today(now time.Time) time.Time {
	y, m, d := now.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
