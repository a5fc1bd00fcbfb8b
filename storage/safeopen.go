package storage

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// defaultLockTimeout is how long Open waits for another process to release the file.
const defaultLockTimeout = 2 * time.Second

// guard runs fn and turns a panic (bbolt on a damaged page, etcd-io/bbolt#446) or a
// memory fault on bbolt's mmap into a *CorruptError. Faults become panics only for
// this goroutine and only while fn runs.
func guard(path, op string, fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	defer func() {
		if r := recover(); r != nil {
			if up, ok := r.(userPanic); ok {
				panic(up.v) // a bug in caller code, not damage: let it through
			}
			err = &CorruptError{Path: path, Reason: fmt.Sprintf("%s: bbolt failed on a damaged page: %v", op, r)}
		}
	}()
	return fn()
}

// userPanic marks a panic raised by a caller's callback so that guard re-raises it.
type userPanic struct{ v any }

// callUser runs a caller's callback; a panic in it is re-raised by guard unchanged.
func callUser(fn func() error) error {
	defer func() {
		if r := recover(); r != nil {
			panic(userPanic{r})
		}
	}()
	return fn()
}

// openBolt opens the bbolt file at path without letting a damaged file crash the
// process:
//
//  1. bbolt.Open read-only, which takes a shared file lock (another instance holding
//     the exclusive lock makes this time out: ErrAlreadyOpen) and reads only the meta
//     pages;
//  2. walk the B+tree and the freelist with ReadAt (fsck.go): bounds, page types, no
//     page reached twice, no cycles, depth limit;
//  3. close and bbolt.Open read-write, which loads the (now checked) freelist.
//
// With background set, step 2 checks only the meta pages, the root tree, the freelist
// and the meta and keyslots buckets — what opening and listing the users need — and
// the returned walker has the rest to do (startCheck runs it in a goroutine). The caller
// must keep every other read and every write back until it is done (Vault.checked):
// the file is then exactly the one the first stage saw. A 1.5 GB vault (100,000 cases) takes 0.4 s to
// walk with a warm disk cache and 2–3 s with a cold one; this way the unlock screen
// does not wait for it.
func openBolt(path string, timeout time.Duration, background bool) (*bolt.DB, *walker, error) {
	if timeout <= 0 {
		timeout = defaultLockTimeout
	}
	ro, err := boltOpen(path, &bolt.Options{ReadOnly: true, Timeout: timeout})
	if err != nil {
		return nil, nil, err
	}
	var deferred func(string) bool
	if background {
		deferred = func(name string) bool { return name != string(bucketMeta) && name != string(bucketKeyslots) }
	}
	var w *walker
	werr := guard(path, "structure check", func() error {
		var err error
		if w, err = startWalk(path, deferred); err != nil {
			return err
		}
		if !background {
			return w.finish()
		}
		return nil
	})
	if err := ro.Close(); err != nil && werr == nil {
		werr = fmt.Errorf("close %s: %w", path, err)
	}
	if werr != nil {
		if w != nil {
			w.close()
		}
		return nil, nil, werr
	}
	db, err := boltOpen(path, &bolt.Options{Timeout: timeout})
	if err != nil {
		w.close()
		return nil, nil, err
	}
	if !background {
		w.close()
		return db, nil, nil
	}
	// Between the read-only close and the read-write open another process could have
	// written the file: then the first stage checked another state. Rare; say so.
	var txid uint64
	err = guard(path, "read", func() error {
		return db.View(func(tx *bolt.Tx) error { txid = uint64(tx.ID()); return nil })
	})
	if err != nil || txid != w.meta.txid {
		w.close()
		_ = guard(path, "close", db.Close)
		if err == nil {
			err = fmt.Errorf("%w: %s was changed by another process while it was being opened", ErrAlreadyOpen, path)
		}
		return nil, nil, err
	}
	return db, w, nil
}

// structCheck is the second stage of the structure check (openBolt), running in the
// background.
type structCheck struct {
	w       *walker
	done    chan struct{}
	err     error // set before done is closed
	stopped atomic.Bool
}

// startCheck runs the walker's second stage in a goroutine, then (when it passed and
// then is not nil) then.
func startCheck(w *walker, then func() error) *structCheck {
	c := &structCheck{w: w, done: make(chan struct{})}
	w.stop = c.stopped.Load
	go func() {
		defer close(c.done)
		c.err = guard(w.path, "structure check", w.finish)
		w.close()
		if c.err == nil && then != nil && !c.stopped.Load() {
			c.err = then()
		}
	}()
	return c
}

// wait waits for the check and returns its result.
func (c *structCheck) wait() error {
	<-c.done
	return c.err
}

// stop ends the check early (the vault is closing) and waits for it.
func (c *structCheck) stop() {
	c.stopped.Store(true)
	<-c.done
}

// boltOpen is bbolt.Open behind guard, with bbolt's errors mapped to ours.
func boltOpen(path string, opts *bolt.Options) (*bolt.DB, error) {
	var f *os.File
	opts.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		ff, err := os.OpenFile(name, flag, perm)
		f = ff
		return ff, err
	}
	var db *bolt.DB
	err := guard(path, "open", func() error {
		var err error
		db, err = bolt.Open(path, 0o600, opts)
		return err
	})
	var ce *CorruptError
	switch {
	case err == nil:
		return db, nil
	case errors.As(err, &ce):
		if f != nil {
			_ = f.Close() // bbolt panicked half-way: release the file and its lock
		}
		return nil, err
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s is locked by another FieldOffice process (waited %v)", ErrAlreadyOpen, path, opts.Timeout)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return nil, &CorruptError{Path: path, Reason: "bbolt: " + err.Error(), Err: err}
	}
	return nil, fmt.Errorf("open %s: %w", path, err)
}

// boltCheck runs bbolt's own consistency check (tx.Check). bbolt runs it in a goroutine
// of its own, where a panic cannot be recovered; walkFile has checked the structure
// first so that this does not happen on the damage we know of.
func boltCheck(path string, db *bolt.DB) error {
	var errs []error
	err := guard(path, "check", func() error {
		return db.View(func(tx *bolt.Tx) error {
			for e := range tx.Check() {
				if len(errs) < 10 {
					errs = append(errs, e)
				}
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		return &CorruptError{Path: path, Reason: "consistency check: " + errors.Join(errs...).Error(), Err: errors.Join(errs...)}
	}
	return nil
}
