package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"fieldoffice/cases"
	"fieldoffice/portal"
)

// Op kinds (portal.Op.Kind), as in the device's outbox.
const (
	KindCreate     = "create"
	KindPatch      = "patch"
	KindTransition = "transition"
	KindNote       = "note"
	KindAttach     = "attach"
)

var opKinds = []string{KindCreate, KindPatch, KindTransition, KindNote, KindAttach}

// maxPatchLen is the most field changes one op may carry.
const maxPatchLen = 2000

// German reasons and messages of op results.
const (
	msgUnknownCase    = "Der Vorgang ist dem Portal nicht bekannt"
	msgNoService      = "Für einen neuen Vorgang fehlt die Dienstleistung (service)"
	msgUnknownService = "Für die Dienstleistung „%s“ ist im Portal kein Formular hinterlegt"
	msgOtherService   = "Der Vorgang existiert im Portal bereits mit der Dienstleistung „%s“"
	msgConflict       = "Im Portal wurde inzwischen geändert: %s"
	msgInvalid        = "Die Angaben sind ungültig: %s"
	msgUnknownField   = "Unbekanntes Feld"
	msgUnknownValue   = "Unbekanntes Feld in diesem Formular"
	msgTwice          = "Das Feld wird in derselben Änderung zweimal geändert"
	msgDate           = "Bitte geben Sie ein gültiges Datum an (TT.MM.JJJJ)"
	msgPLZ            = "Postleitzahl muss fünf Ziffern haben"
	msgCountry        = "Bitte geben Sie den Staat als Länderkürzel an (z. B. AT)"
	msgNote           = "Der Vermerk ist ungültig"
	msgAttachment     = "Die Anlage ist ungültig"
	msgBlobMissing    = "Anlage wurde noch nicht hochgeladen"
	msgUnknownState   = "Unbekannter Status „%s“"
	// msgServiceNotAllowed: the policy's services do not include the new case's.
	msgServiceNotAllowed = "Diese Leistung darf auf diesem Gerät nicht erfasst werden"
)

// opRecord is the first answer to an op, kept under its op ID.
type opRecord struct {
	Result portal.OpResult `json:"result"`
	Device string          `json:"device"`
	CaseID string          `json:"case_id"`
	Time   time.Time       `json:"time"`
}

// CheckOp checks an op's form before anything is applied: op and case IDs are UUIDs,
// the kind is known, the patch not too long. Errors wrap [ErrInvalidInput].
func CheckOp(op portal.Op) error {
	switch {
	case !cases.ValidID(op.OpID):
		return fmt.Errorf("%w: op_id %q is not a UUID", ErrInvalidInput, op.OpID)
	case !cases.ValidID(op.CaseID):
		return fmt.Errorf("%w: op %s: case_id %q is not a UUID", ErrInvalidInput, op.OpID, op.CaseID)
	case !slices.Contains(opKinds, op.Kind):
		return fmt.Errorf("%w: op %s: unknown kind %q (known: %s)", ErrInvalidInput, op.OpID, op.Kind, strings.Join(opKinds, ", "))
	case len(op.Patch) > maxPatchLen:
		return fmt.Errorf("%w: op %s: %d field changes, at most %d", ErrInvalidInput, op.OpID, len(op.Patch), maxPatchLen)
	}
	return nil
}

// ApplyOps applies a device's ops in order, each in its own transaction together with
// the record of its result, and returns one result per op. Per op:
//
//   - An op ID seen before (from any device) answers "duplicate" with the first
//     answer's fields and First set to its status; nothing is applied again.
//   - Compare-and-set per field: each FieldChange's Old must be the field's current
//     value, or the field must already hold New (then that change is a no-op). Any
//     other value makes the op a "conflict": nothing of it is applied; the result
//     carries the current case, its revision and the conflicting field paths.
//   - Kind "create" makes the case (service from op.Service) when it does not exist;
//     when it does, the patch is compared against it like any other. Other kinds need
//     an existing case.
//   - Changed form values are normalised and validated with the service's form, a
//     status change must pass the workflow for op.Role (default "sachbearbeitung"),
//     an added attachment's blob must be complete on the portal; otherwise the op is
//     "rejected" with German messages per field path and a German reason.
//   - Otherwise it is "applied": the case gets revision+1, Updated = now and a new
//     feed position; the result carries the new revision and case. An op whose
//     changes are all no-ops is applied without a new revision.
//
// ApplyOps stops at the first storage error; the ops before it stay applied and
// recorded (a retry answers them as duplicates). Ops must have passed [CheckOp].
func (s *Store) ApplyOps(deviceID string, ops []portal.Op) ([]portal.OpResult, error) {
	out := make([]portal.OpResult, 0, len(ops))
	for _, op := range ops {
		res, err := s.applyOp(deviceID, op)
		if err != nil {
			return out, fmt.Errorf("op %s: %w", op.OpID, err)
		}
		out = append(out, res)
	}
	return out, nil
}

func (s *Store) applyOp(deviceID string, op portal.Op) (portal.OpResult, error) {
	var res portal.OpResult
	err := s.db.Update(func(tx *bolt.Tx) error {
		ops := tx.Bucket(bucketOps)
		var first opRecord
		if seen, err := getJSON(ops, []byte(op.OpID), &first); err != nil || seen {
			res = first.Result
			res.OpID, res.Status, res.First = op.OpID, portal.ResultDuplicate, first.Result.Status
			return err
		}
		now := s.now().UTC()
		role := cmpOr(op.Role, cases.RoleSachbearbeitung)
		restricted, err := serviceRestricted(tx, op)
		switch {
		case err != nil:
			return err
		case restricted:
			res = rejected(msgServiceNotAllowed, map[string]string{"service": msgServiceNotAllowed})
		default:
			res, err = s.applyChange(tx, op.CaseID, change{kind: op.Kind, service: op.Service, role: role, created: op.Created, patch: op.Patch}, now)
			if err != nil {
				return err
			}
		}
		res.OpID = op.OpID
		return putJSON(ops, []byte(op.OpID), opRecord{Result: res, Device: deviceID, CaseID: op.CaseID, Time: now})
	})
	return res, err
}

// serviceRestricted reports whether op captures a new case of a service the policy
// does not let devices capture (policy.Services non-empty and without it). A create
// of a case the portal has already is not a new capture and is compared as usual.
func serviceRestricted(tx *bolt.Tx, op portal.Op) (bool, error) {
	if op.Kind != KindCreate || op.Service == "" || tx.Bucket(bucketCases).Get([]byte(op.CaseID)) != nil {
		return false, nil
	}
	p, err := readPolicy(tx)
	if err != nil {
		return false, err
	}
	return len(p.Services) > 0 && !slices.Contains(p.Services, op.Service), nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// change is what applyChange applies: an op's or an office edit's.
type change struct {
	kind    string
	service string    // create: the service of a new case
	role    string    // for a status change
	created time.Time // create: when the device made the case (zero = now)
	patch   cases.Patch
}

// applyChange decides and, when applied, writes one change of case id in tx. The
// result has no OpID. Only storage failures are errors; refusals are results.
func (s *Store) applyChange(tx *bolt.Tx, id string, ch change, now time.Time) (portal.OpResult, error) {
	cur, raw, err := getCase(tx, id)
	if err != nil {
		return portal.OpResult{}, err
	}
	isNew := cur == nil
	switch {
	case isNew && ch.kind != KindCreate:
		return rejected(msgUnknownCase, nil), nil
	case isNew && ch.service == "":
		return rejected(msgNoService, map[string]string{"service": msgNoService}), nil
	case isNew:
		cur = &cases.Case{ID: id, Service: ch.service, Values: cases.Values{}}
	case ch.kind == KindCreate && ch.service != "" && ch.service != cur.Service:
		return conflict(cur, raw, []string{"service"}, fmt.Sprintf(msgOtherService, cur.Service)), nil
	}
	schema := s.schema(cur.Service)
	if schema == nil {
		return rejected(fmt.Sprintf(msgUnknownService, cur.Service), nil), nil
	}
	effective, conflicts, bad := compare(cur, ch.patch)
	switch {
	case len(bad) > 0:
		return rejected(invalidReason(bad), bad), nil
	case len(conflicts) > 0:
		return conflict(cur, raw, conflicts, fmt.Sprintf(msgConflict, strings.Join(conflicts, ", "))), nil
	case len(effective) == 0 && !isNew:
		return portal.OpResult{Status: portal.ResultApplied, Revision: cur.Revision, Case: raw}, nil
	}
	next := cur.Clone()
	if res, ok := s.apply(next, effective, schema, ch.role, isNew, now); !ok {
		return res, nil
	}
	if isNew {
		next.Created = now
		if !ch.created.IsZero() && ch.created.Before(now) {
			next.Created = ch.created.UTC()
		}
	}
	next.Revision = cur.Revision + 1
	next.Updated = now
	stored, err := putCase(tx, next)
	if err != nil {
		return portal.OpResult{}, err
	}
	return portal.OpResult{Status: portal.ResultApplied, Revision: next.Revision, Case: stored}, nil
}

// compare checks each field change against c: effective are those to make (current
// value = Old, and Old ≠ New), conflicts the field paths whose current value is neither
// Old nor New (sorted), bad the malformed ones (unknown path, field twice).
func compare(c *cases.Case, p cases.Patch) (effective cases.Patch, conflicts []string, bad map[string]string) {
	bad = map[string]string{}
	seen := map[string]bool{}
	for _, fc := range p {
		if seen[fc.Field] {
			bad[fc.Field] = msgTwice
			continue
		}
		seen[fc.Field] = true
		cur, err := c.Get(fc.Field)
		switch {
		case err != nil:
			bad[fc.Field] = msgUnknownField
		case cur == fc.New:
			// already there: a no-op
		case cur == fc.Old:
			effective = append(effective, fc)
		default:
			conflicts = append(conflicts, fc.Field)
		}
	}
	slices.Sort(conflicts)
	return effective, conflicts, bad
}

// apply makes the effective changes on next: attributes, notes and attachments as
// given, form values normalised and validated, then the status through the workflow.
// It returns ok = false and the rejection when something is invalid.
func (s *Store) apply(next *cases.Case, changes cases.Patch, schema *cases.Schema, role string, isNew bool, now time.Time) (portal.OpResult, bool) {
	bad := map[string]string{}
	values := map[string]string{} // value key → new raw value
	status, statusChanged := "", false
	for _, fc := range changes {
		switch key, isValue := strings.CutPrefix(fc.Field, "values."); {
		case fc.Field == "status":
			status, statusChanged = fc.New, true
		case isValue:
			values[key] = fc.New
		default:
			if m := setField(next, fc.Field, fc.New); m != "" {
				bad[fc.Field] = m
			}
		}
	}
	checkAddress(next, changes, bad)
	if len(values) > 0 {
		maps.Copy(bad, setValues(next, values, schema, now))
	}
	for _, fc := range changes {
		if sha, ok := strings.CutPrefix(fc.Field, "attachments."); ok && fc.New != "" && bad[fc.Field] == "" && !s.blobs.complete(sha) {
			bad[fc.Field] = msgBlobMissing
		}
	}
	if len(bad) > 0 {
		return rejected(invalidReason(bad), bad), false
	}
	if statusChanged {
		if res, ok := checkStatus(next, status, schema, role, isNew, now); !ok {
			return res, false
		}
	}
	if next.Status == "" && schema.Workflow != nil {
		next.Status = schema.Workflow.Initial()
	}
	return portal.OpResult{}, true
}

// setField sets an attribute, a note or an attachment; it returns a German message
// when the value is invalid.
func setField(c *cases.Case, path, val string) string {
	switch {
	case path == "due_date" && val != "":
		d, err := cases.ParseDate(val)
		if err != nil {
			return msgDate
		}
		val = cases.ISODate(d)
	case path == "applicant.address.country":
		val = strings.ToUpper(strings.TrimSpace(val))
		if val != "" && (len(val) != 2 || strings.Trim(val, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "") {
			return msgCountry
		}
	}
	if err := c.Set(path, val); err != nil {
		switch {
		case strings.HasPrefix(path, "notes."):
			return msgNote
		case strings.HasPrefix(path, "attachments."):
			return msgAttachment
		}
		return msgUnknownField
	}
	return ""
}

// checkAddress checks a changed applicant postcode (five digits in Germany).
func checkAddress(c *cases.Case, changes cases.Patch, bad map[string]string) {
	const path = "applicant.address.postcode"
	if !slices.ContainsFunc(changes, func(fc cases.FieldChange) bool { return fc.Field == path }) {
		return
	}
	a := c.Applicant.Address
	if a.Postcode != "" && (a.Country == "" || a.Country == "DE") && !cases.ValidPLZ(a.Postcode) {
		bad[path] = msgPLZ
	}
}

// setValues merges the changed form values (key → raw value, "" removes) into c,
// normalised, and validates the filled ones with schema (required fields are the
// workflow's business). It returns German messages by field path ("values.KEY").
// On success the applicant is filled from the values (cases.Schema.FillApplicant).
func setValues(c *cases.Case, values map[string]string, schema *cases.Schema, now time.Time) map[string]string {
	bad := map[string]string{}
	changed := cases.Values{}
	for k, v := range values {
		if _, ok := schema.Field(k); !ok {
			if strings.TrimSpace(v) != "" {
				bad["values."+k] = msgUnknownValue
			} else {
				delete(c.Values, k)
			}
			continue
		}
		changed[k] = v
	}
	norm := schema.Normalize(changed)
	var names []string
	for k := range changed {
		if nv, ok := norm[k]; ok {
			c.Values[k] = nv
			base, _, _ := strings.Cut(k, ".")
			names = append(names, base)
		} else {
			delete(c.Values, k)
		}
	}
	slices.Sort(names)
	for k, m := range schema.ValidateFields(c.Values, slices.Compact(names), "de", now) {
		if _, ok := changed[k]; ok && c.Values[k] != "" {
			bad["values."+k] = m
		}
	}
	if len(bad) == 0 {
		schema.FillApplicant(c)
	}
	return bad
}

// checkStatus moves next to status to: a new case to any state of the workflow, an
// existing one only as the workflow lets role (cases.Workflow.Check, on the case with
// the op's other changes made).
func checkStatus(next *cases.Case, to string, schema *cases.Schema, role string, isNew bool, now time.Time) (portal.OpResult, bool) {
	wf := schema.Workflow
	if wf == nil {
		next.Status = to
		return portal.OpResult{}, true
	}
	if isNew || next.Status == "" {
		if _, ok := wf.State(to); !ok && to != "" {
			m := fmt.Sprintf(msgUnknownState, to)
			return rejected(m, map[string]string{"status": m}), false
		}
		next.Status = to
		return portal.OpResult{}, true
	}
	if err := wf.Check(next, to, role, schema, now); err != nil {
		var te *cases.TransitionError
		if !errors.As(err, &te) {
			return rejected(err.Error(), nil), false
		}
		return rejected(te.Message("de"), te.Fields), false
	}
	next.Status = to
	return portal.OpResult{}, true
}

func rejected(reason string, fields map[string]string) portal.OpResult {
	if len(fields) == 0 {
		fields = nil
	}
	return portal.OpResult{Status: portal.ResultRejected, Reason: reason, Fields: fields}
}

func conflict(cur *cases.Case, raw []byte, fields []string, reason string) portal.OpResult {
	return portal.OpResult{Status: portal.ResultConflict, Revision: cur.Revision, Case: json.RawMessage(raw), Conflict: fields, Reason: reason}
}

func invalidReason(bad map[string]string) string {
	return fmt.Sprintf(msgInvalid, strings.Join(slices.Sorted(maps.Keys(bad)), ", "))
}
