package cli

import (
	"fmt"
	"slices"
	"time"

	"fieldoffice/platform"
	"fieldoffice/storage"
	fsync "fieldoffice/sync"
)

// ExitNonCompliant: `status` found a rule of the device policy violated.
const ExitNonCompliant = 6

// RuleJSON is one compliance rule of `status --json`: ok or violated, and why.
type RuleJSON struct {
	Rule string `json:"rule"`
	OK   bool   `json:"ok"`
	Why  string `json:"why,omitempty"`
}

// Compliance rules, stable names (part of the status schema).
const (
	RuleEnrolled      = "enrolled"       // the device is enrolled with a portal
	RuleVault         = "vault"          // a vault exists
	RuleKeyProtection = "key_protection" // keys in a hardware TPM unless the policy allows software keys
	RulePCRs          = "pcrs"           // the vault is bound to the policy's PCRs
	RuleOffline       = "offline_days"   // last contact within the policy's maximum offline days
	RuleCertificate   = "certificate"    // the device certificate is valid
	RuleSlots         = "slots"          // no user slot locked after wrong PINs
)

// compliance evaluates the device policy against the device's state (no PIN needed).
// Without an enrollment only the first rules can be judged.
func compliance(st *storage.Status, dev *fsync.Device, now time.Time) []RuleJSON {
	rules := []RuleJSON{}
	add := func(rule string, ok bool, why string, args ...any) {
		r := RuleJSON{Rule: rule, OK: ok}
		if !ok || why != "" {
			r.Why = fmt.Sprintf(why, args...)
		}
		rules = append(rules, r)
	}
	if dev == nil {
		add(RuleEnrolled, false, "not enrolled with a portal: fieldoffice enroll --token TOKEN --user NAME")
	} else {
		add(RuleEnrolled, true, "")
	}
	if st == nil {
		add(RuleVault, false, "no vault on this device")
		return rules
	}
	add(RuleVault, true, "")
	var locked []string
	for _, s := range st.Slots {
		if s.Locked {
			locked = append(locked, s.Name)
		}
	}
	add(RuleSlots, len(locked) == 0, "locked after too many wrong PINs: %v (fieldoffice user reset NAME)", locked)
	if dev == nil {
		return rules
	}
	p := dev.Policy
	hardware := platform.Kind(st.TPMKind) == platform.KindDevice || platform.Kind(st.TPMKind) == platform.KindAuto
	switch {
	case p.AllowSoftwareKeys:
		add(RuleKeyProtection, true, "")
	case st.SoftwareKey:
		add(RuleKeyProtection, false, "a key slot is in software (no TPM), which policy %d does not allow", p.Version)
	case !hardware:
		add(RuleKeyProtection, false, "the TPM is %s, not hardware, which policy %d does not allow", st.TPMKind, p.Version)
	case dev.KeyKind != fsync.KeyTPM:
		add(RuleKeyProtection, false, "the device key is in software, which policy %d does not allow", p.Version)
	default:
		add(RuleKeyProtection, true, "")
	}
	if len(p.PCRs) > 0 && !st.SoftwareKey {
		want, have := slices.Sorted(slices.Values(p.PCRs)), slices.Sorted(slices.Values(st.PCRs))
		add(RulePCRs, slices.Equal(want, have), "bound to PCRs %s, policy %d wants %s: re-sealed at the user's next unlock", pcrList(have), p.Version, pcrList(want))
	}
	if p.MaxOfflineDays > 0 {
		last := dev.LastContact
		if last.IsZero() {
			last = dev.Enrolled
		}
		add(RuleOffline, !dev.OfflineTooLong(now), "last contact %s, more than %d days ago: connect and run fieldoffice sync", last.UTC().Format(time.RFC3339), p.MaxOfflineDays)
	}
	if c, err := dev.Cert(); err != nil {
		add(RuleCertificate, false, "%v", err)
	} else {
		add(RuleCertificate, now.Before(c.NotAfter) && now.After(c.NotBefore), "valid %s to %s", c.NotBefore.UTC().Format(time.DateOnly), c.NotAfter.UTC().Format(time.DateOnly))
	}
	return rules
}

// compliant reports whether every rule holds.
func compliant(rules []RuleJSON) bool {
	for _, r := range rules {
		if !r.OK {
			return false
		}
	}
	return true
}
