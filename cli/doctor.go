package cli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"fieldoffice/platform"
	"fieldoffice/storage"
	fsync "fieldoffice/sync"
)

// Check results of `doctor`.
const (
	CheckOK   = "ok"
	CheckWarn = "warn"
	CheckFail = "fail"
	CheckSkip = "skipped"
)

// CheckJSON is one check of `doctor --json`.
type CheckJSON struct {
	Check  string `json:"check"`
	Result string `json:"result"` // ok, warn, fail, skipped
	Detail string `json:"detail,omitempty"`
	Fix    string `json:"fix,omitempty"` // what to do, for warn and fail
}

// errDoctor: a check failed (exit 1; the report says which and what to do).
var errDoctor = errors.New("a check failed (see the report above)")

// maxClockSkew is how far the device clock may be from the portal's.
const maxClockSkew = 5 * time.Minute

func cmdDoctor(ctx context.Context, c *ctxt, args []string) error {
	fs := c.flags("doctor", "[--json] [--unlock]")
	asJSON := fs.Bool("json", false, "print JSON")
	unlock := fs.Bool("unlock", false, "also unlock (PIN) and verify the audit trail and every stored value")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return fmt.Errorf("%w: fieldoffice doctor [--json] [--unlock]", errUsage)
	}
	var out []CheckJSON
	add := func(check, result, detail, fix string) {
		out = append(out, CheckJSON{Check: check, Result: result, Detail: detail, Fix: fix})
	}

	// Configuration.
	if sys, err := c.sysConfig(); err != nil {
		add("config", CheckFail, err.Error(), "fix the file (settings: portal_url, tpm, data_dir) or remove it")
	} else if sys.Path == "" {
		add("config", CheckOK, "no system configuration ("+platform.SystemConfigPath()+"): defaults", "")
	} else {
		add("config", CheckOK, sys.Path, "")
	}
	dir, err := c.dataDir()
	if err != nil {
		add("data", CheckFail, err.Error(), "set --data or FIELDOFFICE_DATA")
		return c.report(out, *asJSON)
	}

	// Store and TPM.
	v, done, err := c.openVault()
	switch {
	case errors.Is(err, storage.ErrNotInitialised):
		add("store", CheckFail, "no vault in "+dir, "enroll the device: fieldoffice enroll --token TOKEN --user NAME")
	case errors.Is(err, storage.ErrAlreadyOpen):
		add("store", CheckWarn, "the vault is open in the app or another command", "close FieldOffice and run doctor again for the full check")
	case errors.Is(err, storage.ErrTampered), errors.Is(err, storage.ErrCorrupt):
		add("store", CheckFail, err.Error(), "keep the device as it is and contact IT; restore with fieldoffice recover or re-enroll")
	case err != nil && (errors.Is(err, platform.ErrNotSupported) || errors.Is(err, platform.ErrNoTPM)):
		add("tpm", CheckFail, err.Error(), "check that the TPM is enabled in the firmware and /dev/tpmrm0 is accessible (group tss)")
	case err != nil:
		add("store", CheckFail, err.Error(), "see the message; fieldoffice status shows the vault")
	default:
		defer done()
		st := v.Status()
		add("store", CheckOK, fmt.Sprintf("%s, format %d, %s", st.Path, st.FormatVersion, humanBytes(st.SizeBytes)), "")
		c.checkTPM(v, st, add)
		if *unlock {
			c.checkUnlocked(v, add)
		} else {
			add("audit", CheckSkip, "needs the PIN", "run fieldoffice doctor --unlock to verify the audit trail and every stored value")
		}
	}

	// Enrollment, portal, clock, certificate.
	dev, err := fsync.LoadDevice(dir)
	switch {
	case errors.Is(err, fsync.ErrNotEnrolled):
		add("portal", CheckSkip, "not enrolled", "fieldoffice enroll --token TOKEN --user NAME")
	case err != nil:
		add("portal", CheckFail, err.Error(), "enroll the device again (wipe first)")
	case v == nil:
		add("portal", CheckSkip, "the vault could not be opened", "")
	default:
		c.checkPortal(ctx, v, dev, add)
	}
	return c.report(out, *asJSON)
}

func (c *ctxt) checkTPM(v *storage.Vault, st storage.Status, add func(check, result, detail, fix string)) {
	tpm := v.TPM()
	switch {
	case tpm == nil && st.SoftwareKey:
		add("tpm", CheckWarn, "no TPM: the key is in a software slot", "use a device with a TPM 2.0, or accept the weaker protection by policy")
	case tpm == nil:
		add("tpm", CheckFail, "the vault names TPM "+st.TPMSpec+" but none was opened", "check --tpm / FIELDOFFICE_TPM")
	default:
		info := tpm.Info()
		detail := fmt.Sprintf("%s, hardware: %s, PCRs bound: %s", info.Spec, yesNo(info.Hardware), pcrList(st.PCRs))
		if info.Manufacturer != "" {
			detail += ", " + info.Manufacturer
		}
		if !info.Hardware {
			add("tpm", CheckWarn, detail, "a software TPM protects the key only as far as its state files are protected")
		} else {
			add("tpm", CheckOK, detail, "")
		}
	}
	for _, s := range st.Slots {
		if s.Locked {
			add("slots", CheckWarn, "user "+s.Name+" is locked after too many wrong PINs", "fieldoffice user reset "+s.Name+" --user OTHER, or fieldoffice recover")
		}
	}
}

func (c *ctxt) checkUnlocked(v *storage.Vault, add func(check, result, detail, fix string)) {
	if err := c.unlock(v); err != nil {
		add("unlock", CheckFail, message(err), "see the message")
		return
	}
	rep, err := v.AuditVerify()
	if err != nil {
		add("audit", CheckFail, err.Error(), "keep the device as it is and contact IT: the data was changed outside FieldOffice")
	} else {
		add("audit", CheckOK, fmt.Sprintf("%d entries, chain intact", rep.Entries), "")
	}
	n := 0
	err = v.ReadAll([]byte("cases"), func(_, _ []byte) error { n++; return nil })
	if err != nil {
		add("values", CheckFail, err.Error(), "keep the device as it is and contact IT")
	} else {
		add("values", CheckOK, fmt.Sprintf("%d cases, every value authentic", n), "")
	}
}

func (c *ctxt) checkPortal(ctx context.Context, v *storage.Vault, dev *fsync.Device, add func(check, result, detail, fix string)) {
	now := c.env.Now()
	if cert, err := dev.Cert(); err != nil {
		add("certificate", CheckFail, err.Error(), "enroll the device again")
	} else {
		left := cert.NotAfter.Sub(now)
		detail := "valid until " + cert.NotAfter.Local().Format("02.01.2006")
		switch {
		case left <= 0 || now.Before(cert.NotBefore):
			add("certificate", CheckFail, detail+" — not valid now", "check the clock; if it is right, enroll the device again")
		case left < 30*24*time.Hour:
			add("certificate", CheckWarn, detail, "ask IT to rotate the certificate (portald device rotate ID)")
		default:
			add("certificate", CheckOK, detail, "")
		}
	}
	if err := dev.CheckOffline(now); err != nil {
		add("offline", CheckWarn, err.Error(), "connect and run fieldoffice sync")
	}
	key, err := deviceKey(v, dev)
	if err != nil {
		add("device key", CheckFail, err.Error(), "the TPM may have been cleared or replaced: recover and enroll again")
		return
	}
	defer key.Close()
	add("device key", CheckOK, map[bool]string{true: "in the TPM", false: "software"}[dev.KeyKind == fsync.KeyTPM], "")
	cfg := c.clientConfig()
	cfg.Retries, cfg.Timeout = -1, 10*time.Second
	client, err := dev.Client(key, cfg)
	if err != nil {
		add("portal", CheckFail, err.Error(), "enroll the device again")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	info, date, rtt, err := client.Ping(ctx)
	switch {
	case errors.Is(err, fsync.ErrRevoked):
		add("portal", CheckFail, "the portal revoked this device", "the next sync erases the local data; ask IT")
		return
	case errors.Is(err, fsync.ErrPortalUnreachable):
		add("portal", CheckFail, dev.PortalURL+" cannot be reached: "+err.Error(), "check the network (proxy, firewall to "+fsync.ProbeAddrOf(dev.PortalURL)+"); work continues offline")
		return
	case err != nil:
		add("portal", CheckFail, err.Error(), "check the certificate and the portal's address; enroll again if the portal's CA changed")
		return
	}
	add("portal", CheckOK, fmt.Sprintf("%s answers in %s (device %s, policy %d)", dev.PortalURL, rtt.Round(time.Millisecond), info.DeviceID, info.PolicyVersion), "")
	if date.IsZero() {
		add("clock", CheckSkip, "the portal sent no time", "")
		return
	}
	skew := now.Sub(date)
	if skew < 0 {
		skew = -skew
	}
	if skew > maxClockSkew+rtt {
		add("clock", CheckFail, fmt.Sprintf("%s off the portal's clock", skew.Round(time.Second)), "set the clock (NTP): certificates and the offline lock depend on it")
	} else {
		add("clock", CheckOK, fmt.Sprintf("within %s of the portal", skew.Round(time.Second)), "")
	}
}

// report prints the checks and returns errDoctor when one failed.
func (c *ctxt) report(out []CheckJSON, asJSON bool) error {
	failed := false
	for _, ch := range out {
		failed = failed || ch.Result == CheckFail
	}
	if asJSON {
		if err := c.printJSON(out); err != nil {
			return err
		}
	} else {
		w := tabwriter.NewWriter(c.env.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "CHECK\tRESULT\tDETAIL")
		for _, ch := range out {
			fmt.Fprintf(w, "%s\t%s\t%s\n", ch.Check, ch.Result, ch.Detail)
			if ch.Fix != "" && ch.Result != CheckOK {
				fmt.Fprintf(w, "\t\t→ %s\n", ch.Fix)
			}
		}
		w.Flush()
	}
	if failed {
		return errDoctor
	}
	return nil
}
