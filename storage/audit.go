package storage

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"fieldoffice/storage/crypto"
)

// The audit trail (bucket "audit")
//
// Every change appends an entry under its sequence number (8 bytes big-endian, from
// 1): who (the unlocked user), when, the operation, the case and the names of the
// changed fields — never their values. Entries form a hash chain:
//
//	MAC_n = HMAC-SHA-256(audit subkey, MAC_{n-1} ‖ canonical JSON of entry n without its MAC)
//
// with MAC_0 = 32 zero bytes; the entry stores Prev = MAC_{n-1} and its own MAC. The
// chain head, seq(8, big-endian) ‖ MAC(32), is kept sealed under the key "head" in the
// same bucket and written in the same transaction as the entry; the anti-rollback head
// record (rollback.go) binds it to the TPM counter. Entry values are sealed like every
// value, so editing one in the file is already a *TamperError; the chain additionally
// catches a removed entry (a gap, or a head that does not match the last entry) and
// entries put back in another order (Prev links), and it survives re-sealing by anyone
// who has the records key but not the audit key.

var (
	bucketAudit = rollbackAuditBucket
	auditHead   = rollbackAuditHead
)

// The per-case index of the trail (bucket "audit-case", format 3): key case ID ‖ "/" ‖
// seq (8 bytes, big-endian), empty sealed value, written in the same transaction as
// the entry. A case's history (CaseAudit) reads its newest entries through it instead
// of decoding the whole trail (with 100,000 cases that is over 100,000 entries, about
// a second). The index is not part of the chain: the entries themselves are read from
// the trail and must name the case, so a forged index key shows nothing foreign; a
// removed one hides an entry from the history, never from `audit verify`.
var bucketAuditCase = []byte("audit-case")

func auditCaseKey(caseID string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(caseID+"/"), seq)
}

// Audit operations.
const (
	AuditCreate     = "create"
	AuditPatch      = "patch"
	AuditTransition = "transition"
	AuditNote       = "note"
	AuditAttach     = "attach"
	AuditMigrate    = "migrate"
	AuditDemo       = "demo-create"
)

// AuditEntry is one entry of the audit trail.
type AuditEntry struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	User   string    `json:"user"`
	Op     string    `json:"op"`
	CaseID string    `json:"case_id,omitempty"`
	Fields []string  `json:"fields,omitempty"` // names of the changed fields, never values
	Prev   hexBytes  `json:"prev"`             // MAC of the previous entry (32 zero bytes for the first)
	MAC    hexBytes  `json:"mac,omitempty"`
}

// hexBytes marshals as a hex string.
type hexBytes []byte

func (h hexBytes) MarshalJSON() ([]byte, error) { return json.Marshal(hex.EncodeToString(h)) }

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	d, err := hex.DecodeString(s)
	if err != nil {
		return err
	}
	*h = d
	return nil
}

// AuditReport is the result of a successful AuditVerify.
type AuditReport struct {
	Entries int    `json:"entries"`
	Head    string `json:"head"` // hex MAC of the last entry ("" when the trail is empty)
}

// AuditError reports a broken audit chain at entry Seq. It matches [ErrTampered].
type AuditError struct {
	Seq    uint64
	Reason string
}

func (e *AuditError) Error() string {
	return fmt.Sprintf("audit trail broken at entry %d: %s", e.Seq, e.Reason)
}

// Unwrap returns ErrTampered.
func (e *AuditError) Unwrap() error { return ErrTampered }

func auditKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// auditChain appends entries within one transaction.
type auditChain struct {
	key  crypto.Key
	seq  uint64
	head []byte
}

// openAudit reads the chain head in tx.
func (tx *Tx) openAudit() (*auditChain, error) {
	a := &auditChain{key: tx.k.dek.Derive(crypto.PurposeAudit), head: make([]byte, sha256.Size)}
	h, err := tx.Get(bucketAudit, auditHead)
	if err != nil {
		a.key.Zero()
		return nil, err
	}
	if h != nil {
		if len(h) != auditHeadSize {
			a.key.Zero()
			return nil, &AuditError{Reason: "head record has the wrong size"}
		}
		a.seq = binary.BigEndian.Uint64(h)
		a.head = bytes.Clone(h[8:])
	}
	return a, nil
}

func (a *auditChain) zero() { a.key.Zero() }

func (a *auditChain) mac(prev []byte, e *AuditEntry) ([]byte, error) {
	c := *e
	c.MAC = nil
	c.Prev = nil
	body, err := json.Marshal(&c)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, a.key[:])
	m.Write(prev)
	m.Write(body)
	return m.Sum(nil), nil
}

// next fills in Seq, Prev and MAC of e and returns the encoded entry and its key.
func (a *auditChain) next(e *AuditEntry) (key, val []byte, err error) {
	e.Seq = a.seq + 1
	e.Prev = bytes.Clone(a.head)
	if e.MAC, err = a.mac(a.head, e); err != nil {
		return nil, nil, err
	}
	val, err = json.Marshal(e)
	if err != nil {
		return nil, nil, err
	}
	a.seq, a.head = e.Seq, bytes.Clone(e.MAC)
	return auditKey(e.Seq), val, nil
}

func (a *auditChain) headValue() []byte {
	return append(binary.BigEndian.AppendUint64(nil, a.seq), a.head...)
}

// appendAudit writes one entry and the new head.
func (tx *Tx) appendAudit(a *auditChain, e AuditEntry) error {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	if e.User == "" {
		e.User = tx.k.user
	}
	k, v, err := a.next(&e)
	if err != nil {
		return err
	}
	if err := tx.Put(bucketAudit, k, v); err != nil {
		return err
	}
	if e.CaseID != "" {
		if err := tx.Put(bucketAuditCase, auditCaseKey(e.CaseID, e.Seq), nil); err != nil {
			return err
		}
	}
	return tx.Put(bucketAudit, auditHead, a.headValue())
}

// writeAuditBatch writes many entries (already chained with next; caseIDs[i] is entry
// i's case or "") and the head.
func (tx *Tx) writeAuditBatch(a *auditChain, keys, vals [][]byte, caseIDs []string) error {
	if len(keys) == 0 {
		return nil
	}
	if err := tx.PutBatch(bucketAudit, keys, vals); err != nil {
		return err
	}
	if err := tx.putAuditIndex(keys, caseIDs); err != nil {
		return err
	}
	return tx.Put(bucketAudit, auditHead, a.headValue())
}

// putAuditIndex writes the per-case index keys of the entries with audit keys keys
// and cases caseIDs, in key order.
func (tx *Tx) putAuditIndex(keys [][]byte, caseIDs []string) error {
	var xk [][]byte
	for i, id := range caseIDs {
		if id != "" {
			xk = append(xk, auditCaseKey(id, seqOf(keys[i])))
		}
	}
	slices.SortFunc(xk, bytes.Compare)
	return tx.PutBatch(bucketAuditCase, xk, make([][]byte, len(xk)))
}

// CaseAudit returns the newest entries of the audit trail about case id, newest
// first, at most limit (0 = all). It reads them through the per-case index; each
// entry is authenticated and must name the case.
func (v *Vault) CaseAudit(id string, limit int) ([]AuditEntry, error) {
	var out []AuditEntry
	err := v.View(func(tx *Tx) error {
		var seqs []uint64
		prefix := []byte(id + "/")
		err := guard(tx.path(), "read", func() error {
			b := tx.btx.Bucket(bucketAuditCase)
			if b == nil {
				return nil
			}
			c := b.Cursor()
			k, val := c.Seek(auditCaseKey(id, ^uint64(0)))
			if k == nil {
				k, val = c.Last()
			} else if !bytes.Equal(k, auditCaseKey(id, ^uint64(0))) {
				k, val = c.Prev()
			}
			for ; k != nil && bytes.HasPrefix(k, prefix) && (limit <= 0 || len(seqs) < limit); k, val = c.Prev() {
				if len(k) != len(prefix)+8 {
					continue
				}
				if _, err := tx.k.records.Open(bucketAuditCase, k, val); err != nil {
					return &TamperError{Bucket: string(bucketAuditCase), Key: string(k[:len(prefix)]) + fmt.Sprint(seqOf(k[len(prefix):]))}
				}
				seqs = append(seqs, seqOf(k[len(prefix):]))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, seq := range seqs {
			val, err := tx.Get(bucketAudit, auditKey(seq))
			if err != nil {
				return err
			}
			var e AuditEntry
			if val == nil || json.Unmarshal(val, &e) != nil || e.Seq != seq || e.CaseID != id {
				return &AuditError{Seq: seq, Reason: "entry missing or not about the case its index names"}
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// AuditEntries returns the audit trail, oldest first. It does not verify the chain
// (AuditVerify does), but every value is authenticated.
func (v *Vault) AuditEntries() ([]AuditEntry, error) {
	var out []AuditEntry
	err := v.View(func(tx *Tx) error {
		return tx.ForEach(bucketAudit, func(k, val []byte) error {
			if bytes.Equal(k, auditHead) {
				return nil
			}
			var e AuditEntry
			if err := json.Unmarshal(val, &e); err != nil {
				return &AuditError{Seq: seqOf(k), Reason: "entry does not decode"}
			}
			out = append(out, e)
			return nil
		})
	})
	return out, err
}

func seqOf(k []byte) uint64 {
	if len(k) == 8 {
		return binary.BigEndian.Uint64(k)
	}
	return 0
}

// AuditVerify walks the audit chain and checks every link: sequence numbers without
// gaps from 1, each entry's Prev equal to the previous MAC, each MAC recomputed, and
// the head equal to the last entry. A removed, altered or reordered entry gives an
// *AuditError (matching ErrTampered).
func (v *Vault) AuditVerify() (AuditReport, error) {
	var rep AuditReport
	err := v.View(func(tx *Tx) error {
		a, err := tx.openAudit()
		if err != nil {
			var te *TamperError
			if errors.As(err, &te) {
				return &AuditError{Reason: "head record altered"}
			}
			return err
		}
		defer a.zero()
		prev := make([]byte, sha256.Size)
		var seq uint64
		err = tx.ForEach(bucketAudit, func(k, val []byte) error {
			if bytes.Equal(k, auditHead) {
				return nil
			}
			want := seq + 1
			if len(k) != 8 {
				return &AuditError{Seq: want, Reason: fmt.Sprintf("unexpected key %x", k)}
			}
			got := binary.BigEndian.Uint64(k)
			if got != want {
				return &AuditError{Seq: want, Reason: fmt.Sprintf("entry missing (next entry is %d)", got)}
			}
			var e AuditEntry
			if err := json.Unmarshal(val, &e); err != nil {
				return &AuditError{Seq: got, Reason: "entry does not decode"}
			}
			if e.Seq != got {
				return &AuditError{Seq: got, Reason: fmt.Sprintf("entry says it is %d (moved)", e.Seq)}
			}
			if !bytes.Equal(e.Prev, prev) {
				return &AuditError{Seq: got, Reason: "link to the previous entry broken (removed or reordered)"}
			}
			m, err := a.mac(prev, &e)
			if err != nil {
				return err
			}
			if !hmac.Equal(m, e.MAC) {
				return &AuditError{Seq: got, Reason: "MAC does not match (altered)"}
			}
			prev, seq = e.MAC, got
			rep.Entries++
			return nil
		})
		if err != nil {
			var te *TamperError
			if errors.As(err, &te) {
				return &AuditError{Seq: seqOf([]byte(te.Key)), Reason: "entry altered (does not open)"}
			}
			var ce *CorruptError
			if errors.As(err, &ce) && errors.Is(err, ErrTampered) {
				return &AuditError{Seq: seq + 1, Reason: "entries removed or added: " + ce.Reason}
			}
			return err
		}
		if a.seq != seq || (seq > 0 && !bytes.Equal(a.head, prev)) {
			return &AuditError{Seq: min(a.seq, seq) + 1, Reason: fmt.Sprintf("head (entry %d) does not match the last entry (%d): entries removed at the end", a.seq, seq)}
		}
		if seq > 0 {
			rep.Head = hex.EncodeToString(prev)
		}
		return nil
	})
	return rep, err
}
