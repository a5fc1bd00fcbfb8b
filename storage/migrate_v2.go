package storage

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"fieldoffice/cases"
)

// Format version 2: the case repository (repo.go). Version 1 stored cases.Record JSON
// in bucket "cases"; version 2 stores cases.Case there and adds summaries, the search
// index and the audit trail (bases, outbox and conflicts start empty).

func init() {
	migrations = append(migrations, migration{from: 1, to: 2, run: migrateV1toV2})
}

// migrateV1toV2 converts every v1 Record to a cases.Case: Service = Type, Values =
// Fields, Status = the workflow's initial state when the forms know the service (else
// "eingegangen"), Created/Updated kept, the applicant's name from the fields
// "vorname"/"nachname" and address from "strasse"/"hausnummer"/"plz"/"ort" when
// present. It writes the summaries and the index and one audit entry "migrate". The
// records were never synced (format 1 had no sync), so each gets an outbox "create" op
// (made by the unlocking user) and is marked unsynced: the portal learns of it at the
// next sync.
func migrateV1toV2(tx *Tx, now time.Time) error {
	var recs []cases.Record
	err := tx.ForEach(bucketCases, func(k, v []byte) error {
		var r cases.Record
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("migrate v1→v2: case %s does not decode as a v1 record", k)
		}
		if r.ID != string(k) {
			return &TamperError{Bucket: string(bucketCases), Key: string(k)}
		}
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		return err
	}
	ix := newIndexer(tx.k)
	defer ix.zero()
	for _, r := range recs {
		c := caseFromRecord(&r)
		var s *cases.Schema
		if tx.v != nil {
			s = tx.v.schemaFor(c.Service)
		}
		c.Status = "eingegangen"
		if s != nil && s.Workflow != nil {
			c.Status = s.Workflow.Initial()
		}
		cb, err := json.Marshal(c)
		if err != nil {
			return err
		}
		sum := c.Summary()
		sum.Flags |= cases.FlagUnsynced
		sb := encodeSummary(sum)
		op, err := newOutboxEntry(c, OpCreate, cases.Diff(nil, c), tx.k.user, now)
		if err != nil {
			return err
		}
		if err := tx.putOutbox(op); err != nil {
			return err
		}
		if err := tx.Put(bucketCases, []byte(c.ID), cb); err != nil {
			return err
		}
		if err := tx.Put(bucketSummaries, []byte(c.ID), sb); err != nil {
			return err
		}
		if err := tx.updateIndex(ix, c.ID, nil, caseTerms(c, s)); err != nil {
			return err
		}
	}
	a, err := tx.openAudit()
	if err != nil {
		return err
	}
	defer a.zero()
	return tx.appendAudit(a, AuditEntry{Time: now, User: tx.k.user, Op: AuditMigrate})
}

func caseFromRecord(r *cases.Record) *cases.Case {
	vals := cases.Values(maps.Clone(r.Fields))
	if vals == nil {
		vals = cases.Values{}
	}
	c := &cases.Case{ID: r.ID, Service: r.Type, Values: vals, Created: r.Created.UTC(), Updated: r.Updated.UTC()}
	c.Applicant.GivenNames = vals["vorname"]
	c.Applicant.FamilyName = vals["nachname"]
	c.Applicant.Address = cases.Address{Street: vals["strasse"], HouseNumber: vals["hausnummer"], Postcode: vals["plz"], City: vals["ort"]}
	return c
}
