package cli

import (
	"cmp"
	"context"
	"crypto/ecdh"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"fieldoffice/platform"
	"fieldoffice/portal"
	"fieldoffice/storage"
	"fieldoffice/storage/crypto"
	fsync "fieldoffice/sync"
)

// ExitWiped: the portal revoked the device and the local store was crypto-erased.
const ExitWiped = 7

// errWiped marks the error after a wipe (exit code ExitWiped).
var errWiped = errors.New("wiped")

// deviceKey loads the enrolled device's key: from the vault's TPM, or the software
// key in the enrollment record.
func deviceKey(v *storage.Vault, dev *fsync.Device) (platform.DeviceKey, error) {
	switch dev.KeyKind {
	case fsync.KeyTPM:
		tpm := v.TPM()
		if tpm == nil {
			return nil, errors.New("the device key is in a TPM, but the vault was opened without one (check --tpm)")
		}
		k, err := platform.LoadDeviceKey(tpm, dev.KeyBlob)
		if err != nil {
			return nil, fmt.Errorf("load the device key from the TPM: %w", err)
		}
		return k, nil
	case fsync.KeySoftware:
		k, err := platform.ParseSoftwareDeviceKey(dev.KeyBlob)
		if err != nil {
			return nil, fmt.Errorf("the software device key in the enrollment record: %w", err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("the enrollment record names an unknown key kind %q: enroll again", dev.KeyKind)
}

// clientConfig is the portal client's configuration for commands.
func (c *ctxt) clientConfig() fsync.ClientConfig {
	return fsync.ClientConfig{Logger: c.log}
}

func cmdEnroll(ctx context.Context, c *ctxt, args []string) error {
	const use = "fieldoffice enroll --token TOKEN --user NAME [--name DEVICE] [--tpm SPEC]"
	fs := c.flags("enroll", "--token TOKEN --user NAME [--name DEVICE]")
	token := fs.String("token", "", "the enrollment token from IT (portald token create); env FIELDOFFICE_TOKEN")
	name := fs.String("name", "", "the device's name in the portal (default: the host name)")
	force := fs.Bool("force", false, "replace this device's enrollment (after its TPM was replaced and the vault recovered); the vault stays")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *token == "" {
		*token = c.env.Getenv("FIELDOFFICE_TOKEN")
	}
	user := cmp.Or(c.userFlag, c.env.Getenv("FIELDOFFICE_USER"))
	if len(pos) > 0 || *token == "" || user == "" {
		return fmt.Errorf("%w: %s", errUsage, use)
	}
	if *name == "" {
		*name, _ = os.Hostname()
	}
	dir, err := c.dataDir()
	if err != nil {
		return err
	}
	if sys, err := c.sysConfig(); err != nil {
		return err
	} else if sys.PortalURL != "" {
		tok, err := portal.ParseToken(*token)
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		if strings.TrimRight(tok.URL, "/") != strings.TrimRight(sys.PortalURL, "/") {
			return fmt.Errorf("the token is for the portal %s, but this install belongs to %s (%s): ask IT for a token of your portal", tok.URL, sys.PortalURL, sys.Path)
		}
	}
	if _, err := fsync.LoadDevice(dir); err == nil && !*force {
		return fmt.Errorf("this device is enrolled already (%s); to enroll it again after a TPM replacement use --force (the vault stays), or wipe it first: fieldoffice wipe --yes", filepath.Join(dir, fsync.DeviceFile))
	}
	vaultExists := false
	if _, err := os.Stat(filepath.Join(dir, storage.FileName)); err == nil {
		vaultExists = true
	}
	spec, _, err := c.explicitSpec()
	if err != nil {
		return err
	}
	var pin []byte
	if !vaultExists {
		if pin, err = c.pins.fresh(user); err != nil {
			return err
		}
		defer clear(pin)
		if err := storage.ValidatePIN(pin); err != nil {
			return err
		}
	}

	// The device key: in the TPM of the (new or existing) vault, else in software.
	var tpm platform.TPM
	var v *storage.Vault
	if vaultExists {
		var done func()
		if v, done, err = c.openVault(); err != nil {
			return err
		}
		defer done()
		tpm = v.TPM()
	} else if tpm, err = c.openTPM(spec); err != nil {
		return err
	} else if tpm != nil {
		defer tpm.Close()
	}
	p := fsync.EnrollParams{Token: *token, User: user, DeviceName: *name, Client: c.clientConfig(), TPMKind: "none"}
	if tpm != nil {
		blob, err := platform.CreateDeviceKey(tpm)
		if err != nil {
			return fmt.Errorf("create the device key in the TPM: %w", err)
		}
		k, err := platform.LoadDeviceKey(tpm, blob)
		if err != nil {
			return fmt.Errorf("load the new device key: %w", err)
		}
		defer k.Close()
		p.Key, p.KeyKind, p.KeyBlob, p.Hardware = k, fsync.KeyTPM, blob, k.Hardware()
		p.TPMKind = string(tpm.Info().Spec.Kind)
	} else {
		k, err := platform.NewSoftwareDeviceKey()
		if err != nil {
			return err
		}
		pemKey, err := k.MarshalPEM()
		if err != nil {
			return err
		}
		p.Key, p.KeyKind, p.KeyBlob = k, fsync.KeySoftware, pemKey
	}
	dev, err := fsync.Enroll(ctx, p)
	if err != nil {
		return err
	}
	if !vaultExists {
		if len(pin) < dev.Policy.MinPINLength {
			return fmt.Errorf("the portal's policy needs a PIN of at least %d digits; nothing was created — enroll again with a new token", dev.Policy.MinPINLength)
		}
		var rec *ecdh.PublicKey
		if dev.RecoveryPEM != "" {
			if rec, err = crypto.ParseRecoveryPublicKey([]byte(dev.RecoveryPEM)); err != nil {
				return fmt.Errorf("the portal's recovery key: %w", err)
			}
		}
		nv, err := storage.Create(storage.Config{Dir: dir, TPM: tpm, Spec: spec, Logger: c.log}, storage.CreateOptions{
			User: user, PIN: pin, PCRs: dev.Policy.PCRs, RecoveryKey: rec, AllowSoftwareKey: tpm == nil && dev.Policy.AllowSoftwareKeys,
		})
		if err != nil {
			return fmt.Errorf("create the vault: %w", err)
		}
		if err := nv.Close(); err != nil {
			return err
		}
	}
	if err := dev.Save(dir); err != nil {
		return err
	}
	fmt.Fprintf(c.env.Stdout, "Enrolled: device %s (%s) at %s, office %q\n", dev.DeviceID, dev.Name, dev.PortalURL, dev.Office)
	fmt.Fprintf(c.env.Stdout, "Device key: %s. Policy version %d. Next: fieldoffice sync\n", map[bool]string{true: "in the TPM", false: "software (NOT hardware-protected)"}[p.KeyKind == fsync.KeyTPM], dev.Policy.Version)
	return nil
}

// SyncJSON is the last line of `sync --json`.
type SyncJSON struct {
	OK        bool   `json:"ok"`
	Pulled    int    `json:"pulled"`
	Merged    int    `json:"merged"`
	Pushed    int    `json:"pushed"`
	Conflicts int    `json:"conflicts"`
	Rejected  int    `json:"rejected"`
	Uploaded  int    `json:"blobs_uploaded"`
	Bytes     int64  `json:"bytes_uploaded"`
	Pending   int    `json:"pending"`
	Duration  int64  `json:"duration_ms"`
	Error     string `json:"error,omitempty"`
	Wiped     bool   `json:"wiped,omitempty"`
}

func cmdSync(ctx context.Context, c *ctxt, args []string) error {
	fs := c.flags("sync", "[--json] [--timeout D] [--check-in]")
	asJSON := fs.Bool("json", false, "print progress events and the summary as JSON lines")
	timeout := fs.Duration("timeout", 10*time.Minute, "deadline of the whole run")
	checkIn := fs.Bool("check-in", false, "only contact the portal with the device key (no PIN): policy, revocation, offline lock")
	role := fs.String("role", "", "workflow role sent with the changes (env FIELDOFFICE_ROLE; default sachbearbeitung)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: fieldoffice sync [--json] [--timeout D] [--check-in]", errUsage)
	}
	dir, err := c.dataDir()
	if err != nil {
		return err
	}
	dev, err := fsync.LoadDevice(dir)
	if err != nil {
		return err
	}
	v, done, err := c.openVault()
	if err != nil {
		return err
	}
	closed := false
	closeVault := func() {
		if !closed {
			closed = true
			done()
		}
	}
	defer closeVault()
	key, err := deviceKey(v, dev)
	if err != nil {
		return err
	}
	defer key.Close()
	client, err := dev.Client(key, c.clientConfig())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	report := func(s fsync.Summary, err error, wiped bool) error {
		if *asJSON {
			out := SyncJSON{OK: err == nil, Pulled: s.Pulled, Merged: s.Merged, Pushed: s.Pushed, Conflicts: s.Conflicts,
				Rejected: s.Rejected, Uploaded: s.BlobsUp, Bytes: s.BytesUp, Pending: s.Pending, Duration: s.DurationMS, Wiped: wiped}
			if err != nil {
				out.Error = message(err)
			}
			if perr := c.printJSONLine(out); perr != nil {
				return perr
			}
		} else if err == nil {
			fmt.Fprintf(c.env.Stdout, "Synchronised in %s: %d pulled (%d merged), %d pushed, %d conflicts, %d rejected, %d attachments uploaded; %d changes waiting.\n",
				s.Duration.Round(time.Millisecond), s.Pulled, s.Merged, s.Pushed, s.Conflicts, s.Rejected, s.BlobsUp, s.Pending)
		}
		return err
	}
	wipe := func(cause error) error {
		key.Close()
		closeVault()
		rep, err := wipeDevice(dir)
		if err != nil {
			return fmt.Errorf("%w — and the wipe failed: %v (remove %s by hand)", cause, err, dir)
		}
		c.log.Warn("device revoked by the portal: vault crypto-erased", "path", rep.Path, "bytes_overwritten", rep.Overwritten)
		return fmt.Errorf("%w: the portal revoked this device; the local data was erased (%s). Ask IT to enroll it again", errWiped, rep.Time.Local().Format("02.01.2006 15:04:05"))
	}

	acts := &cliActions{v: v, dir: dir, wipe: func(ctx context.Context) (storage.WipeReport, error) {
		return v.Wipe() // the TPM stays open: the device key signs the report
	}}
	wiped := func() error {
		c.log.Warn("remote wipe ordered by the portal: vault crypto-erased", "path", dir)
		return fmt.Errorf("%w: IT ordered this device's data erased; it was (%s). Ask IT to enroll it again", errWiped, acts.when.Local().Format("02.01.2006 15:04:05"))
	}
	if err := fsync.CheckInWithActions(ctx, client, dev, dir, key, acts); err != nil {
		switch {
		case errors.Is(err, fsync.ErrWiped):
			return report(fsync.Summary{}, wiped(), true)
		case errors.Is(err, fsync.ErrRevoked):
			return report(fsync.Summary{}, wipe(err), true)
		}
		return report(fsync.Summary{}, err, false)
	}
	if *checkIn {
		fmt.Fprintf(c.env.Stderr, "Checked in with the portal (policy version %d).\n", dev.Policy.Version)
		return nil
	}
	if err := c.unlock(v); err != nil {
		return err
	}
	v.SetForms(c.formsFor(dev))
	eng := &fsync.Engine{Vault: v, Client: client, Device: dev, DataDir: dir, Logger: c.log, Key: key, Actions: acts,
		Role: cmp.Or(*role, c.env.Getenv("FIELDOFFICE_ROLE"), "sachbearbeitung")}
	eng.OnEvent = func(ev fsync.Event) {
		if *asJSON {
			_ = c.printJSONLine(ev)
		}
	}
	s, err := eng.Run(ctx)
	switch {
	case errors.Is(err, fsync.ErrWiped):
		return report(s, wiped(), true)
	case errors.Is(err, fsync.ErrRevoked):
		return report(s, wipe(err), true)
	}
	return report(s, err, false)
}

// printJSONLine writes v as one line of JSON.
func (c *ctxt) printJSONLine(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = c.env.Stdout.Write(append(b, '\n'))
	return err
}

func cmdWipe(_ context.Context, c *ctxt, args []string) error {
	fs := c.flags("wipe", "--yes")
	yes := fs.Bool("yes", false, "really erase this device's data (no undo)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || !*yes {
		return fmt.Errorf("%w: fieldoffice wipe --yes erases the vault and the enrollment of this device; there is no undo", errUsage)
	}
	dir, err := c.dataDir()
	if err != nil {
		return err
	}
	rep, err := wipeDevice(dir)
	if err != nil {
		return err
	}
	if !rep.Removed {
		fmt.Fprintf(c.env.Stdout, "Nothing to wipe in %s.\n", dir)
		return nil
	}
	fmt.Fprintf(c.env.Stdout, "Wiped %s: key slots erased, %d bytes overwritten, file removed.\n", rep.Path, rep.Overwritten)
	return nil
}

func caseResolve(c *ctxt, args []string) error {
	const use = "fieldoffice case resolve ID FIELD mine|theirs|VALUE  (or ID FIELD --value VALUE)"
	fs := c.flags("case resolve", "ID FIELD mine|theirs|VALUE  |  ID FIELD --value VALUE")
	var literal *string
	fs.Func("value", `the value to set, taken literally (also "mine" or "theirs")`, func(s string) error {
		literal = &s
		return nil
	})
	id, rest, err := caseArgs(fs, args, use, 2, -1)
	if err != nil {
		return err
	}
	if (literal == nil) == (len(rest) < 2) {
		return fmt.Errorf("%w: %s", errUsage, use)
	}
	field := rest[0]
	if !strings.Contains(field, ".") {
		field = "values." + field
	}
	v, done, err := c.openCases()
	if err != nil {
		return err
	}
	defer done()
	if literal != nil {
		_, err = v.ResolveConflictValue(id, field, *literal)
	} else {
		_, err = v.ResolveConflict(id, field, strings.Join(rest[1:], " "))
	}
	if err != nil {
		if errors.Is(err, storage.ErrNoConflict) {
			return fmt.Errorf("%w — 'fieldoffice case show %s' lists the conflicts", err, id)
		}
		return c.caseError(err)
	}
	return nil
}

// formsFor returns the forms the repository validates with: the portal's, when the
// device is enrolled, with the built-in ones for services the portal did not send.
func (c *ctxt) formsFor(dev *fsync.Device) storage.Forms {
	if dev == nil {
		return forms
	}
	f, err := dev.Schemas(forms)
	if err != nil {
		c.log.Warn("a form the portal delivered does not parse; the built-in one is used", "err", err)
	}
	return f
}

// fetchBlob downloads attachment sha from the portal into the unlocked vault v.
func (c *ctxt) fetchBlob(v *storage.Vault, sha string) error {
	dir, err := c.dataDir()
	if err != nil {
		return err
	}
	dev, err := fsync.LoadDevice(dir)
	if err != nil {
		return err
	}
	key, err := deviceKey(v, dev)
	if err != nil {
		return err
	}
	defer key.Close()
	client, err := dev.Client(key, c.clientConfig())
	if err != nil {
		return err
	}
	eng := &fsync.Engine{Vault: v, Client: client, Device: dev, Logger: c.log}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	return eng.FetchBlob(ctx, sha)
}

// wipeDevice crypto-erases the vault in dir and removes the enrollment record.
func wipeDevice(dir string) (storage.WipeReport, error) {
	rep, err := storage.Wipe(dir)
	if err != nil {
		return rep, err
	}
	if err := fsync.RemoveDevice(dir); err != nil {
		return rep, fmt.Errorf("vault wiped, but the enrollment record stays: %w", err)
	}
	return rep, nil
}

// validateNewPIN checks a PIN being set: the vault's rule (6+ digits) and, on an
// enrolled device, the policy's minimum length.
func (c *ctxt) validateNewPIN(pin []byte) error {
	if err := storage.ValidatePIN(pin); err != nil {
		return err
	}
	dir, err := c.dataDir()
	if err != nil {
		return err
	}
	if dev, err := fsync.LoadDevice(dir); err == nil && len(pin) < dev.Policy.MinPINLength {
		return fmt.Errorf("%w: the device policy asks for at least %d digits", storage.ErrBadPIN, dev.Policy.MinPINLength)
	}
	return nil
}

// maxAttachment is the policy's attachment limit on an enrolled device, else the
// vault's default.
func (c *ctxt) maxAttachment() int64 {
	if dir, err := c.dataDir(); err == nil {
		if dev, err := fsync.LoadDevice(dir); err == nil && dev.Policy.MaxAttachmentBytes > 0 {
			return dev.Policy.MaxAttachmentBytes
		}
	}
	return storage.DefaultMaxBlobSize
}

// cliActions carries out remote actions for `fieldoffice sync`: wipe erases the
// vault (closed first); there is no app session to lock; resync needs the unlocked
// vault.
type cliActions struct {
	v    *storage.Vault
	dir  string
	wipe func(context.Context) (storage.WipeReport, error)
	when time.Time
}

func (a *cliActions) Wipe(ctx context.Context) (string, error) {
	rep, err := a.wipe(ctx)
	if err != nil {
		return "", err
	}
	a.when = rep.Time
	return fmt.Sprintf("key slots erased, %d bytes overwritten, vault removed", rep.Overwritten), nil
}

func (a *cliActions) Lock() (string, error) { return "no app session open on this device", nil }

func (a *cliActions) Resync() (bool, error) {
	if !a.v.Unlocked() {
		return false, nil
	}
	return true, a.v.UpdateSyncState(func(s *storage.SyncState) { s.Cursor = "" })
}
