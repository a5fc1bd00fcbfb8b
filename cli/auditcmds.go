package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"fieldoffice/storage"
)

func cmdAudit(_ context.Context, c *ctxt, args []string) error {
	const use = "fieldoffice audit verify [--json] | export [--case ID] [--json]"
	if len(args) == 0 {
		return fmt.Errorf("%w: %s", errUsage, use)
	}
	switch args[0] {
	case "verify":
		return auditVerify(c, args[1:])
	case "export":
		return auditExport(c, args[1:])
	}
	return fmt.Errorf("%w: unknown audit command %q — %s", errUsage, args[0], use)
}

// AuditVerifyJSON is `audit verify --json`. On a broken chain the command exits 4 and
// prints OK false, the entry and the reason.
type AuditVerifyJSON struct {
	OK      bool   `json:"ok"`
	Entries int    `json:"entries"`
	Head    string `json:"head,omitempty"`
	Seq     uint64 `json:"broken_at,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

func auditVerify(c *ctxt, args []string) error {
	fs := c.flags("audit verify", "[--json]")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: fieldoffice audit verify [--json]", errUsage)
	}
	v, done, err := c.openUnlocked()
	if err != nil {
		return err
	}
	defer done()
	rep, err := v.AuditVerify()
	var ae *storage.AuditError
	if err != nil && !errors.As(err, &ae) {
		return err
	}
	if *asJSON {
		out := AuditVerifyJSON{OK: err == nil, Entries: rep.Entries, Head: rep.Head}
		if ae != nil {
			out.Seq, out.Reason = ae.Seq, ae.Reason
		}
		if perr := c.printJSON(out); perr != nil {
			return perr
		}
	} else if err == nil {
		fmt.Fprintf(c.env.Stdout, "audit trail intact: %d entries, head %s\n", rep.Entries, rep.Head)
	}
	if err != nil {
		return fmt.Errorf("%w — keep this device as it is and contact IT: the data was changed outside FieldOffice", err)
	}
	return nil
}

// AuditEntryJSON is one entry of `audit export --json`.
type AuditEntryJSON struct {
	Seq    uint64   `json:"seq"`
	Time   string   `json:"time"`
	User   string   `json:"user"`
	Op     string   `json:"op"`
	CaseID string   `json:"case_id,omitempty"`
	Fields []string `json:"fields,omitempty"`
	MAC    string   `json:"mac"`
}

func auditExport(c *ctxt, args []string) error {
	fs := c.flags("audit export", "[--case ID] [--json]")
	caseID := fs.String("case", "", "only the entries of this case")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: fieldoffice audit export [--case ID] [--json]", errUsage)
	}
	v, done, err := c.openUnlocked()
	if err != nil {
		return err
	}
	defer done()
	entries, err := v.AuditEntries()
	if err != nil {
		return err
	}
	out := make([]AuditEntryJSON, 0, len(entries))
	for _, e := range entries {
		if *caseID != "" && e.CaseID != *caseID {
			continue
		}
		out = append(out, AuditEntryJSON{
			Seq: e.Seq, Time: e.Time.UTC().Format(time.RFC3339Nano), User: e.User, Op: e.Op,
			CaseID: e.CaseID, Fields: e.Fields, MAC: fmt.Sprintf("%x", []byte(e.MAC)),
		})
	}
	if *asJSON {
		return c.printJSON(out)
	}
	w := tabwriter.NewWriter(c.env.Stdout, 0, 0, 2, ' ', 0)
	defer w.Flush()
	fmt.Fprintln(w, "SEQ\tZEIT\tBENUTZER\tVORGANG\tFALL\tFELDER")
	for _, e := range out {
		t, _ := time.Parse(time.RFC3339Nano, e.Time)
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", e.Seq, t.Local().Format("02.01.2006 15:04:05"), e.User, e.Op, e.CaseID, strings.Join(e.Fields, ","))
	}
	return nil
}

func cmdDemoData(_ context.Context, c *ctxt, args []string) error {
	fs := c.flags("demo-data", "--cases N [--seed S]")
	n := fs.Int("cases", 0, "how many demo cases to add")
	seed := fs.Int64("seed", 1, "random seed (the same seed gives the same names and dates)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *n <= 0 || *n > 10_000_000 {
		return fmt.Errorf("%w: fieldoffice demo-data --cases N (1 to 10,000,000)", errUsage)
	}
	v, done, err := c.openCases()
	if err != nil {
		return err
	}
	defer done()
	start := time.Now()
	if err := v.DemoData(*n, *seed, c.env.Now()); err != nil {
		return fmt.Errorf("add demo cases: %w", err)
	}
	fmt.Fprintf(c.env.Stdout, "added %d demo cases in %s\n", *n, time.Since(start).Round(time.Millisecond))
	return nil
}
