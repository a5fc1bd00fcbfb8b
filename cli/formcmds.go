package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"fieldoffice/assets"
	"fieldoffice/cases"
)

// forms is where the CLI gets form schemas: the sample forms shipped in the binary
// until the portal delivers forms (sync issue).
var forms = assets.Schemas{}

// FormJSON is `forms show TYPE --json`: what a script needs to fill a case.
type FormJSON struct {
	Service  string          `json:"service"`
	Title    string          `json:"title"`
	Revision int             `json:"revision"`
	Fields   []FormFieldJSON `json:"fields"`
	States   []FormStateJSON `json:"states,omitempty"`
	Steps    []FormStepJSON  `json:"transitions,omitempty"`
}

// FormFieldJSON is one field; Keys are the value keys to --set (an address field has
// several: NAME.strasse, NAME.plz, ...).
type FormFieldJSON struct {
	Name      string   `json:"name"`
	Keys      []string `json:"keys"`
	Type      string   `json:"type"`
	Label     string   `json:"label"`
	Section   string   `json:"section"`
	Required  bool     `json:"required"`
	Options   []string `json:"options,omitempty"`
	VisibleIf string   `json:"visible_if,omitempty"`
}

// FormStateJSON is a workflow state.
type FormStateJSON struct {
	ID      string `json:"id"`
	Label   string `json:"label"`
	Initial bool   `json:"initial,omitempty"`
	Final   bool   `json:"final,omitempty"`
}

// FormStepJSON is a workflow transition.
type FormStepJSON struct {
	From     []string `json:"from"`
	To       string   `json:"to"`
	Label    string   `json:"label"`
	Roles    []string `json:"roles,omitempty"`
	Requires []string `json:"requires,omitempty"`
	Valid    bool     `json:"valid_form,omitempty"`
}

func formJSON(s *cases.Schema, lang string) FormJSON {
	out := FormJSON{Service: s.Service, Title: s.Title.In(lang), Revision: s.Revision}
	for _, sec := range s.Sections {
		for _, f := range sec.Fields {
			ff := FormFieldJSON{Name: f.Name, Keys: f.Keys(), Type: string(f.Type), Label: f.Label.In(lang), Section: sec.Title.In(lang), Required: f.Required}
			for _, o := range f.Options {
				ff.Options = append(ff.Options, o.Value)
			}
			if f.VisibleIf != nil {
				ff.VisibleIf = f.VisibleIf.Field + " in [" + strings.Join(f.VisibleIf.Equals, ",") + "]"
			}
			out.Fields = append(out.Fields, ff)
		}
	}
	if w := s.Workflow; w != nil {
		for _, st := range w.States {
			out.States = append(out.States, FormStateJSON{ID: st.ID, Label: st.Label.In(lang), Initial: st.Initial, Final: st.Final})
		}
		for _, tr := range w.Transitions {
			out.Steps = append(out.Steps, FormStepJSON{From: tr.From, To: tr.To, Label: tr.Label.In(lang), Roles: tr.Roles, Requires: tr.Requires, Valid: tr.ValidForm})
		}
	}
	return out
}

func cmdForms(_ context.Context, c *ctxt, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: fieldoffice forms list [--json] | show TYPE [--json]", errUsage)
	}
	sub, args := args[0], args[1:]
	fs := c.flags("forms "+sub, "[TYPE] [--json] [--lang de|en]")
	asJSON := fs.Bool("json", false, "print JSON")
	lang := fs.String("lang", "de", "language of labels: de or en")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		if len(pos) > 0 {
			return fmt.Errorf("%w: fieldoffice forms list [--json]", errUsage)
		}
		ids, err := forms.Services()
		if err != nil {
			return err
		}
		var all []FormJSON
		for _, id := range ids {
			s, err := forms.Schema(id)
			if err != nil {
				return err
			}
			all = append(all, formJSON(s, *lang))
		}
		if *asJSON {
			return c.printJSON(all)
		}
		w := tabwriter.NewWriter(c.env.Stdout, 0, 0, 2, ' ', 0)
		defer w.Flush()
		fmt.Fprintln(w, "SERVICE\tTITLE\tFIELDS\tSTATES")
		for _, f := range all {
			fmt.Fprintf(w, "%s\t%s\t%d\t%d\n", f.Service, f.Title, len(f.Fields), len(f.States))
		}
		return nil
	case "show":
		if len(pos) != 1 {
			return fmt.Errorf("%w: fieldoffice forms show TYPE [--json]", errUsage)
		}
		s, err := forms.Schema(pos[0])
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		f := formJSON(s, *lang)
		if *asJSON {
			return c.printJSON(f)
		}
		w := tabwriter.NewWriter(c.env.Stdout, 0, 0, 2, ' ', 0)
		defer w.Flush()
		fmt.Fprintf(w, "%s — %s (revision %d)\n\n", f.Service, f.Title, f.Revision)
		fmt.Fprintln(w, "KEY\tTYPE\tREQUIRED\tLABEL\tOPTIONS / SHOWN WHEN")
		for _, ff := range f.Fields {
			extra := strings.Join(ff.Options, ",")
			if ff.VisibleIf != "" {
				extra = strings.TrimLeft(extra+" when "+ff.VisibleIf, " ")
			}
			key := ff.Name
			if len(ff.Keys) > 1 {
				key += ".{" + strings.Join(cases.AddressParts, ",") + "}"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", key, ff.Type, yesNo(ff.Required), ff.Label, extra)
		}
		fmt.Fprintln(w, "\nWORKFLOW\t\t\t\t")
		for _, st := range f.States {
			mark := ""
			if st.Initial {
				mark = " (start)"
			} else if st.Final {
				mark = " (final)"
			}
			fmt.Fprintf(w, "state\t%s\t\t%s%s\t\n", st.ID, st.Label, mark)
		}
		for _, tr := range f.Steps {
			fmt.Fprintf(w, "step\t%s → %s\t%s\t%s\t%s\n", strings.Join(tr.From, ","), tr.To, strings.Join(tr.Roles, ","), tr.Label, strings.Join(tr.Requires, ","))
		}
		return nil
	}
	return fmt.Errorf("%w: unknown forms command %q (list, show)", errUsage, sub)
}
