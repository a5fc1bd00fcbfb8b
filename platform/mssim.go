package platform

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/tcp"
)

// swtpmWarning is Info.Warning for TPMs reached over the simulator TCP protocol.
const swtpmWarning = "software TPM (swtpm or simulator over TCP): keys are only as safe as its state directory"

// openMSSim connects to a TPM speaking the Microsoft simulator TCP protocol (swtpm,
// ms-tpm-20-ref) at spec.Addr (command port) and the port above it (platform port),
// and sends TPM2_Startup(CLEAR) unless the TPM is already started.
func openMSSim(spec Spec, o options) (TPM, error) {
	host, port, err := net.SplitHostPort(spec.Addr)
	if err != nil {
		return nil, fmt.Errorf("open TPM %q: %w: %w", spec, ErrBadSpec, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p >= 65535 {
		return nil, fmt.Errorf("open TPM %q: %w: bad port %q", spec, ErrBadSpec, port)
	}
	t, err := tcp.Open(tcp.Config{
		CommandAddress:  spec.Addr,
		PlatformAddress: net.JoinHostPort(host, strconv.Itoa(p+1)),
	})
	if err != nil {
		return nil, fmt.Errorf("open TPM %q: %w: %w", spec, ErrNoTPM, err)
	}
	if err := startup(t); err != nil {
		// ms-tpm-20-ref answers nothing until powered on; swtpm with
		// --flags not-need-init is powered on already.
		if !errors.Is(err, tcp.ErrEmptyResponse) {
			_ = t.Close()
			return nil, fmt.Errorf("open TPM %q: TPM2_Startup: %w", spec, err)
		}
		if perr := t.PowerOn(); perr != nil {
			_ = t.Close()
			return nil, fmt.Errorf("open TPM %q: power on: %w", spec, perr)
		}
		if err := startup(t); err != nil {
			_ = t.Close()
			return nil, fmt.Errorf("open TPM %q: TPM2_Startup after power on: %w", spec, err)
		}
	}
	return asTPM(newDevice(t, spec, o, Info{
		Hardware:     false,
		PersistentNV: true,
		Warning:      swtpmWarning,
	}, true))
}

// startup sends TPM2_Startup(CLEAR); TPM_RC_INITIALIZE (already started) is fine.
func startup(t transport.TPM) error {
	_, err := tpm2.Startup{StartupType: tpm2.TPMSUClear}.Execute(t)
	if err != nil && !errors.Is(err, tpm2.TPMRCInitialize) {
		return err
	}
	return nil
}
