package storage

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"fieldoffice/storage/crypto"
)

func TestCreateUnlockLock(t *testing.T) {
	tpm := newFakeTPM()
	cfg := testConfig(t, tpm)
	v := MustCreate(t, cfg, CreateOptions{})
	if !v.Unlocked() || v.User() != "anna" {
		t.Fatalf("Create: unlocked=%v user=%q", v.Unlocked(), v.User())
	}
	r := newCase(t, map[string]string{"name": "Müller"})
	putCases(t, v, r)
	if _, err := Create(cfg, CreateOptions{User: "anna", PIN: pinAnna}); !errors.Is(err, ErrExists) {
		t.Fatalf("second Create: %v", err)
	}
	mustClose(t, v)

	v = MustOpen(t, cfg)
	st := v.Status()
	if st.Unlocked || !st.Initialised || st.FormatVersion != FormatVersion() || st.TPMKind != "sim" || !reflect.DeepEqual(st.PCRs, []int{7}) ||
		len(st.Slots) != 1 || st.Slots[0].Type != "tpm" || st.SoftwareKey || st.RecoveryConfigured || st.RollbackProtected || st.SizeBytes == 0 {
		t.Fatalf("Status: %+v", st)
	}
	if _, err := v.Case(r.ID); !errors.Is(err, ErrLocked) {
		t.Fatalf("Case while locked: %v", err)
	}
	if err := v.Unlock("anna", pinAnna); err != nil {
		t.Fatal(err)
	}
	got, err := v.Case(r.ID)
	if err != nil || !reflect.DeepEqual(got, r) {
		t.Fatalf("Case: %v\n%+v\n%+v", err, got, r)
	}
	if _, err := v.Case("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing case: %v", err)
	}
	v.Lock()
	if v.Unlocked() || v.User() != "" {
		t.Fatal("still unlocked")
	}
	if _, err := v.Cases(CaseQuery{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("Cases locked: %v", err)
	}
	if err := v.Unlock("nobody", pinAnna); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("unknown user: %v", err)
	}
	if _, err := Open(Config{Dir: t.TempDir()}); !errors.Is(err, ErrNotInitialised) {
		t.Fatalf("Open empty dir: %v", err)
	}
}

func TestValidatePIN(t *testing.T) {
	for _, tc := range []struct {
		pin string
		ok  bool
	}{
		{"123456", true}, {"0000000000", true}, {"12345", false}, {"", false}, {"12345a", false},
		{"１２３４５６", false}, {"123 456", false}, {strings.Repeat("1", 65), false},
	} {
		err := ValidatePIN([]byte(tc.pin))
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrBadPIN)) {
			t.Errorf("ValidatePIN(%q) = %v", tc.pin, err)
		}
		if err != nil && strings.Contains(err.Error(), tc.pin) && tc.pin != "" {
			t.Errorf("error contains the PIN: %v", err)
		}
	}
}

func TestWrongPINCountsAndLocks(t *testing.T) {
	tpm := newFakeTPM()
	cfg := testConfig(t, tpm)
	rec, _ := crypto.GenerateRecoveryKey()
	v := MustCreate(t, cfg, CreateOptions{RecoveryKey: rec.PublicKey()})
	if err := v.AddUser("bob", pinBob); err != nil {
		t.Fatal(err)
	}
	v.Lock()
	for want := MaxFailures - 1; want >= 0; want-- {
		err := v.Unlock("anna", []byte("999999"))
		var wp *WrongPINError
		if !errors.As(err, &wp) || !errors.Is(err, ErrWrongPIN) || wp.Left != want || wp.User != "anna" {
			t.Fatalf("want WrongPINError Left=%d, got %v", want, err)
		}
		if strings.Contains(err.Error(), "999999") {
			t.Fatal("PIN in error")
		}
	}
	before := tpm.unseals
	if err := v.Unlock("anna", pinAnna); !errors.Is(err, ErrSlotLocked) {
		t.Fatalf("6th attempt: %v", err)
	}
	if tpm.unseals != before {
		t.Fatal("locked slot touched the TPM")
	}
	if st := v.Status(); !st.Slots[0].Locked || st.Slots[0].Failures != MaxFailures {
		t.Fatalf("Status: %+v", st.Slots)
	}
	// The counter survives a restart.
	mustClose(t, v)
	v = MustOpen(t, cfg)
	if err := v.Unlock("anna", pinAnna); !errors.Is(err, ErrSlotLocked) {
		t.Fatalf("after reopen: %v", err)
	}
	if err := v.ResetUser("anna"); !errors.Is(err, ErrLocked) {
		t.Fatalf("ResetUser while locked: %v", err)
	}
	// An admin (bob) resets anna.
	if err := v.Unlock("bob", pinBob); err != nil {
		t.Fatal(err)
	}
	if err := v.ResetUser("anna"); err != nil {
		t.Fatal(err)
	}
	if err := v.Unlock("anna", pinAnna); err != nil || v.User() != "anna" {
		t.Fatalf("after reset: %v", err)
	}
	// A right PIN resets the counter.
	v.Unlock("anna", []byte("111111"))
	v.Unlock("anna", pinAnna)
	if st := v.Status(); st.Slots[0].Failures != 0 {
		t.Fatalf("counter not reset: %+v", st.Slots)
	}
	// Recover clears a lockout too.
	v.Lock()
	for range MaxFailures {
		v.Unlock("anna", []byte("999999"))
	}
	if err := v.Recover(rec, "anna", []byte("777777")); err != nil {
		t.Fatal(err)
	}
	if !v.Unlocked() || v.User() != "anna" {
		t.Fatal("Recover did not unlock")
	}
	v.Lock()
	if err := v.Unlock("anna", []byte("777777")); err != nil {
		t.Fatalf("new PIN after Recover: %v", err)
	}
}

func slotBytes(t *testing.T, v *Vault, user string) []byte {
	t.Helper()
	var b []byte
	v.db.View(func(tx *bolt.Tx) error {
		b = bytes.Clone(tx.Bucket(bucketKeyslots).Get([]byte(prefixUser + user)))
		return nil
	})
	return b
}

func TestChangePIN(t *testing.T) {
	cfg := testConfig(t, newFakeTPM())
	v := MustCreate(t, cfg, CreateOptions{})
	if err := v.AddUser("bob", pinBob); err != nil {
		t.Fatal(err)
	}
	bobBefore := slotBytes(t, v, "bob")
	v.Lock()
	// Works while locked; a wrong old PIN counts.
	var wp *WrongPINError
	if err := v.ChangePIN("anna", []byte("000000"), []byte("222222")); !errors.As(err, &wp) || wp.Left != MaxFailures-1 {
		t.Fatalf("wrong old PIN: %v", err)
	}
	if err := v.ChangePIN("anna", pinAnna, []byte("12")); !errors.Is(err, ErrBadPIN) {
		t.Fatalf("bad new PIN: %v", err)
	}
	if err := v.ChangePIN("anna", pinAnna, []byte("222222")); err != nil {
		t.Fatal(err)
	}
	if v.Unlocked() {
		t.Fatal("ChangePIN unlocked the vault")
	}
	if err := v.Unlock("anna", pinAnna); !errors.Is(err, ErrWrongPIN) {
		t.Fatalf("old PIN: %v", err)
	}
	if err := v.Unlock("anna", []byte("222222")); err != nil {
		t.Fatalf("new PIN: %v", err)
	}
	if !bytes.Equal(bobBefore, slotBytes(t, v, "bob")) {
		t.Fatal("bob's slot changed")
	}
	if err := v.Unlock("bob", pinBob); err != nil {
		t.Fatal(err)
	}
	if st := v.Status(); st.Slots[0].Failures != 0 {
		t.Fatalf("failures not reset: %+v", st.Slots)
	}
}

func TestAddRemoveUser(t *testing.T) {
	cfg := testConfig(t, newFakeTPM())
	v := MustCreate(t, cfg, CreateOptions{})
	if err := v.AddUser("bob", pinBob); err != nil {
		t.Fatal(err)
	}
	if err := v.AddUser("bob", pinBob); !errors.Is(err, ErrUserExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if err := v.AddUser("bad name", pinBob); !errors.Is(err, ErrBadUserName) {
		t.Fatalf("bad name: %v", err)
	}
	if got := v.Users(); !reflect.DeepEqual(got, []string{"anna", "bob"}) {
		t.Fatalf("Users: %v", got)
	}
	v.Lock()
	if err := v.AddUser("carl", pinBob); !errors.Is(err, ErrLocked) {
		t.Fatalf("AddUser locked: %v", err)
	}
	if err := v.RemoveUser("bob"); !errors.Is(err, ErrLocked) {
		t.Fatalf("RemoveUser locked: %v", err)
	}
	if err := v.Unlock("bob", pinBob); err != nil {
		t.Fatal(err)
	}
	if err := v.RemoveUser("anna"); err != nil {
		t.Fatal(err)
	}
	if err := v.RemoveUser("anna"); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("remove twice: %v", err)
	}
	if err := v.RemoveUser("bob"); !errors.Is(err, ErrLastSlot) {
		t.Fatalf("remove last: %v", err)
	}
	if err := v.Unlock("anna", pinAnna); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("removed user unlocks: %v", err)
	}
	mustClose(t, v)
	v = MustOpen(t, cfg)
	if err := v.Unlock("bob", pinBob); err != nil {
		t.Fatal(err)
	}
}

func TestRecoveryAfterTPMReplaced(t *testing.T) {
	cfg := testConfig(t, newFakeTPM())
	rec, _ := crypto.GenerateRecoveryKey()
	v := MustCreate(t, cfg, CreateOptions{RecoveryKey: rec.PublicKey()})
	r := newCase(t, map[string]string{"a": "b"})
	putCases(t, v, r)
	if st := v.Status(); !st.RecoveryConfigured || len(st.Slots) != 2 || st.Slots[1].Type != "recovery" {
		t.Fatalf("Status: %+v", st)
	}
	mustClose(t, v)

	cfg.TPM = newFakeTPM() // the board was replaced
	v = MustOpen(t, cfg)
	if err := v.Unlock("anna", pinAnna); !errors.Is(err, ErrTPMRefused) || !strings.Contains(err.Error(), "fieldoffice recover") {
		t.Fatalf("unlock on new TPM: %v", err)
	}
	if st := v.Status(); st.Slots[0].Failures != 0 {
		t.Fatalf("TPM refusal counted as wrong PIN: %+v", st.Slots)
	}
	other, _ := crypto.GenerateRecoveryKey()
	if err := v.Recover(other, "anna", []byte("555555")); !errors.Is(err, ErrWrongRecoveryKey) {
		t.Fatalf("wrong recovery key: %v", err)
	}
	if err := v.Recover(rec, "anna", []byte("555555")); err != nil {
		t.Fatal(err)
	}
	if got, err := v.Case(r.ID); err != nil || got.ID != r.ID {
		t.Fatalf("Case after recover: %v", err)
	}
	mustClose(t, v)
	v = MustOpen(t, cfg)
	if err := v.Unlock("anna", []byte("555555")); err != nil {
		t.Fatalf("new TPM slot: %v", err)
	}
	if st := v.Status(); st.Slots[0].Type != "tpm" {
		t.Fatalf("Status: %+v", st.Slots)
	}

	// A vault without a recovery slot.
	cfg2 := testConfig(t, newFakeTPM())
	v2 := MustCreate(t, cfg2, CreateOptions{})
	if err := v2.Recover(rec, "anna", pinAnna); !errors.Is(err, ErrNoRecoverySlot) {
		t.Fatalf("no recovery slot: %v", err)
	}
}

func TestPCRChangeRefused(t *testing.T) {
	tpm := newFakeTPM()
	cfg := testConfig(t, tpm)
	v := MustCreate(t, cfg, CreateOptions{})
	v.Lock()
	tpm.ExtendPCR(7, []byte("new secure boot db"))
	if err := v.Unlock("anna", pinAnna); !errors.Is(err, ErrTPMRefused) {
		t.Fatalf("after PCR 7 change: %v", err)
	}
	// No PCR binding: PCR changes do not matter.
	cfg2 := testConfig(t, tpm)
	v2 := MustCreate(t, cfg2, CreateOptions{PCRs: []int{}})
	v2.Lock()
	tpm.ExtendPCR(7, []byte("again"))
	if err := v2.Unlock("anna", pinAnna); err != nil {
		t.Fatal(err)
	}
}

func TestSoftwareKey(t *testing.T) {
	cfg := testConfig(t, nil)
	if _, err := Create(cfg, CreateOptions{User: "anna", PIN: pinAnna}); !errors.Is(err, ErrSoftwareKeyNotAllowed) {
		t.Fatalf("without AllowSoftwareKey: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.Dir, FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("refused Create left a file")
	}
	v := MustCreate(t, cfg, CreateOptions{AllowSoftwareKey: true})
	if st := v.Status(); !st.SoftwareKey || st.TPMKind != "none" || st.Slots[0].Type != "software" {
		t.Fatalf("Status: %+v", st)
	}
	if err := v.AddUser("bob", pinBob); err != nil {
		t.Fatal(err)
	}
	v.Lock()
	var wp *WrongPINError
	if err := v.Unlock("anna", pinBob); !errors.As(err, &wp) || wp.Left != 4 {
		t.Fatalf("wrong PIN: %v", err)
	}
	if err := v.Unlock("bob", pinBob); err != nil {
		t.Fatal(err)
	}
	// A TPM vault cannot get a software slot.
	cfg2 := testConfig(t, newFakeTPM())
	v2 := MustCreate(t, cfg2, CreateOptions{})
	mustClose(t, v2)
	cfg2.TPM = nil
	v2 = MustOpen(t, cfg2)
	if err := v2.Unlock("anna", pinAnna); err == nil {
		t.Fatal("TPM slot unlocked without TPM")
	}
}

func TestTamperedValue(t *testing.T) {
	cfg := testConfig(t, newFakeTPM())
	v := MustCreate(t, cfg, CreateOptions{})
	a, b := newCase(t, map[string]string{"n": "a"}), newCase(t, map[string]string{"n": "b"})
	putCases(t, v, a, b)
	mustClose(t, v)

	for _, tc := range []struct {
		name string
		edit func(bk *bolt.Bucket)
		key  string
	}{
		{"flipped byte", func(bk *bolt.Bucket) {
			val := bytes.Clone(bk.Get([]byte(a.ID)))
			val[len(val)/2] ^= 0x01
			bk.Put([]byte(a.ID), val)
		}, a.ID},
		{"moved value", func(bk *bolt.Bucket) {
			bk.Put([]byte(b.ID), bytes.Clone(bk.Get([]byte(a.ID))))
		}, b.ID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			c.Dir = t.TempDir()
			copyFile(t, filepath.Join(cfg.Dir, FileName), filepath.Join(c.Dir, FileName))
			rawUpdate(t, c.Dir, func(tx *bolt.Tx) error { tc.edit(tx.Bucket(bucketCases)); return nil })
			v := MustOpen(t, c)
			if err := v.Unlock("anna", pinAnna); err != nil {
				t.Fatal(err)
			}
			_, err := v.Case(tc.key)
			var te *TamperError
			if !errors.As(err, &te) || te.Bucket != "cases" || te.Key != tc.key || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("Case: %v", err)
			}
			if _, err := listCases(v); !errors.As(err, &te) || te.Key != tc.key {
				t.Fatalf("full read: %v", err)
			}
		})
	}
	t.Run("deleted entry", func(t *testing.T) {
		c := cfg
		c.Dir = t.TempDir()
		copyFile(t, filepath.Join(cfg.Dir, FileName), filepath.Join(c.Dir, FileName))
		rawUpdate(t, c.Dir, func(tx *bolt.Tx) error { return tx.Bucket(bucketCases).Delete([]byte(a.ID)) })
		v := MustOpen(t, c)
		v.Unlock("anna", pinAnna)
		if _, err := listCases(v); !errors.Is(err, ErrTampered) {
			t.Fatalf("full read: %v", err)
		}
	})
	t.Run("summary edited", func(t *testing.T) {
		c := cfg
		c.Dir = t.TempDir()
		copyFile(t, filepath.Join(cfg.Dir, FileName), filepath.Join(c.Dir, FileName))
		rawUpdate(t, c.Dir, func(tx *bolt.Tx) error {
			bk := tx.Bucket(bucketSummaries)
			return bk.Put([]byte(a.ID), bytes.Clone(bk.Get([]byte(b.ID))))
		})
		v := MustOpen(t, c)
		v.Unlock("anna", pinAnna)
		var te *TamperError
		if _, err := v.Cases(CaseQuery{}); !errors.As(err, &te) || te.Key != a.ID {
			t.Fatalf("Cases: %v", err)
		}
	})
	t.Run("summary deleted", func(t *testing.T) {
		c := cfg
		c.Dir = t.TempDir()
		copyFile(t, filepath.Join(cfg.Dir, FileName), filepath.Join(c.Dir, FileName))
		rawUpdate(t, c.Dir, func(tx *bolt.Tx) error { return tx.Bucket(bucketSummaries).Delete([]byte(a.ID)) })
		v := MustOpen(t, c)
		v.Unlock("anna", pinAnna)
		if _, err := v.Cases(CaseQuery{}); !errors.Is(err, ErrTampered) {
			t.Fatalf("Cases: %v", err)
		}
	})
	t.Run("header edited", func(t *testing.T) {
		c := cfg
		c.Dir = t.TempDir()
		copyFile(t, filepath.Join(cfg.Dir, FileName), filepath.Join(c.Dir, FileName))
		rawUpdate(t, c.Dir, func(tx *bolt.Tx) error {
			m := tx.Bucket(bucketMeta)
			return m.Put(metaHeader, bytes.Replace(m.Get(metaHeader), []byte(`"pcrs":[7]`), []byte(`"pcrs":[]`), 1))
		})
		v := MustOpen(t, c)
		if err := v.Unlock("anna", pinAnna); !errors.Is(err, ErrTampered) {
			t.Fatalf("Unlock: %v", err)
		}
	})
}

func TestNoPlaintextOnDisk(t *testing.T) {
	cfg := testConfig(t, newFakeTPM())
	v := MustCreate(t, cfg, CreateOptions{})
	const marker = "MARKER-Schmidt-Hauptstrasse-42"
	putCases(t, v, newCase(t, map[string]string{"name": marker}))
	mustClose(t, v)
	raw, err := os.ReadFile(filepath.Join(cfg.Dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{marker, "Schmidt", "Hauptstrasse", string(pinAnna)} {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("vault file contains %q", s)
		}
	}
}

func TestAlreadyOpen(t *testing.T) {
	cfg := testConfig(t, newFakeTPM())
	MustCreate(t, cfg, CreateOptions{})
	start := time.Now()
	_, err := Open(cfg)
	if !errors.Is(err, ErrAlreadyOpen) || !strings.Contains(err.Error(), FileName) {
		t.Fatalf("second Open: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("second Open took %v", d)
	}
}

func TestUncleanShutdown(t *testing.T) {
	cfg := testConfig(t, newFakeTPM())
	var logs bytes.Buffer
	cfg.Logger = slogTo(&logs)
	v := MustCreate(t, cfg, CreateOptions{})
	r := newCase(t, nil)
	putCases(t, v, r)
	// Crash: the bbolt file is closed without Close marking a clean shutdown.
	v.db.Close()
	v.closed = true

	v = MustOpen(t, cfg)
	if !strings.Contains(logs.String(), "consistency check passed") {
		t.Fatalf("no consistency check after unclean shutdown; log:\n%s", logs.String())
	}
	v.Unlock("anna", pinAnna)
	if _, err := v.Case(r.ID); err != nil {
		t.Fatal(err)
	}
	mustClose(t, v)
	logs.Reset()
	MustOpen(t, cfg)
	if strings.Contains(logs.String(), "consistency check") {
		t.Fatalf("check after a clean shutdown; log:\n%s", logs.String())
	}
}

func TestTx(t *testing.T) {
	cfg := testConfig(t, newFakeTPM())
	v := MustCreate(t, cfg, CreateOptions{})
	bk := []byte("outbox")
	err := v.Update(func(tx *Tx) error {
		for i := range 10 {
			if err := tx.Put(bk, fmt.Appendf(nil, "k%02d", i), fmt.Appendf(nil, "v%d", i)); err != nil {
				return err
			}
		}
		return tx.Delete(bk, []byte("k03"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Update(func(tx *Tx) error { return tx.Put(bucketKeyslots, []byte("x"), nil) }); err == nil {
		t.Fatal("Put into keyslots allowed")
	}
	errStop := errors.New("stop")
	if err := v.Update(func(tx *Tx) error { tx.Put(bk, []byte("k99"), nil); return errStop }); err != errStop {
		t.Fatal(err)
	}
	v.View(func(tx *Tx) error {
		if got, err := tx.Get(bk, []byte("k05")); err != nil || string(got) != "v5" {
			t.Errorf("Get: %q %v", got, err)
		}
		if got, err := tx.Get(bk, []byte("k03")); err != nil || got != nil {
			t.Errorf("deleted: %q %v", got, err)
		}
		if got, err := tx.Get([]byte("nope"), []byte("k")); err != nil || got != nil {
			t.Errorf("missing bucket: %q %v", got, err)
		}
		if err := tx.Put(bk, []byte("x"), nil); err == nil {
			t.Error("Put in View")
		}
		var keys []string
		if err := tx.ForEach(bk, func(k, v []byte) error { keys = append(keys, string(k)); return nil }); err != nil {
			t.Error(err)
		}
		if len(keys) != 9 {
			t.Errorf("ForEach: %v", keys)
		}
		return nil
	})
	var got []string
	if err := v.ReadAll(bk, func(k, val []byte) error { got = append(got, string(k)+"="+string(val)); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 9 || got[0] != "k00=v0" || got[8] != "k09=v9" {
		t.Fatalf("ReadAll: %v", got)
	}
}

func TestReadAllOrderAndStop(t *testing.T) {
	cfg := testConfig(t, newFakeTPM())
	v := MustCreate(t, cfg, CreateOptions{})
	if err := v.DemoData(3000, 1, time.Now()); err != nil {
		t.Fatal(err)
	}
	sums, err := v.Cases(CaseQuery{})
	if err != nil || len(sums) != 3000 {
		t.Fatalf("Cases: %d %v", len(sums), err)
	}
	var ids []string
	for _, s := range sums {
		ids = append(ids, s.ID)
	}
	slices.Sort(ids)
	list, err := listCases(v)
	if err != nil || len(list) != len(ids) {
		t.Fatalf("full read: %d %v", len(list), err)
	}
	for i := range list {
		if list[i].ID != ids[i] {
			t.Fatalf("order at %d", i)
		}
	}
	errStop := errors.New("stop")
	n := 0
	err = v.ReadAll(bucketCases, func(k, val []byte) error {
		if n++; n == 1000 {
			return errStop
		}
		return nil
	})
	if err != errStop || n != 1000 {
		t.Fatalf("stop: %v after %d", err, n)
	}
}

// TestLockDuringOperations: Lock while reads and writes run on other goroutines: every
// operation either completes with the keys it started with or gets ErrLocked — never
// a crash, never a write with zeroed keys (the audit chain stays intact).
func TestLockDuringOperations(t *testing.T) {
	v, cfg := repoVault(t)
	c := newAnmeldung(t, v, "Fuchs", "Ida", "Ring", "99084", "Erfurt")
	for round := range 30 {
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := 0; ; i++ {
					var err error
					switch (g + i) % 3 {
					case 0:
						_, err = v.AuditEntries()
					case 1:
						_, err = v.AddNote(c.ID, fmt.Sprintf("Vermerk %d/%d/%d", round, g, i))
					default:
						_, err = v.Cases(CaseQuery{})
					}
					if errors.Is(err, ErrLocked) {
						return
					}
					if err != nil {
						t.Errorf("operation failed with %v", err)
						return
					}
				}
			})
		}
		time.Sleep(time.Millisecond)
		v.Lock()
		wg.Wait()
		if err := v.Unlock("anna", pinAnna); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.AuditVerify(); err != nil {
		t.Fatalf("audit chain after locks during writes: %v", err)
	}
	_ = cfg
}

// TestTrimMemory: dropping the mapped pages loses nothing: everything reads back.
func TestTrimMemory(t *testing.T) {
	v, _ := repoVault(t)
	if err := v.DemoData(200, 3, time.Now()); err != nil {
		t.Fatal(err)
	}
	before, err := v.Cases(CaseQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.TrimMemory(); err != nil {
		t.Fatal(err)
	}
	v.repo.drop() // decode again from the file
	after, err := v.Cases(CaseQuery{})
	if err != nil || len(after) != len(before) {
		t.Fatalf("after TrimMemory: %d cases, %v", len(after), err)
	}
	if _, err := v.AuditVerify(); err != nil {
		t.Fatal(err)
	}
}
