package storage

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	bolt "go.etcd.io/bbolt"

	"fieldoffice/storage/crypto"
)

const blobChunk = crypto.ChunkSize

// genReader returns n pseudo-random bytes from seed, generated as they are read.
func genReader(seed uint64, n int64) io.Reader {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return io.LimitReader(rand.NewChaCha8(s), n)
}

func genBytes(t testing.TB, seed uint64, n int64) []byte {
	t.Helper()
	b, err := io.ReadAll(genReader(seed, n))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func shaHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func newBlobVault(t testing.TB) (*Vault, Config) {
	t.Helper()
	cfg := testConfig(t, newFakeTPM())
	return MustCreate(t, cfg, CreateOptions{}), cfg
}

func mustPut(t testing.TB, v *Vault, data []byte) BlobInfo {
	t.Helper()
	info, err := v.PutBlob(bytes.NewReader(data), 0)
	if err != nil {
		t.Fatalf("PutBlob(%d bytes): %v", len(data), err)
	}
	return info
}

// readBlob reads a blob to the end; it returns what was read before any error.
func readBlob(t testing.TB, v *Vault, sha string) ([]byte, error) {
	t.Helper()
	rc, _, err := v.OpenBlob(sha)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// blobKeys returns the raw keys of the blobs bucket.
func blobKeys(t testing.TB, v *Vault) []string {
	t.Helper()
	var keys []string
	err := v.view(func(btx *bolt.Tx) error {
		b := btx.Bucket(bucketBlobs)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			keys = append(keys, string(k))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func blobID(t testing.TB, v *Vault, sha string) string {
	t.Helper()
	k, err := v.unlockedKeys()
	if err != nil {
		t.Fatal(err)
	}
	var h *blobHeader
	if err := v.view(func(btx *bolt.Tx) error {
		h, err = getBlobHeader(btx, k.records, sha)
		return err
	}); err != nil || h == nil {
		t.Fatalf("header of %s: %v %v", sha, h, err)
	}
	return h.ID
}

func TestBlobRoundTrip(t *testing.T) {
	v, _ := newBlobVault(t)
	for i, size := range []int64{0, 1, blobChunk - 1, blobChunk, blobChunk + 1, 3<<20 + 17} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := genBytes(t, uint64(i), size)
			info, err := v.PutBlob(genReader(uint64(i), size), 0)
			if err != nil {
				t.Fatal(err)
			}
			want := BlobInfo{SHA256: shaHex(data), Size: size, Chunks: int(max(1, (size+blobChunk-1)/blobChunk)), Created: info.Created}
			if info != want || info.Created.IsZero() {
				t.Fatalf("info = %+v, want %+v", info, want)
			}
			if ok, err := v.HasBlob(info.SHA256); !ok || err != nil {
				t.Fatalf("HasBlob = %v, %v", ok, err)
			}
			rc, got, err := v.OpenBlob(info.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if got != info {
				t.Fatalf("OpenBlob info = %+v, want %+v", got, info)
			}
			// iotest.TestReader reads in odd sizes and checks io.Reader's contract.
			if err := iotest.TestReader(rc, data); err != nil {
				t.Fatal(err)
			}
			rc.Close()
			if _, err := rc.Read(make([]byte, 1)); err == nil {
				t.Fatal("Read after Close succeeded")
			}
		})
	}
	list, err := v.Blobs()
	if err != nil || len(list) != 6 {
		t.Fatalf("Blobs = %d, %v", len(list), err)
	}
	for _, k := range blobKeys(t, v) {
		if bytes.HasPrefix([]byte(k), blobPrefixPending) {
			t.Fatalf("pending record %q left after successful uploads", k)
		}
	}
}

// heapSampler records the peak HeapInuse above a baseline taken after a GC.
type heapSampler struct {
	base uint64
	peak atomic.Uint64
	stop chan struct{}
	done sync.WaitGroup
}

func startHeapSampler(every time.Duration) *heapSampler {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := &heapSampler{base: ms.HeapInuse, stop: make(chan struct{})}
	s.done.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > s.peak.Load() {
				s.peak.Store(ms.HeapInuse)
			}
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	})
	return s
}

// Stop returns the peak above the baseline in MiB.
func (s *heapSampler) Stop() float64 {
	close(s.stop)
	s.done.Wait()
	p := s.peak.Load()
	if p < s.base {
		return 0
	}
	return float64(p-s.base) / (1 << 20)
}

// TestBlobMemory streams 20 MiB in and out and checks that the heap stays flat.
func TestBlobMemory(t *testing.T) {
	v, _ := newBlobVault(t)
	const size = 20 << 20
	const limitMiB = 16
	hs := startHeapSampler(2 * time.Millisecond)
	info, err := v.PutBlob(genReader(42, size), 0)
	putPeak := hs.Stop()
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.New()
	io.Copy(want, genReader(42, size))
	if info.SHA256 != hex.EncodeToString(want.Sum(nil)) || info.Size != size {
		t.Fatalf("info = %+v", info)
	}

	hs = startHeapSampler(2 * time.Millisecond)
	rc, _, err := v.OpenBlob(info.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	n, err := io.Copy(got, rc)
	rc.Close()
	getPeak := hs.Stop()
	if err != nil || n != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("read %d bytes, err %v", n, err)
	}
	t.Logf("peak heap above baseline: put %.1f MiB, get %.1f MiB", putPeak, getPeak)
	if putPeak > limitMiB || getPeak > limitMiB {
		t.Fatalf("peak heap above baseline: put %.1f MiB, get %.1f MiB; want under %d MiB", putPeak, getPeak, limitMiB)
	}
}

func TestBlobTooLarge(t *testing.T) {
	v, _ := newBlobVault(t)
	const max = 3*blobChunk + 10
	if _, err := v.PutBlob(genReader(1, max+1), max); !errors.Is(err, ErrBlobTooLarge) {
		t.Fatalf("PutBlob(max+1) = %v, want ErrBlobTooLarge", err)
	}
	// Larger than one transaction's worth of chunks: something was committed and must
	// be gone again.
	if _, err := v.PutBlob(genReader(2, 5<<20), 4<<20); !errors.Is(err, ErrBlobTooLarge) {
		t.Fatalf("PutBlob(5 MiB, max 4 MiB) = %v, want ErrBlobTooLarge", err)
	}
	if keys := blobKeys(t, v); len(keys) != 0 {
		t.Fatalf("%d keys left after refused uploads", len(keys))
	}
	info, err := v.PutBlob(genReader(1, max), max)
	if err != nil || info.Size != max {
		t.Fatalf("PutBlob(max) = %+v, %v", info, err)
	}
}

func TestBlobDedup(t *testing.T) {
	v, _ := newBlobVault(t)
	data := genBytes(t, 7, 70*blobChunk+3) // more than one transaction
	a := mustPut(t, v, data)
	time.Sleep(2 * time.Millisecond)
	b := mustPut(t, v, data)
	if a != b {
		t.Fatalf("second put = %+v, want the first %+v", b, a)
	}
	list, err := v.Blobs()
	if err != nil || len(list) != 1 || list[0] != a {
		t.Fatalf("Blobs = %+v, %v", list, err)
	}
	if keys := blobKeys(t, v); len(keys) != a.Chunks+1 {
		t.Fatalf("%d keys in bucket, want %d chunks + 1 header", len(keys), a.Chunks)
	}
	got, err := readBlob(t, v, a.SHA256)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back: %d bytes, %v", len(got), err)
	}
}

// TestBlobTamper edits the vault file with plain bbolt and checks that each edit is
// reported on read with an error naming the chunk, after exactly the chunks before it.
func TestBlobTamper(t *testing.T) {
	const size = 3*blobChunk + 5 // 4 chunks
	dataA := genBytes(t, 100, size)
	dataB := genBytes(t, 200, size)
	type edit func(t *testing.T, b *bolt.Bucket, idA, idB string)
	key := blobChunkKey
	get := func(b *bolt.Bucket, k []byte) []byte { return bytes.Clone(b.Get(k)) }
	for _, tc := range []struct {
		name  string
		edit  edit
		chunk int64 // reported chunk
	}{
		{"truncated", func(t *testing.T, b *bolt.Bucket, a, _ string) {
			mustDo(t, b.Delete(key(a, 3)))
		}, 3},
		{"middle-missing", func(t *testing.T, b *bolt.Bucket, a, _ string) {
			mustDo(t, b.Delete(key(a, 1)))
		}, 1},
		{"reordered", func(t *testing.T, b *bolt.Bucket, a, _ string) {
			c1, c2 := get(b, key(a, 1)), get(b, key(a, 2))
			mustDo(t, b.Put(key(a, 1), c2))
			mustDo(t, b.Put(key(a, 2), c1))
		}, 1},
		{"swapped-from-other-blob", func(t *testing.T, b *bolt.Bucket, a, bID string) {
			mustDo(t, b.Put(key(a, 2), get(b, key(bID, 2))))
		}, 2},
		{"flipped-byte", func(t *testing.T, b *bolt.Bucket, a, _ string) {
			c := get(b, key(a, 1))
			c[len(c)/2] ^= 0x01
			mustDo(t, b.Put(key(a, 1), c))
		}, 1},
		{"last-moved-down", func(t *testing.T, b *bolt.Bucket, a, _ string) {
			// Drop chunk 2 and move the last chunk into its place: the last flag and
			// the counter no longer match.
			mustDo(t, b.Put(key(a, 2), get(b, key(a, 3))))
			mustDo(t, b.Delete(key(a, 3)))
		}, 2},
		{"extra-chunk", func(t *testing.T, b *bolt.Bucket, a, _ string) {
			mustDo(t, b.Put(key(a, 4), get(b, key(a, 3))))
		}, 4},
		{"extra-chunk-far", func(t *testing.T, b *bolt.Bucket, a, _ string) {
			mustDo(t, b.Put(key(a, 1000), get(b, key(a, 0))))
		}, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, cfg := newBlobVault(t)
			a, b := mustPut(t, v, dataA), mustPut(t, v, dataB)
			idA, idB := blobID(t, v, a.SHA256), blobID(t, v, b.SHA256)
			mustClose(t, v)
			rawUpdate(t, cfg.Dir, func(tx *bolt.Tx) error {
				tc.edit(t, tx.Bucket(bucketBlobs), idA, idB)
				return nil
			})
			v = MustOpen(t, cfg)
			if err := v.Unlock("anna", pinAnna); err != nil {
				t.Fatal(err)
			}
			got, err := readBlob(t, v, a.SHA256)
			var ce *BlobChunkError
			var te *TamperError
			if !errors.As(err, &ce) || !errors.As(err, &te) || !errors.Is(err, ErrTampered) {
				t.Fatalf("read = %v, want a *BlobChunkError wrapping a *TamperError", err)
			}
			if ce.Chunk != tc.chunk || ce.SHA256 != a.SHA256 {
				t.Fatalf("error names chunk %d of %s, want chunk %d: %v", ce.Chunk, ce.SHA256, tc.chunk, err)
			}
			if te.Bucket != "blobs" || te.Key != blobChunkKeyString(idA, uint64(tc.chunk)) {
				t.Fatalf("TamperError names %q %q: %v", te.Bucket, te.Key, err)
			}
			// Only authenticated chunks were returned, all before the bad one (or, for
			// an extra chunk, before the last one, which is checked first).
			wantN := min(int(tc.chunk), 3) * blobChunk
			if !bytes.Equal(got, dataA[:wantN]) {
				t.Fatalf("returned %d bytes before the error, want the first %d", len(got), wantN)
			}
			t.Log(err)
			// The other blob is unaffected, unless its chunk was taken.
			if got, err := readBlob(t, v, b.SHA256); err != nil || !bytes.Equal(got, dataB) {
				t.Fatalf("other blob: %d bytes, %v", len(got), err)
			}
		})
	}

	t.Run("header", func(t *testing.T) {
		v, cfg := newBlobVault(t)
		a := mustPut(t, v, dataA)
		b := mustPut(t, v, dataB)
		mustClose(t, v)
		rawUpdate(t, cfg.Dir, func(tx *bolt.Tx) error {
			// Point A's address at B's header.
			bk := tx.Bucket(bucketBlobs)
			return bk.Put(blobHeaderKey(a.SHA256), bytes.Clone(bk.Get(blobHeaderKey(b.SHA256))))
		})
		v = MustOpen(t, cfg)
		if err := v.Unlock("anna", pinAnna); err != nil {
			t.Fatal(err)
		}
		var te *TamperError
		if _, _, err := v.OpenBlob(a.SHA256); !errors.As(err, &te) || te.Key != "h/"+a.SHA256 {
			t.Fatalf("OpenBlob = %v, want a *TamperError for the header", err)
		}
		if _, err := v.HasBlob(a.SHA256); !errors.As(err, &te) {
			t.Fatalf("HasBlob = %v, want a *TamperError", err)
		}
		if _, err := v.Blobs(); !errors.As(err, &te) {
			t.Fatalf("Blobs = %v, want a *TamperError", err)
		}
	})
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// failingReader returns n bytes of data and then err.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func TestBlobInterrupted(t *testing.T) {
	v, cfg := newBlobVault(t)
	keep := mustPut(t, v, genBytes(t, 1, 2*blobChunk))
	errBoom := errors.New("connection dropped")
	for _, n := range []int64{0, 10, 5 << 20} { // nothing written yet; one batch written
		_, err := v.PutBlob(&failingReader{r: genReader(9, n), err: errBoom}, 0)
		if !errors.Is(err, errBoom) {
			t.Fatalf("PutBlob = %v, want the reader's error", err)
		}
		if keys := blobKeys(t, v); len(keys) != keep.Chunks+1 {
			t.Fatalf("after an interrupted upload of %d bytes: %d keys, want %d", n, len(keys), keep.Chunks+1)
		}
		if list, err := v.Blobs(); err != nil || len(list) != 1 {
			t.Fatalf("Blobs = %+v, %v", list, err)
		}
	}

	// A crash after the first transaction: chunks and the pending record stay behind.
	crash := func() string {
		k, _ := v.unlockedKeys()
		id := hex.EncodeToString(genBytes(t, uint64(time.Now().UnixNano()), 16))
		stream, err := blobStream(k, id)
		if err != nil {
			t.Fatal(err)
		}
		p := &blobPut{v: v, rec: k.records, id: id, start: time.Now()}
		pt := genBytes(t, 3, blobChunk)
		for i := range blobChunksPerTx {
			c, err := stream.SealChunk(nil, uint64(i), false, pt)
			if err != nil {
				t.Fatal(err)
			}
			p.batch = append(p.batch, c)
		}
		if err := p.flush(); err != nil {
			t.Fatal(err)
		}
		return id
	}
	id := crash()
	if keys := blobKeys(t, v); len(keys) != keep.Chunks+1+blobChunksPerTx+1 {
		t.Fatalf("after a crash: %d keys", len(keys))
	}
	// An upload running in this process is not touched.
	blobUploads.Store(id, struct{}{})
	if n, err := v.CleanupBlobs(); n != 0 || err != nil {
		t.Fatalf("CleanupBlobs removed %d running uploads (%v)", n, err)
	}
	blobUploads.Delete(id)

	// After a restart, Unlock cleans up.
	mustClose(t, v)
	v = MustOpen(t, cfg)
	if err := v.Unlock("anna", pinAnna); err != nil {
		t.Fatal(err)
	}
	if keys := blobKeys(t, v); len(keys) != keep.Chunks+1 {
		t.Fatalf("after Unlock: %d keys, want %d (interrupted upload not removed)", len(keys), keep.Chunks+1)
	}
	// And the next PutBlob too.
	crash()
	other := mustPut(t, v, []byte("Anlage"))
	if keys := blobKeys(t, v); len(keys) != keep.Chunks+1+2 {
		t.Fatalf("after cleanup: %d keys: %q", len(keys), keys)
	}
	// CleanupBlobs directly, without keys.
	crash()
	v.Lock()
	if n, err := v.CleanupBlobs(); n != 1 || err != nil {
		t.Fatalf("CleanupBlobs = %d, %v", n, err)
	}
	if err := v.Unlock("anna", pinAnna); err != nil {
		t.Fatal(err)
	}
	for _, info := range []BlobInfo{keep, other} {
		if _, err := readBlob(t, v, info.SHA256); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBlobHasDeleteList(t *testing.T) {
	v, _ := newBlobVault(t)
	if list, err := v.Blobs(); err != nil || len(list) != 0 {
		t.Fatalf("Blobs on an empty vault = %v, %v", list, err)
	}
	var infos []BlobInfo
	for i := range 3 {
		infos = append(infos, mustPut(t, v, genBytes(t, uint64(i), int64(i)*blobChunk+int64(i))))
	}
	list, err := v.Blobs()
	if err != nil || len(list) != 3 {
		t.Fatalf("Blobs = %v, %v", list, err)
	}
	for i := 1; i < len(list); i++ {
		if list[i-1].SHA256 >= list[i].SHA256 {
			t.Fatal("Blobs not sorted by SHA-256")
		}
	}
	gone := infos[1]
	if err := v.DeleteBlob(gone.SHA256); err != nil {
		t.Fatal(err)
	}
	if ok, err := v.HasBlob(gone.SHA256); ok || err != nil {
		t.Fatalf("HasBlob after delete = %v, %v", ok, err)
	}
	if _, _, err := v.OpenBlob(gone.SHA256); !errors.Is(err, ErrNotFound) {
		t.Fatalf("OpenBlob after delete = %v", err)
	}
	if err := v.DeleteBlob(gone.SHA256); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second DeleteBlob = %v", err)
	}
	if list, _ := v.Blobs(); len(list) != 2 {
		t.Fatalf("Blobs after delete: %d", len(list))
	}
	if keys := blobKeys(t, v); len(keys) != infos[0].Chunks+infos[2].Chunks+2 {
		t.Fatalf("%d keys after delete", len(keys))
	}
	for _, bad := range []string{"", "abc", shaHex(nil)[:63] + "G", "../" + shaHex(nil)[3:]} {
		if _, err := v.HasBlob(bad); err == nil {
			t.Fatalf("HasBlob(%q) accepted", bad)
		}
		if _, _, err := v.OpenBlob(bad); err == nil {
			t.Fatalf("OpenBlob(%q) accepted", bad)
		}
	}
	if _, _, err := v.OpenBlob(shaHex([]byte("nie gespeichert"))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("OpenBlob(unknown) = %v", err)
	}
}

func TestBlobLockedAndDeletedWhileReading(t *testing.T) {
	v, _ := newBlobVault(t)
	info := mustPut(t, v, genBytes(t, 5, 4*blobChunk))

	rc, _, err := v.OpenBlob(info.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(rc, make([]byte, blobChunk+1)); err != nil {
		t.Fatal(err)
	}
	if err := v.DeleteBlob(info.SHA256); err != nil { // not blocked by the reader
		t.Fatal(err)
	}
	if _, err := io.ReadAll(rc); !errors.Is(err, ErrNotFound) {
		t.Fatalf("read after delete = %v, want ErrNotFound", err)
	}
	rc.Close()

	info = mustPut(t, v, genBytes(t, 5, 4*blobChunk))
	rc, _, err = v.OpenBlob(info.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	v.Lock()
	if _, err := io.ReadAll(rc); !errors.Is(err, ErrLocked) {
		t.Fatalf("read after Lock = %v, want ErrLocked", err)
	}
	if _, err := v.PutBlob(bytes.NewReader([]byte("x")), 0); !errors.Is(err, ErrLocked) {
		t.Fatalf("PutBlob while locked = %v", err)
	}
	if _, _, err := v.OpenBlob(info.SHA256); !errors.Is(err, ErrLocked) {
		t.Fatalf("OpenBlob while locked = %v", err)
	}
}

// TestBlobConcurrent reads blobs while others are written: short read transactions
// must not block the writers, and nothing gets mixed up.
func TestBlobConcurrent(t *testing.T) {
	v, _ := newBlobVault(t)
	base := genBytes(t, 11, 3<<20)
	info := mustPut(t, v, base)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 3 {
		wg.Go(func() {
			data := genBytes(t, uint64(50+w), 6<<20+int64(w))
			got, err := v.PutBlob(bytes.NewReader(data), 0)
			if err == nil && got.SHA256 != shaHex(data) {
				err = fmt.Errorf("writer %d: wrong hash", w)
			}
			errs <- err
		})
		wg.Go(func() {
			for range 3 {
				got, err := readBlob(t, v, info.SHA256)
				if err == nil && !bytes.Equal(got, base) {
					err = fmt.Errorf("reader %d: wrong content", w)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if list, err := v.Blobs(); err != nil || len(list) != 4 {
		t.Fatalf("Blobs = %d, %v", len(list), err)
	}
}
