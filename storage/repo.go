package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"fieldoffice/cases"
)

// The case repository
//
// Buckets of format version 2 (every value sealed):
//
//	cases      case ID → JSON of cases.Case
//	summaries  case ID → compact JSON of cases.Summary, with FlagUnsynced/FlagConflict
//	bases      case ID → JSON of cases.Case as last agreed with the portal
//	outbox     op ID (UUIDv7) → JSON of OutboxEntry (outbox.go)
//	audit      seq → JSON of AuditEntry, "head" → seq ‖ MAC (audit.go)
//	index      epoch ‖ HMAC(term) ‖ case ID → "" (index.go)
//	conflicts  case ID → JSON of []cases.Conflict
//
// Every change (CreateCase, SetFields, UpdateCase, TransitionCase, AddNote,
// AddAttachment) writes the new case, its summary, the index changes, one outbox entry
// and one audit entry in one bbolt transaction: all or nothing. The list (Cases) reads
// only summaries, and keeps them decoded in memory (see listCache) until the next
// change by another path or Lock.

var (
	bucketSummaries = []byte("summaries")
	bucketBases     = []byte("bases")
	bucketConflicts = []byte("conflicts")
)

// ErrCaseExists is returned by CreateCase for an ID already in the store.
var ErrCaseExists = errors.New("case already exists")

// Forms gives the form schema of a service type; assets.Schemas and (later) the
// portal's delivered forms implement it.
type Forms interface {
	Schema(service string) (*cases.Schema, error)
}

// SetForms sets where the repository finds form schemas (validation, workflow,
// searchable fields). Without forms, values are stored unvalidated, transitions are
// refused and only applicant and Aktenzeichen are searchable.
func (v *Vault) SetForms(f Forms) {
	v.repo.mu.Lock()
	v.repo.forms = f
	v.repo.mu.Unlock()
}

// repoState is the repository's part of a Vault.
type repoState struct {
	mu    sync.Mutex
	forms Forms
	list  *listCache // decoded summaries; nil when not loaded
}

// drop forgets the decoded summaries (called by Lock).
func (r *repoState) drop() {
	r.mu.Lock()
	r.list = nil
	r.mu.Unlock()
}

func (v *Vault) formsOf() Forms {
	v.repo.mu.Lock()
	defer v.repo.mu.Unlock()
	return v.repo.forms
}

// schemaFor returns the schema of service, nil when there are no forms or the service
// is unknown to them.
func (v *Vault) schemaFor(service string) *cases.Schema {
	f := v.formsOf()
	if f == nil {
		return nil
	}
	s, err := f.Schema(service)
	if err != nil {
		return nil
	}
	return s
}

// ValidationError lists invalid input per field, in German. Nothing was written.
type ValidationError struct {
	Fields map[string]string // field (as given) → message
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid input: ")
	for i, k := range slices.Sorted(maps.Keys(e.Fields)) {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(k + ": " + e.Fields[k])
	}
	return b.String()
}

// German messages of the repository's own checks (the form's come from cases).
const (
	msgUnknownField = "Unbekanntes Feld in diesem Formular"
	msgStatus       = "Der Status wird nur über einen Statuswechsel geändert"
	msgListField    = "Vermerke und Anlagen werden über eigene Funktionen hinzugefügt"
	msgDate         = "Bitte geben Sie ein gültiges Datum an (TT.MM.JJJJ)"
	msgPLZ          = "Postleitzahl muss fünf Ziffern haben"
	msgCountry      = "Bitte geben Sie den Staat als Länderkürzel an (z. B. AT)"
	msgNoteEmpty    = "Bitte geben Sie einen Text ein"
	msgUnknownState = "Unbekannter Status"
)

// attribute paths SetFields accepts besides form values.
var settableAttrs = []string{
	"aktenzeichen", "assignee", "due_date",
	"applicant.family_name", "applicant.given_names", "applicant.birth_name", "applicant.organisation",
	"applicant.address.street", "applicant.address.house_number", "applicant.address.addition",
	"applicant.address.postcode", "applicant.address.city", "applicant.address.country",
}

// --- writing -----------------------------------------------------------------------

// changeCtx is what a change function gets besides the case.
type changeCtx struct {
	schema *cases.Schema // nil without forms
	now    time.Time
	user   string
}

// writeCase writes a changed case (old nil for a new one) with summary, index, outbox
// and audit entry in tx and returns the new summary. patch is Diff(old, next).
func (tx *Tx) writeCase(old, next *cases.Case, s *cases.Schema, kind string, patch cases.Patch, now time.Time) (cases.Summary, error) {
	cb, err := json.Marshal(next)
	if err != nil {
		return cases.Summary{}, err
	}
	if err := tx.claimBlobs(next.Attachments); err != nil {
		return cases.Summary{}, err
	}
	if err := tx.Put(bucketCases, []byte(next.ID), cb); err != nil {
		return cases.Summary{}, err
	}
	// Index.
	ix := newIndexer(tx.k)
	defer ix.zero()
	var oldTerms map[string]struct{}
	if old != nil {
		oldTerms = caseTerms(old, s)
	}
	if err := tx.updateIndex(ix, next.ID, oldTerms, caseTerms(next, s)); err != nil {
		return cases.Summary{}, err
	}
	// Outbox.
	e, err := newOutboxEntry(next, kind, patch, tx.k.user, now)
	if err != nil {
		return cases.Summary{}, err
	}
	if old != nil {
		e.BaseRevision = old.Revision
	}
	if err := tx.putOutbox(e); err != nil {
		return cases.Summary{}, err
	}
	// Conflicts: a change to a field in conflict settles it.
	cs, err := tx.conflicts(next.ID)
	if err != nil {
		return cases.Summary{}, err
	}
	if len(cs) > 0 {
		changed := map[string]bool{}
		for _, ch := range patch {
			changed[ch.Field] = true
		}
		left := slices.DeleteFunc(slices.Clone(cs), func(c cases.Conflict) bool { return changed[c.Field] })
		if len(left) != len(cs) {
			if len(left) == 0 {
				err = tx.Delete(bucketConflicts, []byte(next.ID))
			} else {
				var b []byte
				if b, err = json.Marshal(left); err == nil {
					err = tx.Put(bucketConflicts, []byte(next.ID), b)
				}
			}
			if err != nil {
				return cases.Summary{}, err
			}
		}
		cs = left
	}
	// The user changed the case: refusals of earlier ops have been seen (sync.go).
	if err := tx.Delete(bucketRejections, []byte(next.ID)); err != nil {
		return cases.Summary{}, err
	}
	// Summary.
	sum := next.Summary()
	sum.Flags |= cases.FlagUnsynced
	if len(cs) > 0 {
		sum.Flags |= cases.FlagConflict
	}
	if err := tx.Put(bucketSummaries, []byte(next.ID), encodeSummary(sum)); err != nil {
		return cases.Summary{}, err
	}
	// Audit.
	a, err := tx.openAudit()
	if err != nil {
		return cases.Summary{}, err
	}
	defer a.zero()
	return sum, tx.appendAudit(a, AuditEntry{Time: now, Op: kind, CaseID: next.ID, Fields: patch.Fields()})
}

// change runs fn on a copy of case id and, if it changed anything, writes the result
// in one transaction. fn's error (or a failing write) leaves the store unchanged.
func (v *Vault) change(id, kind string, fn func(c *cases.Case, cx changeCtx) error) (*cases.Case, error) {
	if !cases.ValidID(id) {
		return nil, fmt.Errorf("%w: case %q (not a case ID)", ErrNotFound, id)
	}
	now := time.Now().UTC()
	var out *cases.Case
	var sum *cases.Summary
	var txid int
	var k *keys
	err := v.Update(func(tx *Tx) error {
		old, err := tx.getCase(id)
		if err != nil {
			return err
		}
		s := v.schemaFor(old.Service)
		next := old.Clone()
		if err := fn(next, changeCtx{schema: s, now: now, user: tx.k.user}); err != nil {
			return err
		}
		patch := cases.Diff(old, next)
		if len(patch) == 0 {
			out = old
			return nil
		}
		next.Touch(now)
		sm, err := tx.writeCase(old, next, s, kind, patch, now)
		if err != nil {
			return err
		}
		out, sum, txid, k = next, &sm, tx.btx.ID(), tx.k
		return nil
	})
	if err != nil {
		return nil, err
	}
	if sum != nil {
		v.repo.committed(k, txid, []cases.Summary{*sum})
	}
	return out, nil
}

// CreateCase stores a new case (from Schema.NewCase or cases.NewCase) with an outbox
// "create" entry holding the whole case as a patch from empty. With forms, the values
// are normalised and the filled ones validated (required fields are checked by the
// workflow, when the case moves on): invalid input gives a *ValidationError and nothing
// is written. An empty status becomes the workflow's initial state ("eingegangen"
// without forms). c itself is updated to what was stored (values, status, timestamps).
func (v *Vault) CreateCase(c *cases.Case) error {
	if c == nil || !cases.ValidID(c.ID) {
		return errors.New("create case: invalid case ID")
	}
	if c.Service == "" {
		return errors.New("create case: no service type")
	}
	var s *cases.Schema
	if f := v.formsOf(); f != nil {
		var err error
		if s, err = f.Schema(c.Service); err != nil {
			return fmt.Errorf("create case: %w", err)
		}
	}
	now := time.Now().UTC()
	next := c.Clone()
	bad := map[string]string{}
	if s != nil {
		keys := slices.Collect(maps.Keys(next.Values))
		vals, msgs := checkValues(s, next.Values, keysAsGiven(keys, ""), now)
		next.Values = vals
		maps.Copy(bad, msgs)
		s.FillApplicant(next)
	}
	if next.Status == "" {
		next.Status = "eingegangen"
		if s != nil && s.Workflow != nil {
			next.Status = s.Workflow.Initial()
		}
	} else if s != nil && s.Workflow != nil {
		if _, ok := s.Workflow.State(next.Status); !ok {
			bad["status"] = msgUnknownState
		}
	}
	if len(bad) > 0 {
		return &ValidationError{Fields: bad}
	}
	if next.Created.IsZero() {
		next.Created = now
	}
	next.Touch(now)
	patch := cases.Diff(nil, next)
	var sum cases.Summary
	var txid int
	var k *keys
	err := v.Update(func(tx *Tx) error {
		if b, err := tx.Get(bucketCases, []byte(next.ID)); err != nil {
			return err
		} else if b != nil {
			return fmt.Errorf("%w: %s", ErrCaseExists, next.ID)
		}
		var err error
		sum, err = tx.writeCase(nil, next, s, OpCreate, patch, now)
		txid, k = tx.btx.ID(), tx.k
		return err
	})
	if err != nil {
		return err
	}
	v.repo.committed(k, txid, []cases.Summary{sum})
	*c = *next
	return nil
}

// keysAsGiven maps value keys to the names used in messages.
func keysAsGiven(keys []string, prefix string) map[string]string {
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		m[k] = prefix + k
	}
	return m
}

// checkValues normalises the given form values (value key → raw value; "" removes)
// merged into cur and validates the non-empty ones with s. It returns the merged
// values and the messages, keyed by given[key].
func checkValues(s *cases.Schema, cur cases.Values, given map[string]string, now time.Time) (cases.Values, map[string]string) {
	bad := map[string]string{}
	changed := cases.Values{}
	for k := range given {
		if _, ok := s.Field(k); !ok {
			if strings.TrimSpace(cur[k]) != "" {
				bad[given[k]] = msgUnknownField
			}
			continue
		}
		changed[k] = cur[k]
	}
	norm := s.Normalize(changed)
	merged := maps.Clone(cur)
	if merged == nil {
		merged = cases.Values{}
	}
	var names []string
	for k := range changed {
		if nv, ok := norm[k]; ok {
			merged[k] = nv
			base, _, _ := strings.Cut(k, ".")
			names = append(names, base)
		} else {
			delete(merged, k)
		}
	}
	slices.Sort(names)
	msgs := s.ValidateFields(merged, slices.Compact(names), "de", now)
	for k, m := range msgs {
		if _, ok := changed[k]; ok && merged[k] != "" {
			bad[given[k]] = m
		}
	}
	return merged, bad
}

// SetFields sets form values and case attributes. Keys are form value keys
// ("familienname", "neue_wohnung.plz", also written "values.familienname") or the
// attributes aktenzeichen, assignee, due_date and applicant.* (see cases' field
// paths); "" clears. Values are normalised (dates typed TT.MM.JJJJ, decimal commas,
// IBAN spaces) and the filled ones validated with the form's rules; required fields
// are enforced by the workflow, not here. Invalid input gives a *ValidationError with
// a German message per key as given, and nothing is written. The status changes only
// through TransitionCase; notes and attachments through AddNote and AddAttachment.
func (v *Vault) SetFields(id string, values map[string]string) (*cases.Case, error) {
	return v.change(id, OpPatch, func(c *cases.Case, cx changeCtx) error {
		return applyFields(c, values, cx)
	})
}

// NewCase creates a case of service with the given fields (keys and rules as
// SetFields) in the workflow's initial state: case, outbox "create" entry and audit
// entry in one transaction. Invalid input gives a *ValidationError and nothing is
// written; with forms set, an unknown service is an error too.
func (v *Vault) NewCase(service string, fields map[string]string) (*cases.Case, error) {
	now := time.Now().UTC()
	var c *cases.Case
	var err error
	s := v.schemaFor(service)
	switch {
	case s != nil:
		c, err = s.NewCase(now)
	case v.formsOf() != nil:
		_, err = v.formsOf().Schema(service)
		if err == nil {
			err = fmt.Errorf("no form for service %q", service)
		}
	default:
		c, err = cases.NewCase(service, now)
	}
	if err != nil {
		return nil, fmt.Errorf("new case: %w", err)
	}
	if err := applyFields(c, fields, changeCtx{schema: s, now: now, user: v.User()}); err != nil {
		return nil, err
	}
	if err := v.CreateCase(c); err != nil {
		return nil, err
	}
	return c, nil
}

// applyFields sets fields on c as SetFields describes.
func applyFields(c *cases.Case, values map[string]string, cx changeCtx) error {
	bad := map[string]string{}
	given := map[string]string{} // value key → key as given
	raw := cases.Values{}
	for key, val := range values {
		val = strings.TrimSpace(val)
		switch {
		case key == "status":
			bad[key] = msgStatus
		case strings.HasPrefix(key, "notes.") || strings.HasPrefix(key, "attachments."):
			bad[key] = msgListField
		case slices.Contains(settableAttrs, key):
			if m := setAttr(c, key, val); m != "" {
				bad[key] = m
			}
		default:
			vk := strings.TrimPrefix(key, "values.")
			given[vk] = key
			raw[vk] = val
		}
	}
	if len(raw) > 0 {
		cur := maps.Clone(c.Values)
		if cur == nil {
			cur = cases.Values{}
		}
		maps.Copy(cur, raw)
		if cx.schema != nil {
			merged, msgs := checkValues(cx.schema, cur, given, cx.now)
			maps.Copy(bad, msgs)
			c.Values = merged
			cx.schema.FillApplicant(c)
		} else {
			for k, val := range raw {
				if err := c.Set("values."+k, val); err != nil {
					bad[given[k]] = msgUnknownField
				}
			}
		}
	}
	if len(bad) > 0 {
		return &ValidationError{Fields: bad}
	}
	return nil
}

// setAttr sets one case attribute, normalised; it returns a German message when the
// value is invalid.
func setAttr(c *cases.Case, path, val string) string {
	switch path {
	case "due_date":
		if val != "" {
			d, err := cases.ParseDate(val)
			if err != nil {
				return msgDate
			}
			val = cases.ISODate(d)
		}
	case "applicant.address.postcode":
		if val != "" && (c.Applicant.Address.Country == "" || c.Applicant.Address.Country == "DE") && !cases.ValidPLZ(val) {
			return msgPLZ
		}
	case "applicant.address.country":
		val = strings.ToUpper(val)
		if val != "" && (len(val) != 2 || val[0] < 'A' || val[0] > 'Z' || val[1] < 'A' || val[1] > 'Z') {
			return msgCountry
		}
	}
	if err := c.Set(path, val); err != nil {
		return msgUnknownField
	}
	return ""
}

// UpdateCase applies a patch compare-and-set: each change's Old must be the field's
// current value (or its New already), else a *cases.MismatchError and nothing is
// written. Form values are validated like SetFields. It is how a resolved conflict
// (cases.Conflict.Resolve) is recorded; a change to a field in conflict settles that
// conflict.
func (v *Vault) UpdateCase(id string, changes []cases.FieldChange) (*cases.Case, error) {
	return v.change(id, OpPatch, func(c *cases.Case, cx changeCtx) error {
		if err := cases.Patch(changes).Apply(c); err != nil {
			return err
		}
		if cx.schema == nil {
			return nil
		}
		given := map[string]string{}
		for _, ch := range changes {
			if k, ok := strings.CutPrefix(ch.Field, "values."); ok {
				given[k] = ch.Field
			}
		}
		if len(given) == 0 {
			return nil
		}
		merged, bad := checkValues(cx.schema, c.Values, given, cx.now)
		if len(bad) > 0 {
			return &ValidationError{Fields: bad}
		}
		c.Values = merged
		cx.schema.FillApplicant(c)
		return nil
	})
}

// TransitionCase moves the case to state to, if the service's workflow lets role do
// it (cases.Workflow.Check); otherwise it returns the *cases.TransitionError with the
// reason and writes nothing.
func (v *Vault) TransitionCase(id, to, role string) (*cases.Case, error) {
	return v.change(id, OpTransition, func(c *cases.Case, cx changeCtx) error {
		if cx.schema == nil || cx.schema.Workflow == nil {
			return fmt.Errorf("transition case %s: no workflow known for service %q", id, c.Service)
		}
		if err := cx.schema.Workflow.Check(c, to, role, cx.schema, cx.now); err != nil {
			return err
		}
		c.Status = to
		return nil
	})
}

// AddNote adds a Vermerk by the unlocked user.
func (v *Vault) AddNote(id, text string) (*cases.Case, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, &ValidationError{Fields: map[string]string{"text": msgNoteEmpty}}
	}
	return v.change(id, OpNote, func(c *cases.Case, cx changeCtx) error {
		c.Notes = append(c.Notes, cases.NewNote(cx.user, text, cx.now))
		return nil
	})
}

// AddAttachment records an Anlage; the content is stored by the blob store under
// ref.SHA256. Added defaults to now.
func (v *Vault) AddAttachment(id string, ref cases.AttachmentRef) (*cases.Case, error) {
	if !cases.ValidSHA256(ref.SHA256) {
		return nil, errors.New("add attachment: invalid SHA-256")
	}
	if strings.TrimSpace(ref.Name) == "" || ref.Size < 0 {
		return nil, errors.New("add attachment: name missing or negative size")
	}
	return v.change(id, OpAttach, func(c *cases.Case, cx changeCtx) error {
		if ref.Added.IsZero() {
			ref.Added = cx.now
		}
		ref.Added = ref.Added.UTC()
		c.Attachments = slices.DeleteFunc(c.Attachments, func(a cases.AttachmentRef) bool { return a.SHA256 == ref.SHA256 })
		c.Attachments = append(c.Attachments, ref)
		return nil
	})
}
