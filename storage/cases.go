package storage

import (
	"encoding/json"
	"fmt"

	"fieldoffice/cases"
)

// PutCase stores r in the cases bucket under its ID, in one transaction.
func (v *Vault) PutCase(r *cases.Record) error {
	return v.PutMany([]*cases.Record{r})
}

// PutMany stores all records in one transaction (one fsync). Use batches of 1,000 to
// 10,000 records for bulk writes.
func (v *Vault) PutMany(rs []*cases.Record) error {
	type enc struct {
		id  []byte
		val []byte
	}
	encs := make([]enc, 0, len(rs))
	for _, r := range rs {
		if r == nil || !cases.ValidID(r.ID) {
			return fmt.Errorf("put case: invalid case ID")
		}
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("put case %s: %w", r.ID, err)
		}
		encs = append(encs, enc{[]byte(r.ID), b})
	}
	keys := make([][]byte, len(encs))
	vals := make([][]byte, len(encs))
	for i, e := range encs {
		keys[i], vals[i] = e.id, e.val
	}
	return v.Update(func(tx *Tx) error { return tx.PutBatch(bucketCases, keys, vals) })
}

// GetCase returns the case with the given ID, or ErrNotFound.
func (v *Vault) GetCase(id string) (*cases.Record, error) {
	if !cases.ValidID(id) {
		return nil, fmt.Errorf("%w: case %q (not a case ID)", ErrNotFound, id)
	}
	var r *cases.Record
	err := v.View(func(tx *Tx) error {
		b, err := tx.Get(bucketCases, []byte(id))
		if err != nil {
			return err
		}
		if b == nil {
			return fmt.Errorf("%w: case %s", ErrNotFound, id)
		}
		r, err = decodeCase([]byte(id), b)
		return err
	})
	return r, err
}

// ListCases returns all cases in ID order (creation order for UUIDv7). Values are
// opened and decoded in parallel; see [Vault.ReadAll].
func (v *Vault) ListCases() ([]*cases.Record, error) {
	var out []*cases.Record
	err := v.readAll(bucketCases,
		func(k, pt []byte) (any, error) { return decodeCase(k, pt) },
		func(_ []byte, val any) error {
			out = append(out, val.(*cases.Record))
			return nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func decodeCase(key, pt []byte) (*cases.Record, error) {
	var r cases.Record
	if err := json.Unmarshal(pt, &r); err != nil {
		return nil, fmt.Errorf("case %s: record does not decode as JSON", key)
	}
	if r.ID != string(key) {
		return nil, &TamperError{Bucket: string(bucketCases), Key: string(key)}
	}
	return &r, nil
}
