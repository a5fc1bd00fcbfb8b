package server

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// The blob store
//
// An attachment lives under its SHA-256 (64 lowercase hex digits): a complete blob in
// blobs/SHA, an upload in progress in blobs/partial/SHA. An upload appends to the
// partial file and fsyncs it before answering, so what the portal reports as received
// is on disk; a dropped connection keeps the bytes that arrived, and the device
// continues from there. When the last byte arrives the whole file is hashed: a
// mismatch removes the partial file, a match renames it to blobs/SHA (and fsyncs the
// directories). Writes to one blob are serialised; different blobs go in parallel.

type blobStore struct {
	dir, partial string
	locks        keyedMutex
}

// partialTTL is how long an upload in progress is kept without a new byte.
const partialTTL = 30 * 24 * time.Hour

func newBlobStore(dir string) (*blobStore, error) {
	b := &blobStore{dir: dir, partial: filepath.Join(dir, dirPartial)}
	if err := os.MkdirAll(b.partial, 0o700); err != nil {
		return nil, fmt.Errorf("blob directory: %w", err)
	}
	return b, nil
}

// prune removes uploads that got no byte for partialTTL (a device that comes back
// later starts them again at 0). It returns how many it removed.
func (b *blobStore) prune(now time.Time) (int, error) {
	entries, err := os.ReadDir(b.partial)
	if err != nil {
		return 0, fmt.Errorf("blob uploads: %w", err)
	}
	n := 0
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() || now.Sub(fi.ModTime()) < partialTTL {
			continue
		}
		unlock := b.locks.Lock(e.Name())
		if os.Remove(filepath.Join(b.partial, e.Name())) == nil {
			n++
		}
		unlock()
	}
	return n, nil
}

// ValidSHA256 reports whether s is a blob address: 64 lowercase hex digits.
func ValidSHA256(s string) bool {
	return len(s) == 64 && strings.Trim(s, "0123456789abcdef") == ""
}

// BlobState is what the portal holds of a blob.
type BlobState struct {
	Received int64 // bytes held (the size, when complete)
	Complete bool  // the whole blob is there and matched its SHA-256
	Exists   bool  // anything is there (complete or partial)
}

// Blob returns what the portal holds of the blob sha (64 lowercase hex digits, else
// [ErrInvalidInput]).
func (s *Store) Blob(sha string) (BlobState, error) {
	if !ValidSHA256(sha) {
		return BlobState{}, fmt.Errorf("%w: blob address %q is not 64 lowercase hex digits", ErrInvalidInput, sha)
	}
	return s.blobs.state(sha)
}

// state returns what the portal holds of sha (a valid address).
func (b *blobStore) state(sha string) (BlobState, error) {
	if fi, err := os.Stat(filepath.Join(b.dir, sha)); err == nil {
		return BlobState{Received: fi.Size(), Complete: true, Exists: true}, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return BlobState{}, err
	}
	fi, err := os.Stat(filepath.Join(b.partial, sha))
	if errors.Is(err, os.ErrNotExist) {
		return BlobState{}, nil
	}
	if err != nil {
		return BlobState{}, err
	}
	return BlobState{Received: fi.Size(), Exists: true}, nil
}

// complete reports whether the blob sha is complete (false for a malformed address).
func (b *blobStore) complete(sha string) bool {
	if !ValidSHA256(sha) {
		return false
	}
	_, err := os.Stat(filepath.Join(b.dir, sha))
	return err == nil
}

// put appends the bytes [start, start+n) of the blob sha of size total, read from r.
// start must equal the bytes received so far (else an *OffsetError); a complete blob
// ignores the upload and reports itself. n = 0 with start = received only finishes a
// blob whose bytes are all there. When the blob is complete its SHA-256 is checked:
// a mismatch removes the upload and returns [ErrHashMismatch]. If r ends early, the
// bytes that arrived are kept (and fsynced) and the error says how many.
func (b *blobStore) put(sha string, start, n, total int64, r io.Reader) (BlobState, error) {
	unlock := b.locks.Lock(sha)
	defer unlock()
	st, err := b.state(sha)
	if err != nil || st.Complete {
		return st, err
	}
	if start != st.Received {
		return st, &OffsetError{Received: st.Received}
	}
	path := filepath.Join(b.partial, sha)
	written, err := appendSync(path, r, n) // n = 0 creates an empty upload
	st = BlobState{Received: start + written, Exists: true}
	if err != nil {
		return st, err
	}
	if st.Received < total {
		return st, nil
	}
	if err := b.finish(sha, path); err != nil {
		return BlobState{}, err
	}
	return BlobState{Received: total, Complete: true, Exists: true}, nil
}

// appendSync appends up to n bytes of r to path and fsyncs what it wrote. It returns
// the bytes written and an error when fewer than n arrived.
func appendSync(path string, r io.Reader, n int64) (int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return 0, fmt.Errorf("open upload: %w", err)
	}
	written, copyErr := io.Copy(f, io.LimitReader(r, n))
	syncErr := f.Sync()
	closeErr := f.Close()
	if err := errors.Join(syncErr, closeErr); err != nil {
		return written, fmt.Errorf("store upload: %w", err)
	}
	if written < n {
		if copyErr == nil {
			copyErr = io.ErrUnexpectedEOF
		}
		return written, fmt.Errorf("upload ended after %d of %d bytes: %w", written, n, copyErr)
	}
	return written, nil
}

// finish checks the SHA-256 of the complete upload and moves it into place.
func (b *blobStore) finish(sha, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("check upload: %w", err)
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		return fmt.Errorf("check upload: %w", err)
	}
	if hex.EncodeToString(h.Sum(nil)) != sha {
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("%w; removing the upload failed: %v", ErrHashMismatch, err)
		}
		return ErrHashMismatch
	}
	if err := os.Rename(path, filepath.Join(b.dir, sha)); err != nil {
		return fmt.Errorf("store blob: %w", err)
	}
	return errors.Join(syncDir(b.dir), syncDir(b.partial))
}

// open opens the complete blob sha for reading; [ErrNotFound] when it is not complete.
func (b *blobStore) open(sha string) (*os.File, int64, error) {
	f, err := os.Open(filepath.Join(b.dir, sha))
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, fmt.Errorf("blob %s: %w", sha, ErrNotFound)
	}
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// keyedMutex is a mutex per key; unused keys take no memory.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	sync.Mutex
	users int
}

// Lock locks key and returns the function that unlocks it.
func (k *keyedMutex) Lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.users++
	k.mu.Unlock()
	e.Lock()
	return func() {
		e.Unlock()
		k.mu.Lock()
		if e.users--; e.users == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}
