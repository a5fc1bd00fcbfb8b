//go:build !linux && !windows

package platform

import (
	"fmt"
	"runtime"
)

// DefaultDevicePath is empty where no hardware TPM access is implemented.
const DefaultDevicePath = ""

// openPlatform reports that hardware TPM access is not implemented on this OS.
func openPlatform(spec Spec, _ options) (TPM, error) {
	return nil, fmt.Errorf("open TPM %q: hardware TPM access is not implemented on %s; %s: %w",
		spec, runtime.GOOS, noTPMHint, ErrNotSupported)
}
