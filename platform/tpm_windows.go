//go:build windows

package platform

import (
	"fmt"

	"github.com/google/go-tpm/tpm2/transport/windowstpm"
)

// DefaultDevicePath is empty on Windows: the TPM is reached through TBS.
const DefaultDevicePath = ""

// openPlatform opens the TPM through the TPM Base Services (TBS) for KindAuto and
// KindDevice on Windows. A device path is not used there.
func openPlatform(spec Spec, o options) (TPM, error) {
	if spec.Kind == KindDevice && spec.Path != "" {
		return nil, fmt.Errorf("open TPM %q: device paths are not used on Windows, use device or auto (TBS): %w", spec, ErrNotSupported)
	}
	t, err := windowstpm.Open()
	if err != nil {
		return nil, errNoTPM(spec, "TBS", err)
	}
	return asTPM(newDevice(t, spec, o, Info{
		Spec:         spec,
		Hardware:     true,
		PersistentNV: true,
	}, true))
}
