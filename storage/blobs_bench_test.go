package storage

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"fieldoffice/storage/crypto"
)

const benchBlobSize = 50 << 20

// blockReader yields n bytes: a random 1 MiB block repeated, with a seed in the
// first 8 bytes so that every seed gives another SHA-256. Cheap to generate, so the
// benchmark measures the store.
type blockReader struct {
	block []byte
	seed  uint64
	n     int64
	off   int64
}

var benchBlock = func() []byte {
	b := make([]byte, 1<<20)
	rand.Read(b)
	return b
}()

func newBlockReader(seed uint64, n int64) *blockReader {
	return &blockReader{block: benchBlock, seed: seed, n: n}
}

func (r *blockReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n-r.off)]
	n := 0
	for n < len(p) {
		pos := (r.off + int64(n)) % int64(len(r.block))
		n += copy(p[n:], r.block[pos:])
	}
	if r.off < 8 {
		var s [8]byte
		binary.BigEndian.PutUint64(s[:], r.seed)
		copy(p, s[r.off:])
	}
	r.off += int64(n)
	return n, nil
}

// BenchmarkBlob writes and reads a 50 MiB attachment through the vault (STREAM
// chunks, AES-256-GCM) and through plain bbolt storing the same 64 KiB chunks
// unencrypted in transactions of the same size (also hashing with SHA-256, the
// address). peak-heap-MiB is the peak HeapInuse above the baseline while it runs.
func BenchmarkBlob(b *testing.B) {
	b.Run("Put/vault", func(b *testing.B) {
		v, _ := newBlobVault(b)
		b.SetBytes(benchBlobSize)
		hs := startHeapSampler(time.Millisecond)
		b.ResetTimer()
		for i := range b.N {
			info, err := v.PutBlob(newBlockReader(uint64(i), benchBlobSize), 0)
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if err := v.DeleteBlob(info.SHA256); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.StopTimer()
		b.ReportMetric(hs.Stop(), "peak-heap-MiB")
	})
	b.Run("Put/plain", func(b *testing.B) {
		db := openPlainBlobDB(b)
		b.SetBytes(benchBlobSize)
		hs := startHeapSampler(time.Millisecond)
		b.ResetTimer()
		for i := range b.N {
			sha, id := putPlainBlob(b, db, newBlockReader(uint64(i), benchBlobSize))
			b.StopTimer()
			deletePlainBlob(b, db, sha, id)
			b.StartTimer()
		}
		b.StopTimer()
		b.ReportMetric(hs.Stop(), "peak-heap-MiB")
	})
	b.Run("Get/vault", func(b *testing.B) {
		v, _ := newBlobVault(b)
		info, err := v.PutBlob(newBlockReader(1, benchBlobSize), 0)
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 32<<10)
		b.SetBytes(benchBlobSize)
		hs := startHeapSampler(time.Millisecond)
		b.ResetTimer()
		for range b.N {
			rc, _, err := v.OpenBlob(info.SHA256)
			if err != nil {
				b.Fatal(err)
			}
			if n, err := io.CopyBuffer(io.Discard, rc, buf); err != nil || n != benchBlobSize {
				b.Fatal(n, err)
			}
			rc.Close()
		}
		b.StopTimer()
		b.ReportMetric(hs.Stop(), "peak-heap-MiB")
	})
	b.Run("Get/plain", func(b *testing.B) {
		db := openPlainBlobDB(b)
		sha, _ := putPlainBlob(b, db, newBlockReader(1, benchBlobSize))
		b.SetBytes(benchBlobSize)
		hs := startHeapSampler(time.Millisecond)
		b.ResetTimer()
		for range b.N {
			if n := getPlainBlob(b, db, sha); n != benchBlobSize {
				b.Fatal(n)
			}
		}
		b.StopTimer()
		b.ReportMetric(hs.Stop(), "peak-heap-MiB")
	})
}

// The plain baseline: the same layout as the vault (chunks under a temporary ID,
// header under the SHA-256 pointing to it), no encryption.

func openPlainBlobDB(b *testing.B) *bolt.DB {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "plain.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

func putPlainBlob(b *testing.B, db *bolt.DB, r io.Reader) (sha, id string) {
	var idb [16]byte
	rand.Read(idb[:])
	id = hex.EncodeToString(idb[:])
	h := sha256.New()
	bufs := make([][]byte, blobChunksPerTx)
	for i := range bufs {
		bufs[i] = make([]byte, crypto.ChunkSize)
	}
	var idx uint64
	var size int64
	for done := false; !done; {
		var batch [][]byte
		for len(batch) < blobChunksPerTx {
			n, err := io.ReadFull(r, bufs[len(batch)])
			if n > 0 || (idx == 0 && len(batch) == 0) {
				batch = append(batch, bufs[len(batch)][:n])
				h.Write(bufs[len(batch)-1])
				size += int64(n)
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				done = true
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
		if done {
			sha = hex.EncodeToString(h.Sum(nil))
		}
		err := db.Update(func(tx *bolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists(bucketBlobs)
			if err != nil {
				return err
			}
			for _, c := range batch {
				if err := bk.Put(blobChunkKey(id, idx), c); err != nil {
					return err
				}
				idx++
			}
			if done {
				return bk.Put(blobHeaderKey(sha), fmt.Appendf(nil, "%s %d %d", id, size, idx))
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return sha, id
}

func getPlainBlob(b *testing.B, db *bolt.DB, sha string) int64 {
	var id string
	var size, chunks int64
	if err := db.View(func(tx *bolt.Tx) error {
		_, err := fmt.Sscanf(string(tx.Bucket(bucketBlobs).Get(blobHeaderKey(sha))), "%s %d %d", &id, &size, &chunks)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	h := sha256.New()
	buf := make([]byte, 0, crypto.ChunkSize)
	var n int64
	for i := range chunks {
		if err := db.View(func(tx *bolt.Tx) error {
			buf = append(buf[:0], tx.Bucket(bucketBlobs).Get(blobChunkKey(id, uint64(i)))...)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		h.Write(buf)
		n += int64(len(buf))
	}
	if hex.EncodeToString(h.Sum(nil)) != sha {
		b.Fatal("plain blob: hash mismatch")
	}
	return n
}

func deletePlainBlob(b *testing.B, db *bolt.DB, sha, id string) {
	if err := db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketBlobs)
		prefix := blobChunkPrefix(id)
		var keys [][]byte
		c := bk.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k))
		}
		for _, k := range keys {
			if err := bk.Delete(k); err != nil {
				return err
			}
		}
		return bk.Delete(blobHeaderKey(sha))
	}); err != nil {
		b.Fatal(err)
	}
}
