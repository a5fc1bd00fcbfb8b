package cli

import (
	"errors"

	"fieldoffice/platform"
	"fieldoffice/storage"
)

// Exit codes of the fieldoffice binary. They are part of the admin interface
// (README "Exit codes") and stay stable.
const (
	ExitOK        = 0 // success
	ExitError     = 1 // any other error
	ExitUsage     = 2 // bad command line
	ExitAuth      = 3 // wrong PIN, slot locked, TPM dictionary-attack lockout
	ExitTampered  = 4 // tampered or damaged data detected
	ExitTPMRefuse = 5 // TPM refused to unseal: PCRs changed, other TPM, TPM cleared
)

// errNonCompliant: status found the device policy violated (exit code 6). The report
// is on stdout; the error line says only that.
var errNonCompliant = errors.New("the device does not comply with its policy (see the report above)")

// errUsage marks an error as a usage error (exit code 2).
var errUsage = errors.New("usage")

// ExitCode maps an error to the documented exit code.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, errUsage):
		return ExitUsage
	case errors.Is(err, errWiped):
		return ExitWiped
	case errors.Is(err, errNonCompliant):
		return ExitNonCompliant
	case errors.Is(err, storage.ErrWrongPIN), errors.Is(err, storage.ErrSlotLocked),
		errors.Is(err, storage.ErrTPMLockout), errors.Is(err, storage.ErrBadPIN):
		return ExitAuth
	case errors.Is(err, storage.ErrTampered), errors.Is(err, storage.ErrCorrupt):
		return ExitTampered
	case errors.Is(err, storage.ErrTPMRefused), errors.Is(err, platform.ErrPolicy), errors.Is(err, platform.ErrWrongTPM):
		return ExitTPMRefuse
	}
	return ExitError
}
