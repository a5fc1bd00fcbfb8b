package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"fieldoffice/cases"
	"fieldoffice/portal"
	"fieldoffice/portal/server"
)

// Version is stamped at build time (-ldflags "-X main.Version=...").
var Version = "0.1.0-dev"

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// usageError is a mistake on the command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// env is what a command sees of the world.
type env struct {
	ctx    context.Context
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

type command struct {
	name, args, summary string
	run                 func(e *env, args []string) error
}

var commands []command

func init() {
	commands = []command{
		{"init", "--dir DIR [--hosts HOST,…]", "create a portal: CA, server certificate, recovery key, portal.db", cmdInit},
		{"serve", "--dir DIR [--listen ADDR]", "serve the device API (TLS) and the admin socket until interrupted", cmdServe},
		{"token", "create --dir DIR --office NAME [--ttl 24h] [--url https://HOST:PORT] [--json]", "create a one-time enrollment token", cmdToken},
		{"device", "list [--json] | show ID [--json] | revoke ID | wipe ID | lock ID | resync ID | rotate ID | cancel ID ACTION-ID",
			"list, inspect or revoke devices; queue remote actions they carry out at their next contact", cmdDevice},
		{"seed", "--dir DIR --cases N [--seed S]", "add N realistic demo cases to the feed", cmdSeed},
		{"case", "list [--json] | show ID [--json] | set ID FIELD=VALUE… | assign ID USER", "look at and edit cases in the office", cmdCase},
		{"policy", "show [--json] | set KEY=VALUE…", "show or change the device policy", cmdPolicy},
		{"recovery", "export --out FILE [--remove] | show", "export the recovery private key for offline storage, or print the public key", cmdRecovery},
		{"version", "", "print the version", cmdVersion},
	}
}

// run runs one command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	e := &env{ctx: ctx, stdout: stdout, stderr: stderr, getenv: getenv}
	if len(args) == 0 || slices.Contains([]string{"help", "-h", "--help"}, args[0]) {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	i := slices.IndexFunc(commands, func(c command) bool { return c.name == args[0] })
	if i < 0 {
		fmt.Fprintf(stderr, "portald: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	err := commands[i].run(e, args[1:])
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "portald %s: %v\nusage: portald %s %s\n", args[0], err, args[0], commands[i].args)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "portald %s: %v\n", args[0], err)
		return exitError
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "portald — the reference FieldOffice portal")
	fmt.Fprintln(w, "\nusage:")
	for _, c := range commands {
		fmt.Fprintf(w, "  portald %s %s\n      %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintln(w, "\n--dir defaults to $PORTALD_DIR. Exit codes: 0 ok, 1 error, 2 usage.")
}

// flags is a flag set that also takes flags after positional arguments.
type flags struct {
	*flag.FlagSet
	dir string
}

func newFlags(e *env, name string, withDir bool) *flags {
	f := &flags{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError)}
	f.SetOutput(io.Discard)
	if withDir {
		f.StringVar(&f.dir, "dir", e.getenv("PORTALD_DIR"), "portal directory (default $PORTALD_DIR)")
	}
	return f
}

// parse parses args with flags anywhere and returns the positional arguments.
func (f *flags) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			return nil, usagef("%v", err)
		}
		args = f.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if f.Lookup("dir") != nil && f.dir == "" {
		return nil, usagef("--dir DIR missing (or set PORTALD_DIR)")
	}
	return pos, nil
}

// admin opens the admin operations of the portal in --dir.
func (f *flags) admin() (server.Admin, error) {
	a, _, err := server.OpenAdmin(f.dir)
	return a, err
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// --- init, serve ----------------------------------------------------------------------

func cmdInit(e *env, args []string) error {
	f := newFlags(e, "init", true)
	hosts := f.String("hosts", "", "comma-separated DNS names or IP addresses of the portal (localhost, 127.0.0.1 and ::1 are always added)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	var list []string
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			list = append(list, h)
		}
	}
	if err := server.Init(f.dir, list); err != nil {
		return err
	}
	st, err := server.OpenStore(f.dir, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(e.stdout, "portal created in %s\nCA SHA-256: %s\n", f.dir, st.CAFingerprint())
	fmt.Fprintf(e.stdout, "recovery private key: %s (move it to safe offline storage: portald recovery export --out FILE --remove)\n", filepath.Join(f.dir, "recovery.key"))
	return nil
}

func cmdServe(e *env, args []string) error {
	f := newFlags(e, "serve", true)
	listen := f.String("listen", "127.0.0.1:8443", "address to listen on (HOST:PORT)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, nil))
	srv, err := server.Open(f.dir, logger)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		srv.Close()
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	for srv.URL() == "" {
		select {
		case err := <-done:
			srv.Close()
			return err
		case <-time.After(5 * time.Millisecond):
		}
	}
	fmt.Fprintf(e.stdout, "FieldOffice portal on %s\nCA SHA-256: %s\nadmin socket: %s\n",
		srv.URL(), srv.Store().CAFingerprint(), filepath.Join(f.dir, "admin.sock"))
	select {
	case err := <-done:
		srv.Close()
		return err
	case <-e.ctx.Done():
		logger.Info("stopping")
		cerr := srv.Close()
		return errors.Join(<-done, cerr)
	}
}

// --- token, device, seed ----------------------------------------------------------------

func cmdToken(e *env, args []string) error {
	f := newFlags(e, "token", true)
	office := f.String("office", "", "the office (Dienststelle) the device belongs to")
	ttl := f.Duration("ttl", 24*time.Hour, "how long the token is valid (1m…720h)")
	url := f.String("url", "", "https://HOST:PORT devices reach the portal at (default: the address `serve` last listened on)")
	asJSON := f.Bool("json", false, "print the token as JSON")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "create" {
		return usagef("want `token create`")
	}
	if strings.TrimSpace(*office) == "" {
		return usagef("--office NAME missing")
	}
	a, err := f.admin()
	if err != nil {
		return err
	}
	defer a.Close()
	t, err := a.CreateToken(*office, *ttl, *url)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, t)
	}
	fmt.Fprintln(e.stdout, t.Token)
	fmt.Fprintf(e.stderr, "one-time enrollment token for %q at %s, valid until %s\n", t.Office, t.URL, t.Expires.Local().Format("02.01.2006 15:04"))
	return nil
}

// actionWords are the `device` subcommands that queue a remote action.
var actionWords = map[string]string{
	"wipe": portal.ActionWipe, "lock": portal.ActionLock, "resync": portal.ActionResync,
	"rotate": portal.ActionRotateCert, "rotate-cert": portal.ActionRotateCert,
}

// actionEffects say what a queued action does, for the confirmation.
var actionEffects = map[string]string{
	portal.ActionWipe:       "it erases its store at its next contact and reports back; the portal then marks it wiped and refuses it",
	portal.ActionLock:       "the app locks at its next contact and asks for the PIN again",
	portal.ActionResync:     "it pulls all cases from the start at its next contact",
	portal.ActionRotateCert: "it asks for a new client certificate at its next contact",
}

func cmdDevice(e *env, args []string) error {
	f := newFlags(e, "device", true)
	asJSON := f.Bool("json", false, "print JSON")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	sub := ""
	if len(pos) > 0 {
		sub = pos[0]
	}
	kind, isAction := actionWords[sub]
	switch {
	case sub == "list" && len(pos) == 1:
	case (sub == "revoke" || sub == "show" || isAction) && len(pos) == 2:
	case sub == "cancel" && len(pos) == 3:
	default:
		return usagef("want `device list`, `device show ID`, `device revoke ID`, `device wipe|lock|resync|rotate ID` or `device cancel ID ACTION-ID`")
	}
	a, err := f.admin()
	if err != nil {
		return err
	}
	defer a.Close()
	switch {
	case sub == "revoke":
		d, err := a.RevokeDevice(pos[1])
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "device %s (%s) revoked at %s: it wipes its store at its next contact\n", d.ID, d.Name, d.Revoked.Local().Format(time.DateTime))
		return nil
	case sub == "show":
		d, err := a.DeviceDetails(pos[1])
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(e.stdout, d)
		}
		return printDevice(e.stdout, d)
	case sub == "cancel":
		act, err := a.CancelAction(pos[1], pos[2])
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(e.stdout, act)
		}
		fmt.Fprintf(e.stdout, "action %s (%s) of device %s cancelled\n", act.ID, act.Kind, act.Device)
		return nil
	case isAction:
		act, err := a.QueueAction(pos[1], kind)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(e.stdout, act)
		}
		fmt.Fprintf(e.stdout, "%s of device %s pending since %s (action %s): %s\n",
			act.Kind, act.Device, act.Created.Local().Format(time.DateTime), act.ID, actionEffects[act.Kind])
		return nil
	}
	list, err := a.Devices()
	if err != nil || *asJSON {
		return errors.Join(err, printJSONIf(err == nil, e.stdout, list))
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tOFFICE\tNAME\tKEY\tENROLLED\tLAST SEEN\tSTATE")
	for _, d := range list {
		key := "TPM"
		if d.Software {
			key = "software"
		}
		state := d.State()
		switch {
		case d.IsWiped():
			state += " " + d.Wiped.Local().Format(time.DateOnly)
		case d.IsRevoked():
			state += " " + d.Revoked.Local().Format(time.DateOnly)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Office, d.Name, key, d.Enrolled.Local().Format(time.DateOnly), dateOrDash(d.LastSeen), state)
	}
	return tw.Flush()
}

// printDevice prints `device show`.
func printDevice(w io.Writer, d server.DeviceDetails) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	row("ID", "%s", d.ID)
	row("office", "%s", d.Office)
	row("name", "%s", d.Name)
	row("user", "%s", d.User)
	key := "TPM"
	switch {
	case d.Software:
		key = "software key"
	case d.Hardware:
		key = "hardware TPM"
	}
	row("key", "%s (tpm kind %s)", key, cmpOr(d.TPMKind, "-"))
	row("enrolled", "%s", timeOrDash(d.Enrolled))
	row("last contact", "%s", timeOrDash(d.LastSeen))
	policy := "-"
	if d.PolicyVersion > 0 {
		policy = fmt.Sprintf("version %d (since %s)", d.PolicyVersion, timeOrDash(d.PolicyFetched))
		if d.PolicyVersion != d.PolicyCurrent {
			policy += fmt.Sprintf("; the portal has version %d", d.PolicyCurrent)
		}
	}
	row("policy", "%s", policy)
	row("certificate", "serial %s, expires %s", d.CertSerial, timeOrDash(d.CertExpires))
	if !d.CertRotated.IsZero() {
		row("", "issued %s (rotated)", timeOrDash(d.CertRotated))
	}
	if d.PrevCertSerial != "" {
		row("previous certificate", "serial %s, valid until the device uses the new one (expires %s)", d.PrevCertSerial, timeOrDash(d.PrevCertExpires))
	}
	row("revoked", "%s", yesAt(d.Revoked))
	row("wiped", "%s", yesAt(d.Wiped))
	row("state", "%s", d.State)
	row("pending actions", "%d", d.PendingActions)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(d.Actions) == 0 {
		_, err := fmt.Fprintln(w, "\nno remote actions")
		return err
	}
	fmt.Fprintln(w, "\nremote actions:")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tCREATED\tSEEN\tSTATUS\tREPORTED\tTIME\tDETAIL")
	for _, a := range d.Actions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Kind, timeOrDash(a.Created), timeOrDash(a.Seen), a.Status,
			timeOrDash(a.Reported), timeOrDash(a.Time), oneLine(a.Detail))
	}
	return tw.Flush()
}

func timeOrDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}

func yesAt(t time.Time) string {
	if t.IsZero() {
		return "no"
	}
	return "yes, " + t.Local().Format(time.DateTime)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// oneLine keeps a device's detail on one table row.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 80 {
		s = string(r[:79]) + "…"
	}
	return cmpOr(s, "-")
}

func printJSONIf(ok bool, w io.Writer, v any) error {
	if !ok {
		return nil
	}
	return printJSON(w, v)
}

func dateOrDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func cmdSeed(e *env, args []string) error {
	f := newFlags(e, "seed", true)
	n := f.Int("cases", 0, "number of demo cases to add")
	seed := f.Int64("seed", 0, "random seed (default: a new one each run)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if *n <= 0 {
		return usagef("--cases N missing (N ≥ 1)")
	}
	if *seed == 0 {
		*seed = time.Now().UnixNano()
	}
	a, err := f.admin()
	if err != nil {
		return err
	}
	defer a.Close()
	added, err := a.Seed(*n, *seed)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%d demo cases added (seed %d)\n", added, *seed)
	return nil
}

// --- case, policy -----------------------------------------------------------------------

func cmdCase(e *env, args []string) error {
	f := newFlags(e, "case", true)
	asJSON := f.Bool("json", false, "print JSON")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("want list, show, set or assign")
	}
	sub, rest := pos[0], pos[1:]
	switch {
	case sub == "list" && len(rest) == 0:
	case sub == "show" && len(rest) == 1:
	case sub == "set" && len(rest) >= 2:
	case sub == "assign" && len(rest) == 2:
	default:
		return usagef("want `case list`, `case show ID`, `case set ID FIELD=VALUE…` or `case assign ID USER`")
	}
	var fields map[string]string
	if sub == "set" {
		if fields, err = keyValues(rest[1:]); err != nil {
			return err
		}
	}
	a, err := f.admin()
	if err != nil {
		return err
	}
	defer a.Close()
	var c *cases.Case
	switch sub {
	case "list":
		list, err := a.Cases()
		if err != nil || *asJSON {
			return errors.Join(err, printJSONIf(err == nil, e.stdout, list))
		}
		return printCaseList(e.stdout, list)
	case "show":
		c, err = a.Case(rest[0])
	case "set":
		c, err = a.SetCaseFields(rest[0], fields)
	case "assign":
		c, err = a.AssignCase(rest[0], rest[1])
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, c)
	}
	if sub != "show" {
		fmt.Fprintf(e.stdout, "case %s now at revision %d (devices pull it with their next sync)\n", c.ID, c.Revision)
		return nil
	}
	return printCase(e.stdout, c)
}

// keyValues parses KEY=VALUE arguments.
func keyValues(args []string) (map[string]string, error) {
	m := map[string]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, usagef("%q is not KEY=VALUE", a)
		}
		if _, dup := m[k]; dup {
			return nil, usagef("%s given twice", k)
		}
		m[k] = v
	}
	return m, nil
}

func printCaseList(w io.Writer, list []server.CaseInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tAKTENZEICHEN\tSERVICE\tSTATUS\tASSIGNEE\tREV\tUPDATED\tAPPLICANT")
	for _, c := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", c.ID, c.Aktenzeichen, c.Service, c.Status, c.Assignee, c.Revision,
			c.Updated.Local().Format("02.01.2006"), c.Applicant)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d cases\n", len(list))
	return err
}

func printCase(w io.Writer, c *cases.Case) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	row("ID", c.ID)
	row("Aktenzeichen", c.Aktenzeichen)
	row("Dienstleistung", c.Service)
	row("Status", c.Status)
	row("Sachbearbeitung", c.Assignee)
	row("Wiedervorlage", c.DueDate)
	row("Antragsteller/in", c.Applicant.DisplayName())
	row("Anschrift", c.Applicant.Address.String())
	row("Revision", fmt.Sprint(c.Revision))
	row("Angelegt", c.Created.Local().Format("02.01.2006 15:04"))
	row("Geändert", c.Updated.Local().Format("02.01.2006 15:04"))
	for _, k := range slices.Sorted(maps.Keys(c.Values)) {
		row("values."+k, c.Values[k])
	}
	for _, n := range c.Notes {
		row("Vermerk", n.Created.Local().Format("02.01.2006")+" "+n.Author+": "+n.Text)
	}
	for _, a := range c.Attachments {
		row("Anlage", fmt.Sprintf("%s (%s, %d Bytes) %s", a.Name, a.MediaType, a.Size, a.SHA256))
	}
	return tw.Flush()
}

func cmdPolicy(e *env, args []string) error {
	f := newFlags(e, "policy", true)
	asJSON := f.Bool("json", false, "print JSON")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 1 && pos[0] == "show":
	case len(pos) >= 2 && pos[0] == "set":
	default:
		return usagef("want `policy show` or `policy set KEY=VALUE…` (keys: %s)", strings.Join(slices.Sorted(maps.Keys(server.PolicyKeys)), ", "))
	}
	var changes map[string]string
	if pos[0] == "set" {
		if changes, err = keyValues(pos[1:]); err != nil {
			return err
		}
	}
	a, err := f.admin()
	if err != nil {
		return err
	}
	defer a.Close()
	p, err := a.Policy()
	if pos[0] == "set" {
		p, err = a.SetPolicy(changes)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, p)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "version\t%d\n", p.Version)
	fmt.Fprintf(tw, "idle_lock_minutes\t%d\n", p.IdleLockMinutes)
	fmt.Fprintf(tw, "max_offline_days\t%d\n", p.MaxOfflineDays)
	fmt.Fprintf(tw, "min_pin_length\t%d\n", p.MinPINLength)
	fmt.Fprintf(tw, "pcrs\t%s\n", strings.Trim(strings.Join(strings.Fields(fmt.Sprint(p.PCRs)), ","), "[]"))
	fmt.Fprintf(tw, "allow_software_keys\t%t\n", p.AllowSoftwareKeys)
	fmt.Fprintf(tw, "services\t%s\n", strings.Join(p.Services, ","))
	fmt.Fprintf(tw, "max_attachment_bytes\t%d\n", p.MaxAttachmentBytes)
	fmt.Fprintf(tw, "sync_interval_minutes\t%d\n", p.SyncIntervalMinutes)
	return tw.Flush()
}

// --- recovery ---------------------------------------------------------------------------

func cmdRecovery(e *env, args []string) error {
	f := newFlags(e, "recovery", true)
	out := f.String("out", "", "the file to write the private key to (must not exist; written with mode 0600)")
	remove := f.Bool("remove", false, "delete DIR/recovery.key after the export (the portal never needs the private key)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 1 && pos[0] == "show":
	case len(pos) == 1 && pos[0] == "export":
		if *out == "" {
			return usagef("--out FILE missing")
		}
	default:
		return usagef("want `recovery export --out FILE [--remove]` or `recovery show`")
	}
	a, err := f.admin()
	if err != nil {
		return err
	}
	defer a.Close()
	pub, err := a.RecoveryPublicKey()
	if err != nil {
		return err
	}
	if pos[0] == "show" {
		_, err := io.WriteString(e.stdout, pub)
		return err
	}
	if err := server.ExportRecoveryKey(f.dir, *out, pub, *remove); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "recovery private key written to %s (mode 0600)\n", *out)
	if *remove {
		fmt.Fprintf(e.stdout, "%s removed: the portal no longer holds the private key\n", filepath.Join(f.dir, "recovery.key"))
	}
	fmt.Fprintln(e.stderr, "WARNING: this key opens the data of every device of the organisation (fieldoffice recover --recovery-key FILE).")
	fmt.Fprintln(e.stderr, "Keep it OFFLINE (e.g. an encrypted USB stick in a safe, a second copy elsewhere), never on a networked machine, and delete other copies.")
	return nil
}

func cmdVersion(e *env, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q", args[0])
	}
	fmt.Fprintf(e.stdout, "portald %s\n", Version)
	return nil
}
