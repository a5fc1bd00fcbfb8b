//go:build linux

package platform

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
)

// DefaultDevicePath is the kernel's TPM resource manager device on Linux.
const DefaultDevicePath = "/dev/tpmrm0"

// openPlatform opens the hardware TPM for KindAuto and KindDevice on Linux.
func openPlatform(spec Spec, o options) (TPM, error) {
	path := spec.Path
	if path == "" {
		path = DefaultDevicePath
	}
	t, err := linuxtpm.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, linuxtpm.ErrFileIsNotDevice) {
			return nil, errNoTPM(spec, path, err)
		}
		if errors.Is(err, fs.ErrPermission) {
			return nil, fmt.Errorf("open TPM %q: %w (the user needs read-write access to %s, usually via the group tss)", spec, err, path)
		}
		return nil, fmt.Errorf("open TPM %q: %w", spec, err)
	}
	return asTPM(newDevice(t, spec, o, Info{
		Spec:         spec,
		Hardware:     true,
		PersistentNV: true,
	}, true))
}
