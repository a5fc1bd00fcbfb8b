package storage

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"fieldoffice/cases"
)

// The outbox (bucket "outbox")
//
// Every local change is an operation waiting for the portal, keyed by its op ID, a
// UUIDv7 in its text form, so the bucket is in creation order. The sync engine sends
// the entries in that order and removes each in the transaction that records the
// portal's answer. A case has unsynced changes exactly when it has outbox entries; its
// summary carries FlagUnsynced while it has any.

var bucketOutbox = []byte("outbox")

// Outbox operation kinds.
const (
	OpCreate     = "create"
	OpPatch      = "patch"
	OpTransition = "transition"
	OpNote       = "note"
	OpAttach     = "attach"
)

// OutboxEntry is one local change waiting to be pushed.
type OutboxEntry struct {
	OpID         string      `json:"op_id"` // UUIDv7
	CaseID       string      `json:"case_id"`
	Service      string      `json:"service,omitempty"` // the case's service type (a create needs it)
	BaseRevision int64       `json:"base_revision"`     // the case's portal revision the patch was made on
	Kind         string      `json:"kind"`              // create, patch, transition, note, attach
	Patch        cases.Patch `json:"patch"`
	Created      time.Time   `json:"created"`
	User         string      `json:"user"`
}

func newOutboxEntry(c *cases.Case, kind string, p cases.Patch, user string, now time.Time) (OutboxEntry, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return OutboxEntry{}, err
	}
	return OutboxEntry{OpID: id.String(), CaseID: c.ID, Service: c.Service, BaseRevision: c.Revision, Kind: kind, Patch: p, Created: now.UTC(), User: user}, nil
}

func (tx *Tx) putOutbox(e OutboxEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := tx.Put(bucketOutbox, []byte(e.OpID), b); err != nil {
		return err
	}
	return tx.putOutboxIndex(e)
}

// Outbox returns the waiting operations, oldest first.
func (v *Vault) Outbox() ([]OutboxEntry, error) {
	var out []OutboxEntry
	err := v.View(func(tx *Tx) error {
		return tx.ForEach(bucketOutbox, func(k, val []byte) error {
			var e OutboxEntry
			if err := json.Unmarshal(val, &e); err != nil || e.OpID != string(k) {
				return &TamperError{Bucket: string(bucketOutbox), Key: string(k)}
			}
			out = append(out, e)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return out, nil
}

// PendingOps returns how many operations on case id wait in the outbox.
func (v *Vault) PendingOps(id string) (int, error) {
	ops, err := v.Outbox()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ops {
		if e.CaseID == id {
			n++
		}
	}
	return n, nil
}
