package storage

import (
	"bytes"
	"crypto/rand"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"fieldoffice/storage/crypto"
)

const (
	benchRecords = 100_000
	benchSize    = 4096
	benchBatch   = 10_000
)

var benchBucket = []byte("bench")

// benchData returns time-ordered keys (UUIDv7) and random-looking 4 KiB values.
func benchData(b *testing.B) (keys, vals [][]byte) {
	b.Helper()
	keys = make([][]byte, benchRecords)
	vals = make([][]byte, benchRecords)
	blob := make([]byte, benchSize*64)
	rand.Read(blob)
	for i := range keys {
		keys[i] = []byte(uuid.Must(uuid.NewV7()).String())
		off := (i % 63) * benchSize
		vals[i] = blob[off : off+benchSize]
	}
	return keys, vals
}

func writePlain(b *testing.B, path string, keys, vals [][]byte) *bolt.DB {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < len(keys); i += benchBatch {
		err := db.Update(func(tx *bolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists(benchBucket)
			if err != nil {
				return err
			}
			for j := i; j < i+benchBatch && j < len(keys); j++ {
				if err := bk.Put(keys[j], vals[j]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return db
}

func writeVault(b *testing.B, cfg Config, keys, vals [][]byte) *Vault {
	v, err := Create(cfg, CreateOptions{User: "anna", PIN: pinAnna})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < len(keys); i += benchBatch {
		end := min(i+benchBatch, len(keys))
		err := v.Update(func(tx *Tx) error { return tx.PutBatch(benchBucket, keys[i:end], vals[i:end]) })
		if err != nil {
			b.Fatal(err)
		}
	}
	return v
}

func benchConfig(b *testing.B) Config {
	return Config{Dir: b.TempDir(), TPM: newFakeTPM(), KDF: testKDF}
}

// BenchmarkVault compares plain bbolt with the vault: 100,000 records of 4 KiB,
// written in transactions of 10,000 into a fresh file, and read back in full.
func BenchmarkVault(b *testing.B) {
	keys, vals := benchData(b)
	report := func(b *testing.B) {
		b.ReportMetric(float64(benchRecords)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	}
	b.Run("Write/plain", func(b *testing.B) {
		for b.Loop() {
			writePlain(b, filepath.Join(b.TempDir(), "plain.db"), keys, vals).Close()
		}
		report(b)
	})
	b.Run("Write/vault", func(b *testing.B) {
		for b.Loop() {
			writeVault(b, benchConfig(b), keys, vals).Close()
		}
		report(b)
	})
	b.Run("Read/plain", func(b *testing.B) {
		db := writePlain(b, filepath.Join(b.TempDir(), "plain.db"), keys, vals)
		defer db.Close()
		for b.Loop() {
			n := 0
			err := db.View(func(tx *bolt.Tx) error {
				return tx.Bucket(benchBucket).ForEach(func(k, v []byte) error {
					_ = bytes.Clone(v) // a real reader copies the value out of the mmap
					n++
					return nil
				})
			})
			if err != nil || n != benchRecords {
				b.Fatal(n, err)
			}
		}
		report(b)
	})
	b.Run("Read/vault", func(b *testing.B) {
		v := writeVault(b, benchConfig(b), keys, vals)
		defer v.Close()
		for b.Loop() {
			n := 0
			if err := v.ReadAll(benchBucket, func(k, v []byte) error { n++; return nil }); err != nil || n != benchRecords {
				b.Fatal(n, err)
			}
		}
		report(b)
	})
}

// BenchmarkSeal4K seals one 4 KiB value.
func BenchmarkSeal4K(b *testing.B) {
	k, _ := crypto.NewRandomKey()
	s, _ := crypto.NewSealer(&k)
	pt := make([]byte, benchSize)
	key := []byte(uuid.Must(uuid.NewV7()).String())
	b.SetBytes(benchSize)
	for b.Loop() {
		if _, err := s.Seal(benchBucket, key, pt); err != nil {
			b.Fatal(err)
		}
	}
}
