//go:build cgo && !fieldoffice_nosim

package platform_test

import (
	"testing"

	"fieldoffice/platform"
	"fieldoffice/platform/tpmtest"
)

// simSpecOrSkip returns a fresh in-process simulator spec.
func simSpecOrSkip(tb testing.TB) platform.Spec {
	tb.Helper()
	return tpmtest.SimSpec(tb)
}
