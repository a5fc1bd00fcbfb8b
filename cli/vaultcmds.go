package cli

import (
	"cmp"
	"context"
	"crypto/ecdh"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"fieldoffice/platform"
	"fieldoffice/portal"
	"fieldoffice/storage"
	"fieldoffice/storage/crypto"
	fsync "fieldoffice/sync"
)

// parsePCRs parses "7", "7,14" or "none".
func parsePCRs(s string) ([]int, error) {
	if s == "" {
		return nil, nil // the default, PCR 7
	}
	if s == "none" {
		return []int{}, nil
	}
	var pcrs []int
	seen := map[int]bool{}
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 || n > 23 {
			return nil, fmt.Errorf("%w: --pcrs %q: give PCR numbers 0–23 separated by commas, or none", errUsage, s)
		}
		if !seen[n] {
			seen[n] = true
			pcrs = append(pcrs, n)
		}
	}
	return pcrs, nil
}

func cmdInit(_ context.Context, c *ctxt, args []string) error {
	fs := c.flags("init", "--user NAME [--pcrs LIST] [--recovery-pubkey FILE] [--allow-software-key]")
	pcrsFlag := fs.String("pcrs", "", "PCRs the key is bound to: e.g. 7 (default), 7,14, or none")
	recFlag := fs.String("recovery-pubkey", "", "X25519 recovery public key (PEM) for the recovery slot")
	allowSW := fs.Bool("allow-software-key", false, "allow a software key slot when --tpm none (the key is then NOT hardware-protected)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, pos[0])
	}
	user := c.userFlag
	if user == "" {
		user = c.env.Getenv("FIELDOFFICE_USER")
	}
	if user == "" {
		return fmt.Errorf("%w: init needs --user NAME (the first user of this device)", errUsage)
	}
	pcrs, err := parsePCRs(*pcrsFlag)
	if err != nil {
		return err
	}
	dir, err := c.dataDir()
	if err != nil {
		return err
	}
	spec, _, err := c.explicitSpec()
	if err != nil {
		return err
	}
	if spec.Kind == platform.KindNone && !*allowSW {
		return fmt.Errorf("%w: --tpm none keeps the key in software only; add --allow-software-key if the device policy allows that", errUsage)
	}
	var rec *ecdh.PublicKey
	if *recFlag != "" {
		b, err := os.ReadFile(*recFlag)
		if err != nil {
			return fmt.Errorf("read recovery public key: %w", err)
		}
		if rec, err = crypto.ParseRecoveryPublicKey(b); err != nil {
			return fmt.Errorf("recovery public key %s: %w", *recFlag, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, storage.FileName)); err == nil {
		return fmt.Errorf("%w: %s", storage.ErrExists, filepath.Join(dir, storage.FileName))
	}
	pin, err := c.pins.fresh(user)
	if err != nil {
		return err
	}
	defer clear(pin)
	if err := storage.ValidatePIN(pin); err != nil {
		return err
	}
	tpm, err := c.openTPM(spec)
	if err != nil {
		return err
	}
	if tpm != nil {
		defer tpm.Close()
	}
	v, err := storage.Create(storage.Config{Dir: dir, TPM: tpm, Spec: spec, Logger: c.log}, storage.CreateOptions{
		User: user, PIN: pin, PCRs: pcrs, RecoveryKey: rec, AllowSoftwareKey: *allowSW,
	})
	if err != nil {
		return err
	}
	st := v.Status()
	if err := v.Close(); err != nil {
		return err
	}
	fmt.Fprintf(c.env.Stdout, "Vault created: %s\n", st.Path)
	fmt.Fprintf(c.env.Stdout, "User %q, key %s\n", user, keyProtection(st))
	if !st.RecoveryConfigured {
		fmt.Fprintln(c.env.Stdout, "No recovery slot: if the TPM is cleared or replaced, the data cannot be recovered.")
	}
	return nil
}

// keyProtection says in words what protects the vault key.
func keyProtection(st storage.Status) string {
	switch platform.Kind(st.TPMKind) {
	case platform.KindNone:
		return "in a SOFTWARE slot (Argon2id of the PIN): NOT hardware-protected"
	case platform.KindSim:
		return "sealed in the in-process TPM simulator: protects nothing (tests and demo only)"
	case platform.KindMSSim:
		return fmt.Sprintf("sealed in a software TPM (%s), PCRs %s", st.TPMSpec, pcrList(st.PCRs))
	}
	return fmt.Sprintf("sealed in the hardware TPM, PCRs %s", pcrList(st.PCRs))
}

func pcrList(p []int) string {
	if len(p) == 0 {
		return "none"
	}
	s := make([]string, len(p))
	for i, n := range p {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// StatusJSON is the stable schema of `fieldoffice status --json` (schema
// "fieldoffice.status/v1"; fields are only ever added).
type StatusJSON struct {
	Schema      string      `json:"schema"`
	Initialised bool        `json:"initialised"`
	DataDir     string      `json:"data_dir"`
	Store       *StoreJSON  `json:"store,omitempty"`
	TPM         *TPMJSON    `json:"tpm,omitempty"`
	Users       []SlotJSON  `json:"users"`
	Recovery    bool        `json:"recovery_slot"`
	Version     string      `json:"version"`
	Enrollment  *EnrollJSON `json:"enrollment,omitempty"`
	// Policy is the device policy in force (from the portal), nil when not enrolled.
	Policy *portal.Policy `json:"policy,omitempty"`
	// Sync: changes waiting for the portal and cases needing a decision (from clear
	// counters: no PIN needed), last successful sync.
	Sync *SyncStatusJSON `json:"sync,omitempty"`
	// Compliant is false when a rule is violated; `status` then exits with 6.
	Compliant  bool       `json:"compliant"`
	Compliance []RuleJSON `json:"compliance"`
}

// SyncStatusJSON is the sync part of the status.
type SyncStatusJSON struct {
	PendingOps  int    `json:"pending_ops"`
	Conflicts   int    `json:"conflicts"`
	LastSuccess string `json:"last_success,omitempty"`
}

// EnrollJSON is the device's enrollment with a portal (readable without a PIN).
type EnrollJSON struct {
	Enrolled      bool   `json:"enrolled"`
	DeviceID      string `json:"device_id,omitempty"`
	Office        string `json:"office,omitempty"`
	Portal        string `json:"portal_url,omitempty"`
	KeyKind       string `json:"key_kind,omitempty"`
	CertExpires   string `json:"cert_expires,omitempty"`
	PolicyVersion int    `json:"policy_version,omitempty"`
	LastContact   string `json:"last_contact,omitempty"`
	LastSync      string `json:"last_sync,omitempty"`
	OfflineLocked bool   `json:"offline_locked"`
}

func enrollJSON(dir string, now time.Time) *EnrollJSON {
	dev, err := fsync.LoadDevice(dir)
	if err != nil {
		return &EnrollJSON{}
	}
	out := &EnrollJSON{Enrolled: true, DeviceID: dev.DeviceID, Office: dev.Office, Portal: dev.PortalURL, KeyKind: dev.KeyKind,
		PolicyVersion: dev.Policy.Version, OfflineLocked: dev.OfflineTooLong(now)}
	if c, err := dev.Cert(); err == nil {
		out.CertExpires = c.NotAfter.UTC().Format(time.RFC3339)
	}
	if !dev.LastContact.IsZero() {
		out.LastContact = dev.LastContact.UTC().Format(time.RFC3339)
	}
	if !dev.LastSync.IsZero() {
		out.LastSync = dev.LastSync.UTC().Format(time.RFC3339)
	}
	return out
}

// StoreJSON describes the store file.
type StoreJSON struct {
	Path          string `json:"path"`
	SizeBytes     int64  `json:"size_bytes"`
	FormatVersion int    `json:"format_version"`
	VaultID       string `json:"vault_id"`
	Created       string `json:"created"`
}

// TPMJSON describes what protects the key.
type TPMJSON struct {
	Spec               string `json:"spec"`
	Kind               string `json:"kind"`
	Hardware           bool   `json:"hardware"`
	HardwareProtected  bool   `json:"key_hardware_protected"`
	PCRs               []int  `json:"pcrs"`
	RollbackProtection bool   `json:"rollback_protection"`
	Note               string `json:"note,omitempty"`
}

// SlotJSON is one key slot.
type SlotJSON struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Failures int    `json:"failed_attempts"`
	Locked   bool   `json:"locked"`
}

func statusJSON(dir string, st *storage.Status) StatusJSON {
	out := StatusJSON{Schema: "fieldoffice.status/v1", DataDir: dir, Users: []SlotJSON{}, Version: Version}
	if st == nil {
		return out
	}
	out.Initialised = true
	out.Recovery = st.RecoveryConfigured
	out.Store = &StoreJSON{Path: st.Path, SizeBytes: st.SizeBytes, FormatVersion: st.FormatVersion, VaultID: st.VaultID, Created: st.Created.UTC().Format("2006-01-02T15:04:05Z")}
	kind := platform.Kind(st.TPMKind)
	t := &TPMJSON{Spec: st.TPMSpec, Kind: st.TPMKind, PCRs: st.PCRs, RollbackProtection: st.RollbackProtected}
	if t.PCRs == nil {
		t.PCRs = []int{}
	}
	t.Hardware = kind == platform.KindDevice || kind == platform.KindAuto
	t.HardwareProtected = t.Hardware
	switch kind {
	case platform.KindNone:
		t.Note = "no TPM: the key is in a software slot and NOT hardware-protected"
	case platform.KindSim:
		t.Note = "in-process TPM simulator: protects nothing (tests and demo only)"
	case platform.KindMSSim:
		t.Note = "software TPM over TCP (swtpm or ms-tpm-20-ref): not hardware"
	}
	if !t.RollbackProtection {
		if t.Note != "" {
			t.Note += "; "
		}
		t.Note += "rollback of the data directory is not detected"
	}
	out.TPM = t
	for _, s := range st.Slots {
		if s.Type == "recovery" {
			continue // reported as recovery_slot
		}
		out.Users = append(out.Users, SlotJSON{Name: s.Name, Type: s.Type, Failures: s.Failures, Locked: s.Locked})
	}
	return out
}

func cmdStatus(_ context.Context, c *ctxt, args []string) error {
	fs := c.flags("status", "[--json]")
	asJSON := fs.Bool("json", false, "print JSON (schema fieldoffice.status/v1)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	dir, err := c.dataDir()
	if err != nil {
		return err
	}
	var st *storage.Status
	v, err := storage.Open(storage.Config{Dir: dir, Logger: c.log})
	switch {
	case errors.Is(err, storage.ErrNotInitialised):
	case err != nil:
		return err
	default:
		s := v.Status()
		st = &s
		if err := v.Close(); err != nil {
			return err
		}
	}
	out := statusJSON(dir, st)
	out.Enrollment = enrollJSON(dir, c.env.Now())
	dev, _ := fsync.LoadDevice(dir)
	if dev != nil {
		p := dev.Policy
		out.Policy = &p
	}
	if st != nil {
		out.Sync = &SyncStatusJSON{PendingOps: st.PendingOps, Conflicts: st.Conflicts}
		if dev != nil && !dev.LastSync.IsZero() {
			out.Sync.LastSuccess = dev.LastSync.UTC().Format(time.RFC3339)
		}
	}
	out.Compliance = compliance(st, dev, c.env.Now())
	out.Compliant = compliant(out.Compliance)
	var result error
	if !out.Compliant {
		result = errNonCompliant
	}
	if *asJSON {
		if err := c.printJSON(out); err != nil {
			return err
		}
		return result
	}
	defer func() {
		for _, r := range out.Compliance {
			if !r.OK {
				fmt.Fprintf(c.env.Stdout, "NOT COMPLIANT: %s — %s\n", r.Rule, r.Why)
			}
		}
	}()
	w := tabwriter.NewWriter(c.env.Stdout, 0, 0, 2, ' ', 0)
	defer w.Flush()
	if e := out.Enrollment; e.Enrolled {
		fmt.Fprintf(w, "Enrolled:\tyes — device %s, office %q, portal %s\n", e.DeviceID, e.Office, e.Portal)
		fmt.Fprintf(w, "Certificate expires:\t%s\n", e.CertExpires)
		fmt.Fprintf(w, "Last contact / sync:\t%s / %s\n", cmp.Or(e.LastContact, "never"), cmp.Or(e.LastSync, "never"))
		if e.OfflineLocked {
			fmt.Fprintf(w, "Offline lock:\tACTIVE — offline longer than the policy allows; run: fieldoffice sync\n")
		}
	} else {
		fmt.Fprintf(w, "Enrolled:\tno (fieldoffice enroll --token TOKEN --user NAME)\n")
	}
	if st == nil {
		fmt.Fprintf(w, "Initialised:\tno (no vault in %s; create one with: fieldoffice enroll or fieldoffice init --user NAME)\n", dir)
		return result
	}
	fmt.Fprintf(w, "Initialised:\tyes\n")
	fmt.Fprintf(w, "Store:\t%s (%s, format %d)\n", out.Store.Path, humanBytes(out.Store.SizeBytes), out.Store.FormatVersion)
	fmt.Fprintf(w, "Vault ID:\t%s\n", out.Store.VaultID)
	fmt.Fprintf(w, "TPM:\t%s (hardware: %s)\n", out.TPM.Spec, yesNo(out.TPM.Hardware))
	fmt.Fprintf(w, "Key:\t%s\n", keyProtection(*st))
	fmt.Fprintf(w, "PCRs bound:\t%s\n", pcrList(out.TPM.PCRs))
	fmt.Fprintf(w, "Rollback detection:\t%s\n", yesNo(out.TPM.RollbackProtection))
	fmt.Fprintf(w, "Recovery slot:\t%s\n", yesNo(out.Recovery))
	for _, u := range out.Users {
		state := "ok"
		if u.Locked {
			state = "LOCKED (too many wrong PINs: reset by another user or the recovery key)"
		} else if u.Failures > 0 {
			state = fmt.Sprintf("%d wrong PIN(s) in a row", u.Failures)
		}
		fmt.Fprintf(w, "User:\t%s (%s slot, %s)\n", u.Name, u.Type, state)
	}
	return result
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
