package storage

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// parallelMin is the batch size from which PutBatch seals on several cores; below it
// the goroutine hand-off costs more than it saves.
const parallelMin = 256

// PutBatch stores values[i] under keys[i] in bucket, like calling Put for each, but
// seals the values on all cores first (AES-GCM is the vault's main cost over plain
// bbolt) and then writes them in key order within this transaction. keys and values
// must have the same length; keys must not be empty.
func (tx *Tx) PutBatch(bucket []byte, keys, values [][]byte) error {
	if tx.counts == nil {
		return errReadOnly
	}
	if err := checkBucket(bucket); err != nil {
		return err
	}
	if len(keys) != len(values) {
		return fmt.Errorf("storage: PutBatch: %d keys but %d values", len(keys), len(values))
	}
	for _, k := range keys {
		if len(k) == 0 {
			return errors.New("storage: empty key")
		}
	}
	sealed, err := tx.sealAll(bucket, keys, values)
	if err != nil {
		return err
	}
	return guard(tx.path(), "put", func() error {
		b, err := tx.btx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		for i, k := range keys {
			if b.Get(k) == nil {
				tx.counts[string(bucket)]++
			}
			if err := b.Put(k, sealed[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// sealAll seals values[i] under (bucket, keys[i]), spread over GOMAXPROCS workers.
func (tx *Tx) sealAll(bucket []byte, keys, values [][]byte) ([][]byte, error) {
	sealed := make([][]byte, len(values))
	workers := runtime.GOMAXPROCS(0)
	if len(values) < parallelMin || workers == 1 {
		for i := range values {
			s, err := tx.k.records.Seal(bucket, keys[i], values[i])
			if err != nil {
				return nil, err
			}
			sealed[i] = s
		}
		return sealed, nil
	}
	var wg sync.WaitGroup
	errs := make([]error, workers)
	chunk := (len(values) + workers - 1) / workers
	for w := range workers {
		lo, hi := w*chunk, min((w+1)*chunk, len(values))
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				s, err := tx.k.records.Seal(bucket, keys[i], values[i])
				if err != nil {
					errs[w] = err
					return
				}
				sealed[i] = s
			}
		})
	}
	wg.Wait()
	return sealed, errors.Join(errs...)
}
