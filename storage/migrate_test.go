package storage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"fieldoffice/platform"
)

// withMigrations replaces the step list for one test (tests using it must not run in
// parallel).
func withMigrations(t testing.TB, steps []migration) {
	t.Helper()
	saved := migrations
	migrations = steps
	t.Cleanup(func() { migrations = saved })
}

var migBucket = []byte("migtest")

// syntheticSteps: 1→2 copies every rbtest entry into migtest with a "v2:" prefix; 2→3
// appends ":v3" to them. runs counts each step's runs; fail makes step 2→3 fail after
// writing.
func syntheticSteps(runs map[int]int, fail *bool) []migration {
	return []migration{
		{from: 2, to: 3, run: func(tx *Tx, now time.Time) error { // registered out of order
			runs[3]++
			var keys, vals [][]byte
			err := tx.ForEach(migBucket, func(k, v []byte) error {
				keys, vals = append(keys, k), append(vals, append(v, ":v3"...))
				return nil
			})
			if err != nil {
				return err
			}
			for i := range keys {
				if err := tx.Put(migBucket, keys[i], vals[i]); err != nil {
					return err
				}
			}
			if *fail {
				return errors.New("step 2→3 failed (simulated)")
			}
			return nil
		}},
		{from: 1, to: 2, run: func(tx *Tx, now time.Time) error {
			runs[2]++
			if now.IsZero() {
				return errors.New("no time")
			}
			return tx.ForEach(rbBucket, func(k, v []byte) error {
				return tx.Put(migBucket, k, append([]byte("v2:"), v...))
			})
		}},
	}
}

func migValue(t testing.TB, v *Vault, key string) string {
	t.Helper()
	var out string
	err := v.View(func(tx *Tx) error {
		b, err := tx.Get(migBucket, []byte(key))
		out = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// newV1Vault creates a vault at format 1 (no steps registered) with two entries.
func newV1Vault(t *testing.T, tpm platform.TPM) Config {
	t.Helper()
	withMigrations(t, nil)
	cfg := testConfig(t, tpm)
	v := MustCreate(t, cfg, CreateOptions{AllowSoftwareKey: tpm == nil})
	if got := v.Status().FormatVersion; got != 1 {
		t.Fatalf("created at format %d", got)
	}
	rbWrite(t, v, "a", 1)
	rbWrite(t, v, "b", 2)
	mustClose(t, v)
	return cfg
}

func TestMigrateSteps(t *testing.T) {
	cfg := newV1Vault(t, nil)
	runs := map[int]int{}
	fail := false
	withMigrations(t, syntheticSteps(runs, &fail))
	if FormatVersion() != 3 {
		t.Fatalf("FormatVersion() = %d, want 3", FormatVersion())
	}
	var logs bytes.Buffer
	cfg.Logger = slogTo(&logs)
	v := MustOpen(t, cfg)
	if st := v.Status(); st.FormatVersion != 1 {
		t.Fatalf("locked Status.FormatVersion = %d, want 1", st.FormatVersion)
	}
	if err := v.Unlock("anna", pinAnna); err != nil {
		t.Fatal(err)
	}
	if st := v.Status(); st.FormatVersion != 3 {
		t.Fatalf("Status.FormatVersion = %d after Unlock, want 3", st.FormatVersion)
	}
	if got := migValue(t, v, "a"); got != "v2:value of a:v3" {
		t.Fatalf("migrated value %q", got)
	}
	mustClose(t, v)
	if runs[2] != 1 || runs[3] != 1 {
		t.Fatalf("runs = %v", runs)
	}
	logged := logs.String()
	for _, want := range []string{"from=1 to=2", "from=2 to=3", "migration done"} {
		if !strings.Contains(logged, want) {
			t.Errorf("log lacks %q:\n%s", want, logged)
		}
	}
	if strings.Contains(logged, "value of") {
		t.Error("log contains data")
	}

	// Reopened: format 3 on file, no step runs again.
	v = MustOpen(t, cfg)
	if err := v.Unlock("anna", pinAnna); err != nil {
		t.Fatal(err)
	}
	if runs[2] != 1 || runs[3] != 1 || v.Status().FormatVersion != 3 {
		t.Fatalf("runs = %v, format %d", runs, v.Status().FormatVersion)
	}
	mustClose(t, v)
}

// A failing step rolls back its own transaction: the vault stays locked at the
// version of the last completed step, and the next Unlock carries on from there.
func TestMigrateFailureResumes(t *testing.T) {
	cfg := newV1Vault(t, nil)
	runs := map[int]int{}
	fail := true
	withMigrations(t, syntheticSteps(runs, &fail))
	v := MustOpen(t, cfg)
	err := v.Unlock("anna", pinAnna)
	if err == nil || !strings.Contains(err.Error(), "migrate vault from format 2 to 3") {
		t.Fatalf("Unlock = %v", err)
	}
	if v.Unlocked() || v.Status().FormatVersion != 2 {
		t.Fatalf("unlocked=%v format=%d, want locked at 2", v.Unlocked(), v.Status().FormatVersion)
	}
	mustClose(t, v)
	var hdr header
	rawUpdate(t, cfg.Dir, func(tx *bolt.Tx) error { return json.Unmarshal(tx.Bucket(bucketMeta).Get(metaHeader), &hdr) })
	if hdr.FormatVersion != 2 {
		t.Fatalf("format on file %d, want 2", hdr.FormatVersion)
	}
	fail = false
	v = MustOpen(t, cfg)
	if err := v.Unlock("anna", pinAnna); err != nil {
		t.Fatal(err)
	}
	if got := migValue(t, v, "b"); got != "v2:value of b:v3" { // not ":v3:v3": the failed run left nothing
		t.Fatalf("value %q", got)
	}
	if runs[2] != 1 || runs[3] != 2 {
		t.Fatalf("runs = %v", runs)
	}
	mustClose(t, v)
}

// Migrations keep the anti-rollback head record in step with the file: a step that
// rewrites the audit trail, then a crash (here: the next step fails) before the bump.
func TestMigrateWithRollbackProtection(t *testing.T) {
	tpm := newNVFakeTPM()
	cfg := newV1Vault(t, tpm)
	runs := map[int]int{}
	fail, fail5 := false, true
	steps := syntheticSteps(runs, &fail)
	steps = append(steps,
		// The audit trail rewritten, back to seq 0. Without the head record rewritten in
		// the same transaction, the next Unlock would see an audit head behind the
		// recorded one and refuse the vault as tampered.
		migration{from: 3, to: 4, run: func(tx *Tx, _ time.Time) error {
			head := make([]byte, auditHeadSize)
			head[8] = 0xAA
			return tx.Put(rollbackAuditBucket, rollbackAuditHead, head)
		}},
		migration{from: 4, to: 5, run: func(tx *Tx, _ time.Time) error {
			if fail5 {
				return errors.New("step 4→5 failed (simulated)")
			}
			return nil
		}})
	withMigrations(t, steps)
	v := MustOpen(t, cfg)
	if err := v.Unlock("anna", pinAnna); err == nil || v.Status().FormatVersion != 4 {
		t.Fatalf("Unlock = %v at format %d, want a failure at 4", err, v.Status().FormatVersion)
	}
	mustClose(t, v)
	fail5 = false
	v = MustOpen(t, cfg)
	if err := v.Unlock("anna", pinAnna); err != nil {
		t.Fatalf("Unlock after an interrupted migration of a protected vault: %v", err)
	}
	if st := v.Status(); st.FormatVersion != 5 || !st.RollbackProtected {
		t.Fatalf("format %d protected %v", st.FormatVersion, st.RollbackProtected)
	}
	mustClose(t, v)
}

func TestOpenNewerFormat(t *testing.T) {
	cfg := testConfig(t, nil)
	mustClose(t, MustCreate(t, cfg, CreateOptions{AllowSoftwareKey: true}))
	newer := FormatVersion() + 1
	rawUpdate(t, cfg.Dir, func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		var h map[string]any
		if err := json.Unmarshal(m.Get(metaHeader), &h); err != nil {
			return err
		}
		h["format_version"] = newer
		b, _ := json.Marshal(h)
		return m.Put(metaHeader, b)
	})
	_, err := Open(cfg)
	if !errors.Is(err, ErrNewerFormat) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open = %v, want ErrNewerFormat", err)
	}
	for _, want := range []string{fmt.Sprintf("format %d", newer), "newer FieldOffice", "update the app"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
}

func TestMigrationPathErrors(t *testing.T) {
	cfg := newV1Vault(t, nil)
	noop := func(*Tx, time.Time) error { return nil }
	for name, steps := range map[string][]migration{
		"gap":  {{from: 2, to: 3, run: noop}},
		"fork": {{from: 1, to: 2, run: noop}, {from: 1, to: 3, run: noop}, {from: 2, to: 3, run: noop}},
	} {
		t.Run(name, func(t *testing.T) {
			withMigrations(t, steps)
			_, err := Open(cfg)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "cannot be migrated") {
				t.Fatalf("Open = %v", err)
			}
		})
	}
}

// TestMigrateTestdataV1 opens the vault written by format 1 (storage/testdata/v1, see
// its README) with this build: it unlocks and ends at FormatVersion(). The data after
// migration is tested with the real steps (TestMigrateV1 in migrate_v2_test.go).
func TestMigrateTestdataV1(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "v1", FileName))
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, nil)
	if err := os.WriteFile(filepath.Join(cfg.Dir, FileName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	v := MustOpen(t, cfg)
	if st := v.Status(); st.FormatVersion != 1 || st.VaultID != "9285b778-1090-40db-b348-d95e03464fea" {
		t.Fatalf("testdata vault: format %d, ID %s", st.FormatVersion, st.VaultID)
	}
	if err := v.Unlock("anna", []byte("123456")); err != nil {
		t.Fatal(err)
	}
	if got := v.Status().FormatVersion; got != FormatVersion() {
		t.Fatalf("format %d after Unlock, want %d", got, FormatVersion())
	}
	if FormatVersion() == 1 { // before any step: the records as written
		var ids []string
		err := v.ReadAll(bucketCases, func(k, _ []byte) error { ids = append(ids, string(k)); return nil })
		if err != nil || len(ids) != 3 || ids[0] != "01955c3a-2b00-7000-8000-000000000001" {
			t.Fatalf("cases %v, %v", ids, err)
		}
	}
	mustClose(t, v)
	v = MustOpen(t, cfg)
	if err := v.Unlock("anna", []byte("123456")); err != nil {
		t.Fatalf("second Unlock: %v", err)
	}
	mustClose(t, v)
}
