package cli

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"fieldoffice/cases"
)

func cmdCase(ctx context.Context, c *ctxt, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: fieldoffice case new --type TYPE --set FIELD=VALUE ... | show ID [--json] | list [--json]", errUsage)
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "new":
		return caseNew(c, args)
	case "show":
		return caseShow(c, args)
	case "list":
		return caseList(c, args)
	}
	return fmt.Errorf("%w: unknown case command %q (new, show, list)", errUsage, sub)
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

func caseNew(c *ctxt, args []string) error {
	fs := c.flags("case new", "--type TYPE --set FIELD=VALUE ...")
	typ := fs.String("type", "", "service type, e.g. anmeldung")
	set := setFlags{}
	fs.Var(set, "set", "a form value FIELD=VALUE (repeatable)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *typ == "" {
		return fmt.Errorf("%w: fieldoffice case new --type TYPE --set FIELD=VALUE ...", errUsage)
	}
	rec, err := cases.NewRecord(*typ, set, c.env.Now())
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	v, done, err := c.openUnlocked()
	if err != nil {
		return err
	}
	defer done()
	if err := v.PutCase(rec); err != nil {
		return err
	}
	fmt.Fprintln(c.env.Stdout, rec.ID)
	return nil
}

func caseShow(c *ctxt, args []string) error {
	fs := c.flags("case show", "ID [--json]")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || !cases.ValidID(pos[0]) {
		return fmt.Errorf("%w: fieldoffice case show ID (a case ID looks like 0193a5b2-...)", errUsage)
	}
	v, done, err := c.openUnlocked()
	if err != nil {
		return err
	}
	defer done()
	rec, err := v.GetCase(pos[0])
	if err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(rec)
	}
	w := tabwriter.NewWriter(c.env.Stdout, 0, 0, 2, ' ', 0)
	defer w.Flush()
	fmt.Fprintf(w, "ID:\t%s\nType:\t%s\nCreated:\t%s\nUpdated:\t%s\n", rec.ID, rec.Type,
		rec.Created.Local().Format("02.01.2006 15:04"), rec.Updated.Local().Format("02.01.2006 15:04"))
	for _, k := range slices.Sorted(maps.Keys(rec.Fields)) {
		fmt.Fprintf(w, "%s:\t%s\n", k, rec.Fields[k])
	}
	return nil
}

func caseList(c *ctxt, args []string) error {
	fs := c.flags("case list", "[--json]")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: fieldoffice case list [--json]", errUsage)
	}
	v, done, err := c.openUnlocked()
	if err != nil {
		return err
	}
	defer done()
	recs, err := v.ListCases()
	if err != nil {
		return err
	}
	if *asJSON {
		if recs == nil {
			recs = []*cases.Record{}
		}
		return c.printJSON(recs)
	}
	w := tabwriter.NewWriter(c.env.Stdout, 0, 0, 2, ' ', 0)
	defer w.Flush()
	fmt.Fprintln(w, "ID\tTYPE\tUPDATED\tFIELDS")
	for _, r := range recs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\n", r.ID, r.Type, r.Updated.Local().Format("02.01.2006 15:04"), len(r.Fields))
	}
	return nil
}
