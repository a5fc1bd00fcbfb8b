//go:build !linux

package storage

// TrimMemory is a no-op where the system gives no cheap way to drop mapped file
// pages (see trim_linux.go).
func (v *Vault) TrimMemory() error { return nil }
