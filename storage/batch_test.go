package storage

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestPutBatch(t *testing.T) {
	for _, n := range []int{1, parallelMin - 1, parallelMin, 3*parallelMin + 7} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			cfg := testConfig(t, newFakeTPM())
			v := MustCreate(t, cfg, CreateOptions{User: "anna", PIN: pinAnna})
			bucket := []byte("batch")
			keys := make([][]byte, n)
			vals := make([][]byte, n)
			for i := range keys {
				keys[i] = []byte(fmt.Sprintf("key-%06d", i))
				vals[i] = bytes.Repeat([]byte{byte(i)}, i%300)
			}
			if err := v.Update(func(tx *Tx) error { return tx.PutBatch(bucket, keys, vals) }); err != nil {
				t.Fatal(err)
			}
			// Putting the same keys again replaces, it does not add to the count.
			if err := v.Update(func(tx *Tx) error { return tx.PutBatch(bucket, keys, vals) }); err != nil {
				t.Fatal(err)
			}
			i := 0
			err := v.ReadAll(bucket, func(k, val []byte) error {
				if !bytes.Equal(k, keys[i]) || !bytes.Equal(val, vals[i]) {
					return fmt.Errorf("entry %d: got %q", i, k)
				}
				i++
				return nil
			})
			if err != nil || i != n {
				t.Fatalf("ReadAll: %d entries, %v", i, err)
			}
			// Each value is sealed under its own key: swapping two is tampering.
			if n > 1 {
				mustClose(t, v)
				rawUpdate(t, cfg.Dir, func(btx *bolt.Tx) error {
					b := btx.Bucket(bucket)
					a, c := bytes.Clone(b.Get(keys[0])), bytes.Clone(b.Get(keys[1]))
					if err := b.Put(keys[0], c); err != nil {
						return err
					}
					return b.Put(keys[1], a)
				})
				v = MustOpen(t, cfg)
				if err := v.Unlock("anna", pinAnna); err != nil {
					t.Fatal(err)
				}
				err := v.View(func(tx *Tx) error { _, err := tx.Get(bucket, keys[0]); return err })
				var te *TamperError
				if !errors.As(err, &te) || te.Key != string(keys[0]) {
					t.Fatalf("swapped values: err = %v, want TamperError for %s", err, keys[0])
				}
			}
		})
	}
}

func TestPutBatchErrors(t *testing.T) {
	v := MustCreate(t, testConfig(t, newFakeTPM()), CreateOptions{User: "anna", PIN: pinAnna})
	b := []byte("batch")
	for name, fn := range map[string]func(*Tx) error{
		"length mismatch": func(tx *Tx) error { return tx.PutBatch(b, [][]byte{[]byte("a")}, nil) },
		"empty key":       func(tx *Tx) error { return tx.PutBatch(b, [][]byte{{}}, [][]byte{[]byte("x")}) },
		"reserved bucket": func(tx *Tx) error { return tx.PutBatch(bucketKeyslots, [][]byte{[]byte("a")}, [][]byte{[]byte("x")}) },
	} {
		if err := v.Update(fn); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if err := v.View(func(tx *Tx) error { return tx.PutBatch(b, nil, nil) }); !errors.Is(err, errReadOnly) {
		t.Errorf("PutBatch in View: %v, want errReadOnly", err)
	}
}
