package cases

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Record is the first, plain case record: an ID, a service type, form field values and
// local timestamps. Later steps grow it into the full case of the domain.
type Record struct {
	ID      string            `json:"id"`      // UUIDv7, time-ordered
	Type    string            `json:"type"`    // service type, e.g. "anmeldung"
	Fields  map[string]string `json:"fields"`  // form values by field name
	Created time.Time         `json:"created"` // local creation time (UTC)
	Updated time.Time         `json:"updated"` // local time of the last change (UTC)
}

var (
	typeRe  = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)
	fieldRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,127}$`)
)

// NewRecord returns a record of service type typ with a fresh UUIDv7 and the given
// fields. It fails when typ or a field name is not a valid identifier.
func NewRecord(typ string, fields map[string]string, now time.Time) (*Record, error) {
	if !typeRe.MatchString(typ) {
		return nil, fmt.Errorf("invalid service type %q: use lower-case letters, digits, '-' and '_'", typ)
	}
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		if !fieldRe.MatchString(k) {
			return nil, fmt.Errorf("invalid field name %q: use letters, digits, '.', '-' and '_'", k)
		}
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("new case ID: %w", err)
	}
	now = now.UTC()
	if fields == nil {
		fields = map[string]string{}
	}
	return &Record{ID: id.String(), Type: typ, Fields: maps.Clone(fields), Created: now, Updated: now}, nil
}

// ValidID reports whether id is a well-formed case ID.
func ValidID(id string) bool {
	_, err := uuid.Parse(id)
	return err == nil && len(id) == 36
}
