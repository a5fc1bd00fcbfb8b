//go:build unix

package main

import "syscall"

// flushDisk writes out dirty pages left by earlier phases (the other store's files,
// files removed by an earlier run), so each store's writes start on a quiet disk.
func flushDisk() { syscall.Sync() }
