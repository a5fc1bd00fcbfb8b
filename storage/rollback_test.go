package storage

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	bolt "go.etcd.io/bbolt"

	"fieldoffice/platform"
	"fieldoffice/platform/tpmtest"
)

var rbBucket = []byte("rbtest")

// rbWrite stores key=val in a test bucket and moves the audit head on to seq, the way
// the audit trail does (8-byte seq ‖ 32-byte MAC) in the same transaction.
func rbWrite(t testing.TB, v *Vault, key string, seq uint64) {
	t.Helper()
	err := v.Update(func(tx *Tx) error {
		if err := tx.Put(rbBucket, []byte(key), []byte("value of "+key)); err != nil {
			return err
		}
		head := binary.BigEndian.AppendUint64(nil, seq)
		head = append(head, make([]byte, 32)...)
		head[8] = byte(seq)
		return tx.Put(rollbackAuditBucket, rollbackAuditHead, head)
	})
	if err != nil {
		t.Fatalf("write %s: %v", key, err)
	}
}

func rbHas(t testing.TB, v *Vault, key string) bool {
	t.Helper()
	var found bool
	err := v.View(func(tx *Tx) error {
		b, err := tx.Get(rbBucket, []byte(key))
		found = b != nil
		return err
	})
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return found
}

func vaultFile(cfg Config) string { return filepath.Join(cfg.Dir, FileName) }

// openUnlock opens cfg's vault and unlocks it as anna; it returns the vault (closed
// at cleanup) and Unlock's error.
func openUnlock(t testing.TB, cfg Config, pin []byte) (*Vault, error) {
	t.Helper()
	v := MustOpen(t, cfg)
	return v, v.Unlock("anna", pin)
}

func wantRollback(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, ErrRollback) || !errors.Is(err, ErrTampered) {
		t.Fatalf("Unlock = %v, want ErrRollback and ErrTampered", err)
	}
	if !strings.Contains(err.Error(), "rollback") || !strings.Contains(err.Error(), "contact IT") {
		t.Fatalf("message %q does not say rollback / contact IT", err)
	}
}

func wantTamperedNotRollback(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, ErrTampered) || errors.Is(err, ErrRollback) {
		t.Fatalf("Unlock = %v, want ErrTampered (not ErrRollback)", err)
	}
}

// rollbackScenario is the test the issue asks for, on any TPM with persistent NV.
func rollbackScenario(t *testing.T, tpm platform.TPM, spec platform.Spec) {
	cfg := testConfig(t, tpm)
	cfg.Spec = spec
	v := MustCreate(t, cfg, CreateOptions{})
	if st := v.Status(); !st.RollbackProtected {
		t.Fatalf("Status.RollbackProtected = false on %s", spec)
	}
	rbWrite(t, v, "one", 1)
	mustClose(t, v)
	old := filepath.Join(t.TempDir(), "old.db")
	copyFile(t, vaultFile(cfg), old)

	v, err := openUnlock(t, cfg, pinAnna)
	if err != nil {
		t.Fatal(err)
	}
	rbWrite(t, v, "two", 2)
	mustClose(t, v)
	cur := filepath.Join(t.TempDir(), "cur.db")
	copyFile(t, vaultFile(cfg), cur)

	// The old copy put back: refused, and stays refused.
	copyFile(t, old, vaultFile(cfg))
	for range 2 {
		v, err = openUnlock(t, cfg, pinAnna)
		wantRollback(t, err)
		if v.Unlocked() {
			t.Fatal("vault unlocked after a rollback was detected")
		}
		mustClose(t, v)
	}

	// The current copy still unlocks.
	copyFile(t, cur, vaultFile(cfg))
	v, err = openUnlock(t, cfg, pinAnna)
	if err != nil {
		t.Fatalf("current copy: %v", err)
	}
	if !rbHas(t, v, "one") || !rbHas(t, v, "two") {
		t.Fatal("current copy lost data")
	}
	mustClose(t, v)
}

func TestRollbackFakeTPM(t *testing.T) {
	rollbackScenario(t, newNVFakeTPM(), platform.Spec{Kind: platform.KindMSSim, Addr: "fake:1"})
}

func TestRollbackSWTPM(t *testing.T) {
	spec := tpmtest.StartSWTPM(t) // skips without swtpm
	tpm, err := platform.Open(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tpm.Close() })
	rollbackScenario(t, tpm, spec)
}

// TestRollbackSWTPMCommands counts the TPM commands of Unlock and Lock on swtpm, with
// and without anti-rollback (steady state: the second Unlock of an open vault).
func TestRollbackSWTPMCommands(t *testing.T) {
	spec := tpmtest.StartSWTPM(t)
	var n atomic.Int64
	tpm, err := platform.Open(spec, platform.WithCommandCounter(&n))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tpm.Close() })
	cfg := testConfig(t, tpm)
	cfg.Spec = spec
	mustClose(t, MustCreate(t, cfg, CreateOptions{}))

	count := func(fn func() error) int64 {
		t.Helper()
		n.Store(0)
		if err := fn(); err != nil {
			t.Fatal(err)
		}
		return n.Load()
	}
	v := MustOpen(t, cfg)
	first := count(func() error { return v.Unlock("anna", pinAnna) })
	locking := count(func() error { v.Lock(); return nil })
	unlock := count(func() error { return v.Unlock("anna", pinAnna) })
	read := count(func() error { _, err := tpm.CounterRead(platform.DefaultCounterIndex); return err })
	incr := count(func() error { _, err := tpm.CounterIncrement(platform.DefaultCounterIndex); return err })
	mustClose(t, v) // the counter moved behind the vault's back: Close rebinds

	// The same vault without anti-rollback: the counter API hidden from the vault.
	cfg.TPM = noNV{tpm}
	v = MustOpen(t, cfg)
	if err := v.Unlock("anna", pinAnna); err == nil || !strings.Contains(err.Error(), "keeps no NV counters") {
		t.Fatalf("Unlock without NV = %v", err)
	}
	mustClose(t, v)
	cfg.TPM = tpm
	v = MustOpen(t, cfg)
	if err := v.Unlock("anna", pinAnna); err != nil {
		t.Fatalf("Unlock after the rebind at Close: %v", err)
	}
	kk, _ := v.unlockedKeys()
	v.slotMu.Lock()
	if err := v.rollbackDisarm(kk); err != nil {
		t.Fatal(err)
	}
	v.rb = rollbackState{}
	v.slotMu.Unlock()
	v.Lock()
	v.cfg.TPM = noNV{tpm}
	plain := count(func() error { return v.Unlock("anna", pinAnna) })
	mustClose(t, v)
	t.Logf("TPM commands: Unlock %d (first after Open %d), without anti-rollback %d; CounterRead %d + CounterIncrement %d; Lock %d",
		unlock, first, plain, read, incr, locking)
	if unlock-plain != read+incr || locking != incr {
		t.Errorf("anti-rollback adds %d commands at Unlock (want %d) and %d at Lock (want %d)", unlock-plain, read+incr, locking, incr)
	}
}

// noNV hides a TPM's persistent NV.
type noNV struct{ platform.TPM }

func (n noNV) Info() platform.Info {
	i := n.TPM.Info()
	i.PersistentNV = false
	return i
}

func TestRollbackCounterCalls(t *testing.T) {
	tpm := newNVFakeTPM()
	cfg := testConfig(t, tpm)
	v := MustCreate(t, cfg, CreateOptions{})
	if got := tpm.counter(platform.DefaultCounterIndex); got != 1 {
		t.Fatalf("counter after Create = %d, want 1", got)
	}
	mustClose(t, v)
	if got := tpm.counter(platform.DefaultCounterIndex); got != 2 {
		t.Fatalf("counter after Close = %d, want 2", got)
	}
	r0, i0 := tpm.calls()
	v, err := openUnlock(t, cfg, pinAnna)
	if err != nil {
		t.Fatal(err)
	}
	r1, i1 := tpm.calls()
	if r1-r0 != 1 || i1-i0 != 1 {
		t.Fatalf("Unlock: %d counter reads, %d increments; want 1 and 1", r1-r0, i1-i0)
	}
	v.Lock()
	r2, i2 := tpm.calls()
	if r2 != r1 || i2-i1 != 1 {
		t.Fatalf("Lock: %d reads, %d increments; want 0 and 1", r2-r1, i2-i1)
	}
	mustClose(t, v) // locked: no bump
	if _, i3 := tpm.calls(); i3 != i2 {
		t.Fatal("Close of a locked vault bumped the counter")
	}
	if got := tpm.counter(platform.DefaultCounterIndex); got != 4 {
		t.Fatalf("counter = %d, want 4", got)
	}
}

// A copy taken while the vault is unlocked is older than the state at the next Unlock.
func TestRollbackCopyDuringSession(t *testing.T) {
	tpm := newNVFakeTPM()
	cfg := testConfig(t, tpm)
	v := MustCreate(t, cfg, CreateOptions{})
	rbWrite(t, v, "one", 1)
	during := filepath.Join(t.TempDir(), "during.db")
	copyFile(t, vaultFile(cfg), during)
	mustClose(t, v)
	copyFile(t, during, vaultFile(cfg))
	_, err := openUnlock(t, cfg, pinAnna)
	wantRollback(t, err)
}

// A crash between the file write and the TPM increment: the file is one ahead.
func TestRollbackCrashBeforeIncrement(t *testing.T) {
	tpm := newNVFakeTPM()
	cfg := testConfig(t, tpm)
	v := MustCreate(t, cfg, CreateOptions{})
	rbWrite(t, v, "one", 1)
	tpm.failIncr = 1 // Close writes c+1, the increment is lost
	before := tpm.counter(platform.DefaultCounterIndex)
	mustClose(t, v)
	if got := tpm.counter(platform.DefaultCounterIndex); got != before {
		t.Fatalf("counter moved to %d", got)
	}
	v, err := openUnlock(t, cfg, pinAnna)
	if err != nil {
		t.Fatalf("Unlock after a lost increment: %v", err)
	}
	rbWrite(t, v, "two", 2)
	mustClose(t, v)

	// Same at Unlock: the increment fails, Unlock fails, the next one works.
	tpm.failIncr = 1
	v, err = openUnlock(t, cfg, pinAnna)
	if err == nil || errors.Is(err, ErrTampered) {
		t.Fatalf("Unlock with a failing increment = %v, want a TPM error", err)
	}
	if err := v.Unlock("anna", pinAnna); err != nil {
		t.Fatalf("Unlock after a failed increment: %v", err)
	}
	if !rbHas(t, v, "two") {
		t.Fatal("data lost")
	}
	mustClose(t, v)
	// Twice in a row is not possible without tampering: c > t+1 is refused.
	tpm.set(platform.DefaultCounterIndex, tpm.counter(platform.DefaultCounterIndex)-2)
	_, err = openUnlock(t, cfg, pinAnna)
	wantTamperedNotRollback(t, err)
}

// Writes after the last bump in a session that ended without Lock/Close (a crash) are
// accepted: the audit head moved on.
func TestRollbackCrashWithoutClose(t *testing.T) {
	tpm := newNVFakeTPM()
	cfg := testConfig(t, tpm)
	v := MustCreate(t, cfg, CreateOptions{})
	rbWrite(t, v, "one", 1)
	mustClose(t, v)
	v, err := openUnlock(t, cfg, pinAnna)
	if err != nil {
		t.Fatal(err)
	}
	rbWrite(t, v, "two", 2)
	v.slotMu.Lock()
	v.rb = rollbackState{} // the process dies: no bump at Close
	v.slotMu.Unlock()
	mustClose(t, v)
	v, err = openUnlock(t, cfg, pinAnna)
	if err != nil {
		t.Fatalf("Unlock after a session without Close: %v", err)
	}
	if !rbHas(t, v, "two") {
		t.Fatal("data lost")
	}
	mustClose(t, v)
}

func rawHead(t testing.TB, cfg Config) []byte {
	t.Helper()
	var head []byte
	rawUpdate(t, cfg.Dir, func(tx *bolt.Tx) error {
		head = append([]byte(nil), tx.Bucket(bucketMeta).Get(metaRollbackHead)...)
		return nil
	})
	if head == nil {
		t.Fatal("no head record")
	}
	return head
}

func putRawHead(t testing.TB, cfg Config, head []byte) {
	t.Helper()
	rawUpdate(t, cfg.Dir, func(tx *bolt.Tx) error {
		if head == nil {
			return tx.Bucket(bucketMeta).Delete(metaRollbackHead)
		}
		return tx.Bucket(bucketMeta).Put(metaRollbackHead, head)
	})
}

// The current head record pasted into an older file: counter fine, audit head behind.
func TestRollbackHeadFromAnotherState(t *testing.T) {
	tpm := newNVFakeTPM()
	cfg := testConfig(t, tpm)
	v := MustCreate(t, cfg, CreateOptions{})
	rbWrite(t, v, "one", 1)
	mustClose(t, v)
	old := filepath.Join(t.TempDir(), "old.db")
	copyFile(t, vaultFile(cfg), old)
	v, err := openUnlock(t, cfg, pinAnna)
	if err != nil {
		t.Fatal(err)
	}
	rbWrite(t, v, "two", 2)
	mustClose(t, v)
	head := rawHead(t, cfg)
	copyFile(t, old, vaultFile(cfg))
	putRawHead(t, cfg, head)
	_, err = openUnlock(t, cfg, pinAnna)
	wantTamperedNotRollback(t, err)
}

func TestRollbackHeadFromAnotherVault(t *testing.T) {
	tpm := newNVFakeTPM()
	cfgA, cfgB := testConfig(t, tpm), testConfig(t, tpm)
	mustClose(t, MustCreate(t, cfgA, CreateOptions{}))
	mustClose(t, MustCreate(t, cfgB, CreateOptions{})) // same TPM: its counter moved on
	putRawHead(t, cfgA, rawHead(t, cfgB))
	_, err := openUnlock(t, cfgA, pinAnna)
	wantTamperedNotRollback(t, err)
}

func TestRollbackHeadEditedOrMissing(t *testing.T) {
	tpm := newNVFakeTPM()
	cfg := testConfig(t, tpm)
	mustClose(t, MustCreate(t, cfg, CreateOptions{}))
	head := rawHead(t, cfg)

	edited := append([]byte(nil), head...)
	edited[12]++ // the counter
	putRawHead(t, cfg, edited)
	v, err := openUnlock(t, cfg, pinAnna)
	wantTamperedNotRollback(t, err)
	mustClose(t, v)

	putRawHead(t, cfg, nil)
	v, err = openUnlock(t, cfg, pinAnna)
	wantTamperedNotRollback(t, err)
	mustClose(t, v)

	// Removing the protection from the header breaks the header MAC.
	putRawHead(t, cfg, head)
	rawUpdate(t, cfg.Dir, func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		return m.Put(metaHeader, []byte(strings.Replace(string(m.Get(metaHeader)), `,"rollback_nv":`, `,"x":`, 1)))
	})
	_, err = openUnlock(t, cfg, pinAnna)
	wantTamperedNotRollback(t, err)
}

// A vault created on a TPM without persistent NV is armed at its first Unlock with one.
func TestRollbackArmAtUnlock(t *testing.T) {
	base := newFakeTPM()
	cfg := testConfig(t, base)
	v := MustCreate(t, cfg, CreateOptions{})
	if v.Status().RollbackProtected {
		t.Fatal("RollbackProtected without NV")
	}
	rbWrite(t, v, "one", 1)
	mustClose(t, v)
	nv := wrapNVFake(base)
	cfg.TPM = nv
	v, err := openUnlock(t, cfg, pinAnna)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Status().RollbackProtected {
		t.Fatal("not armed at Unlock")
	}
	mustClose(t, v)
	// Once armed, the TPM without NV is refused (not silently unprotected).
	cfg.TPM = base
	_, err = openUnlock(t, cfg, pinAnna)
	if err == nil || !strings.Contains(err.Error(), "keeps no NV counters") {
		t.Fatalf("Unlock without NV = %v", err)
	}
}

// The recovery key clears a detected rollback (IT decided which copy is right), a
// missing counter, and moves the vault onto a TPM without NV.
func TestRollbackRecover(t *testing.T) {
	rk, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpm := newNVFakeTPM()
	cfg := testConfig(t, tpm)
	v := MustCreate(t, cfg, CreateOptions{RecoveryKey: rk.PublicKey()})
	rbWrite(t, v, "one", 1)
	mustClose(t, v)
	old := filepath.Join(t.TempDir(), "old.db")
	copyFile(t, vaultFile(cfg), old)
	v, err = openUnlock(t, cfg, pinAnna)
	if err != nil {
		t.Fatal(err)
	}
	mustClose(t, v)
	copyFile(t, old, vaultFile(cfg))
	v, err = openUnlock(t, cfg, pinAnna)
	wantRollback(t, err)
	if err := v.Recover(rk, "anna", pinBob); err != nil {
		t.Fatalf("Recover after rollback: %v", err)
	}
	mustClose(t, v)
	v, err = openUnlock(t, cfg, pinBob)
	if err != nil {
		t.Fatalf("Unlock after Recover: %v", err)
	}
	mustClose(t, v)

	// Counter removed from the TPM.
	tpm.undefine(platform.DefaultCounterIndex)
	v, err = openUnlock(t, cfg, pinBob)
	wantTamperedNotRollback(t, err)
	if err := v.Recover(rk, "anna", pinAnna); err != nil {
		t.Fatalf("Recover with the counter missing: %v", err)
	}
	mustClose(t, v)
	if _, err := openUnlock(t, cfg, pinAnna); err != nil {
		t.Fatalf("Unlock after re-arming: %v", err)
	}
}

// With sim: and none there is no persistent counter: Status says so, and a copy put
// back is NOT detected (documented limitation).
func TestRollbackNotProtected(t *testing.T) {
	for _, tc := range []struct {
		name string
		tpm  platform.TPM
		o    CreateOptions
	}{
		{"fake sim", newFakeTPM(), CreateOptions{}},
		{"none", nil, CreateOptions{AllowSoftwareKey: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, tc.tpm)
			v := MustCreate(t, cfg, tc.o)
			if v.Status().RollbackProtected {
				t.Fatal("RollbackProtected = true")
			}
			rbWrite(t, v, "one", 1)
			mustClose(t, v)
			old := filepath.Join(t.TempDir(), "old.db")
			copyFile(t, vaultFile(cfg), old)
			v, err := openUnlock(t, cfg, pinAnna)
			if err != nil {
				t.Fatal(err)
			}
			rbWrite(t, v, "two", 2)
			mustClose(t, v)
			copyFile(t, old, vaultFile(cfg))
			v, err = openUnlock(t, cfg, pinAnna)
			if err != nil {
				t.Fatalf("old copy on an unprotected vault: %v", err)
			}
			if rbHas(t, v, "two") || v.Status().RollbackProtected {
				t.Fatal("expected the old state, unprotected")
			}
		})
	}
}

func TestRollbackSimStatus(t *testing.T) {
	spec := tpmtest.SimSpec(t)
	tpm, err := platform.Open(spec)
	if err != nil {
		t.Skipf("in-process simulator: %v", err)
	}
	defer tpm.Close()
	cfg := testConfig(t, tpm)
	cfg.Spec = spec
	v := MustCreate(t, cfg, CreateOptions{})
	if v.Status().RollbackProtected {
		t.Fatal("sim: RollbackProtected = true")
	}
	mustClose(t, v)
}
