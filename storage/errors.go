package storage

import (
	"errors"
	"fmt"

	"fieldoffice/platform"
)

// Sentinel errors. Functions wrap them with %w or return one of the typed errors
// below, which match them with [errors.Is]. No error ever contains a PIN, a key or case
// content.
var (
	ErrNotInitialised        = errors.New("vault not initialised (run `fieldoffice enroll`)")
	ErrExists                = errors.New("vault already exists")
	ErrAlreadyOpen           = errors.New("vault is open in another process")
	ErrLocked                = errors.New("vault is locked")
	ErrUnknownUser           = errors.New("unknown user")
	ErrUserExists            = errors.New("user already exists")
	ErrBadUserName           = errors.New("invalid user name")
	ErrLastSlot              = errors.New("cannot remove the last user key slot")
	ErrSlotLocked            = errors.New("key slot locked after too many wrong PINs: ask an admin to reset it or use the recovery key (`fieldoffice recover`)")
	ErrWrongPIN              = errors.New("wrong PIN")
	ErrTampered              = errors.New("stored data was modified (tampered or damaged)")
	ErrCorrupt               = errors.New("vault file is damaged")
	ErrTPMRefused            = errors.New("the TPM refused to release the key: PCR values changed (firmware, Secure Boot or boot configuration) or the TPM was replaced or cleared; unlock with the recovery key (`fieldoffice recover`)")
	ErrTPMLockout            = errors.New("the TPM is in dictionary-attack lockout: wait, or ask an admin")
	ErrNoRecoverySlot        = errors.New("vault has no recovery key slot")
	ErrWrongRecoveryKey      = errors.New("recovery key does not match the vault's recovery slot")
	ErrSoftwareKeyNotAllowed = errors.New("software key slot (no TPM) not allowed: the key would not be hardware-protected; the device policy must allow it")
	ErrBadPIN                = errors.New("invalid PIN")
	ErrNotFound              = errors.New("not found")
)

// WrongPINError is returned by Unlock and ChangePIN for a wrong PIN. It matches
// [ErrWrongPIN].
type WrongPINError struct {
	User string
	Left int // wrong PINs left before the slot locks
}

func (e *WrongPINError) Error() string {
	if e.Left <= 0 {
		return fmt.Sprintf("wrong PIN for user %q: the key slot is now locked; ask an admin to reset it or use the recovery key", e.User)
	}
	return fmt.Sprintf("wrong PIN for user %q: %d tries left", e.User, e.Left)
}

// Is reports whether target is [ErrWrongPIN].
func (e *WrongPINError) Is(target error) bool { return target == ErrWrongPIN }

// TamperError reports a stored value whose authentication failed. It matches
// [ErrTampered].
type TamperError struct {
	Bucket, Key string
}

func (e *TamperError) Error() string {
	return fmt.Sprintf("%v: bucket %q, key %q", ErrTampered, e.Bucket, e.Key)
}

// Is reports whether target is [ErrTampered].
func (e *TamperError) Is(target error) bool { return target == ErrTampered }

// CorruptError reports a vault file that is structurally damaged. It matches
// [ErrCorrupt] and unwraps to the underlying error, if any.
type CorruptError struct {
	Path, Reason string
	Err          error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("%v: %s: %s", ErrCorrupt, e.Path, e.Reason)
}

// Is reports whether target is [ErrCorrupt].
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Unwrap returns the underlying error.
func (e *CorruptError) Unwrap() error { return e.Err }

// tpmError maps an error from the TPM to a storage error. It returns nil for nil and
// does not handle platform.ErrAuthFail (the caller turns that into a WrongPINError).
func tpmError(user string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, platform.ErrPolicy), errors.Is(err, platform.ErrWrongTPM):
		return fmt.Errorf("unlock %q: %w (%w)", user, ErrTPMRefused, err)
	case errors.Is(err, platform.ErrLockout):
		return fmt.Errorf("unlock %q: %w (%w)", user, ErrTPMLockout, err)
	}
	return fmt.Errorf("unlock %q: TPM: %w", user, err)
}
