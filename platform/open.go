package platform

import (
	"fmt"
)

// PCRExtender is implemented by TPMs whose SHA-256 PCRs can be extended. Tests use it
// (via a type assertion on TPM) to change PCR 7 and check that sealed keys bound to it
// no longer unseal. Extending a PCR of a real TPM is irreversible until reboot.
type PCRExtender interface {
	// ExtendPCR extends SHA-256 PCR pcr with SHA-256(data).
	ExtendPCR(pcr int, data []byte) error
}

// PCRReader is implemented by TPMs whose SHA-256 PCR values can be read, for status
// and doctor output.
type PCRReader interface {
	// ReadPCRs returns the current SHA-256 values of the given PCRs.
	ReadPCRs(pcrs []int) (map[int][]byte, error)
}

// noTPMHint names the choices a user has when no hardware TPM is there.
const noTPMHint = "choose another TPM with --tpm (or FIELDOFFICE_TPM): " +
	"device:PATH for a TPM character device, mssim:HOST:PORT for swtpm, " +
	"sim:FILE for tests and the demo (protects nothing), " +
	"or none together with --allow-software-key"

// Open opens the TPM described by spec. The caller must Close it.
//
// KindNone has no TPM: Open returns an error wrapping ErrNotSupported, and callers use
// software key slots without calling Open. When auto or device finds no TPM, the error
// wraps ErrNoTPM and names the other choices.
func Open(spec Spec, opts ...Option) (TPM, error) {
	o := buildOptions(opts)
	switch spec.Kind {
	case "", KindAuto:
		spec.Kind = KindAuto
		return openPlatform(spec, o)
	case KindDevice:
		return openPlatform(spec, o)
	case KindMSSim:
		return openMSSim(spec, o)
	case KindSim:
		return openSim(spec, o)
	case KindNone:
		return nil, fmt.Errorf("open TPM %q: spec none has no TPM, use a software key slot instead: %w", spec, ErrNotSupported)
	}
	return nil, fmt.Errorf("open TPM: %w: unknown kind %q", ErrBadSpec, spec.Kind)
}

// errNoTPM builds the error for "no TPM at path", wrapping ErrNoTPM and cause.
func errNoTPM(spec Spec, where string, cause error) error {
	return fmt.Errorf("open TPM %q: %w at %s (%w); %s", spec, ErrNoTPM, where, cause, noTPMHint)
}
