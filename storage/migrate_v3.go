package storage

import (
	"bytes"
	"encoding/json"
	"time"
)

// Format version 3: the per-case index of the audit trail (bucket "audit-case",
// audit.go), so that a case's history does not decode the whole trail.

func init() {
	migrations = append(migrations, migration{from: 2, to: 3, run: migrateV2toV3})
}

// migrateV2toV3 indexes every audit entry that names a case. The trail itself is not
// changed (its chain and head stay as they are).
func migrateV2toV3(tx *Tx, _ time.Time) error {
	var keys [][]byte
	var ids []string
	err := tx.ForEach(bucketAudit, func(k, val []byte) error {
		if len(k) != 8 { // the head record
			return nil
		}
		var e struct {
			Seq    uint64 `json:"seq"`
			CaseID string `json:"case_id"`
		}
		if err := json.Unmarshal(val, &e); err != nil || e.Seq != seqOf(k) {
			return &AuditError{Seq: seqOf(k), Reason: "entry does not decode"}
		}
		if e.CaseID != "" {
			keys, ids = append(keys, bytes.Clone(k)), append(ids, e.CaseID)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tx.putAuditIndex(keys, ids)
}
