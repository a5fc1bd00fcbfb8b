//go:build !cgo || fieldoffice_nosim

package platform_test

import (
	"testing"

	"fieldoffice/platform"
)

// simSpecOrSkip skips: this build has no in-process simulator.
func simSpecOrSkip(tb testing.TB) platform.Spec {
	tb.Helper()
	tb.Skip("in-process TPM simulator not built (needs cgo and no fieldoffice_nosim tag)")
	return platform.Spec{}
}
