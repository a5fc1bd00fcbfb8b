package storage

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// WipeReport says what Wipe did.
type WipeReport struct {
	Path        string    `json:"path"`
	SlotsErased bool      `json:"slots_erased"` // the key slots were removed from the live file
	Overwritten int64     `json:"overwritten"`  // bytes of the file overwritten with zeros
	Removed     bool      `json:"removed"`      // the file is gone
	Time        time.Time `json:"time"`
}

// Wipe crypto-erases the vault in dir: first the key slots (the only places the data
// key exists, wrapped), then the whole file is overwritten with zeros and removed.
// The vault must not be open in this process; another process holding it open makes
// Wipe fail with ErrAlreadyOpen. A vault file that is damaged is still overwritten and
// removed. Wipe of a directory without a vault is not an error (Removed is false).
//
// Step one matters most: without a key slot the data key is gone, so even a copy of
// the file made before the wipe can only be opened with the organisation's recovery
// key (if the vault had a recovery slot). On SSDs an overwrite does not reach every
// physical copy of a block; what remains there is ciphertext whose key is erased.
func Wipe(dir string) (WipeReport, error) {
	path := filepath.Join(dir, FileName)
	rep := WipeReport{Path: path, Time: time.Now().UTC()}
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return rep, nil
	} else if err != nil {
		return rep, fmt.Errorf("wipe %s: %w", path, err)
	}
	// 1. Remove the key slots from the live tree (committed, fsynced).
	var db *bolt.DB
	err = guard(path, "wipe", func() error {
		var err error
		db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
		return err
	})
	switch {
	case errors.Is(err, bolt.ErrTimeout):
		return rep, fmt.Errorf("wipe %s: %w", path, ErrAlreadyOpen)
	case err == nil:
		err = guard(path, "wipe", func() error {
			return db.Update(func(btx *bolt.Tx) error {
				if btx.Bucket(bucketKeyslots) == nil {
					return nil
				}
				return btx.DeleteBucket(bucketKeyslots)
			})
		})
		cerr := db.Close()
		rep.SlotsErased = err == nil && cerr == nil
	}
	// 2. Overwrite every byte (also the freed pages that held the slots), then remove.
	n, err := zeroFile(path, st.Size())
	rep.Overwritten = n
	if err != nil {
		return rep, fmt.Errorf("wipe %s: overwrite: %w", path, err)
	}
	if err := os.Remove(path); err != nil {
		return rep, fmt.Errorf("wipe %s: %w", path, err)
	}
	rep.Removed = true
	for _, extra := range []string{path + ".creating"} {
		_ = os.Remove(extra)
	}
	syncDir(dir)
	return rep, nil
}

func zeroFile(path string, size int64) (int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	var done int64
	for done < size {
		n := min(int64(len(buf)), size-done)
		w, err := f.WriteAt(buf[:n], done)
		done += int64(w)
		if err != nil {
			return done, err
		}
	}
	if err := f.Sync(); err != nil {
		return done, err
	}
	return done, nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

var _ io.WriterAt = (*os.File)(nil)

// Wipe crypto-erases this vault (see the package function Wipe): it locks the vault,
// closes the file and erases it. The TPM the vault owns stays open until Close, so
// the device key in it can still sign the report that the wipe happened.
func (v *Vault) Wipe() (WipeReport, error) {
	v.Lock()
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return Wipe(filepath.Dir(v.path))
	}
	v.closed = true
	v.mu.Unlock()
	if v.check != nil {
		v.check.stop()
	}
	if err := guard(v.path, "close", v.db.Close); err != nil {
		return WipeReport{Path: v.path}, fmt.Errorf("wipe: close %s: %w", v.path, err)
	}
	return Wipe(filepath.Dir(v.path))
}
