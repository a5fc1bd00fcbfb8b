package server

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"fieldoffice/cases"
	"fieldoffice/cases/demo"
	"fieldoffice/portal"
)

// CaseInfo is a case as `portald case list` shows it: the list row and the revision.
type CaseInfo struct {
	cases.Summary
	Revision int64 `json:"revision"`
}

// Cases returns every case's list row, in case-ID (creation) order. It decodes every
// case: an admin tool, not a device call.
func (s *Store) Cases() ([]CaseInfo, error) {
	out := []CaseInfo{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCases).ForEach(func(k, v []byte) error {
			var c cases.Case
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("portal.db: case %s: %w", k, err)
			}
			out = append(out, CaseInfo{Summary: c.Summary(), Revision: c.Revision})
			return nil
		})
	})
	return out, err
}

// Case returns the case with the given ID, or [ErrNotFound].
func (s *Store) Case(id string) (*cases.Case, error) {
	var c *cases.Case
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		c, _, err = getCase(tx, id)
		return err
	})
	if err == nil && c == nil {
		err = fmt.Errorf("case %q: %w", id, ErrNotFound)
	}
	return c, err
}

// officeAttrs are the case attributes an office edit may set besides form values.
var officeAttrs = []string{
	"aktenzeichen", "status", "assignee", "due_date",
	"applicant.family_name", "applicant.given_names", "applicant.birth_name", "applicant.organisation",
	"applicant.address.street", "applicant.address.house_number", "applicant.address.addition",
	"applicant.address.postcode", "applicant.address.city", "applicant.address.country",
}

// SetCaseFields is an edit in the office: fields maps field paths to new values (""
// clears) — form value keys ("familienname", "neue_wohnung.plz", also written
// "values.familienname"), the attributes aktenzeichen, assignee, due_date and
// applicant.*, and status (a workflow transition by the role "sachbearbeitung"). It
// is validated exactly like a device's op; a refusal is a *[ValidationError] (German)
// and writes nothing. Applied, the case gets the next revision and feed position, so
// devices pull it. Unknown case: [ErrNotFound].
func (s *Store) SetCaseFields(id string, fields map[string]string) (*cases.Case, error) {
	if len(fields) == 0 {
		return nil, fmt.Errorf("%w: no field given (FIELD=VALUE)", ErrInvalidInput)
	}
	paths := map[string]string{}
	bad := map[string]string{}
	for k, v := range fields {
		path := k
		switch {
		case strings.HasPrefix(k, "notes.") || strings.HasPrefix(k, "attachments."):
			bad[k] = "Vermerke und Anlagen kommen von den Geräten"
			continue
		case !slices.Contains(officeAttrs, k) && !strings.HasPrefix(k, "values."):
			path = "values." + k
		}
		paths[path] = strings.TrimSpace(v)
	}
	if len(bad) > 0 {
		return nil, &ValidationError{Reason: invalidReason(bad), Fields: bad}
	}
	var res portal.OpResult
	err := s.db.Update(func(tx *bolt.Tx) error {
		cur, _, err := getCase(tx, id)
		if err != nil {
			return err
		}
		if cur == nil {
			return fmt.Errorf("case %q: %w", id, ErrNotFound)
		}
		var patch cases.Patch
		for _, p := range slices.Sorted(maps.Keys(paths)) {
			old, _ := cur.Get(p) // an unknown path is reported by applyChange
			patch = append(patch, cases.FieldChange{Field: p, Old: old, New: paths[p]})
		}
		res, err = s.applyChange(tx, id, change{kind: KindPatch, role: cases.RoleSachbearbeitung, patch: patch}, s.now().UTC())
		return err
	})
	if err != nil {
		return nil, err
	}
	if res.Status != portal.ResultApplied {
		return nil, &ValidationError{Reason: res.Reason, Fields: res.Fields}
	}
	var c cases.Case
	if err := json.Unmarshal(res.Case, &c); err != nil {
		return nil, fmt.Errorf("case %s: %w", id, err)
	}
	s.log.Info("case changed in the office", "case", id, "revision", c.Revision, "fields", slices.Sorted(maps.Keys(paths)))
	return &c, nil
}

// AssignCase sets the case's Sachbearbeitung (user or team ID; "" unassigns), as an
// office edit (see SetCaseFields).
func (s *Store) AssignCase(id, user string) (*cases.Case, error) {
	return s.SetCaseFields(id, map[string]string{"assignee": user})
}

// seedBatch is the number of demo cases per transaction.
const seedBatch = 1000

// Seed adds n realistic demo cases (fieldoffice/cases/demo, the given seed) over the
// four sample services, created over the last two years. Each gets a portal-wide
// unique Aktenzeichen (PREFIX-YEAR-NNNNNN, numbered on from earlier seeds), revision
// 1 and a feed position, in transactions of seedBatch cases. It returns how many it
// added.
func (s *Store) Seed(n int, seed int64) (int, error) {
	if n < 0 || n > 1_000_000 {
		return 0, fmt.Errorf("%w: %d cases (0…1000000)", ErrInvalidInput, n)
	}
	now := s.now().UTC()
	g := demo.NewGenerator(seed, now)
	for done := 0; done < n; {
		m := min(seedBatch, n-done)
		batch := make([]*cases.Case, m)
		for i := range batch {
			c, err := g.Case(demo.Created(now, done+i, n))
			if err != nil {
				return done, err
			}
			batch[i] = c
		}
		if err := s.db.Update(func(tx *bolt.Tx) error { return seedBatchTx(tx, batch) }); err != nil {
			return done, fmt.Errorf("seed: %w", err)
		}
		done += m
	}
	s.log.Info("demo cases added", "cases", n)
	return n, nil
}

func seedBatchTx(tx *bolt.Tx, batch []*cases.Case) error {
	for _, c := range batch {
		az, err := nextAktenzeichen(tx, demo.Prefix(c.Service), c.Created.Year())
		if err != nil {
			return err
		}
		c.Aktenzeichen, c.Revision = az, 1
		if _, err := putCase(tx, c); err != nil {
			return err
		}
	}
	return nil
}

// nextAktenzeichen counts on the portal's reference numbers of prefix and year.
func nextAktenzeichen(tx *bolt.Tx, prefix string, year int) (string, error) {
	b := tx.Bucket(bucketAkz)
	key := []byte(prefix + "-" + strconv.Itoa(year))
	var n uint64
	if v := b.Get(key); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	n++
	if err := b.Put(key, u64(n)); err != nil {
		return "", err
	}
	return demo.Aktenzeichen(prefix, year, int(n)), nil
}

// --- idempotency records of POST /v1/ops --------------------------------------------

// idemRecord is the answer to a POST /v1/ops, kept under the device and its
// Idempotency-Key for idempotencyTTL.
type idemRecord struct {
	BodySHA  string          `json:"body_sha256"`
	Response json.RawMessage `json:"response"`
	Created  time.Time       `json:"created"`
}

func idemKey(deviceID, key string) []byte { return []byte(deviceID + "\x00" + key) }

// idempotent returns the recorded answer for a device's key, if any.
func (s *Store) idempotent(deviceID, key string) (idemRecord, bool, error) {
	var rec idemRecord
	var found bool
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		found, err = getJSON(tx.Bucket(bucketIdem), idemKey(deviceID, key), &rec)
		return err
	})
	return rec, found, err
}

func (s *Store) recordIdempotent(deviceID, key string, rec idemRecord) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket(bucketIdem), idemKey(deviceID, key), rec)
	})
}

// pruneIdempotency removes answers older than idempotencyTTL.
func (s *Store) pruneIdempotency() error {
	cutoff := s.now().Add(-idempotencyTTL)
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIdem)
		var old [][]byte
		err := b.ForEach(func(k, v []byte) error {
			var rec idemRecord
			if json.Unmarshal(v, &rec) != nil || rec.Created.Before(cutoff) {
				old = append(old, slices.Clone(k))
			}
			return nil
		})
		for _, k := range old {
			err = errors.Join(err, b.Delete(k))
		}
		return err
	})
}
