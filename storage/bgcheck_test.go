package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// bgVault creates a vault with n cases in a fresh directory, closes it and returns a
// config that opens it with the background structure check.
func bgVault(t *testing.T, n int) Config {
	t.Helper()
	cfg := testConfig(t, nil)
	v := MustCreate(t, cfg, CreateOptions{AllowSoftwareKey: true})
	for i := range n {
		putCases(t, v, newCase(t, map[string]string{"name": fmt.Sprintf("Name%d", i), "text": string(bytes.Repeat([]byte("x"), 300))}))
	}
	mustClose(t, v)
	cfg.BackgroundCheck = true
	return cfg
}

// damageRoot overwrites the page ID in the header of bucket's root page.
func damageRoot(t *testing.T, dir string, bucket []byte) {
	t.Helper()
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var root uint64
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return fmt.Errorf("no bucket %q", bucket)
		}
		root = uint64(b.Root())
		return nil
	})
	ps := db.Info().PageSize
	db.Close()
	if err != nil || root == 0 {
		t.Fatalf("root of %q: %d, %v", bucket, root, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(binary.NativeEndian.AppendUint64(nil, root+12345), int64(root)*int64(ps)); err != nil {
		t.Fatal(err)
	}
}

func TestBackgroundCheckIntactVault(t *testing.T) {
	cfg := bgVault(t, 50)
	path := filepath.Join(cfg.Dir, FileName)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Opening and closing without a write leaves the file as it was (not even "dirty").
	v := MustOpen(t, cfg)
	if got := v.Users(); len(got) != 1 || got[0] != "anna" {
		t.Fatalf("Users = %v", got)
	}
	mustClose(t, v)
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("open and close without a write changed the file")
	}

	v = MustOpen(t, cfg)
	if err := v.Unlock("anna", pinAnna); err != nil {
		t.Fatal(err)
	}
	if share, done := v.CheckProgress(); !done || share != 1 {
		t.Fatalf("CheckProgress after Unlock = %v, %v; want 1, true", share, done)
	}
	sums, err := v.Cases(CaseQuery{})
	if err != nil || len(sums) != 50 {
		t.Fatalf("Cases: %d, %v", len(sums), err)
	}
	putCases(t, v, newCase(t, map[string]string{"name": "Neu"}))
	mustClose(t, v)

	// The write marked the file dirty and Close clean again: no consistency check.
	var log bytes.Buffer
	cfg.Logger = slogTo(&log)
	v = MustOpen(t, cfg)
	mustClose(t, v)
	if bytes.Contains(log.Bytes(), []byte("not closed cleanly")) {
		t.Fatalf("clean close reported as unclean:\n%s", log.String())
	}
}

func TestBackgroundCheckFindsDamage(t *testing.T) {
	for _, bucket := range [][]byte{bucketCases, bucketSummaries} {
		t.Run(string(bucket), func(t *testing.T) {
			cfg := bgVault(t, 200)
			damageRoot(t, cfg.Dir, bucket)

			// Without the background check Open refuses the file at once.
			fg := cfg
			fg.BackgroundCheck = false
			if _, err := Open(fg); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open (full check) = %v; want ErrCorrupt", err)
			}

			// With it, the unlock screen's reads work; everything else gets the damage.
			v := MustOpen(t, cfg)
			if got := v.Users(); len(got) != 1 {
				t.Fatalf("Users = %v", got)
			}
			if st := v.Status(); st.VaultID == "" || len(st.Slots) != 1 {
				t.Fatalf("Status = %+v", st)
			}
			err := v.Unlock("anna", pinAnna)
			var ce *CorruptError
			if !errors.As(err, &ce) || !bytes.Contains([]byte(ce.Reason), []byte(string(bucket))) {
				t.Fatalf("Unlock = %v; want a CorruptError naming bucket %q", err, bucket)
			}
			if _, err := v.Cases(CaseQuery{}); err == nil {
				t.Fatal("Cases on a damaged vault succeeded")
			}
			if _, done := v.CheckProgress(); !done {
				t.Fatal("CheckProgress not done after the check failed")
			}
			mustClose(t, v)
		})
	}
}

func TestBackgroundCheckDamageInKeyslotsRefusedAtOpen(t *testing.T) {
	cfg := bgVault(t, 5)
	// Enough slots that the keyslots bucket has a page of its own (not inline).
	v := MustOpen(t, cfg)
	if err := v.Unlock("anna", pinAnna); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		if err := v.AddUser(fmt.Sprintf("user%02d", i), pinBob); err != nil {
			t.Fatal(err)
		}
	}
	mustClose(t, v)
	damageRoot(t, cfg.Dir, bucketKeyslots)
	if _, err := Open(cfg); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open = %v; want ErrCorrupt at once (the first stage covers the key slots)", err)
	}
}

func TestCloseDuringBackgroundCheck(t *testing.T) {
	cfg := bgVault(t, 300)
	for range 20 {
		v, err := Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Close(); err != nil { // while the check may still run
			t.Fatal(err)
		}
	}
	v := MustOpen(t, cfg)
	if err := v.Unlock("anna", pinAnna); err != nil {
		t.Fatal(err)
	}
}

// After an unclean shutdown bbolt's own check runs after the structure check, in the
// background as well: Open returns at once and the unlock waits for both.
func TestBackgroundCheckAfterUncleanShutdown(t *testing.T) {
	cfg := bgVault(t, 20)
	v := MustOpen(t, cfg)
	if err := v.Unlock("anna", pinAnna); err != nil {
		t.Fatal(err)
	}
	putCases(t, v, newCase(t, map[string]string{"name": "vor dem Absturz"}))
	// The process "dies" here: a copy of the file as it is now (dirty, committed).
	crashed := cfg
	crashed.Dir = t.TempDir()
	copyFile(t, filepath.Join(cfg.Dir, FileName), filepath.Join(crashed.Dir, FileName))
	mustClose(t, v)

	var log bytes.Buffer
	crashed.Logger = slogTo(&log)
	v = MustOpen(t, crashed)
	if got := v.Users(); len(got) != 1 {
		t.Fatalf("Users = %v", got)
	}
	if err := v.Unlock("anna", pinAnna); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(log.Bytes(), []byte("consistency check passed")) {
		t.Fatalf("no consistency check after an unclean shutdown:\n%s", log.String())
	}
	if sums, err := v.Cases(CaseQuery{}); err != nil || len(sums) != 21 {
		t.Fatalf("Cases after the crash: %d, %v", len(sums), err)
	}
}
