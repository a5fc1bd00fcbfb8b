package storage

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"fieldoffice/platform"
	"fieldoffice/storage/crypto"
)

// Anti-rollback
//
// Sealing stops anyone without the key from changing a value, but not from copying
// the whole data directory aside and putting the old copy back later (undoing cases,
// notes, audit entries, the outbox). Against that the vault binds its state to a
// monotonic counter in the TPM's non-volatile memory, which a copy of the data
// directory cannot take along and which cannot be turned back.
//
// Where: a TPM NV counter at platform.DefaultCounterIndex, defined at Create when the
// TPM's NV state persists (Info().PersistentNV: device and mssim; not sim and none).
// The header (covered by the header MAC) records the counter's NV index
// (rollback_nv), so removing the protection from a file is tampering. A vault created
// before anti-rollback, or on a TPM without it, is armed at its first Unlock with a
// TPM whose NV persists.
//
// The head record (meta bucket, key "rollback-head", in clear) holds
//
//	version 1 | NV index (u32) | c (u64) | len | audit head | HMAC-SHA-256
//
// where the HMAC is keyed with HKDF(DEK, "rollback-head") and covers the vault ID and
// everything before it. The audit head is the value of bucket "audit", key "head"
// (8-byte big-endian seq ‖ 32-byte chain MAC, written by the audit trail; empty while
// there is none) as it was when the record was written. The record is rewritten, in
// the same transaction, by every migration step, so it always describes the file it
// is in.
//
// Unlock (after the key slot opened and the header MAC verified; before migrations
// and before the keys are installed) reads the TPM counter t and the head record:
//
//   - the HMAC does not verify (record edited, or taken from another vault) →
//     ErrTampered;
//   - c < t → the file is older than this device's last session: a *RollbackError,
//     which matches ErrRollback and ErrTampered (the CLI exits with code 4);
//   - c > t+1 → ErrTampered (the file can be ahead of the TPM by one bump at most);
//   - c == t or c == t+1 → accepted (t+1: a crash between the file write and the TPM
//     increment of the last bump);
//   - the audit head in the file must equal the recorded one, or be later in the chain
//     (a higher seq: writes made after the last bump, in a session that then ended
//     without Lock/Close, e.g. a crash). An audit head behind the recorded one means the
//     head record was copied into an older file → ErrTampered.
//
// Bump: at every Unlock (after the check and any migration) and at Lock/Close of an
// unlocked vault, the head record is written with c = t+1 and committed (bbolt
// fsyncs), and only then is the TPM counter incremented to t+1. So a copy taken during
// a session holds a c that the next Lock/Close leaves behind, and is refused at the
// next Unlock. If the TPM's increment returns another value than t+1 (the counter was
// moved by someone else), the record is rewritten with that value.
//
// Crash windows: before the file commit nothing changed (c == t); between the file
// commit and the TPM increment the file is one ahead (c == t+1, accepted; the next
// bump writes t+1 again and increments); after the increment both agree. The counter
// is never incremented before the file that matches it is durable, so no crash makes
// a good file look rolled back.
//
// Limits: the states accepted are those since the last completed bump — a copy taken
// during the last session, put back after that session ended without Lock/Close (crash,
// power loss), is not detected. A sealed value copied on its own from an older file
// (values are bound to bucket and key, not to a version) is not detected by this check
// (`audit verify` walks the chain). With sim: and none there is no persistent counter:
// Status.RollbackProtected is false and copying back an older data directory is not
// detected. One vault per TPM uses the counter; a second vault on the same TPM (a
// second data directory) would see the first one's bumps as a rollback.
//
// Recover (the organisation's recovery key) re-arms: when the counter is missing
// (TPM replaced or cleared), the TPM in use keeps no NV, or the check fails, it
// accepts the file as it is and binds it to the current counter, logging why. That is
// how IT clears a detected rollback after deciding which copy is right.
//
// TPM commands: Unlock adds CounterRead (2 commands: NV_ReadPublic, NV_Read) and
// CounterIncrement (3: NV_ReadPublic, NV_Increment, NV_Read); Lock/Close add 3.

// ErrRollback is matched by the error Unlock returns when the vault file is older than
// the TPM's anti-rollback counter says (a copy put back). It comes with ErrTampered.
var ErrRollback = errors.New("the data directory is older than this device's last session (rollback): restore refused — contact IT")

// RollbackError is returned by Unlock for a vault file older than this device's last
// session. It matches [ErrRollback] and [ErrTampered].
type RollbackError struct {
	Stored uint64 // the counter recorded in the file
	Device uint64 // the TPM's counter
}

func (e *RollbackError) Error() string {
	return fmt.Sprintf("%v (session %d on file, %d on this device)", ErrRollback, e.Stored, e.Device)
}

// Is reports whether target is ErrRollback or ErrTampered.
func (e *RollbackError) Is(target error) bool { return target == ErrRollback || target == ErrTampered }

const (
	purposeRollbackHead = "rollback-head" // HKDF purpose of the head record's MAC key
	rollbackHeadVersion = 1
	auditHeadSize       = 8 + 32 // seq ‖ chain MAC
)

var (
	metaRollbackHead    = []byte("rollback-head")
	rollbackAuditBucket = []byte("audit") // the audit trail's bucket and head key
	rollbackAuditHead   = []byte("head")
)

// rollbackState is what an unlocked vault remembers for the bump at Lock/Close.
// Guarded by slotMu.
type rollbackState struct {
	index uint32 // 0: not armed
	t     uint64 // the TPM counter's value as last seen
}

// rollbackCheck is the state between the check at Unlock and the bump.
type rollbackCheck struct {
	tpm   platform.TPM
	index uint32
	t     uint64 // TPM counter read at Unlock
	c     uint64 // counter in the head record, kept by rewrites before the bump
}

// rewriteHead rewrites the head record (same counter) for the file's current audit
// head; migrations call it in each step's transaction.
func (rb *rollbackCheck) rewriteHead(btx *bolt.Tx, k *keys, hdr *header) error {
	return putRollbackHead(btx, k, hdr.VaultID, rb.index, rb.c)
}

// readAuditHead returns the audit trail's head (nil when there is none).
func readAuditHead(btx *bolt.Tx, k *keys) ([]byte, error) {
	tx := &Tx{btx: btx, k: k}
	return tx.Get(rollbackAuditBucket, rollbackAuditHead)
}

func rollbackMAC(k *keys, vaultID string, body []byte) []byte {
	key := k.dek.Derive(purposeRollbackHead)
	defer key.Zero()
	h := hmac.New(sha256.New, key[:])
	for _, b := range [][]byte{[]byte("fieldoffice/v1/rollback-head"), []byte(vaultID), body} {
		h.Write(binary.AppendUvarint(nil, uint64(len(b))))
		h.Write(b)
	}
	return h.Sum(nil)
}

// putRollbackHead writes the head record with counter c and the file's current audit head.
func putRollbackHead(btx *bolt.Tx, k *keys, vaultID string, index uint32, c uint64) error {
	audit, err := readAuditHead(btx, k)
	if err != nil {
		return err
	}
	if len(audit) > 255 {
		return fmt.Errorf("anti-rollback: audit head of %d bytes", len(audit))
	}
	body := []byte{rollbackHeadVersion}
	body = binary.BigEndian.AppendUint32(body, index)
	body = binary.BigEndian.AppendUint64(body, c)
	body = append(body, byte(len(audit)))
	body = append(body, audit...)
	return btx.Bucket(bucketMeta).Put(metaRollbackHead, append(body, rollbackMAC(k, vaultID, body)...))
}

// parseRollbackHead verifies and parses a head record.
func parseRollbackHead(rec []byte, k *keys, vaultID string) (index uint32, c uint64, audit []byte, err error) {
	tampered := &TamperError{Bucket: string(bucketMeta), Key: string(metaRollbackHead)}
	if len(rec) < 14+sha256.Size || rec[0] != rollbackHeadVersion {
		return 0, 0, nil, tampered
	}
	n := int(rec[13])
	if len(rec) != 14+n+sha256.Size {
		return 0, 0, nil, tampered
	}
	body := rec[:14+n]
	if !hmac.Equal(rollbackMAC(k, vaultID, body), rec[14+n:]) {
		return 0, 0, nil, tampered
	}
	return binary.BigEndian.Uint32(rec[1:5]), binary.BigEndian.Uint64(rec[5:13]), bytes.Clone(rec[14 : 14+n]), nil
}

// auditHeadFollows reports whether the file's audit head cur is the recorded one or
// later in the chain (higher seq).
func auditHeadFollows(recorded, cur []byte) bool {
	if bytes.Equal(recorded, cur) {
		return true
	}
	if len(cur) != auditHeadSize || (len(recorded) != 0 && len(recorded) != auditHeadSize) {
		return false
	}
	if len(recorded) == 0 {
		return true // no audit trail at the last bump, one now
	}
	return binary.BigEndian.Uint64(cur[:8]) > binary.BigEndian.Uint64(recorded[:8])
}

// createRollback is called by Create: with a TPM whose NV persists it defines the
// counter and records its index in hdr; it returns the counter's value.
func createRollback(cfg *Config, hdr *header) (uint64, error) {
	if cfg.TPM == nil || !cfg.TPM.Info().PersistentNV {
		return 0, nil
	}
	t, err := cfg.TPM.CounterCreate(platform.DefaultCounterIndex)
	if err != nil {
		return 0, fmt.Errorf("create vault: anti-rollback counter: %w", err)
	}
	hdr.RollbackNV = platform.DefaultCounterIndex
	return t, nil
}

// afterKeyOpen runs at Unlock and Recover after the key slot opened and the header MAC
// verified, before the keys are installed: the anti-rollback check, pending format
// migrations, then the anti-rollback bump. recovering (Recover) re-arms the counter
// instead of refusing. The caller holds slotMu.
func (v *Vault) afterKeyOpen(user string, dek *crypto.Key, recovering bool) error {
	k, err := newKeys(user, *dek)
	if err != nil {
		return err
	}
	defer k.zero()
	v.mu.RLock()
	tpm := v.cfg.TPM
	v.mu.RUnlock()
	rb, hdr, err := v.rollbackAtUnlock(k, tpm, recovering)
	if err != nil {
		return err
	}
	if hdr, err = v.migrate(k, hdr, rb); err != nil {
		return err
	}
	v.rb = rollbackState{}
	if rb == nil {
		return nil
	}
	if err := v.rollbackBump(k, hdr.VaultID, rb); err != nil {
		return err
	}
	v.rb = rollbackState{index: rb.index, t: rb.t}
	return nil
}

// rollbackAtUnlock checks the head record against the TPM counter. It returns nil when
// the vault is not (and cannot be) protected, and the verified header.
func (v *Vault) rollbackAtUnlock(k *keys, tpm platform.TPM, recovering bool) (*rollbackCheck, header, error) {
	var hdr header
	var rec, audit []byte
	err := v.view(func(btx *bolt.Tx) error {
		if err := verifyMAC(btx, &k.mac); err != nil {
			return err
		}
		meta := btx.Bucket(bucketMeta)
		if err := json.Unmarshal(meta.Get(metaHeader), &hdr); err != nil {
			return &CorruptError{Path: v.path, Reason: "vault header unreadable", Err: err}
		}
		rec = bytes.Clone(meta.Get(metaRollbackHead))
		var err error
		audit, err = readAuditHead(btx, k)
		return err
	})
	if err != nil {
		return nil, hdr, err
	}
	persistent := tpm != nil && tpm.Info().PersistentNV
	if hdr.RollbackNV == 0 {
		if !persistent {
			return nil, hdr, nil
		}
		// Created before anti-rollback (or re-enrolled onto a TPM with NV): arm now. A
		// TPM that refuses to define the counter leaves the vault usable, unprotected.
		rb, hdr2, err := v.rollbackArm(k, tpm, platform.DefaultCounterIndex, "vault not yet protected against rollback")
		if err != nil {
			v.log.Warn("anti-rollback: cannot define the TPM counter; vault stays unprotected", "err", err)
			return nil, hdr, nil
		}
		return rb, hdr2, nil
	}
	index := hdr.RollbackNV
	if !persistent {
		if recovering {
			return nil, hdr, v.rollbackDisarm(k)
		}
		return nil, hdr, fmt.Errorf("the vault is protected against rollback by a TPM counter, but the TPM in use (%s) keeps no NV counters: open it with the TPM it was created with", tpmSpecOf(tpm))
	}
	var problem error
	t, err := tpm.CounterRead(index)
	switch {
	case errors.Is(err, platform.ErrNoCounter):
		problem = fmt.Errorf("%w: the TPM's anti-rollback counter 0x%08x is missing (TPM cleared or counter removed): use the recovery key", ErrTampered, index)
	case err != nil:
		return nil, hdr, fmt.Errorf("anti-rollback: read TPM counter: %w", err)
	default:
		problem = checkRollbackHead(rec, k, &hdr, index, t, audit)
	}
	if problem != nil {
		if recovering {
			v.log.Warn("anti-rollback: re-arming the counter with the recovery key", "reason", problem)
			rb, hdr2, err := v.rollbackArm(k, tpm, index, "recovery")
			return rb, hdr2, err
		}
		v.log.Error("anti-rollback check failed: unlock refused", "err", problem)
		return nil, hdr, problem
	}
	rb := &rollbackCheck{tpm: tpm, index: index, t: t}
	rb.c, _ = parseCounter(rec)
	return rb, hdr, nil
}

func parseCounter(rec []byte) (uint64, bool) {
	if len(rec) < 13 {
		return 0, false
	}
	return binary.BigEndian.Uint64(rec[5:13]), true
}

// checkRollbackHead applies the rules of the design comment above.
func checkRollbackHead(rec []byte, k *keys, hdr *header, index uint32, t uint64, audit []byte) error {
	if rec == nil {
		return &TamperError{Bucket: string(bucketMeta), Key: string(metaRollbackHead) + " (missing)"}
	}
	idx, c, recorded, err := parseRollbackHead(rec, k, hdr.VaultID)
	if err != nil {
		return err
	}
	if idx != index {
		return &TamperError{Bucket: string(bucketMeta), Key: string(metaRollbackHead) + " (NV index)"}
	}
	switch {
	case c < t:
		return &RollbackError{Stored: c, Device: t}
	case c > t+1:
		return fmt.Errorf("%w: anti-rollback counter on file (%d) ahead of the TPM's (%d)", ErrTampered, c, t)
	}
	if !auditHeadFollows(recorded, audit) {
		return fmt.Errorf("%w: anti-rollback head record does not match the audit trail (copied from another state)", ErrTampered)
	}
	return nil
}

// rollbackArm defines the counter (if needed), records its index in the header and
// writes a head record with the counter's current value.
func (v *Vault) rollbackArm(k *keys, tpm platform.TPM, index uint32, why string) (*rollbackCheck, header, error) {
	t, err := tpm.CounterCreate(index)
	if err != nil {
		return nil, header{}, fmt.Errorf("anti-rollback: define TPM counter: %w", err)
	}
	var hdr header
	err = v.changeSlots(&k.mac, func(btx *bolt.Tx) error {
		meta := btx.Bucket(bucketMeta)
		if err := json.Unmarshal(meta.Get(metaHeader), &hdr); err != nil {
			return &CorruptError{Path: v.path, Reason: "vault header unreadable", Err: err}
		}
		if hdr.RollbackNV != index {
			hdr.RollbackNV = index
			hb, err := json.Marshal(hdr)
			if err != nil {
				return err
			}
			if err := meta.Put(metaHeader, hb); err != nil {
				return err
			}
		}
		return putRollbackHead(btx, k, hdr.VaultID, index, t)
	})
	if err != nil {
		return nil, hdr, err
	}
	v.mu.Lock()
	v.hdr = hdr
	v.mu.Unlock()
	v.log.Info("anti-rollback armed", "nv_index", fmt.Sprintf("0x%08x", index), "counter", t, "why", why)
	return &rollbackCheck{tpm: tpm, index: index, t: t, c: t}, hdr, nil
}

// rollbackDisarm removes the protection (Recover onto a TPM without persistent NV).
func (v *Vault) rollbackDisarm(k *keys) error {
	var hdr header
	err := v.changeSlots(&k.mac, func(btx *bolt.Tx) error {
		meta := btx.Bucket(bucketMeta)
		if err := json.Unmarshal(meta.Get(metaHeader), &hdr); err != nil {
			return &CorruptError{Path: v.path, Reason: "vault header unreadable", Err: err}
		}
		hdr.RollbackNV = 0
		hb, err := json.Marshal(hdr)
		if err != nil {
			return err
		}
		if err := meta.Put(metaHeader, hb); err != nil {
			return err
		}
		return meta.Delete(metaRollbackHead)
	})
	if err != nil {
		return err
	}
	v.mu.Lock()
	v.hdr = hdr
	v.mu.Unlock()
	v.log.Warn("anti-rollback disarmed: the TPM in use keeps no NV counters; copying back an older data directory is no longer detected")
	return nil
}

// rollbackBump writes the head record with c = t+1 (committed), then increments the
// TPM counter. On success rb.t is the TPM's new value.
func (v *Vault) rollbackBump(k *keys, vaultID string, rb *rollbackCheck) error {
	c := rb.t + 1
	if err := v.update(func(btx *bolt.Tx) error { return putRollbackHead(btx, k, vaultID, rb.index, c) }); err != nil {
		return fmt.Errorf("anti-rollback: write head record: %w", err)
	}
	rb.c = c
	n, err := rb.tpm.CounterIncrement(rb.index)
	if err != nil {
		return fmt.Errorf("anti-rollback: increment TPM counter: %w", err)
	}
	if n != c {
		v.log.Warn("anti-rollback: TPM counter moved outside this vault; rebinding", "expected", c, "tpm", n)
		if err := v.update(func(btx *bolt.Tx) error { return putRollbackHead(btx, k, vaultID, rb.index, n) }); err != nil {
			return fmt.Errorf("anti-rollback: write head record: %w", err)
		}
		rb.c = n
	}
	rb.t = n
	return nil
}

// rollbackAtLock bumps the counter when an unlocked vault is locked or closed, so that
// a copy taken during the session is refused at the next Unlock. Errors are logged:
// the vault locks regardless.
func (v *Vault) rollbackAtLock(k *keys) {
	v.slotMu.Lock()
	defer v.slotMu.Unlock()
	st := v.rb
	v.mu.RLock()
	tpm, vaultID := v.cfg.TPM, v.hdr.VaultID
	v.mu.RUnlock()
	if st.index == 0 || tpm == nil {
		return
	}
	rb := &rollbackCheck{tpm: tpm, index: st.index, t: st.t}
	if err := v.rollbackBump(k, vaultID, rb); err != nil {
		v.log.Error("anti-rollback bump at lock failed", "err", err)
		return
	}
	v.rb.t = rb.t
}

func tpmSpecOf(tpm platform.TPM) string {
	if tpm == nil {
		return string(platform.KindNone)
	}
	return tpm.Info().Spec.String()
}
