//go:build !cgo || fieldoffice_nosim

package platform

import "fmt"

// openSim reports that this binary was built without the simulator.
func openSim(spec Spec, _ options) (TPM, error) {
	return nil, fmt.Errorf("open TPM %q: in-process simulator not built into this binary (needs cgo and no fieldoffice_nosim tag): %w",
		spec, ErrNotSupported)
}
