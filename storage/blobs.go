package storage

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"fieldoffice/cases"
	"fieldoffice/storage/crypto"
)

// Attachments (blobs)
//
// A blob is a file of up to 100 MiB (the default limit), addressed by the SHA-256 of
// its plaintext and stored in the bucket "blobs" in chunks of 64 KiB, each sealed with
// the STREAM construction of storage/crypto (chunk index and last-chunk flag in the
// nonce, a per-blob key from the blobs subkey and a random per-blob ID used as HKDF
// salt, bucket and blob ID in the additional data).
//
// # Layout of the bucket "blobs"
//
//	"h/" + sha256 (64 lowercase hex)           header: size, chunk count, blob ID, created;
//	                                           sealed as a record (AAD = bucket and key)
//	"c/" + blob ID (32 hex) + "/" + index      chunk i (index: 8 bytes big-endian), sealed
//	                                           by the blob's stream (not as a record)
//	"p/" + blob ID (32 hex)                    pending: an upload in progress or
//	                                           interrupted; sealed record (start time)
//
// The header is an indirection: chunks are stored under a random blob ID, not under
// the SHA-256, because the hash is known only after the last byte was read and
// re-keying up to 1,600 chunks would need one transaction holding the whole file in
// memory. The header record binds hash → blob ID (its additional data contains the
// hash key); the chunks are bound to the blob ID by key and additional data; and a
// reader checks the SHA-256 of what it read at the end. So a chunk cannot be moved to
// another blob or position, and a header cannot be pointed at other chunks, unnoticed.
//
// # Writing
//
// [Vault.PutBlob] streams: it reads 64 KiB at a time, hashes and seals it, and writes
// 16 chunks (1 MiB) per bbolt transaction under a fresh random blob ID. The first
// transaction also writes the pending record "p/"+ID. A final transaction writes the
// header under the hash and deletes the pending record, so the blob becomes visible
// atomically and complete; if a blob with that hash exists already it deletes the new
// chunks instead (deduplication). Memory stays flat whatever the size of the file: the
// sealed chunks of one transaction, bbolt's dirty pages for them (and a copy of them
// when bbolt remaps a growing file), and the garbage collector's headroom over that:
// about 10 MiB of heap at the peak with 1 MiB per transaction, 15 MiB with 2 MiB and
// 25 MiB with 4 MiB (BenchmarkBlob), for 15–25% more throughput. Writes here cost
// about 0.6 ms of fsync per MiB; on a laptop SSD 2–3 ms.
//
// # Cleaning up
//
// When PutBlob fails (reader error, size limit, locked vault) it deletes its chunks
// and pending record before it returns. If the process dies mid-way, the pending
// record stays with the chunks written so far; the next PutBlob (or
// [Vault.CleanupBlobs], which Open or Unlock may call) deletes every pending upload
// that is not running in this process. An upload in progress is known by its blob ID
// in a process-wide set; only one process can have the file open (bbolt's file lock).
//
// # Reading
//
// [Vault.OpenBlob] reads one chunk per short read transaction (a long-running read
// transaction would stop bbolt's writers from remapping the file as it grows), opens
// it before returning any of its bytes and, at the end, compares the SHA-256 of all it
// read with the address. A missing chunk, a chunk that does not open, an extra chunk
// after the last one or a hash mismatch is a *BlobChunkError (or a *TamperError for
// the header) that wraps a *TamperError naming bucket and key. For a chunk, the
// TamperError's key is written "c/<blob ID>/<index in decimal>" (the stored key ends
// in the 8-byte big-endian index, which would print as escapes).
//
// # Not through Tx
//
// The bucket "blobs" is written here with bbolt directly, not through [Tx.Put], and
// has no sealed entry count: it must not be read with [Tx.ForEach], [Tx.Get] or
// [Vault.ReadAll] (its chunks are not sealed as records and would be reported as
// tampered). Use the blob methods.

// DefaultMaxBlobSize is PutBlob's size limit when maxSize <= 0.
const DefaultMaxBlobSize = 100 << 20

// blobChunksPerTx is how many chunks PutBlob writes per bbolt transaction (1 MiB):
// few enough to keep memory small (see above), many enough that fsync does not
// dominate.
const blobChunksPerTx = 16

const blobFormat = 1

var bucketBlobs = []byte("blobs")

var (
	blobPrefixHeader  = []byte("h/")
	blobPrefixChunk   = []byte("c/")
	blobPrefixPending = []byte("p/")
	blobPrefixDraft   = []byte("d/")
)

func blobDraftKey(sha string) []byte { return append(bytes.Clone(blobPrefixDraft), sha...) }

// ErrBlobTooLarge is returned by PutBlob for a file larger than its limit.
var ErrBlobTooLarge = errors.New("attachment too large")

// BlobInfo describes a stored blob.
type BlobInfo struct {
	SHA256  string // lowercase hex of the plaintext's SHA-256
	Size    int64
	Chunks  int
	Created time.Time
}

// BlobChunkError reports a blob chunk that is missing, does not open, is out of place
// or is one too many, or a blob whose content does not match its hash. It unwraps to a
// *TamperError naming bucket and key (so it matches [ErrTampered]).
type BlobChunkError struct {
	SHA256 string
	Chunk  int64 // chunk index; -1 for the hash check over the whole blob
	Reason string
	Err    error // a *TamperError
}

func (e *BlobChunkError) Error() string {
	if e.Chunk < 0 {
		return fmt.Sprintf("blob %s: %s: %v", e.SHA256, e.Reason, e.Err)
	}
	return fmt.Sprintf("blob %s: chunk %d: %s: %v", e.SHA256, e.Chunk, e.Reason, e.Err)
}

// Unwrap returns the *TamperError.
func (e *BlobChunkError) Unwrap() error { return e.Err }

// blobHeader is the sealed record under "h/"+sha.
type blobHeader struct {
	Format  int       `json:"v"`
	ID      string    `json:"id"` // 32 hex: chunk keys and stream salt
	Size    int64     `json:"size"`
	Chunks  int64     `json:"chunks"`
	Created time.Time `json:"created"`
}

// blobUploads holds the blob IDs of PutBlob calls running in this process, so that
// cleanup does not delete an upload in progress.
var blobUploads sync.Map

func blobHeaderKey(sha string) []byte { return append(bytes.Clone(blobPrefixHeader), sha...) }
func blobPendingKey(id string) []byte { return append(bytes.Clone(blobPrefixPending), id...) }
func blobChunkPrefix(id string) []byte {
	return append(append(bytes.Clone(blobPrefixChunk), id...), '/')
}

func blobChunkKey(id string, i uint64) []byte {
	return binary.BigEndian.AppendUint64(blobChunkPrefix(id), i)
}

// blobChunkKeyString renders a chunk key for errors: "c/<id>/<index>".
func blobChunkKeyString(id string, i uint64) string {
	return fmt.Sprintf("%s%s/%d", blobPrefixChunk, id, i)
}

func blobChunkCount(size int64) int64 {
	if size == 0 {
		return 1
	}
	return (size + crypto.ChunkSize - 1) / crypto.ChunkSize
}

func validSHA(sha string) bool {
	if len(sha) != 2*sha256.Size {
		return false
	}
	for _, c := range []byte(sha) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func badSHA(sha string) error {
	return fmt.Errorf("storage: blob address %q is not a lowercase hex SHA-256", sha)
}

// blobStream returns the stream of blob id (32 hex).
func blobStream(k *keys, id string) (*crypto.Stream, error) {
	salt, err := hex.DecodeString(id)
	if err != nil || len(salt) != crypto.StreamSaltSize {
		return nil, fmt.Errorf("storage: bad blob ID %q", id)
	}
	bk := k.dek.Derive(crypto.PurposeBlobs)
	defer bk.Zero()
	// Additional data: bucket and blob ID.
	ctx := append(append(bytes.Clone(bucketBlobs), 0), id...)
	return crypto.NewStream(&bk, salt, ctx)
}

// getBlobHeader reads and opens the header of sha; nil, nil if there is none.
func getBlobHeader(btx *bolt.Tx, rec *crypto.Sealer, sha string) (*blobHeader, error) {
	b := btx.Bucket(bucketBlobs)
	if b == nil {
		return nil, nil
	}
	key := blobHeaderKey(sha)
	sealed := b.Get(key)
	if sealed == nil {
		return nil, nil
	}
	return openBlobHeader(rec, key, sealed)
}

func openBlobHeader(rec *crypto.Sealer, key, sealed []byte) (*blobHeader, error) {
	tamper := &TamperError{Bucket: string(bucketBlobs), Key: string(key)}
	pt, err := rec.Open(bucketBlobs, key, sealed)
	if err != nil {
		return nil, tamper
	}
	var h blobHeader
	if err := json.Unmarshal(pt, &h); err != nil || h.Format != blobFormat || len(h.ID) != 32 ||
		h.Size < 0 || h.Chunks != blobChunkCount(h.Size) {
		return nil, tamper
	}
	if _, err := hex.DecodeString(h.ID); err != nil {
		return nil, tamper
	}
	return &h, nil
}

func (h *blobHeader) info(sha string) BlobInfo {
	return BlobInfo{SHA256: sha, Size: h.Size, Chunks: int(h.Chunks), Created: h.Created}
}

// PutBlob reads r to the end and stores it as a blob addressed by the SHA-256 of its
// content. A blob with the same content that exists already is kept (deduplicated)
// and its BlobInfo returned. maxSize <= 0 means [DefaultMaxBlobSize]; a larger input
// gives ErrBlobTooLarge. PutBlob uses a few MiB of memory whatever the size; see the
// package notes on attachments for transactions and cleanup.
func (v *Vault) PutBlob(r io.Reader, maxSize int64) (BlobInfo, error) {
	return v.putBlob(r, maxSize, false)
}

// PutDraftBlob is PutBlob for content that no case refers to yet: a document added
// to an application still being filled in, or a file about to be attached. Unless a
// case refers to it (AddAttachment, NewCase … — any case write that lists it) before
// the vault is unlocked the next time, that Unlock deletes it, so a draft discarded
// by a lock or a crash leaves nothing behind. Content that is stored already and
// belongs to a case is not affected.
func (v *Vault) PutDraftBlob(r io.Reader, maxSize int64) (BlobInfo, error) {
	return v.putBlob(r, maxSize, true)
}

func (v *Vault) putBlob(r io.Reader, maxSize int64, draft bool) (BlobInfo, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxBlobSize
	}
	k, release, err := v.useKeys()
	if err != nil {
		return BlobInfo{}, err
	}
	defer release()
	rec := k.records
	if _, err := v.CleanupBlobs(); err != nil {
		return BlobInfo{}, err
	}
	var idb [crypto.StreamSaltSize]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return BlobInfo{}, fmt.Errorf("blob ID: %w", err)
	}
	id := hex.EncodeToString(idb[:])
	stream, err := blobStream(k, id)
	if err != nil {
		return BlobInfo{}, err
	}
	blobUploads.Store(id, struct{}{})
	defer blobUploads.Delete(id)

	p := &blobPut{v: v, rec: rec, id: id, start: time.Now().UTC(), draft: draft}
	info, err := p.run(stream, r, maxSize)
	if err != nil {
		if p.written {
			if cerr := v.deletePending(id); cerr != nil {
				v.log.Warn("could not delete an interrupted attachment upload; the next upload retries", "err", cerr)
			}
		}
		return BlobInfo{}, err
	}
	return info, nil
}

// blobPut is one PutBlob in progress.
type blobPut struct {
	v       *Vault
	rec     *crypto.Sealer
	id      string
	start   time.Time
	batch   [][]byte // sealed chunks not yet written; buffers reused across transactions
	first   uint64   // index of batch[0]
	written bool     // a transaction with the pending record was committed
	draft   bool     // PutDraftBlob: mark a new blob as not referenced yet
}

func (p *blobPut) run(stream *crypto.Stream, r io.Reader, maxSize int64) (BlobInfo, error) {
	h := sha256.New()
	bufs := make([][]byte, 0, blobChunksPerTx)
	defer func() {
		for _, b := range bufs {
			clear(b[:cap(b)])
		}
	}()
	w := stream.NewWriter(func(i uint64, last bool, sealed []byte) error {
		n := len(p.batch)
		if n == len(bufs) {
			bufs = append(bufs, make([]byte, 0, stream.SealedChunkSize()))
		}
		bufs[n] = append(bufs[n][:0], sealed...)
		p.batch = append(p.batch, bufs[n])
		if len(p.batch) == blobChunksPerTx && !last {
			return p.flush()
		}
		return nil
	})
	lim := &limitWriter{max: maxSize}
	if _, err := io.Copy(io.MultiWriter(lim, h, w), r); err != nil {
		if errors.Is(err, ErrBlobTooLarge) {
			return BlobInfo{}, fmt.Errorf("%w: more than %d bytes", ErrBlobTooLarge, maxSize)
		}
		return BlobInfo{}, fmt.Errorf("put attachment: %w", err)
	}
	if err := w.Close(); err != nil {
		return BlobInfo{}, err
	}
	sha := hex.EncodeToString(h.Sum(nil))
	hdr := blobHeader{Format: blobFormat, ID: p.id, Size: lim.n, Chunks: int64(w.Chunks()), Created: p.start}
	return p.finish(sha, &hdr)
}

// limitWriter counts bytes and fails past max.
type limitWriter struct {
	n, max int64
}

func (l *limitWriter) Write(b []byte) (int, error) {
	l.n += int64(len(b))
	if l.n > l.max {
		return 0, ErrBlobTooLarge
	}
	return len(b), nil
}

// putBatch writes the batched chunks (and, the first time, the pending record).
func (p *blobPut) putBatch(b *bolt.Bucket) error {
	if !p.written {
		key := blobPendingKey(p.id)
		val, err := p.rec.Seal(bucketBlobs, key, []byte(p.start.Format(time.RFC3339Nano)))
		if err != nil {
			return err
		}
		if err := b.Put(key, val); err != nil {
			return err
		}
	}
	for j, c := range p.batch {
		if err := b.Put(blobChunkKey(p.id, p.first+uint64(j)), c); err != nil {
			return err
		}
	}
	return nil
}

func (p *blobPut) afterCommit() {
	p.written = true
	p.first += uint64(len(p.batch))
	p.batch = p.batch[:0]
}

// flush writes a full batch in its own transaction.
func (p *blobPut) flush() error {
	if _, err := p.v.unlockedKeys(); err != nil {
		return err // locked mid-way: stop
	}
	err := p.v.update(func(btx *bolt.Tx) error {
		b, err := btx.CreateBucketIfNotExists(bucketBlobs)
		if err != nil {
			return err
		}
		return p.putBatch(b)
	})
	if err != nil {
		return err
	}
	p.afterCommit()
	return nil
}

// finish writes the last batch and the header in one transaction, or, when the blob
// exists already, deletes what this upload wrote.
func (p *blobPut) finish(sha string, hdr *blobHeader) (BlobInfo, error) {
	if _, err := p.v.unlockedKeys(); err != nil {
		return BlobInfo{}, err
	}
	var info BlobInfo
	err := p.v.update(func(btx *bolt.Tx) error {
		b, err := btx.CreateBucketIfNotExists(bucketBlobs)
		if err != nil {
			return err
		}
		old, err := getBlobHeader(btx, p.rec, sha)
		if err != nil {
			return err
		}
		if old != nil {
			info = old.info(sha)
			// A draft of content a case refers to stays unmarked; content a case needs
			// (PutBlob: a download) is no draft any more.
			if !p.draft {
				if err := b.Delete(blobDraftKey(sha)); err != nil {
					return err
				}
			}
			if p.written {
				return deleteBlobData(b, p.id)
			}
			return nil
		}
		if p.draft {
			key := blobDraftKey(sha)
			mark, err := p.rec.Seal(bucketBlobs, key, nil)
			if err != nil {
				return err
			}
			if err := b.Put(key, mark); err != nil {
				return err
			}
		}
		if err := p.putBatch(b); err != nil {
			return err
		}
		key := blobHeaderKey(sha)
		hb, err := json.Marshal(hdr)
		if err != nil {
			return err
		}
		sealed, err := p.rec.Seal(bucketBlobs, key, hb)
		if err != nil {
			return err
		}
		if err := b.Put(key, sealed); err != nil {
			return err
		}
		info = hdr.info(sha)
		return b.Delete(blobPendingKey(p.id))
	})
	if err != nil {
		return BlobInfo{}, err
	}
	p.afterCommit()
	p.written = false // nothing pending any more
	return info, nil
}

// deleteBlobData deletes the chunks and the pending record of blob id.
func deleteBlobData(b *bolt.Bucket, id string) error {
	prefix := blobChunkPrefix(id)
	c := b.Cursor()
	var keys [][]byte
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return b.Delete(blobPendingKey(id))
}

// deletePending deletes an unfinished upload: its chunks and pending record, if the
// pending record is still there. (Cleanup decides from a read transaction; by the time
// this write transaction runs, the upload may have finished, and then its chunks
// belong to a blob.)
func (v *Vault) deletePending(id string) error {
	return v.update(func(btx *bolt.Tx) error {
		b := btx.Bucket(bucketBlobs)
		if b == nil || b.Get(blobPendingKey(id)) == nil {
			return nil
		}
		return deleteBlobData(b, id)
	})
}

// CleanupBlobs deletes the data of attachment uploads that were interrupted (the
// process died during PutBlob) and returns how many it removed. Uploads running in
// this process are left alone. PutBlob calls it; Open or Unlock may call it too. It
// needs no keys: it only deletes.
func (v *Vault) CleanupBlobs() (int, error) {
	var ids []string
	err := v.view(func(btx *bolt.Tx) error {
		b := btx.Bucket(bucketBlobs)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, _ := c.Seek(blobPrefixPending); k != nil && bytes.HasPrefix(k, blobPrefixPending); k, _ = c.Next() {
			id := string(k[len(blobPrefixPending):])
			if _, running := blobUploads.Load(id); !running {
				ids = append(ids, id)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for n, id := range ids {
		if _, running := blobUploads.Load(id); running {
			continue
		}
		if err := v.deletePending(id); err != nil {
			return n, err
		}
		v.log.Info("removed an interrupted attachment upload", "blob_id", id)
	}
	return len(ids), nil
}

// claimBlobs takes the draft mark off the blobs that atts refer to: a case lists them
// now (called by every case write, in its transaction).
func (tx *Tx) claimBlobs(atts []cases.AttachmentRef) error {
	if len(atts) == 0 {
		return nil
	}
	return guard(tx.path(), "put", func() error {
		b := tx.btx.Bucket(bucketBlobs)
		if b == nil {
			return nil
		}
		for _, a := range atts {
			if key := blobDraftKey(a.SHA256); b.Get(key) != nil {
				if err := b.Delete(key); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// deleteDraftBlobs deletes the blobs stored with PutDraftBlob that no case came to
// refer to (Unlock calls it before anything else can use the vault) and returns how
// many. A mark that does not open is reported and its blob kept.
func (v *Vault) deleteDraftBlobs(k *keys) (int, error) {
	var shas []string
	err := v.view(func(btx *bolt.Tx) error {
		b := btx.Bucket(bucketBlobs)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for key, val := c.Seek(blobPrefixDraft); key != nil && bytes.HasPrefix(key, blobPrefixDraft); key, val = c.Next() {
			if _, err := k.records.Open(bucketBlobs, key, val); err != nil {
				return &TamperError{Bucket: string(bucketBlobs), Key: string(key)}
			}
			shas = append(shas, string(key[len(blobPrefixDraft):]))
		}
		return nil
	})
	if err != nil || len(shas) == 0 {
		return 0, err
	}
	n := 0
	err = v.update(func(btx *bolt.Tx) error {
		b := btx.Bucket(bucketBlobs)
		for _, sha := range shas {
			h, err := getBlobHeader(btx, k.records, sha)
			if err != nil {
				return err
			}
			if h != nil {
				if err := deleteBlobData(b, h.ID); err != nil {
					return err
				}
				if err := b.Delete(blobHeaderKey(sha)); err != nil {
					return err
				}
				n++
			}
			if err := b.Delete(blobDraftKey(sha)); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

// HasBlob reports whether a blob with this SHA-256 (lowercase hex) is stored. A
// header that does not open is a *TamperError.
func (v *Vault) HasBlob(sha string) (bool, error) {
	if !validSHA(sha) {
		return false, badSHA(sha)
	}
	k, release, err := v.useKeys()
	if err != nil {
		return false, err
	}
	defer release()
	rec := k.records
	var ok bool
	err = v.view(func(btx *bolt.Tx) error {
		h, err := getBlobHeader(btx, rec, sha)
		ok = h != nil
		return err
	})
	return ok, err
}

// DeleteBlob deletes a blob, header and chunks, in one transaction. It returns an
// error matching ErrNotFound when there is no such blob.
func (v *Vault) DeleteBlob(sha string) error {
	if !validSHA(sha) {
		return badSHA(sha)
	}
	k, release, err := v.useKeys()
	if err != nil {
		return err
	}
	defer release()
	rec := k.records
	return v.update(func(btx *bolt.Tx) error {
		h, err := getBlobHeader(btx, rec, sha)
		if err != nil {
			return err
		}
		if h == nil {
			return fmt.Errorf("blob %s: %w", sha, ErrNotFound)
		}
		b := btx.Bucket(bucketBlobs)
		if err := deleteBlobData(b, h.ID); err != nil {
			return err
		}
		return b.Delete(blobHeaderKey(sha))
	})
}

// Blobs lists the stored blobs in order of their SHA-256. A header that does not open
// stops the listing with a *TamperError.
func (v *Vault) Blobs() ([]BlobInfo, error) {
	k, release, err := v.useKeys()
	if err != nil {
		return nil, err
	}
	defer release()
	rec := k.records
	var out []BlobInfo
	err = v.view(func(btx *bolt.Tx) error {
		b := btx.Bucket(bucketBlobs)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for key, val := c.Seek(blobPrefixHeader); key != nil && bytes.HasPrefix(key, blobPrefixHeader); key, val = c.Next() {
			sha := string(key[len(blobPrefixHeader):])
			if !validSHA(sha) || val == nil {
				return &TamperError{Bucket: string(bucketBlobs), Key: string(key)}
			}
			h, err := openBlobHeader(rec, key, val)
			if err != nil {
				return err
			}
			out = append(out, h.info(sha))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// OpenBlob opens the blob with this SHA-256 (lowercase hex) for reading. It returns an
// error matching ErrNotFound when there is none. The reader fetches one chunk per
// short read transaction, authenticates each chunk before returning its bytes and
// checks the SHA-256 at the end; it fails with ErrLocked once the vault is locked.
// Close it when done.
func (v *Vault) OpenBlob(sha string) (io.ReadCloser, BlobInfo, error) {
	if !validSHA(sha) {
		return nil, BlobInfo{}, badSHA(sha)
	}
	k, release, err := v.useKeys()
	if err != nil {
		return nil, BlobInfo{}, err
	}
	defer release()
	rec := k.records
	var h *blobHeader
	err = v.view(func(btx *bolt.Tx) error {
		h, err = getBlobHeader(btx, rec, sha)
		return err
	})
	if err != nil {
		return nil, BlobInfo{}, err
	}
	if h == nil {
		return nil, BlobInfo{}, fmt.Errorf("blob %s: %w", sha, ErrNotFound)
	}
	stream, err := blobStream(k, h.ID)
	if err != nil {
		return nil, BlobInfo{}, err
	}
	return &blobReader{v: v, rec: rec, sha: sha, h: h, stream: stream, hash: sha256.New()}, h.info(sha), nil
}

// blobReader streams a blob; see OpenBlob.
type blobReader struct {
	v      *Vault
	rec    *crypto.Sealer
	sha    string
	h      *blobHeader
	stream *crypto.Stream
	hash   hash.Hash
	buf    []byte // one chunk of plaintext
	pt     []byte // unread part of buf
	i      int64  // next chunk
	n      int64  // bytes opened so far
	err    error  // sticky
	eof    bool
}

func (r *blobReader) tamper(i int64, key, reason string) error {
	return &BlobChunkError{SHA256: r.sha, Chunk: i, Reason: reason, Err: &TamperError{Bucket: string(bucketBlobs), Key: key}}
}

// Read implements io.Reader.
func (r *blobReader) Read(p []byte) (int, error) {
	for len(r.pt) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.eof {
			return 0, io.EOF
		}
		if r.i == r.h.Chunks {
			if r.n != r.h.Size {
				r.err = r.tamper(-1, string(blobHeaderKey(r.sha)), fmt.Sprintf("%d bytes read, header says %d", r.n, r.h.Size))
			} else if hex.EncodeToString(r.hash.Sum(nil)) != r.sha {
				r.err = r.tamper(-1, string(blobHeaderKey(r.sha)), "content does not match its SHA-256")
			} else {
				r.eof = true
			}
			continue
		}
		if err := r.fill(); err != nil {
			r.err = err
			clear(r.buf[:cap(r.buf)])
			r.pt = nil
		}
	}
	n := copy(p, r.pt)
	r.pt = r.pt[n:]
	return n, nil
}

// fill reads and opens chunk r.i in a read transaction of its own.
func (r *blobReader) fill() error {
	if _, err := r.v.unlockedKeys(); err != nil {
		return err
	}
	if r.buf == nil {
		r.buf = make([]byte, 0, r.stream.ChunkSize())
	}
	i := r.i
	last := i == r.h.Chunks-1
	key := blobChunkKey(r.h.ID, uint64(i))
	var pt []byte
	err := r.v.view(func(btx *bolt.Tx) error {
		b := btx.Bucket(bucketBlobs)
		var sealed []byte
		if b != nil {
			sealed = b.Get(key)
		}
		if sealed == nil {
			// Deleted while we read it, or a chunk missing?
			if h, err := getBlobHeader(btx, r.rec, r.sha); err != nil || h == nil || h.ID != r.h.ID {
				return fmt.Errorf("blob %s: deleted while being read: %w", r.sha, ErrNotFound)
			}
			return r.tamper(i, blobChunkKeyString(r.h.ID, uint64(i)), "chunk missing (truncated)")
		}
		var err error
		// Opened straight from bbolt's memory map into r.buf.
		if pt, err = r.stream.OpenChunk(r.buf[:0], uint64(i), last, sealed); err != nil {
			return r.tamper(i, blobChunkKeyString(r.h.ID, uint64(i)), "chunk does not open (modified, moved or out of order)")
		}
		if last {
			// Nothing may follow the last chunk.
			prefix := blobChunkPrefix(r.h.ID)
			k, _ := b.Cursor().Seek(blobChunkKey(r.h.ID, uint64(i)+1))
			if k != nil && bytes.HasPrefix(k, prefix) {
				if idx, ok := u64(k[len(prefix):]); ok {
					return r.tamper(int64(idx), blobChunkKeyString(r.h.ID, idx), "chunk after the last chunk")
				}
				return r.tamper(i, string(k), "unexpected key after the last chunk")
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.hash.Write(pt)
	r.n += int64(len(pt))
	r.pt = pt
	r.i++
	return nil
}

// Close releases the reader; further reads fail.
func (r *blobReader) Close() error {
	clear(r.buf[:cap(r.buf)])
	r.buf, r.pt = nil, nil
	if r.err == nil {
		r.err = errors.New("storage: read from a closed attachment")
	}
	return nil
}
