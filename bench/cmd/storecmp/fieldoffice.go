package main

import (
	"fmt"
	"path/filepath"

	"fieldoffice/platform"
	"fieldoffice/storage"
)

var caseBucket = []byte("storecmp")

// foStore is FieldOffice's encrypted store: a vault with a software key slot (no TPM;
// the TPM only wraps the data key at unlock and is not what is measured). Every commit
// is fsynced (the vault never sets bbolt's NoSync).
type foStore struct {
	dir string
	v   *storage.Vault
}

func openFieldOffice(dir string) (*foStore, error) {
	v, err := storage.Create(storage.Config{Dir: dir, Spec: platform.Spec{Kind: platform.KindNone}},
		storage.CreateOptions{User: "bench", PIN: []byte("123456"), AllowSoftwareKey: true})
	if err != nil {
		return nil, err
	}
	return &foStore{dir: dir, v: v}, nil
}

func (s *foStore) insertBatch(keys, vals [][]byte) error {
	return s.v.Update(func(tx *storage.Tx) error { return tx.PutBatch(caseBucket, keys, vals) })
}

func (s *foStore) readAll(fn func(k, v []byte)) error {
	return s.v.ReadAll(caseBucket, func(k, v []byte) error { fn(k, v); return nil })
}

func (s *foStore) get(key []byte) ([]byte, error) {
	var val []byte
	err := s.v.View(func(tx *storage.Tx) error {
		var err error
		val, err = tx.Get(caseBucket, key)
		return err
	})
	if err == nil && val == nil {
		err = fmt.Errorf("fieldoffice: %s not found", key)
	}
	return val, err
}

func (s *foStore) update(key, val []byte) error {
	return s.v.Update(func(tx *storage.Tx) error { return tx.Put(caseBucket, key, val) })
}

func (s *foStore) files() []string { return []string{filepath.Join(s.dir, storage.FileName)} }

func (s *foStore) close() error { return s.v.Close() }
