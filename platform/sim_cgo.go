//go:build cgo && !fieldoffice_nosim

package platform

import (
	"fmt"
	"sync"

	"github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/tpm2/transport"
)

// simMu guards simInUse: the simulator is a process-wide singleton.
var (
	simMu    sync.Mutex
	simInUse bool
)

// openSim opens the in-process simulator with the seed kept in spec.Path.
// Only one may be open per process; a second Open fails until the first is closed.
func openSim(spec Spec, o options) (TPM, error) {
	seed, err := loadOrCreateSeed(spec.Path)
	if err != nil {
		return nil, fmt.Errorf("open TPM %q: %w", spec, err)
	}
	simMu.Lock()
	defer simMu.Unlock()
	if simInUse {
		return nil, fmt.Errorf("open TPM %q: the in-process simulator is already open in this process (it is a singleton; close the other one first)", spec)
	}
	sim, err := simulator.GetWithFixedSeedInsecure(seed)
	if err != nil {
		return nil, fmt.Errorf("open TPM %q: start simulator: %w", spec, err)
	}
	simInUse = true
	release := func() {
		simMu.Lock()
		simInUse = false
		simMu.Unlock()
	}
	t := transport.FromReadWriteCloser(sim)
	d, err := newDevice(t, spec, o, Info{
		Hardware:     false,
		PersistentNV: false,
		Warning:      SimWarning,
	}, false)
	if err != nil {
		simInUse = false // simMu is held; newDevice closed the simulator
		return nil, err
	}
	d.afterClose = release
	if err := d.setDAParameters(simDAMaxTries, simDARecoverySeconds, simDALockoutRecoverySeconds); err != nil {
		d.afterClose = nil
		_ = d.Close()
		simInUse = false
		return nil, fmt.Errorf("open TPM %q: %w", spec, err)
	}
	o.logger.Info("TPM: opened the in-process simulator", "spec", spec.String(), "warning", SimWarning)
	return d, nil
}
