// Package cli implements fieldoffice's headless admin commands (init, status, user,
// recover, keygen-recovery, case). It never imports fyne: the same commands run on a
// server without a display, from scripts and from an MDM.
//
// Every command takes the global flags --data DIR (env FIELDOFFICE_DATA) and --tpm SPEC
// (env FIELDOFFICE_TPM); flags win over the environment. Commands that unlock the vault
// take --user NAME (env FIELDOFFICE_USER; default: the only user, if there is one).
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"fieldoffice/platform"
	"fieldoffice/storage"
	fsync "fieldoffice/sync"
)

// Env is what a command run sees of the world; tests fill it with buffers.
type Env struct {
	Args   []string // without the program name
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	Now    func() time.Time
}

// OSEnv returns the Env of the running process.
func OSEnv(args []string) Env {
	return Env{Args: args, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Now: time.Now}
}

// Version is stamped at build time (-ldflags "-X fieldoffice/cli.Version=...").
var Version = "0.1.0-dev"

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, c *ctxt, args []string) error
}

var commands []command

func init() {
	commands = []command{
		{"init", "create the encrypted vault on this device", cmdInit},
		{"status", "show vault, TPM and users (no PIN needed)", cmdStatus},
		{"user", "manage user key slots: list | add NAME | remove NAME | passwd [NAME] | reset NAME", cmdUser},
		{"recover", "unlock with the organisation's recovery key and enroll a new TPM slot", cmdRecover},
		{"keygen-recovery", "write an X25519 recovery key pair for admins", cmdKeygen},
		{"case", "work with cases: new | set | transition | note | attach | export-attachment | list | search | show", cmdCase},
		{"audit", "the audit trail: verify | export [--json]", cmdAudit},
		{"demo-data", "add N realistic demo cases (--cases N) for demos and benchmarks", cmdDemoData},
		{"enroll", "enroll this device with the portal: --token TOKEN --user NAME", cmdEnroll},
		{"sync", "synchronise with the portal now [--json]", cmdSync},
		{"wipe", "erase this device's vault and enrollment (--yes)", cmdWipe},
		{"doctor", "check TPM, store, clock, portal and certificate, and say what to do [--json] [--unlock]", cmdDoctor},
		{"forms", "the services and their forms: list | show TYPE", cmdForms},
		{"version", "print the version", cmdVersion},
	}
}

// IsCommand reports whether name is one of the admin subcommands (the binary starts the
// GUI otherwise).
func IsCommand(name string) bool {
	if name == "help" || name == "-h" || name == "--help" {
		return true
	}
	for _, c := range commands {
		if c.name == name {
			return true
		}
	}
	return false
}

// Run runs one command and returns the process exit code. Errors are printed to
// env.Stderr in one line that says what failed and what to do.
func Run(ctx context.Context, env Env) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	if len(env.Args) == 0 || env.Args[0] == "help" || env.Args[0] == "-h" || env.Args[0] == "--help" {
		usage(env.Stdout)
		return ExitOK
	}
	for _, cmd := range commands {
		if cmd.name != env.Args[0] {
			continue
		}
		c := &ctxt{env: env, pins: newPINSource(env.Getenv, env.Stdin, env.Stderr)}
		c.log = slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		err := cmd.run(ctx, c, env.Args[1:])
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		if err != nil {
			fmt.Fprintf(env.Stderr, "fieldoffice %s: %s\n", cmd.name, message(err))
		}
		return ExitCode(err)
	}
	fmt.Fprintf(env.Stderr, "fieldoffice: unknown command %q\n\n", env.Args[0])
	usage(env.Stderr)
	return ExitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "FieldOffice — offline field-office client.")
	fmt.Fprintln(w, "\nUsage: fieldoffice                 start the app (GUI)")
	fmt.Fprintln(w, "       fieldoffice COMMAND [flags]")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nGlobal flags: --data DIR (env FIELDOFFICE_DATA), --tpm SPEC (env FIELDOFFICE_TPM),")
	fmt.Fprintln(w, "  --user NAME (env FIELDOFFICE_USER). TPM specs: auto, device[:PATH], mssim:HOST:PORT, sim:FILE, none.")
	fmt.Fprintln(w, "PINs: from the terminal, else one line per PIN on stdin, else FIELDOFFICE_PIN / FIELDOFFICE_NEW_PIN.")
	fmt.Fprintln(w, "Exit codes: 0 ok, 1 error, 2 usage, 3 wrong PIN or slot locked, 4 tampered data or rollback, 5 TPM refused,")
	fmt.Fprintln(w, "  6 not compliant with the device policy (status), 7 device revoked by the portal and wiped.")
	fmt.Fprintln(w, "Run 'fieldoffice COMMAND -h' for a command's flags.")
}

// message turns an error into one line for the admin, adding what to do where the
// error alone does not say it.
func message(err error) string {
	msg := strings.TrimPrefix(err.Error(), "usage: ")
	switch {
	case errors.Is(err, storage.ErrTPMRefused), errors.Is(err, platform.ErrPolicy), errors.Is(err, platform.ErrWrongTPM):
		if !strings.Contains(msg, "recover") {
			msg += " — to get at the data, run: fieldoffice recover --recovery-key FILE --user NAME"
		}
	case errors.Is(err, storage.ErrAlreadyOpen):
		msg += " — close the FieldOffice app or the other command and try again"
	}
	return msg
}

// ctxt carries what a command's run needs: env, PIN source, logger and global flags.
type ctxt struct {
	env  Env
	pins *pinSource
	log  *slog.Logger

	dataFlag string
	tpmFlag  string
	userFlag string

	sys       platform.SystemConfig
	sysErr    error
	sysLoaded bool
}

// flags returns a FlagSet for command name with the global flags registered on it.
func (c *ctxt) flags(name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet("fieldoffice "+name, flag.ContinueOnError)
	fs.SetOutput(c.env.Stderr)
	fs.StringVar(&c.dataFlag, "data", "", "data directory (env FIELDOFFICE_DATA; default: the user data dir)")
	fs.StringVar(&c.tpmFlag, "tpm", "", "TPM spec: auto, device[:PATH], mssim:HOST:PORT, sim:FILE, none (env FIELDOFFICE_TPM)")
	fs.StringVar(&c.userFlag, "user", "", "user (key slot) name (env FIELDOFFICE_USER)")
	fs.Usage = func() {
		fmt.Fprintf(c.env.Stderr, "Usage: fieldoffice %s %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, allowing flags after positional arguments too.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// sysConfig returns the system configuration (platform.SystemConfig), read once.
func (c *ctxt) sysConfig() (platform.SystemConfig, error) {
	if !c.sysLoaded {
		c.sys, c.sysErr = platform.LoadSystemConfig()
		c.sysLoaded = true
	}
	return c.sys, c.sysErr
}

// dataDir is --data, else FIELDOFFICE_DATA, else the system configuration's
// data_dir, else the user's default data directory.
func (c *ctxt) dataDir() (string, error) {
	if c.dataFlag != "" {
		return c.dataFlag, nil
	}
	if d := c.env.Getenv("FIELDOFFICE_DATA"); d != "" {
		return d, nil
	}
	sys, err := c.sysConfig()
	if err != nil {
		return "", err
	}
	if sys.DataDir != "" {
		return sys.DataDir, nil
	}
	d, err := platform.DefaultDataDir()
	if err != nil {
		return "", fmt.Errorf("find the data directory (set --data or FIELDOFFICE_DATA): %w", err)
	}
	return d, nil
}

// explicitSpec returns the TPM spec given by flag, env or the system configuration,
// and whether one was given.
func (c *ctxt) explicitSpec() (platform.Spec, bool, error) {
	s := c.tpmFlag
	if s == "" {
		s = c.env.Getenv("FIELDOFFICE_TPM")
	}
	if s == "" {
		sys, err := c.sysConfig()
		if err != nil {
			return platform.Spec{}, false, err
		}
		s = sys.TPM
	}
	if s == "" {
		return platform.Spec{Kind: platform.KindAuto}, false, nil
	}
	spec, err := platform.ParseSpec(s)
	if err != nil {
		return spec, true, fmt.Errorf("%w: %v", errUsage, err)
	}
	return spec, true, nil
}

// openTPM opens the TPM of spec; for KindNone it returns nil.
func (c *ctxt) openTPM(spec platform.Spec) (platform.TPM, error) {
	if spec.Kind == platform.KindNone {
		return nil, nil
	}
	if spec.Kind == platform.KindSim {
		c.log.Warn("using the in-process TPM simulator: the vault key is not protected by any hardware (tests and demo only)", "spec", spec.String())
	}
	t, err := platform.Open(spec, platform.WithLogger(c.log))
	if err != nil {
		return nil, fmt.Errorf("open TPM %s: %w", spec, err)
	}
	return t, nil
}

// openVault opens the vault in the data dir with its TPM: the one given by --tpm or
// FIELDOFFICE_TPM, else the one recorded in the vault at init. The vault is locked;
// done closes vault and TPM.
func (c *ctxt) openVault() (*storage.Vault, func(), error) {
	dir, err := c.dataDir()
	if err != nil {
		return nil, nil, err
	}
	spec, explicit, err := c.explicitSpec()
	if err != nil {
		return nil, nil, err
	}
	specStr := ""
	if explicit {
		specStr = spec.String()
	}
	v, err := storage.OpenDevice(dir, specStr, c.log)
	if err != nil {
		return nil, nil, err
	}
	done := func() {
		if err := v.Close(); err != nil {
			c.log.Error("close vault", "err", err)
		}
	}
	return v, done, nil
}

// openUnlocked opens the vault and unlocks it as the acting user (see unlock for the
// device policy).
func (c *ctxt) openUnlocked() (*storage.Vault, func(), error) {
	v, done, err := c.openVault()
	if err != nil {
		return nil, nil, err
	}
	if err := c.unlock(v); err != nil {
		done()
		return nil, nil, err
	}
	return v, done, nil
}

// printJSON writes v to stdout as indented JSON.
func (c *ctxt) printJSON(v any) error {
	enc := json.NewEncoder(c.env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// actingUser returns the user who unlocks: --user, FIELDOFFICE_USER, or the only user.
func (c *ctxt) actingUser(v *storage.Vault) (string, error) {
	if c.userFlag != "" {
		return c.userFlag, nil
	}
	if u := c.env.Getenv("FIELDOFFICE_USER"); u != "" {
		return u, nil
	}
	users := v.Users()
	if len(users) == 1 {
		return users[0], nil
	}
	return "", fmt.Errorf("%w: this device has several users (%s): say which with --user NAME", errUsage, strings.Join(users, ", "))
}

// unlock unlocks v as the acting user, asking for the PIN. On an enrolled device the
// policy is enforced: no unlock when offline too long or with a forbidden software
// key; afterwards the user's slot is re-sealed to the policy's PCRs if they changed.
func (c *ctxt) unlock(v *storage.Vault) error {
	user, err := c.actingUser(v)
	if err != nil {
		return err
	}
	dir, err := c.dataDir()
	if err != nil {
		return err
	}
	dev, derr := fsync.LoadDevice(dir)
	if derr == nil {
		if err := dev.BeforeUnlock(v.Status(), user, c.env.Now()); err != nil {
			return err
		}
	}
	pin, err := c.pins.current(user)
	if err != nil {
		return err
	}
	defer clear(pin)
	if err := v.Unlock(user, pin); err != nil {
		return err
	}
	if derr == nil {
		if resealed, err := dev.AfterUnlock(v, user, pin); err != nil {
			c.log.Warn("could not apply the policy's PCR set", "err", err)
		} else if resealed {
			fmt.Fprintf(c.env.Stderr, "Your key is now bound to PCRs %s (device policy %d).\n", pcrList(dev.Policy.PCRs), dev.Policy.Version)
		}
	}
	return nil
}

func cmdVersion(_ context.Context, c *ctxt, args []string) error {
	fs := c.flags("version", "")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(c.env.Stdout, "fieldoffice %s\n", Version)
	return nil
}
