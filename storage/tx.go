package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// Tx is a transaction on the vault's data buckets. Values are sealed on Put and opened
// on Get and ForEach; keys are stored in clear (they must not carry case content).
// The meta and keyslots buckets are not reachable through a Tx.
//
// A Tx is valid only inside the function given to [Vault.Update] or [Vault.View].
type Tx struct {
	v      *Vault
	btx    *bolt.Tx
	k      *keys
	counts map[string]int64 // entry-count deltas per bucket; nil in a read-only Tx
}

// Each data bucket's number of entries is kept, sealed, in the meta bucket under
// "count/<bucket>". A full read (ForEach, ReadAll) compares it, so that entries that
// vanished from a damaged or edited file are reported rather than silently missing.
const prefixCount = "count/"

var errReadOnly = errors.New("storage: Put or Delete in a read-only transaction")

func checkBucket(bucket []byte) error {
	if len(bucket) == 0 || bytes.Equal(bucket, bucketMeta) || bytes.Equal(bucket, bucketKeyslots) {
		return fmt.Errorf("storage: bucket %q is not a data bucket", bucket)
	}
	return nil
}

// Update runs fn in a read-write transaction; fn's error rolls it back. The vault must
// be unlocked.
func (v *Vault) Update(fn func(*Tx) error) error {
	k, release, err := v.useKeys()
	if err != nil {
		return err
	}
	defer release()
	return v.update(func(btx *bolt.Tx) error {
		tx := &Tx{v: v, btx: btx, k: k, counts: map[string]int64{}}
		if err := callUser(func() error { return fn(tx) }); err != nil {
			return err
		}
		return tx.flushCounts()
	})
}

// View runs fn in a read-only transaction. The vault must be unlocked.
func (v *Vault) View(fn func(*Tx) error) error {
	k, release, err := v.useKeys()
	if err != nil {
		return err
	}
	defer release()
	return v.view(func(btx *bolt.Tx) error {
		tx := &Tx{v: v, btx: btx, k: k}
		return callUser(func() error { return fn(tx) })
	})
}

func (tx *Tx) path() string {
	if tx.v == nil {
		return ""
	}
	return tx.v.path
}

// Put seals value and stores it under key in bucket, creating the bucket if needed.
func (tx *Tx) Put(bucket, key, value []byte) error {
	if tx.counts == nil {
		return errReadOnly
	}
	if err := checkBucket(bucket); err != nil {
		return err
	}
	if len(key) == 0 {
		return errors.New("storage: empty key")
	}
	sealed, err := tx.k.records.Seal(bucket, key, value)
	if err != nil {
		return err
	}
	return guard(tx.path(), "put", func() error {
		b, err := tx.btx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		if b.Get(key) == nil {
			tx.counts[string(bucket)]++
		}
		return b.Put(key, sealed)
	})
}

// Get returns the opened value stored under key in bucket, or nil, nil if there is
// none. A value that does not open is reported as a *TamperError.
func (tx *Tx) Get(bucket, key []byte) ([]byte, error) {
	if err := checkBucket(bucket); err != nil {
		return nil, err
	}
	var sealed []byte
	err := guard(tx.path(), "get", func() error {
		if b := tx.btx.Bucket(bucket); b != nil {
			sealed = bytes.Clone(b.Get(key))
		}
		return nil
	})
	if err != nil || sealed == nil {
		return nil, err
	}
	pt, err := tx.k.records.Open(bucket, key, sealed)
	if err != nil {
		return nil, &TamperError{Bucket: string(bucket), Key: string(key)}
	}
	return pt, nil
}

// Delete removes key from bucket; a missing key or bucket is not an error.
func (tx *Tx) Delete(bucket, key []byte) error {
	if tx.counts == nil {
		return errReadOnly
	}
	if err := checkBucket(bucket); err != nil {
		return err
	}
	return guard(tx.path(), "delete", func() error {
		b := tx.btx.Bucket(bucket)
		if b == nil || b.Get(key) == nil {
			return nil
		}
		tx.counts[string(bucket)]--
		return b.Delete(key)
	})
}

// ForEach calls fn for each entry of bucket in key order with the opened value. It
// stops at fn's first error, at a value that does not open (*TamperError) and reports
// a bucket whose number of entries differs from the sealed count.
func (tx *Tx) ForEach(bucket []byte, fn func(k, v []byte) error) error {
	if err := checkBucket(bucket); err != nil {
		return err
	}
	want, err := tx.count(bucket)
	if err != nil {
		return err
	}
	var c *bolt.Cursor
	var key, val []byte
	step := func(first bool) error {
		return guard(tx.path(), "read", func() error {
			if c == nil {
				b := tx.btx.Bucket(bucket)
				if b == nil {
					return nil
				}
				c = b.Cursor()
			}
			if first {
				key, val = c.First()
			} else {
				key, val = c.Next()
			}
			return nil
		})
	}
	var n int64
	for err := step(true); ; err = step(false) {
		if err != nil {
			return err
		}
		if key == nil {
			break
		}
		n++
		pt, err := tx.k.records.Open(bucket, key, val)
		if err != nil {
			return &TamperError{Bucket: string(bucket), Key: string(key)}
		}
		if err := fn(key, pt); err != nil {
			return err
		}
	}
	return tx.checkCount(bucket, n, want)
}

func (tx *Tx) checkCount(bucket []byte, got, want int64) error {
	if got != want {
		return &CorruptError{Path: tx.path(), Reason: fmt.Sprintf("bucket %q holds %d entries, its sealed count says %d (entries removed or added)", bucket, got, want), Err: ErrTampered}
	}
	return nil
}

// count returns the sealed entry count of bucket (0 if never written).
func (tx *Tx) count(bucket []byte) (int64, error) {
	key := []byte(prefixCount + string(bucket))
	var sealed []byte
	if err := guard(tx.path(), "read", func() error {
		sealed = bytes.Clone(tx.btx.Bucket(bucketMeta).Get(key))
		return nil
	}); err != nil {
		return 0, err
	}
	if sealed == nil {
		return 0, nil
	}
	pt, err := tx.k.records.Open(bucketMeta, key, sealed)
	n, ok := u64(pt)
	if err != nil || !ok {
		return 0, &TamperError{Bucket: string(bucketMeta), Key: string(key)}
	}
	return int64(n), nil
}

// flushCounts adds the transaction's count deltas to the sealed counts.
func (tx *Tx) flushCounts() error {
	for name, delta := range tx.counts {
		bucket := []byte(name)
		n, err := tx.count(bucket)
		if err != nil {
			return err
		}
		n += delta
		if n < 0 {
			return tx.checkCount(bucket, n, 0)
		}
		key := []byte(prefixCount + name)
		sealed, err := tx.k.records.Seal(bucketMeta, key, binary.BigEndian.AppendUint64(nil, uint64(n)))
		if err != nil {
			return err
		}
		if err := tx.btx.Bucket(bucketMeta).Put(key, sealed); err != nil {
			return err
		}
		if clearCounted[name] {
			ck := []byte(prefixClearCount + name)
			if err := tx.btx.Bucket(bucketMeta).Put(ck, binary.BigEndian.AppendUint64(nil, uint64(n))); err != nil {
				return err
			}
		}
	}
	return nil
}

// Buckets whose entry count is also kept in clear (meta "clear-count/<bucket>"), so
// that `status` can report pending changes and conflicts without a PIN. The numbers
// are metadata (docs/SECURITY.md) and unauthenticated: a hint for the MDM, not a
// fact the vault relies on.
var clearCounted = map[string]bool{"outbox": true, "conflicts": true, "rejections": true}

const prefixClearCount = "clear-count/"

// clearCount reads a clear-text count (0 when absent).
func clearCount(btx *bolt.Tx, bucket string) int {
	b := btx.Bucket(bucketMeta).Get([]byte(prefixClearCount + bucket))
	if len(b) != 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(b))
}

// ReadAll reads all of bucket and calls fn for each entry in key order. The sealed
// values are copied out inside the read transaction in batches and opened by
// runtime.GOMAXPROCS workers in parallel; fn runs on the calling goroutine. k and v
// belong to fn. A value that does not open stops the read with a *TamperError; entries
// delivered before it were authentic.
func (v *Vault) ReadAll(bucket []byte, fn func(k, v []byte) error) error {
	return v.readAll(bucket, func(_, pt []byte) (any, error) { return pt, nil },
		func(k []byte, val any) error { return fn(k, val.([]byte)) })
}

type rawEntry struct {
	k, v []byte
	out  any
}

type readBatch struct {
	entries []rawEntry
	err     error
	done    chan struct{}
}

const (
	readBatchEntries = 256
	readBatchBytes   = 1 << 20
)

// readAll is ReadAll with a decode step that also runs in the workers.
func (v *Vault) readAll(bucket []byte, decode func(k, pt []byte) (any, error), deliver func(k []byte, val any) error) error {
	k, release, err := v.useKeys()
	if err != nil {
		return err
	}
	defer release()
	if err := checkBucket(bucket); err != nil {
		return err
	}
	return v.view(func(btx *bolt.Tx) error {
		tx := &Tx{v: v, btx: btx, k: k}
		want, err := tx.count(bucket)
		if err != nil {
			return err
		}
		b := btx.Bucket(bucket)
		if b == nil {
			return tx.checkCount(bucket, 0, want)
		}
		workers := runtime.GOMAXPROCS(0)
		jobs := make(chan *readBatch, workers)
		order := make(chan *readBatch, 2*workers)
		stop := make(chan struct{})
		var stopOnce sync.Once
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for bt := range jobs {
					for i := range bt.entries {
						e := &bt.entries[i]
						pt, err := k.records.Open(bucket, e.k, e.v)
						if err != nil {
							bt.err = &TamperError{Bucket: string(bucket), Key: string(e.k)}
							break
						}
						e.v = nil
						if e.out, err = decode(e.k, pt); err != nil {
							bt.err = err
							break
						}
					}
					close(bt.done)
				}
			}()
		}
		var n int64
		var prodErr error
		prodDone := make(chan struct{})
		go func() {
			defer close(prodDone)
			defer close(order)
			defer close(jobs)
			prodErr = guard(v.path, "read", func() error {
				bt := &readBatch{done: make(chan struct{})}
				size := 0
				flush := func() bool {
					select {
					case order <- bt:
					case <-stop:
						return false
					}
					jobs <- bt
					bt, size = &readBatch{done: make(chan struct{})}, 0
					return true
				}
				c := b.Cursor()
				for key, val := c.First(); key != nil; key, val = c.Next() {
					select {
					case <-stop:
						return nil
					default:
					}
					if val == nil {
						return &CorruptError{Path: v.path, Reason: fmt.Sprintf("bucket %q: nested bucket %q", bucket, key)}
					}
					n++
					bt.entries = append(bt.entries, rawEntry{k: bytes.Clone(key), v: bytes.Clone(val)})
					size += len(val)
					if len(bt.entries) >= readBatchEntries || size >= readBatchBytes {
						if !flush() {
							return nil
						}
					}
				}
				if len(bt.entries) > 0 {
					flush()
				}
				return nil
			})
		}()
		var ferr error
		fail := func(err error) {
			ferr = err
			stopOnce.Do(func() { close(stop) })
		}
		for bt := range order {
			<-bt.done
			if ferr != nil {
				continue
			}
			if bt.err != nil {
				fail(bt.err)
				continue
			}
			for i := range bt.entries {
				e := &bt.entries[i]
				if err := callUser(func() error { return deliver(e.k, e.out) }); err != nil {
					fail(err)
					break
				}
			}
		}
		<-prodDone
		wg.Wait()
		switch {
		case prodErr != nil:
			return prodErr
		case ferr != nil:
			return ferr
		}
		return tx.checkCount(bucket, n, want)
	})
}
