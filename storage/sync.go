package storage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"fieldoffice/cases"
)

// What the sync engine stores (sync/ drives it; the rules live here, next to the data)
//
// Buckets (all values sealed):
//
//	outbox-case  case ID "/" op ID → ""        which cases have ops waiting (a prefix seek)
//	sync         "state" → JSON of SyncState    cursor of the change feed, last runs
//	rejections   case ID → JSON of []Rejection  ops the portal refused, for the user
//
// Pull: [Vault.ApplyPull] stores one page of the change feed together with the cursor
// after it, in one transaction. For each case the portal sent (theirs):
//
//   - theirs' revision is not newer than the base → nothing (our own change coming back);
//   - no local ops wait for the case → the case becomes theirs;
//   - ops wait → the case becomes Merge(base, local, theirs): edits to different
//     fields merge; the same field changed to different values is a conflict, stored
//     for the user, the case holding theirs for that field meanwhile;
//   - in every case theirs becomes the base, the summary, index and audit trail follow.
//
// The ops themselves are not rewritten by a pull: each carries per field the value it
// was made on (Old) and the portal compares per field, so an op still applies when the
// portal changed other fields, and is answered "conflict" when it changed the same one.
//
// Push: [Vault.RecordResults] records the portal's answers to a batch of ops in one
// transaction; an op leaves the outbox only there. applied (and duplicate of an
// applied op) → the portal's case is brought in as by a pull; conflict → the fields
// are stored as conflicts, the op's other fields are queued again as a new op (they
// did not apply, the op is all or nothing) and the portal's case is merged in;
// rejected → the op's fields are set back to the values the portal holds, and the
// refusal (messages per field, reason) is kept for the user (Rejections).
//
// Why this is exactly once: the portal applies each op ID at most once and answers a
// replayed ID with the first answer, and a field whose value already equals the op's
// new value counts as applied. So an op sent twice (the answer was lost), or a change
// queued again after a conflict that the portal had in fact applied, changes nothing
// the second time.

var (
	bucketOutboxCase = []byte("outbox-case")
	bucketSync       = []byte("sync")
	bucketRejections = []byte("rejections")
	syncStateKey     = []byte("state")
)

// Audit operations written by sync.
const (
	AuditPull     = "pull"     // the portal's version of a case was brought in
	AuditPushed   = "pushed"   // the portal applied an op
	AuditConflict = "conflict" // the portal answered an op with a conflict
	AuditRejected = "rejected" // the portal refused an op
	AuditResolve  = "resolve"  // the user resolved a conflict
)

// SyncState is what the sync engine keeps between runs.
type SyncState struct {
	Cursor      string    `json:"cursor"`                 // change feed position after the last stored page
	LastSuccess time.Time `json:"last_success,omitzero"`  // end of the last run that completed
	LastAttempt time.Time `json:"last_attempt,omitzero"`  // start of the last run
	LastError   string    `json:"last_error,omitempty"`   // why the last run failed ("" after a success)
	Pulled      int64     `json:"pulled,omitempty"`       // cases brought in, all runs
	Pushed      int64     `json:"pushed,omitempty"`       // ops the portal applied, all runs
	FormsETag   string    `json:"forms_etag,omitempty"`   // of the forms last fetched
	PolicyETag  string    `json:"policy_etag,omitempty"`  // of the policy last fetched
	Conflicts   int       `json:"conflicts,omitempty"`    // cases in conflict after the last run
	Rejected    int64     `json:"rejected,omitempty"`     // ops refused, all runs
	Runs        int64     `json:"runs,omitempty"`         // completed runs
	Failures    int64     `json:"failures,omitempty"`     // failed runs in a row
	LastPulled  int       `json:"last_pulled,omitempty"`  // cases brought in by the last run
	LastPushed  int       `json:"last_pushed,omitempty"`  // ops applied by the last run
	LastSeconds float64   `json:"last_seconds,omitempty"` // duration of the last completed run
}

// Rejection is an op the portal refused, kept for the user until the case is changed
// again.
type Rejection struct {
	OpID   string            `json:"op_id"`
	Kind   string            `json:"kind"`
	Fields map[string]string `json:"fields,omitempty"` // message per field
	Reason string            `json:"reason,omitempty"`
	Time   time.Time         `json:"time"`
}

// OpOutcome is the portal's answer to one pushed op, as RecordResults needs it.
type OpOutcome struct {
	OpID      string
	Status    string            // applied, duplicate, conflict, rejected
	First     string            // for duplicate: the first answer's status
	Case      []byte            // the portal's case (applied, conflict), JSON as received
	Fields    map[string]string // rejected: message per field
	Reason    string            // rejected or conflict: why
	Conflicts []string          // conflict: fields whose old value did not match
}

// PullStats counts what a pulled page did.
type PullStats struct {
	New, Updated, Merged, Unchanged, Conflicts int
}

// PushStats counts what recorded results did.
type PushStats struct {
	Applied, Duplicate, Conflict, Rejected, Requeued, Unknown int
}

func outboxCaseKey(caseID, opID string) []byte { return []byte(caseID + "/" + opID) }

// putOutboxIndex and deleteOutbox keep bucket outbox-case in step with the outbox.
func (tx *Tx) putOutboxIndex(e OutboxEntry) error {
	return tx.Put(bucketOutboxCase, outboxCaseKey(e.CaseID, e.OpID), nil)
}

func (tx *Tx) deleteOutbox(e OutboxEntry) error {
	if err := tx.Delete(bucketOutbox, []byte(e.OpID)); err != nil {
		return err
	}
	return tx.Delete(bucketOutboxCase, outboxCaseKey(e.CaseID, e.OpID))
}

// pendingOps returns the IDs of the ops waiting for case id, oldest first.
func (tx *Tx) pendingOps(id string) ([]string, error) {
	var ops []string
	prefix := []byte(id + "/")
	err := guard(tx.path(), "read", func() error {
		b := tx.btx.Bucket(bucketOutboxCase)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, val := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, val = c.Next() {
			if _, err := tx.k.records.Open(bucketOutboxCase, k, val); err != nil {
				return &TamperError{Bucket: string(bucketOutboxCase), Key: string(k)}
			}
			ops = append(ops, string(k[len(prefix):]))
		}
		return nil
	})
	return ops, err
}

func (tx *Tx) getOutbox(opID string) (*OutboxEntry, error) {
	b, err := tx.Get(bucketOutbox, []byte(opID))
	if err != nil || b == nil {
		return nil, err
	}
	var e OutboxEntry
	if err := json.Unmarshal(b, &e); err != nil || e.OpID != opID {
		return nil, &TamperError{Bucket: string(bucketOutbox), Key: opID}
	}
	return &e, nil
}

// OutboxBatch returns up to limit waiting ops, oldest first.
func (v *Vault) OutboxBatch(limit int) ([]OutboxEntry, error) {
	var out []OutboxEntry
	err := v.View(func(tx *Tx) error {
		var keys []string
		err := guard(tx.path(), "read", func() error {
			b := tx.btx.Bucket(bucketOutbox)
			if b == nil {
				return nil
			}
			c := b.Cursor()
			for k, _ := c.First(); k != nil && len(keys) < limit; k, _ = c.Next() {
				keys = append(keys, string(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range keys {
			e, err := tx.getOutbox(k)
			if err != nil {
				return err
			}
			out = append(out, *e)
		}
		return nil
	})
	return out, err
}

// OutboxLen returns how many ops wait.
func (v *Vault) OutboxLen() (int, error) {
	n := 0
	err := v.View(func(tx *Tx) error {
		c, err := tx.count(bucketOutbox)
		n = int(c)
		return err
	})
	return n, err
}

// SyncState returns the sync engine's state (zero before the first run).
func (v *Vault) SyncState() (SyncState, error) {
	var st SyncState
	err := v.View(func(tx *Tx) error {
		var err error
		st, err = tx.syncState()
		return err
	})
	return st, err
}

func (tx *Tx) syncState() (SyncState, error) {
	var st SyncState
	b, err := tx.Get(bucketSync, syncStateKey)
	if err != nil || b == nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, &TamperError{Bucket: string(bucketSync), Key: string(syncStateKey)}
	}
	return st, nil
}

func (tx *Tx) putSyncState(st SyncState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return tx.Put(bucketSync, syncStateKey, b)
}

// UpdateSyncState changes the sync state with fn in one transaction.
func (v *Vault) UpdateSyncState(fn func(*SyncState)) error {
	return v.Update(func(tx *Tx) error {
		st, err := tx.syncState()
		if err != nil {
			return err
		}
		fn(&st)
		return tx.putSyncState(st)
	})
}

// caseWrite is what putCase writes besides the case.
type caseWrite struct {
	raw       []byte            // the case's JSON as to store (nil: marshal next)
	conflicts *[]cases.Conflict // replace the stored conflicts (nil: keep them)
	unsynced  bool              // ops wait for the case
}

// putCase writes next (old: the stored version, nil for a new case) with its summary,
// index and, if asked, conflicts — no outbox op. It returns the summary.
func (tx *Tx) putCase(old, next *cases.Case, s *cases.Schema, w caseWrite) (cases.Summary, error) {
	cb := w.raw
	if cb == nil {
		var err error
		if cb, err = json.Marshal(next); err != nil {
			return cases.Summary{}, err
		}
	}
	if err := tx.claimBlobs(next.Attachments); err != nil {
		return cases.Summary{}, err
	}
	if err := tx.Put(bucketCases, []byte(next.ID), cb); err != nil {
		return cases.Summary{}, err
	}
	ix := newIndexer(tx.k)
	defer ix.zero()
	var oldTerms map[string]struct{}
	if old != nil {
		oldTerms = caseTerms(old, s)
	}
	if err := tx.updateIndex(ix, next.ID, oldTerms, caseTerms(next, s)); err != nil {
		return cases.Summary{}, err
	}
	cs, err := tx.conflicts(next.ID)
	if err != nil {
		return cases.Summary{}, err
	}
	if w.conflicts != nil {
		cs = *w.conflicts
		if len(cs) == 0 {
			err = tx.Delete(bucketConflicts, []byte(next.ID))
		} else {
			var b []byte
			if b, err = json.Marshal(cs); err == nil {
				err = tx.Put(bucketConflicts, []byte(next.ID), b)
			}
		}
		if err != nil {
			return cases.Summary{}, err
		}
	}
	rej, err := tx.rejections(next.ID)
	if err != nil {
		return cases.Summary{}, err
	}
	sum := next.Summary()
	if w.unsynced {
		sum.Flags |= cases.FlagUnsynced
	}
	if len(cs) > 0 || len(rej) > 0 {
		sum.Flags |= cases.FlagConflict
	}
	return sum, tx.Put(bucketSummaries, []byte(next.ID), encodeSummary(sum))
}

// rebase brings theirs (the portal's version, raw its JSON) into the store as
// described at the top of this file. extra conflicts are added to those of the merge.
func (v *Vault) rebase(tx *Tx, theirs *cases.Case, raw []byte, extra []cases.Conflict, now time.Time) (sum *cases.Summary, kind string, err error) {
	id := theirs.ID
	local, err := tx.getCase(id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, "", err
	}
	base, err := tx.getBaseCase(id)
	if err != nil {
		return nil, "", err
	}
	if base != nil && theirs.Revision <= base.Revision && local != nil {
		if len(extra) == 0 {
			return nil, "unchanged", nil
		}
		cs, err := tx.conflicts(id)
		if err != nil {
			return nil, "", err
		}
		cs = unionConflicts(cs, extra)
		pending, err := tx.pendingOps(id)
		if err != nil {
			return nil, "", err
		}
		s := v.schemaFor(local.Service)
		sm, err := tx.putCase(local, local, s, caseWrite{conflicts: &cs, unsynced: len(pending) > 0})
		return &sm, "merged", err
	}
	if err := tx.Put(bucketBases, []byte(id), raw); err != nil {
		return nil, "", err
	}
	pending, err := tx.pendingOps(id)
	if err != nil {
		return nil, "", err
	}
	s := v.schemaFor(theirs.Service)
	var next *cases.Case
	var cs []cases.Conflict
	w := caseWrite{unsynced: len(pending) > 0}
	switch {
	case local == nil:
		next, kind, w.raw = theirs, "new", raw
	case len(pending) == 0:
		next, kind, w.raw = theirs, "updated", raw
	default:
		next, cs = cases.Merge(base, local, theirs)
		kind = "merged"
	}
	// Conflicts stored earlier stay until the user resolves them, unless the portal
	// now holds the user's value; they show the portal's current value.
	old, err := tx.conflicts(id)
	if err != nil {
		return nil, "", err
	}
	for _, c := range old {
		if val, err := next.Get(c.Field); err == nil && val != c.Mine {
			c.Theirs = val
			cs = unionConflicts([]cases.Conflict{c}, cs)
		}
	}
	cs = unionConflicts(cs, extra)
	w.conflicts = &cs
	sm, err := tx.putCase(local, next, s, w)
	if err != nil {
		return nil, "", err
	}
	var fields []string
	if local != nil {
		fields = cases.Diff(local, next).Fields()
	}
	a, err := tx.openAudit()
	if err != nil {
		return nil, "", err
	}
	defer a.zero()
	if err := tx.appendAudit(a, AuditEntry{Time: now, Op: AuditPull, CaseID: id, Fields: fields}); err != nil {
		return nil, "", err
	}
	if len(cs) > 0 {
		kind = "conflict"
	}
	return &sm, kind, nil
}

// unionConflicts adds add to cs, one conflict per field (add wins).
func unionConflicts(cs, add []cases.Conflict) []cases.Conflict {
	out := slices.Clone(cs)
	for _, a := range add {
		i := slices.IndexFunc(out, func(c cases.Conflict) bool { return c.Field == a.Field })
		if i >= 0 {
			out[i] = a
		} else {
			out = append(out, a)
		}
	}
	return out
}

func (tx *Tx) getBaseCase(id string) (*cases.Case, error) {
	b, err := tx.Get(bucketBases, []byte(id))
	if err != nil || b == nil {
		return nil, err
	}
	return decodeCaseJSON(bucketBases, id, b)
}

// decodePortalCase decodes a case the portal sent; a malformed one is an error that
// says so (the portal's fault, not tampering).
func decodePortalCase(raw []byte) (*cases.Case, error) {
	var c cases.Case
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("the portal sent a case that does not decode: %v", err)
	}
	if !cases.ValidID(c.ID) || c.Service == "" {
		return nil, fmt.Errorf("the portal sent a case without a valid ID or service (%q)", c.ID)
	}
	if c.Values == nil {
		c.Values = cases.Values{}
	}
	return &c, nil
}

// ApplyPull stores one page of the change feed and the cursor after it in one
// transaction (see the top of this file). A malformed case in the page stores
// nothing of the page.
func (v *Vault) ApplyPull(page [][]byte, cursor string) (PullStats, error) {
	var st PullStats
	theirs := make([]*cases.Case, len(page))
	for i, raw := range page {
		c, err := decodePortalCase(raw)
		if err != nil {
			return st, err
		}
		theirs[i] = c
	}
	now := time.Now().UTC()
	var sums []cases.Summary
	var txid int
	var k *keys
	err := v.Update(func(tx *Tx) error {
		st, sums = PullStats{}, nil
		for i, c := range theirs {
			sum, kind, err := v.rebase(tx, c, page[i], nil, now)
			if err != nil {
				return fmt.Errorf("store case %s from the portal: %w", c.ID, err)
			}
			switch kind {
			case "new":
				st.New++
			case "updated":
				st.Updated++
			case "merged":
				st.Merged++
			case "conflict":
				st.Conflicts++
			default:
				st.Unchanged++
			}
			if sum != nil {
				sums = append(sums, *sum)
			}
		}
		s, err := tx.syncState()
		if err != nil {
			return err
		}
		s.Cursor = cursor
		s.Pulled += int64(len(page) - st.Unchanged)
		txid, k = tx.btx.ID(), tx.k
		return tx.putSyncState(s)
	})
	if err != nil {
		return PullStats{}, err
	}
	v.repo.committed(k, txid, sums)
	return st, nil
}

// RecordResults records the portal's answers to pushed ops in one transaction (see
// the top of this file). Answers for ops no longer in the outbox are counted as
// Unknown and ignored.
func (v *Vault) RecordResults(results []OpOutcome) (PushStats, error) {
	now := time.Now().UTC()
	var st PushStats
	var sums []cases.Summary
	var txid int
	var k *keys
	err := v.Update(func(tx *Tx) error {
		st, sums = PushStats{}, nil
		a, err := tx.openAudit()
		if err != nil {
			return err
		}
		defer a.zero()
		for _, r := range results {
			sum, err := v.recordResult(tx, a, r, now, &st)
			if err != nil {
				return fmt.Errorf("record the portal's answer to op %s: %w", r.OpID, err)
			}
			if sum != nil {
				sums = append(sums, *sum)
			}
		}
		s, err := tx.syncState()
		if err != nil {
			return err
		}
		s.Pushed += int64(st.Applied + st.Duplicate)
		s.Rejected += int64(st.Rejected)
		txid, k = tx.btx.ID(), tx.k
		return tx.putSyncState(s)
	})
	if err != nil {
		return PushStats{}, err
	}
	v.repo.committed(k, txid, sums)
	return st, nil
}

func (v *Vault) recordResult(tx *Tx, a *auditChain, r OpOutcome, now time.Time, st *PushStats) (*cases.Summary, error) {
	e, err := tx.getOutbox(r.OpID)
	if err != nil {
		return nil, err
	}
	if e == nil {
		st.Unknown++
		return nil, nil
	}
	if err := tx.deleteOutbox(*e); err != nil {
		return nil, err
	}
	status := r.Status
	if status == "duplicate" {
		st.Duplicate++
		status = r.First
	}
	audit := func(op string, fields []string) error {
		return tx.appendAudit(a, AuditEntry{Time: now, Op: op, CaseID: e.CaseID, Fields: fields})
	}
	switch status {
	case "applied":
		if r.Status != "duplicate" {
			st.Applied++
		}
		if err := audit(AuditPushed, e.Patch.Fields()); err != nil {
			return nil, err
		}
		if len(r.Case) == 0 {
			return v.refreshFlags(tx, e.CaseID)
		}
		theirs, err := decodePortalCase(r.Case)
		if err != nil {
			return nil, err
		}
		sum, _, err := v.rebase(tx, theirs, r.Case, nil, now)
		if sum == nil && err == nil {
			return v.refreshFlags(tx, e.CaseID)
		}
		return sum, err
	case "conflict":
		st.Conflict++
		theirs, err := decodePortalCase(r.Case)
		if err != nil {
			return nil, err
		}
		bad := map[string]bool{}
		for _, f := range r.Conflicts {
			bad[f] = true
		}
		var conflicts []cases.Conflict
		var again cases.Patch
		for _, ch := range e.Patch {
			cur, _ := theirs.Get(ch.Field)
			switch {
			case cur == ch.New:
			case bad[ch.Field] || len(bad) == 0 && cur != ch.Old:
				conflicts = append(conflicts, cases.Conflict{Field: ch.Field, Base: ch.Old, Mine: ch.New, Theirs: cur})
			default:
				again = append(again, ch)
			}
		}
		if len(again) > 0 {
			st.Requeued++
			ne, err := newOutboxEntry(theirs, e.Kind, again, e.User, now)
			if err != nil {
				return nil, err
			}
			ne.BaseRevision = theirs.Revision
			if err := tx.putOutbox(ne); err != nil {
				return nil, err
			}
		}
		if err := audit(AuditConflict, e.Patch.Fields()); err != nil {
			return nil, err
		}
		return v.rebaseOrFlag(tx, theirs, r.Case, conflicts, now)
	case "rejected":
		st.Rejected++
		c, err := tx.getCase(e.CaseID)
		if errors.Is(err, ErrNotFound) {
			return nil, audit(AuditRejected, e.Patch.Fields())
		} else if err != nil {
			return nil, err
		}
		next := c.Clone()
		for _, ch := range e.Patch {
			if cur, err := next.Get(ch.Field); err == nil && cur == ch.New {
				_ = next.Set(ch.Field, ch.Old) // a value the case held before
			}
		}
		rej, err := tx.rejections(e.CaseID)
		if err != nil {
			return nil, err
		}
		rej = append(rej, Rejection{OpID: e.OpID, Kind: e.Kind, Fields: r.Fields, Reason: r.Reason, Time: now})
		b, err := json.Marshal(rej)
		if err != nil {
			return nil, err
		}
		if err := tx.Put(bucketRejections, []byte(e.CaseID), b); err != nil {
			return nil, err
		}
		pending, err := tx.pendingOps(e.CaseID)
		if err != nil {
			return nil, err
		}
		sum, err := tx.putCase(c, next, v.schemaFor(c.Service), caseWrite{unsynced: len(pending) > 0})
		if err != nil {
			return nil, err
		}
		return &sum, audit(AuditRejected, e.Patch.Fields())
	default:
		return nil, fmt.Errorf("unknown result %q", r.Status)
	}
}

// rebaseOrFlag brings theirs in with extra conflicts.
func (v *Vault) rebaseOrFlag(tx *Tx, theirs *cases.Case, raw []byte, extra []cases.Conflict, now time.Time) (*cases.Summary, error) {
	sum, _, err := v.rebase(tx, theirs, raw, extra, now)
	if err != nil || sum != nil {
		return sum, err
	}
	return v.refreshFlags(tx, theirs.ID)
}

// refreshFlags rewrites the summary of case id with current unsynced/conflict flags.
func (v *Vault) refreshFlags(tx *Tx, id string) (*cases.Summary, error) {
	c, err := tx.getCase(id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	pending, err := tx.pendingOps(id)
	if err != nil {
		return nil, err
	}
	cb, err := tx.Get(bucketCases, []byte(id))
	if err != nil {
		return nil, err
	}
	sum, err := tx.putCase(c, c, v.schemaFor(c.Service), caseWrite{raw: cb, unsynced: len(pending) > 0})
	return &sum, err
}

func (tx *Tx) rejections(id string) ([]Rejection, error) {
	b, err := tx.Get(bucketRejections, []byte(id))
	if err != nil || b == nil {
		return nil, err
	}
	var rs []Rejection
	if err := json.Unmarshal(b, &rs); err != nil {
		return nil, &TamperError{Bucket: string(bucketRejections), Key: id}
	}
	return rs, nil
}

// Rejections returns the ops of case id the portal refused (until the case is changed
// again).
func (v *Vault) Rejections(id string) ([]Rejection, error) {
	var out []Rejection
	err := v.View(func(tx *Tx) error {
		var err error
		out, err = tx.rejections(id)
		return err
	})
	return out, err
}

// Resolve choices besides a literal value.
const (
	ResolveMine   = "mine"
	ResolveTheirs = "theirs"
)

// ErrNoConflict is returned by ResolveConflict for a field that is not in conflict.
var ErrNoConflict = errors.New("field is not in conflict")

// ResolveConflict settles the conflict on field of case id with ResolveMine,
// ResolveTheirs or a value the user typed: the case gets that value, earlier waiting
// ops no longer carry the field, and a new op (Old = the portal's value) carries the
// choice — unless the choice is the portal's value, which needs no op. Values are
// validated like SetFields. A typed value that could be the words "mine" or "theirs"
// goes through ResolveConflictValue.
func (v *Vault) ResolveConflict(id, field, choice string) (*cases.Case, error) {
	return v.resolveConflict(id, field, choice, false)
}

// ResolveConflictValue is ResolveConflict with a value the user typed, taken
// literally (also "mine" or "theirs").
func (v *Vault) ResolveConflictValue(id, field, value string) (*cases.Case, error) {
	return v.resolveConflict(id, field, value, true)
}

func (v *Vault) resolveConflict(id, field, choice string, literal bool) (*cases.Case, error) {
	if !cases.ValidID(id) {
		return nil, fmt.Errorf("%w: case %q (not a case ID)", ErrNotFound, id)
	}
	now := time.Now().UTC()
	var out *cases.Case
	var sum cases.Summary
	var txid int
	var k *keys
	err := v.Update(func(tx *Tx) error {
		old, err := tx.getCase(id)
		if err != nil {
			return err
		}
		cs, err := tx.conflicts(id)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(cs, func(c cases.Conflict) bool { return c.Field == field })
		if i < 0 {
			return fmt.Errorf("%w: %s of case %s", ErrNoConflict, field, id)
		}
		c := cs[i]
		value := choice
		switch {
		case literal:
		case choice == ResolveMine:
			value = c.Mine
		case choice == ResolveTheirs:
			value = c.Theirs
		}
		s := v.schemaFor(old.Service)
		next := old.Clone()
		if err := next.Set(field, value); err != nil {
			return &ValidationError{Fields: map[string]string{field: msgUnknownField}}
		}
		if key, ok := strings.CutPrefix(field, "values."); ok && s != nil && value != "" {
			merged, bad := checkValues(s, next.Values, map[string]string{key: field}, now)
			if len(bad) > 0 {
				return &ValidationError{Fields: bad}
			}
			next.Values = merged
			s.FillApplicant(next)
		}
		if err := tx.dropFieldFromOps(id, field); err != nil {
			return err
		}
		left := slices.Delete(slices.Clone(cs), i, i+1)
		patch := cases.Diff(old, next)
		if cur, _ := next.Get(field); cur != c.Theirs || len(patch) > 0 {
			// The op must carry Old = the portal's value for this field.
			for j := range patch {
				if patch[j].Field == field {
					patch[j].Old = c.Theirs
				}
			}
			if len(patch) == 0 {
				patch = cases.Patch{{Field: field, Old: c.Theirs, New: cur}}
			}
			next.Touch(now)
			e, err := newOutboxEntry(next, OpPatch, patch, tx.k.user, now)
			if err != nil {
				return err
			}
			if err := tx.putOutbox(e); err != nil {
				return err
			}
		}
		pending, err := tx.pendingOps(id)
		if err != nil {
			return err
		}
		sum, err = tx.putCase(old, next, s, caseWrite{conflicts: &left, unsynced: len(pending) > 0})
		if err != nil {
			return err
		}
		a, err := tx.openAudit()
		if err != nil {
			return err
		}
		defer a.zero()
		out, txid, k = next, tx.btx.ID(), tx.k
		return tx.appendAudit(a, AuditEntry{Time: now, Op: AuditResolve, CaseID: id, Fields: []string{field}})
	})
	if err != nil {
		return nil, err
	}
	v.repo.committed(k, txid, []cases.Summary{sum})
	return out, nil
}

// dropFieldFromOps removes field from the waiting ops of case id (a resolution
// supersedes them); an op left without changes is removed.
func (tx *Tx) dropFieldFromOps(id, field string) error {
	ops, err := tx.pendingOps(id)
	if err != nil {
		return err
	}
	for _, opID := range ops {
		e, err := tx.getOutbox(opID)
		if err != nil || e == nil {
			return err
		}
		kept := slices.DeleteFunc(slices.Clone(e.Patch), func(ch cases.FieldChange) bool { return ch.Field == field })
		switch {
		case len(kept) == len(e.Patch):
		case len(kept) == 0:
			if err := tx.deleteOutbox(*e); err != nil {
				return err
			}
		default:
			e.Patch = kept
			if err := tx.putOutbox(*e); err != nil {
				return err
			}
		}
	}
	return nil
}

// ConflictCases returns the IDs of the cases in conflict or with refused ops.
func (v *Vault) ConflictCases() ([]string, error) {
	ids := map[string]bool{}
	err := v.View(func(tx *Tx) error {
		for _, b := range [][]byte{bucketConflicts, bucketRejections} {
			if err := tx.ForEach(b, func(k, _ []byte) error {
				ids[string(k)] = true
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	return slices.Sorted(maps.Keys(ids)), err
}
