package cases

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Well-known roles. A workflow may name others; roles are plain strings.
const (
	RoleSachbearbeitung = "sachbearbeitung" // caseworker in the back office
	RoleBuergerbuero    = "buergerbuero"    // staff of the (mobile) citizen office
)

// Workflow is the state machine of a service type, as data (the "workflow" object of a
// form schema): states and the transitions allowed between them, with the roles that
// may take a transition and what a case needs to enter the target state.
type Workflow struct {
	States      []State      `json:"states"`
	Transitions []Transition `json:"transitions"`
}

// State is a workflow state (status), e.g. "in_bearbeitung" / "In Bearbeitung".
type State struct {
	ID      string `json:"id"`
	Label   Text   `json:"label"`
	Initial bool   `json:"initial,omitempty"` // exactly one state is initial: where new cases start
	Final   bool   `json:"final,omitempty"`   // no transition leaves a final state
}

// Transition allows moving a case from one of the From states to To.
type Transition struct {
	From  []string `json:"from"`
	To    string   `json:"to"`
	Label Text     `json:"label"`           // the button, e.g. "Rückfrage stellen"
	Roles []string `json:"roles,omitempty"` // who may take it; empty = every role
	// Requires lists what must be present and valid to enter To: form field names, and
	// the case attributes "aktenzeichen", "assignee", "due_date" and "applicant" (a name).
	Requires []string `json:"requires,omitempty"`
	// ValidForm: the whole form must validate (every visible required field filled).
	ValidForm bool `json:"valid_form,omitempty"`
}

var caseAttrs = []string{"aktenzeichen", "assignee", "due_date", "applicant"}

// TransitionError says why a transition was refused, in German and English.
type TransitionError struct {
	From, To string
	Reason   Text
	// Fields holds, when the refusal is about missing or invalid data, a German message
	// per value key or case attribute (as Schema.Validate returns).
	Fields map[string]string
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("cases: transition %s → %s refused: %s", e.From, e.To, e.Reason.In("en"))
}

// Message returns the reason in lang.
func (e *TransitionError) Message(lang string) string { return e.Reason.In(lang) }

// Initial returns the ID of the initial state.
func (w *Workflow) Initial() string {
	for _, s := range w.States {
		if s.Initial {
			return s.ID
		}
	}
	return ""
}

// State returns the state with the given ID.
func (w *Workflow) State(id string) (State, bool) {
	for _, s := range w.States {
		if s.ID == id {
			return s, true
		}
	}
	return State{}, false
}

func (w *Workflow) label(id string) Text {
	if s, ok := w.State(id); ok {
		return s.Label
	}
	return Text{De: id, En: id}
}

// Check reports whether role may move c to state to: nil if so, else a
// *TransitionError with the reason. s (may be nil: data checks are skipped) decides
// which required fields are valid; now is the day for date checks.
func (w *Workflow) Check(c *Case, to, role string, s *Schema, now time.Time) error {
	refuse := func(de, en string) error {
		return &TransitionError{From: c.Status, To: to, Reason: Text{De: de, En: en}}
	}
	from, ok := w.State(c.Status)
	if !ok {
		return refuse(fmt.Sprintf("Der Vorgang hat einen unbekannten Status „%s“", c.Status),
			fmt.Sprintf("The case has an unknown status %q", c.Status))
	}
	target, ok := w.State(to)
	if !ok {
		return refuse(fmt.Sprintf("Unbekannter Zielstatus „%s“", to), fmt.Sprintf("Unknown target status %q", to))
	}
	if from.ID == target.ID {
		return refuse(fmt.Sprintf("Der Vorgang ist bereits im Status „%s“", from.Label.In("de")),
			fmt.Sprintf("The case is already in status %q", from.Label.In("en")))
	}
	if from.Final {
		return refuse(fmt.Sprintf("Der Vorgang ist „%s“ und kann nicht mehr geändert werden", from.Label.In("de")),
			fmt.Sprintf("The case is %q and can no longer change", from.Label.In("en")))
	}
	var cands []*Transition
	for i := range w.Transitions {
		t := &w.Transitions[i]
		if t.To == to && slices.Contains(t.From, from.ID) {
			cands = append(cands, t)
		}
	}
	if len(cands) == 0 {
		return refuse(fmt.Sprintf("Von „%s“ nach „%s“ ist kein Übergang vorgesehen", from.Label.In("de"), target.Label.In("de")),
			fmt.Sprintf("No transition from %q to %q is provided", from.Label.In("en"), target.Label.In("en")))
	}
	var roleOK []*Transition
	var roles []string
	for _, t := range cands {
		if len(t.Roles) == 0 || slices.Contains(t.Roles, role) {
			roleOK = append(roleOK, t)
		}
		roles = append(roles, t.Roles...)
	}
	if len(roleOK) == 0 {
		slices.Sort(roles)
		r := strings.Join(slices.Compact(roles), ", ")
		return refuse(fmt.Sprintf("„%s“ darf nur die Rolle %s (Ihre Rolle: %s)", target.Label.In("de"), r, role),
			fmt.Sprintf("Only role %s may set %q (your role: %s)", r, target.Label.In("en"), role))
	}
	var firstErr error
	for _, t := range roleOK {
		err := t.checkData(c, from, target, s, now)
		if err == nil {
			return nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// checkData checks the Requires and ValidForm of t against c.
func (t *Transition) checkData(c *Case, from, target State, s *Schema, now time.Time) error {
	missing := map[string]string{}
	var names []string // human labels for the reason, German and English
	var namesEn []string
	seenLabel := map[string]bool{}
	note := func(key string, label Text, m string) {
		if !seenLabel[label.De] {
			seenLabel[label.De] = true
			names = append(names, label.In("de"))
			namesEn = append(namesEn, label.In("en"))
		}
		missing[key] = m
	}
	for _, r := range t.Requires {
		switch r {
		case "aktenzeichen":
			if strings.TrimSpace(c.Aktenzeichen) == "" {
				note(r, Text{De: "Aktenzeichen", En: "reference number"}, msg("de", "required"))
			}
		case "assignee":
			if strings.TrimSpace(c.Assignee) == "" {
				note(r, Text{De: "Sachbearbeitung", En: "assignee"}, msg("de", "required"))
			}
		case "due_date":
			if _, err := ParseDate(c.DueDate); err != nil {
				note(r, Text{De: "Wiedervorlage", En: "follow-up date"}, msg("de", "date"))
			}
		case "applicant":
			if strings.TrimSpace(c.Applicant.DisplayName()) == "" {
				note(r, Text{De: "Antragsteller/in", En: "applicant"}, msg("de", "required"))
			}
		default:
			if s == nil {
				continue
			}
			f, ok := s.fields[r]
			if !ok || !s.Visible(r, c.Values) {
				continue
			}
			one := map[string]string{}
			f.validate(c.Values, "de", now, one)
			if f.Type != TypeAddress && strings.TrimSpace(c.Values[r]) == "" && len(one) == 0 {
				one[r] = msg("de", requiredMsg(f.Type)) // required for this transition even if optional in the form
			}
			for _, k := range slices.Sorted(maps.Keys(one)) {
				note(k, f.Label, one[k])
			}
		}
	}
	if t.ValidForm && s != nil {
		problems := s.Validate(c.Values, "de", now)
		for _, k := range slices.Sorted(maps.Keys(problems)) {
			m := problems[k]
			label := Text{De: k, En: k}
			if f, ok := s.Field(k); ok {
				label = f.Label
			}
			note(k, label, m)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return &TransitionError{From: from.ID, To: target.ID, Fields: missing, Reason: Text{
		De: fmt.Sprintf("Für „%s“ fehlen oder sind ungültig: %s", target.Label.In("de"), strings.Join(names, ", ")),
		En: fmt.Sprintf("For %q these are missing or invalid: %s", target.Label.In("en"), strings.Join(namesEn, ", ")),
	}}
}

// Choice is a transition as the case screen offers it: a button, enabled or not.
type Choice struct {
	To      string // target state ID
	Label   Text   // the transition's label (the button)
	Enabled bool
	Reason  Text             // why not, when disabled
	Err     *TransitionError // the refusal, when disabled
}

// Allowed lists the transitions out of c's current state that role could take, one per
// target state, in workflow order. Those refused for missing data are listed disabled
// with the reason; those reserved for other roles are listed disabled too, so the user
// sees that the step exists. s and now as for Check.
func (w *Workflow) Allowed(c *Case, role string, s *Schema, now time.Time) []Choice {
	var out []Choice
	seen := map[string]bool{}
	for _, t := range w.Transitions {
		if !slices.Contains(t.From, c.Status) || seen[t.To] {
			continue
		}
		seen[t.To] = true
		ch := Choice{To: t.To, Label: t.Label, Enabled: true}
		if err := w.Check(c, t.To, role, s, now); err != nil {
			ch.Enabled = false
			ch.Err = err.(*TransitionError)
			ch.Reason = ch.Err.Reason
		}
		if ch.Label.De == "" {
			ch.Label = w.label(t.To)
		}
		out = append(out, ch)
	}
	return out
}

// Transition checks with Check and, when allowed, sets c's status and Updated.
func (w *Workflow) Transition(c *Case, to, role string, s *Schema, now time.Time) error {
	if err := w.Check(c, to, role, s, now); err != nil {
		return err
	}
	c.Status = to
	c.Updated = now.UTC()
	return nil
}

// check validates the workflow against its schema: one initial state, unique state IDs,
// transitions between known states, nothing leaving a final state, requirements that
// name fields of the form or case attributes, every state reachable from the initial one.
func (w *Workflow) check(s *Schema) []error {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, &SchemaError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	ids := map[string]State{}
	initial := 0
	for i, st := range w.States {
		p := fmt.Sprintf("workflow.states[%d]", i)
		if !nameRe.MatchString(st.ID) {
			add(p, "state id %q is not a name", st.ID)
		} else if _, dup := ids[st.ID]; dup {
			add(p, "duplicate state id %q", st.ID)
		}
		ids[st.ID] = st
		if st.Label.De == "" {
			add(p, "German label missing")
		}
		if st.Initial {
			initial++
			if st.Final {
				add(p, "a state cannot be initial and final")
			}
		}
	}
	if len(w.States) == 0 {
		add("workflow.states", "no states")
	} else if initial != 1 {
		add("workflow.states", "exactly one state must be initial, found %d", initial)
	}
	next := map[string][]string{}
	for i, t := range w.Transitions {
		p := fmt.Sprintf("workflow.transitions[%d]", i)
		if _, ok := ids[t.To]; !ok {
			add(p, "to: unknown state %q", t.To)
		}
		if len(t.From) == 0 {
			add(p, "from lists no states")
		}
		for _, f := range t.From {
			st, ok := ids[f]
			switch {
			case !ok:
				add(p, "from: unknown state %q", f)
			case st.Final:
				add(p, "from: %q is final; nothing may leave it", f)
			case f == t.To:
				add(p, "from and to are both %q", f)
			}
			next[f] = append(next[f], t.To)
		}
		for _, r := range t.Requires {
			if slices.Contains(caseAttrs, r) {
				continue
			}
			if _, ok := s.fields[r]; !ok {
				add(p, "requires unknown field %q (form fields or %s)", r, strings.Join(caseAttrs, ", "))
			}
		}
		for _, r := range t.Roles {
			if !nameRe.MatchString(r) {
				add(p, "role %q is not a name", r)
			}
		}
	}
	// Reachability from the initial state.
	if start := w.Initial(); start != "" && initial == 1 {
		reached := map[string]bool{start: true}
		queue := []string{start}
		for len(queue) > 0 {
			cur := queue[0]
			queue = queue[1:]
			for _, n := range next[cur] {
				if !reached[n] {
					reached[n] = true
					queue = append(queue, n)
				}
			}
		}
		for _, st := range w.States {
			if !reached[st.ID] {
				add("workflow.states", "state %q cannot be reached from the initial state", st.ID)
			}
		}
	}
	return errs
}
