//go:build linux

package storage

import (
	"os"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// TrimMemory tells the kernel that the pages of the vault file mapped into memory
// are not needed now (madvise MADV_DONTNEED). bbolt maps the file read-only and
// shared: the pages are clean copies of the file and come back from it on the next
// access, so nothing is lost; the process's RSS drops by what a full read touched
// (the case list's first load reads every summary). Linux only; elsewhere a no-op.
func (v *Vault) TrimMemory() error {
	v.mu.RLock()
	closed := v.closed || v.db == nil
	v.mu.RUnlock()
	if closed {
		return nil
	}
	fi, err := os.Stat(v.path)
	if err != nil {
		return err
	}
	// A read transaction keeps bbolt from remapping the file meanwhile.
	return v.view(func(_ *bolt.Tx) error {
		info := v.db.Info()
		if info.Data == 0 || fi.Size() == 0 {
			return nil
		}
		// The raw system call: the address comes from bbolt as a uintptr.
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, info.Data, uintptr(fi.Size()), unix.MADV_DONTNEED); errno != 0 {
			return errno
		}
		return nil
	})
}
