package sync

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"fieldoffice/storage"
)

// Enforcing the device policy at unlock
//
// The portal's policy (Device.Policy, refreshed at every check-in) is enforced where
// the device acts on it:
//
//	max_offline_days     BeforeUnlock: no unlock until the device checked in (CheckOffline)
//	allow_software_keys  BeforeUnlock: a user whose key slot is in software may not unlock
//	pcrs                 AfterUnlock: the user's TPM slot is re-sealed to the policy's set
//	idle_lock_minutes    the app's idle lock
//	sync_interval_...    the app's background sync
//	services             the app's capture; the portal refuses others
//	max_attachment_...   attachments (PutBlob's limit)
//	min_pin_length       PIN changes and new users

// ErrSoftwareKeyForbidden is returned by BeforeUnlock when the policy no longer allows
// keys outside a TPM and the user's key slot is one.
var ErrSoftwareKeyForbidden = errors.New("the device policy does not allow keys outside a TPM any more")

// BeforeUnlock returns an error when the policy forbids user to unlock now: offline
// too long, or a software key the policy does not allow.
func (d *Device) BeforeUnlock(st storage.Status, user string, now time.Time) error {
	if err := d.CheckOffline(now); err != nil {
		return err
	}
	if d.Policy.AllowSoftwareKeys {
		return nil
	}
	for _, s := range st.Slots {
		if s.Name == user && s.Type == "software" {
			return fmt.Errorf("%w: %s's key is not protected by a TPM — ask IT to move this device to one with a TPM, or to change the policy", ErrSoftwareKeyForbidden, user)
		}
	}
	return nil
}

// AfterUnlock applies what needs the PIN: a TPM slot bound to other PCRs than the
// policy names is re-sealed to the policy's set. It returns whether it re-sealed.
// An error leaves the slot as it was (the vault stays usable; status reports the rule
// as violated).
func (d *Device) AfterUnlock(v *storage.Vault, user string, pin []byte) (bool, error) {
	want := slices.Clone(d.Policy.PCRs)
	if len(want) == 0 {
		return false, nil
	}
	have := v.SlotPCRs(user)
	if have == nil { // not a TPM slot
		return false, nil
	}
	slices.Sort(want)
	slices.Sort(have)
	if slices.Equal(want, have) {
		return false, nil
	}
	if err := v.ResealPCRs(user, pin, want); err != nil {
		return false, fmt.Errorf("re-seal %s's key to PCRs %v: %w", user, want, err)
	}
	return true, nil
}
