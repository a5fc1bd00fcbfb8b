package platform

import (
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// mapErr maps a TPM response code in err to one of the package's sentinel errors,
// keeping the TPM's own error (with its code) in the chain and in the text.
// Errors that match no sentinel are returned unchanged.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, tpm2.TPMRCLockout):
		return fmt.Errorf("%w: %w", ErrLockout, err)
	case errors.Is(err, tpm2.TPMRCAuthFail), errors.Is(err, tpm2.TPMRCBadAuth):
		return fmt.Errorf("%w: %w", ErrAuthFail, err)
	case errors.Is(err, tpm2.TPMRCPolicyFail), errors.Is(err, tpm2.TPMRCPCRChanged),
		errors.Is(err, tpm2.TPMRCPCR):
		return fmt.Errorf("%w: %w", ErrPolicy, err)
	}
	return err
}

// mapLoadErr maps the errors of TPM2_Load: an object whose integrity or sensitive
// area does not check out under this SRK was made by another TPM (or before a clear).
func mapLoadErr(err error) error {
	switch {
	case errors.Is(err, tpm2.TPMRCIntegrity), errors.Is(err, tpm2.TPMRCSensitive),
		errors.Is(err, tpm2.TPMRCSize), errors.Is(err, tpm2.TPMRCValue),
		errors.Is(err, tpm2.TPMRCKey), errors.Is(err, tpm2.TPMRCBinding):
		return fmt.Errorf("%w: %w", ErrWrongTPM, err)
	}
	return mapErr(err)
}
