package storage

import (
	"encoding/json"
	"errors"
	"fmt"

	"fieldoffice/cases"
)

// Reading cases and their bases. Writing is in repo.go, the list and search in
// query.go. Format version 1's plain cases.Record API (PutCase, GetCase, ListCases,
// PutMany) is gone; migrate_v2.go converts such records.

func (tx *Tx) getCase(id string) (*cases.Case, error) {
	b, err := tx.Get(bucketCases, []byte(id))
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, fmt.Errorf("%w: case %s", ErrNotFound, id)
	}
	return decodeCaseJSON(bucketCases, id, b)
}

func decodeCaseJSON(bucket []byte, id string, b []byte) (*cases.Case, error) {
	var c cases.Case
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("case %s: stored case does not decode as JSON", id)
	}
	if c.ID != id {
		return nil, &TamperError{Bucket: string(bucket), Key: id}
	}
	if c.Values == nil {
		c.Values = cases.Values{}
	}
	return &c, nil
}

// Case returns the case with the given ID, or ErrNotFound.
func (v *Vault) Case(id string) (*cases.Case, error) {
	if !cases.ValidID(id) {
		return nil, fmt.Errorf("%w: case %q (not a case ID)", ErrNotFound, id)
	}
	var c *cases.Case
	err := v.View(func(tx *Tx) error {
		var err error
		c, err = tx.getCase(id)
		return err
	})
	return c, err
}

// Base returns the copy of the case last agreed with the portal, or ErrNotFound when
// the case was never synced.
func (v *Vault) Base(id string) (*cases.Case, error) {
	if !cases.ValidID(id) {
		return nil, fmt.Errorf("%w: base of %q (not a case ID)", ErrNotFound, id)
	}
	var c *cases.Case
	err := v.View(func(tx *Tx) error {
		b, err := tx.Get(bucketBases, []byte(id))
		if err != nil {
			return err
		}
		if b == nil {
			return fmt.Errorf("%w: base of case %s", ErrNotFound, id)
		}
		c, err = decodeCaseJSON(bucketBases, id, b)
		return err
	})
	return c, err
}

// PutBase stores c as the copy agreed with the portal (the sync engine calls it with
// the portal's version after a pull or an applied push).
func (v *Vault) PutBase(c *cases.Case) error {
	if c == nil || !cases.ValidID(c.ID) {
		return errors.New("put base: invalid case ID")
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return v.Update(func(tx *Tx) error { return tx.Put(bucketBases, []byte(c.ID), b) })
}

// conflicts returns the stored conflicts of case id.
func (tx *Tx) conflicts(id string) ([]cases.Conflict, error) {
	b, err := tx.Get(bucketConflicts, []byte(id))
	if err != nil || b == nil {
		return nil, err
	}
	var cs []cases.Conflict
	if err := json.Unmarshal(b, &cs); err != nil {
		return nil, &TamperError{Bucket: string(bucketConflicts), Key: id}
	}
	return cs, nil
}

// Conflicts returns the fields of case id that a merge left for the user to resolve
// (none when the case is not in conflict).
func (v *Vault) Conflicts(id string) ([]cases.Conflict, error) {
	var out []cases.Conflict
	err := v.View(func(tx *Tx) error {
		var err error
		out, err = tx.conflicts(id)
		return err
	})
	return out, err
}
