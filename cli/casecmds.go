package cli

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"fieldoffice/cases"
	"fieldoffice/storage"
	fsync "fieldoffice/sync"
)

const caseUsage = "fieldoffice case new --type TYPE [--set F=V ...] | set ID F=V ... | transition ID STATE | " +
	"note ID TEXT | attach ID FILE | export-attachment ID SHA256 --out FILE | list [filters] | search TEXT | show ID | " +
	"resolve ID FIELD mine|theirs|VALUE|--value VALUE"

func cmdCase(ctx context.Context, c *ctxt, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: %s", errUsage, caseUsage)
	}
	sub, args := args[0], args[1:]
	run := map[string]func(*ctxt, []string) error{
		"new": caseNew, "set": caseSet, "transition": caseTransition, "note": caseNote,
		"attach": caseAttach, "export-attachment": caseExportAttachment,
		"list": caseList, "search": caseSearch, "show": caseShow, "resolve": caseResolve,
	}[sub]
	if run == nil {
		return fmt.Errorf("%w: unknown case command %q — %s", errUsage, sub, caseUsage)
	}
	return run(c, args)
}

// setFlags collects repeated --set FIELD=VALUE flags.
type setFlags map[string]string

func (s setFlags) String() string { return fmt.Sprint(map[string]string(s)) }
func (s setFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want FIELD=VALUE, got %q", v)
	}
	s[k] = val
	return nil
}

// openCases opens and unlocks the vault with the forms the repository validates with.
func (c *ctxt) openCases() (*storage.Vault, func(), error) {
	v, done, err := c.openUnlocked()
	if err != nil {
		return nil, nil, err
	}
	var dev *fsync.Device
	if dir, err := c.dataDir(); err == nil {
		dev, _ = fsync.LoadDevice(dir)
	}
	v.SetForms(c.formsFor(dev))
	return v, done, nil
}

// lang is the language of messages meant for the user: FIELDOFFICE_LANG, else LANG,
// German unless that says English.
func (c *ctxt) lang() string {
	l := c.env.Getenv("FIELDOFFICE_LANG")
	if l == "" {
		l = c.env.Getenv("LANG")
	}
	if strings.HasPrefix(strings.ToLower(l), "en") {
		return "en"
	}
	return "de"
}

// caseError adds to err what a user needs to fix it: the message of each invalid
// field, or the reason a transition was refused, in the user's language.
func (c *ctxt) caseError(err error) error {
	var ve *storage.ValidationError
	if errors.As(err, &ve) {
		var b strings.Builder
		fmt.Fprintf(&b, "nothing was saved, %d invalid field(s):", len(ve.Fields))
		for _, k := range slices.Sorted(maps.Keys(ve.Fields)) {
			fmt.Fprintf(&b, "\n  %s: %s", k, ve.Fields[k])
		}
		return errors.New(b.String())
	}
	var te *cases.TransitionError
	if errors.As(err, &te) {
		var b strings.Builder
		fmt.Fprintf(&b, "status change %s → %s refused: %s", te.From, te.To, te.Message(c.lang()))
		for _, k := range slices.Sorted(maps.Keys(te.Fields)) {
			fmt.Fprintf(&b, "\n  %s: %s", k, te.Fields[k])
		}
		return errors.New(b.String())
	}
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("%w — 'fieldoffice case list' or 'case search' shows the IDs", err)
	}
	return err
}

// caseArgs parses a case command's arguments with fs and checks that between min and
// max (-1: any number) positional arguments were given, the first a case ID.
func caseArgs(fs *flag.FlagSet, args []string, use string, min, max int) (id string, rest []string, err error) {
	pos, err := parse(fs, args)
	if err != nil {
		return "", nil, err
	}
	if len(pos) < min || (max >= 0 && len(pos) > max) {
		return "", nil, fmt.Errorf("%w: %s", errUsage, use)
	}
	if id, err = caseID(pos[0], use); err != nil {
		return "", nil, err
	}
	return id, pos[1:], nil
}

// caseID checks a positional case ID.
func caseID(s, usage string) (string, error) {
	if !cases.ValidID(s) {
		return "", fmt.Errorf("%w: %q is not a case ID (they look like 0193a5b2-7c3d-7...) — %s", errUsage, s, usage)
	}
	return s, nil
}

func caseNew(c *ctxt, args []string) error {
	const use = "fieldoffice case new --type TYPE [--set FIELD=VALUE ...] [--json]"
	fs := c.flags("case new", "--type TYPE [--set FIELD=VALUE ...] [--json]")
	typ := fs.String("type", "", "service type (fieldoffice forms list), e.g. anmeldung")
	asJSON := fs.Bool("json", false, "print the new case as JSON")
	set := setFlags{}
	fs.Var(set, "set", "a field FIELD=VALUE (repeatable; fields: fieldoffice forms show TYPE)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *typ == "" {
		return fmt.Errorf("%w: %s", errUsage, use)
	}
	if _, err := forms.Schema(*typ); err != nil {
		return fmt.Errorf("%w: %v — 'fieldoffice forms list' shows the services", errUsage, err)
	}
	v, done, err := c.openCases()
	if err != nil {
		return err
	}
	defer done()
	cs, err := v.NewCase(*typ, set)
	if err != nil {
		return c.caseError(err)
	}
	if *asJSON {
		return c.printJSON(cs)
	}
	fmt.Fprintln(c.env.Stdout, cs.ID)
	return nil
}

func caseSet(c *ctxt, args []string) error {
	const use = "fieldoffice case set ID FIELD=VALUE ..."
	id, kvs, err := caseArgs(c.flags("case set", "ID FIELD=VALUE ..."), args, use, 2, -1)
	if err != nil {
		return err
	}
	set := setFlags{}
	for _, kv := range kvs {
		if err := set.Set(kv); err != nil {
			return fmt.Errorf("%w: %v — %s", errUsage, err, use)
		}
	}
	v, done, err := c.openCases()
	if err != nil {
		return err
	}
	defer done()
	if _, err := v.SetFields(id, set); err != nil {
		return c.caseError(err)
	}
	return nil
}

func caseTransition(c *ctxt, args []string) error {
	const use = "fieldoffice case transition ID STATE [--role ROLE]"
	fs := c.flags("case transition", "ID STATE [--role ROLE]")
	role := fs.String("role", "", "your role in the workflow (env FIELDOFFICE_ROLE; default sachbearbeitung)")
	id, rest, err := caseArgs(fs, args, use, 2, 2)
	if err != nil {
		return err
	}
	r := cmp.Or(*role, c.env.Getenv("FIELDOFFICE_ROLE"), "sachbearbeitung")
	v, done, err := c.openCases()
	if err != nil {
		return err
	}
	defer done()
	cs, err := v.TransitionCase(id, rest[0], r)
	if err != nil {
		return c.caseError(err)
	}
	fmt.Fprintln(c.env.Stdout, cs.Status)
	return nil
}

func caseNote(c *ctxt, args []string) error {
	const use = "fieldoffice case note ID TEXT"
	id, words, err := caseArgs(c.flags("case note", "ID TEXT"), args, use, 2, -1)
	if err != nil {
		return err
	}
	v, done, err := c.openCases()
	if err != nil {
		return err
	}
	defer done()
	if _, err := v.AddNote(id, strings.Join(words, " ")); err != nil {
		return c.caseError(err)
	}
	return nil
}

// mediaType guesses a file's media type from its name, else from its first bytes.
func mediaType(name string, head []byte) string {
	if t := mime.TypeByExtension(strings.ToLower(filepath.Ext(name))); t != "" {
		t, _, _ = strings.Cut(t, ";")
		return t
	}
	t, _, _ := strings.Cut(http.DetectContentType(head), ";")
	return t
}

func caseAttach(c *ctxt, args []string) error {
	const use = "fieldoffice case attach ID FILE [--name NAME]"
	fs := c.flags("case attach", "ID FILE [--name NAME]")
	name := fs.String("name", "", "the attachment's name as users see it (default: the file's name)")
	id, rest, err := caseArgs(fs, args, use, 2, 2)
	if err != nil {
		return err
	}
	file := rest[0]
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("open the file to attach: %w", err)
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	v, done, err := c.openCases()
	if err != nil {
		return err
	}
	defer done()
	if _, err := v.Case(id); err != nil {
		return c.caseError(err)
	}
	limit := c.maxAttachment()
	info, err := v.PutDraftBlob(f, limit)
	if err != nil {
		if errors.Is(err, storage.ErrBlobTooLarge) {
			return fmt.Errorf("%s is larger than the %d MiB an attachment may have", file, limit>>20)
		}
		return fmt.Errorf("store %s: %w", file, err)
	}
	ref := cases.AttachmentRef{
		SHA256: info.SHA256, Name: cmp.Or(*name, filepath.Base(file)),
		MediaType: mediaType(file, head[:n]), Size: info.Size,
	}
	if _, err := v.AddAttachment(id, ref); err != nil {
		return c.caseError(err)
	}
	fmt.Fprintln(c.env.Stdout, info.SHA256)
	return nil
}

func caseExportAttachment(c *ctxt, args []string) error {
	const use = "fieldoffice case export-attachment ID SHA256 --out FILE (- for stdout)"
	fs := c.flags("case export-attachment", "ID SHA256 --out FILE")
	out := fs.String("out", "", "where to write the file (- for stdout); an existing file is not overwritten")
	id, rest, err := caseArgs(fs, args, use, 2, 2)
	if err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("%w: %s", errUsage, use)
	}
	sha := strings.ToLower(rest[0])
	v, done, err := c.openCases()
	if err != nil {
		return err
	}
	defer done()
	cs, err := v.Case(id)
	if err != nil {
		return c.caseError(err)
	}
	if _, ok := cs.Attachment(sha); !ok {
		return fmt.Errorf("case %s has no attachment %s — 'fieldoffice case show %s' lists them", id, sha, id)
	}
	if ok, err := v.HasBlob(sha); err != nil {
		return err
	} else if !ok {
		// Attachments of cases pulled from the portal are downloaded on demand.
		if err := c.fetchBlob(v, sha); err != nil {
			return fmt.Errorf("attachment %s is not on this device and could not be downloaded: %w", sha, err)
		}
	}
	r, _, err := v.OpenBlob(sha)
	if err != nil {
		return fmt.Errorf("read attachment %s: %w", sha, err)
	}
	defer r.Close()
	if *out == "-" {
		_, err := io.Copy(c.env.Stdout, r)
		return err
	}
	return writeNew(*out, r)
}

// writeNew writes r to path through a temporary file in the same directory, synced
// and renamed into place, so path holds all of r or nothing; it refuses to replace an
// existing file. A blob that fails authentication part way leaves no file behind.
func writeNew(path string, r io.Reader) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s exists already: choose another --out or remove it first", path)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".fieldoffice-export-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil { // fails if path appeared meanwhile
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// CaseRowJSON is one row of `case list --json` and `case search --json`.
type CaseRowJSON struct {
	ID           string `json:"id"`
	Aktenzeichen string `json:"aktenzeichen,omitempty"`
	Applicant    string `json:"applicant,omitempty"`
	Service      string `json:"service"`
	Status       string `json:"status"`
	Assignee     string `json:"assignee,omitempty"`
	DueDate      string `json:"due_date,omitempty"`
	Updated      string `json:"updated"`
	Unsynced     bool   `json:"unsynced"`
	Conflict     bool   `json:"conflict"`
}

func caseRows(list []cases.Summary) []CaseRowJSON {
	out := make([]CaseRowJSON, len(list))
	for i, s := range list {
		out[i] = CaseRowJSON{
			ID: s.ID, Aktenzeichen: s.Aktenzeichen, Applicant: s.Applicant, Service: s.Service, Status: s.Status,
			Assignee: s.Assignee, DueDate: s.DueDate, Updated: s.Updated.UTC().Format(time.RFC3339),
			Unsynced: s.Flags&cases.FlagUnsynced != 0, Conflict: s.Flags&cases.FlagConflict != 0,
		}
	}
	return out
}

func (c *ctxt) printCases(list []cases.Summary, asJSON bool) error {
	if asJSON {
		return c.printJSON(caseRows(list))
	}
	w := tabwriter.NewWriter(c.env.Stdout, 0, 0, 2, ' ', 0)
	defer w.Flush()
	fmt.Fprintln(w, "ID\tAKTENZEICHEN\tANTRAGSTELLER/IN\tLEISTUNG\tSTATUS\tWIEDERVORLAGE\tSYNC")
	for _, s := range list {
		due := ""
		if d, err := cases.ParseDate(s.DueDate); err == nil && s.DueDate != "" {
			due = cases.FormatDate(d)
		}
		sync := ""
		switch {
		case s.Flags&cases.FlagConflict != 0:
			sync = "Konflikt"
		case s.Flags&cases.FlagUnsynced != 0:
			sync = "ausstehend"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Aktenzeichen, s.Applicant, s.Service, s.Status, due, sync)
	}
	return nil
}

func caseList(c *ctxt, args []string) error {
	fs := c.flags("case list", "[--status S] [--type T] [--due-before DATE] [--unsynced] [--conflict] [--sort F] [--desc] [--limit N] [--json]")
	var q storage.CaseQuery
	fs.StringVar(&q.Status, "status", "", "only cases in this workflow state, e.g. in_bearbeitung")
	fs.StringVar(&q.Service, "type", "", "only cases of this service type, e.g. anmeldung")
	due := fs.String("due-before", "", "only cases with a Wiedervorlage before this date (TT.MM.JJJJ or YYYY-MM-DD)")
	fs.BoolVar(&q.Unsynced, "unsynced", false, "only cases with changes not yet synced")
	fs.BoolVar(&q.Conflict, "conflict", false, "only cases in conflict")
	fs.StringVar(&q.Sort, "sort", "updated", "order: updated, due, aktenzeichen, applicant, status")
	fs.BoolVar(&q.Desc, "desc", false, "reverse the order")
	fs.IntVar(&q.Limit, "limit", 0, "at most N cases (0: all)")
	fs.IntVar(&q.Offset, "offset", 0, "skip the first N cases")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || q.Limit < 0 || q.Offset < 0 {
		return fmt.Errorf("%w: fieldoffice case list [--status S] [--type T] [--due-before DATE] [--unsynced] [--conflict] [--json]", errUsage)
	}
	if !slices.Contains([]string{"updated", "due", "aktenzeichen", "applicant", "status"}, q.Sort) {
		return fmt.Errorf("%w: --sort %q: use updated, due, aktenzeichen, applicant or status", errUsage, q.Sort)
	}
	if *due != "" {
		d, err := cases.ParseDate(*due)
		if err != nil {
			return fmt.Errorf("%w: --due-before %q is not a date (TT.MM.JJJJ)", errUsage, *due)
		}
		q.DueBefore = cases.ISODate(d)
	}
	v, done, err := c.openCases()
	if err != nil {
		return err
	}
	defer done()
	list, err := v.Cases(q)
	if err != nil {
		return err
	}
	return c.printCases(list, *asJSON)
}

func caseSearch(c *ctxt, args []string) error {
	fs := c.flags("case search", "TEXT [--limit N] [--json]")
	limit := fs.Int("limit", 50, "at most N results")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	text := strings.TrimSpace(strings.Join(pos, " "))
	if text == "" || *limit <= 0 {
		return fmt.Errorf("%w: fieldoffice case search TEXT (a name, Aktenzeichen, street or place; three letters at least)", errUsage)
	}
	v, done, err := c.openCases()
	if err != nil {
		return err
	}
	defer done()
	list, err := v.Search(text, *limit)
	if err != nil {
		return err
	}
	return c.printCases(list, *asJSON)
}

// CaseJSON is `case show --json`: the case as stored, plus what the device knows
// about it besides.
type CaseJSON struct {
	*cases.Case
	Unsynced  int              `json:"unsynced_changes"`
	Conflicts []cases.Conflict `json:"conflicts,omitempty"`
}

func caseShow(c *ctxt, args []string) error {
	const use = "fieldoffice case show ID [--json]"
	fs := c.flags("case show", "ID [--json]")
	asJSON := fs.Bool("json", false, "print JSON")
	id, _, err := caseArgs(fs, args, use, 1, 1)
	if err != nil {
		return err
	}
	v, done, err := c.openCases()
	if err != nil {
		return err
	}
	defer done()
	cs, err := v.Case(id)
	if err != nil {
		return c.caseError(err)
	}
	pending, err := v.PendingOps(id)
	if err != nil {
		return err
	}
	conflicts, err := v.Conflicts(id)
	if err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(CaseJSON{Case: cs, Unsynced: pending, Conflicts: conflicts})
	}
	return c.printCase(cs, pending, conflicts)
}

// printCase prints a case for a person: attributes, then the form section by section
// with its labels, then notes and attachments.
func (c *ctxt) printCase(cs *cases.Case, pending int, conflicts []cases.Conflict) error {
	lang := c.lang()
	w := tabwriter.NewWriter(c.env.Stdout, 0, 0, 2, ' ', 0)
	defer w.Flush()
	s, _ := forms.Schema(cs.Service)
	service, status := cs.Service, cs.Status
	if s != nil {
		service = s.Title.In(lang)
		if s.Workflow != nil {
			if st, ok := s.Workflow.State(cs.Status); ok {
				status = st.Label.In(lang) + " (" + cs.Status + ")"
			}
		}
	}
	due := ""
	if d, err := cases.ParseDate(cs.DueDate); err == nil && cs.DueDate != "" {
		due = cases.FormatDate(d)
	}
	fmt.Fprintf(w, "ID:\t%s\nAktenzeichen:\t%s\nLeistung:\t%s\nStatus:\t%s\nAntragsteller/in:\t%s\nAnschrift:\t%s\n",
		cs.ID, cs.Aktenzeichen, service, status, cs.Applicant.DisplayName(), cs.Applicant.Address)
	fmt.Fprintf(w, "Zuständig:\t%s\nWiedervorlage:\t%s\nAngelegt:\t%s\nGeändert:\t%s\nNicht synchronisiert:\t%d Änderung(en)\n",
		cs.Assignee, due, cs.Created.Local().Format("02.01.2006 15:04"), cs.Updated.Local().Format("02.01.2006 15:04"), pending)
	if s != nil {
		for _, sec := range s.Sections {
			header := false
			for _, f := range sec.Fields {
				for _, k := range f.Keys() {
					val := cs.Values[k]
					if val == "" {
						continue
					}
					if !header {
						fmt.Fprintf(w, "\n[%s]\t\n", sec.Title.In(lang))
						header = true
					}
					label := f.Label.In(lang)
					if k != f.Name {
						label += " " + strings.TrimPrefix(k, f.Name+".")
					}
					if f.Type == cases.TypeSelect {
						val = f.OptionLabel(val, lang)
					}
					fmt.Fprintf(w, "  %s (%s):\t%s\n", label, k, val)
				}
			}
		}
	} else {
		for _, k := range slices.Sorted(maps.Keys(cs.Values)) {
			fmt.Fprintf(w, "  %s:\t%s\n", k, cs.Values[k])
		}
	}
	if len(cs.Notes) > 0 {
		fmt.Fprintf(w, "\n[Vermerke]\t\n")
		for _, n := range cs.Notes {
			fmt.Fprintf(w, "  %s %s:\t%s\n", n.Created.Local().Format("02.01.2006 15:04"), n.Author, n.Text)
		}
	}
	if len(cs.Attachments) > 0 {
		fmt.Fprintf(w, "\n[Anlagen]\t\n")
		for _, a := range cs.Attachments {
			fmt.Fprintf(w, "  %s\t%s, %d Bytes, %s\n", a.Name, a.MediaType, a.Size, a.SHA256)
		}
	}
	if len(conflicts) > 0 {
		fmt.Fprintf(w, "\n[Konflikte]\t\n")
		for _, k := range conflicts {
			fmt.Fprintf(w, "  %s:\tmine %q, portal %q\n", k.Field, k.Mine, k.Theirs)
		}
	}
	return nil
}
