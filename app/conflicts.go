package app

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"fieldoffice/cases"
	"fieldoffice/storage"
)

// Resolving conflicts
//
// A conflict is a field that was changed on this device and in the portal to different
// values (cases.Conflict); the case holds the portal's value until the user decides.
// The dialog lists each such field with both values side by side, in words (the
// form's label, dates as TT.MM.JJJJ, option labels), and offers per field: my entry,
// the portal's value, or a new value. "Übernehmen" records each choice with
// Vault.ResolveConflict — a new op for sync — off the UI goroutine; a value the form
// refuses is shown at its field and the field stays open. Ops the portal refused
// (Vault.Rejections) are explained above the fields.

// resolveConflicts shows the conflicts of case id, field by field.
func (u *UI) resolveConflicts(id string) { u.showConflicts(id, nil) }

// conflictData is what the dialog shows: the case, its form (nil when unknown), its
// conflicts and the portal's refusals.
type conflictData struct {
	c      *cases.Case
	schema *cases.Schema
	cs     []cases.Conflict
	rej    []storage.Rejection
}

// loadConflicts reads what the dialog shows (off the UI goroutine).
func (u *UI) loadConflicts(id string) (conflictData, error) {
	var d conflictData
	c, err := u.vlt.Case(id)
	if err != nil {
		return d, err
	}
	d.c = c
	if d.cs, err = u.vlt.Conflicts(id); err != nil {
		return d, err
	}
	if d.rej, err = u.vlt.Rejections(id); err != nil {
		return d, err
	}
	if u.sess != nil && u.sess.forms != nil {
		d.schema, _ = u.sess.forms.Schema(c.Service) // no form: labels fall back to words and keys
	}
	sortConflicts(d.cs, d.schema)
	return d, nil
}

// sortConflicts puts conflicts in the order a caseworker reads the case: the case's
// attributes, then the form's fields in form order, then notes and attachments.
func sortConflicts(cs []cases.Conflict, s *cases.Schema) {
	var keys []string
	if s != nil {
		keys = s.Keys()
	}
	rank := func(path string) int {
		head, key, _ := strings.Cut(path, ".")
		switch head {
		case "values":
			if i := slices.Index(keys, key); i >= 0 {
				return 1000 + i
			}
			return 9000
		case "notes":
			return 10000
		case "attachments":
			return 10001
		}
		return 0 // attributes, in the order of their paths below
	}
	slices.SortStableFunc(cs, func(a, b cases.Conflict) int {
		if d := rank(a.Field) - rank(b.Field); d != 0 {
			return d
		}
		return strings.Compare(a.Field, b.Field)
	})
}

// showConflicts loads case id's conflicts and shows the dialog; shown (tests) gets the
// dialog once it is on screen.
func (u *UI) showConflicts(id string, shown func(*conflictView)) {
	if u.vlt == nil || u.sess == nil {
		return
	}
	goDo(func() (conflictData, error) { return u.loadConflicts(id) }, func(d conflictData, err error) {
		if err != nil {
			u.log.Error("load conflicts", "err", err)
			dialog.ShowInformation(tr("conflicts.title"), userMessage(err), u.win)
			return
		}
		if len(d.cs) == 0 && len(d.rej) == 0 {
			dialog.ShowInformation(tr("conflicts.title"), tr("conflicts.none"), u.win)
			return
		}
		v := newConflictView(u, id, d)
		v.show()
		if shown != nil {
			shown(v)
		}
	})
}

// conflictView is the conflict dialog of one case.
type conflictView struct {
	u    *UI
	id   string
	data conflictData
	rows []*conflictRow

	content *fyne.Container // rejections and rows, rebuilt after a partial apply
	body    fyne.CanvasObject
	status  *widget.Label
	apply   *widget.Button
	cancel  *widget.Button
	dlg     *dialog.CustomDialog
	busy    bool
}

// conflictRow is one field in conflict: both values, the choice, the new value.
type conflictRow struct {
	cf     cases.Conflict
	field  *cases.Field // the form field of a values.* path; nil otherwise
	choice *widget.RadioGroup
	entry  *escEntry      // new value as text (nil when the field takes no own value)
	sel    *widget.Select // new value of a select field
	msg    *widget.Label  // error at the field
}

// The choices of a row, in the order of the radio group's options.
const (
	conflictChoiceMine = iota
	conflictChoiceTheirs
	conflictChoiceOwn
)

func newConflictView(u *UI, id string, d conflictData) *conflictView {
	v := &conflictView{u: u, id: id}
	v.status = widget.NewLabel("")
	v.status.Wrapping = fyne.TextWrapWord
	v.status.Importance = widget.DangerImportance
	v.status.Hide()
	v.apply = widget.NewButtonWithIcon(tr("conflicts.apply"), theme.ConfirmIcon(), v.applyChoices)
	v.apply.Importance = widget.HighImportance
	v.cancel = widget.NewButtonWithIcon(tr("conflicts.cancel"), theme.CancelIcon(), func() { v.dlg.Hide() })
	v.content = container.NewVBox()
	v.setData(d, nil)
	head := widget.NewLabel(conflictCaseTitle(d.c))
	head.TextStyle.Bold = true
	head.Wrapping = fyne.TextWrapWord
	scroll := container.NewVScroll(v.content)
	v.body = container.NewBorder(head, v.status, nil, nil, scroll)
	v.dlg = dialog.NewCustomWithoutButtons(tr("conflicts.title"), v.body, u.win)
	v.dlg.SetButtons([]fyne.CanvasObject{v.cancel, v.apply})
	return v
}

// show opens the dialog sized for the window (a 10" tablet or a laptop).
func (v *conflictView) show() {
	ws := v.u.win.Canvas().Size()
	v.dlg.Resize(fyne.NewSize(min(880, max(ws.Width-48, 480)), min(640, max(ws.Height-48, 360))))
	v.dlg.Show()
	v.u.win.Canvas().FocusNext() // keyboard users start at the first choice
}

// setData shows d; earlier choices, typed values and msgs (field → error) stay with
// their fields.
func (v *conflictView) setData(d conflictData, msgs map[string]string) {
	old := map[string]*conflictRow{}
	for _, r := range v.rows {
		old[r.cf.Field] = r
	}
	v.data = d
	v.rows = v.rows[:0]
	var objs []fyne.CanvasObject
	if len(d.rej) > 0 {
		objs = append(objs, v.rejectionsView()...)
	}
	if len(d.cs) > 0 {
		intro := widget.NewLabel(tr("conflicts.intro"))
		intro.Wrapping = fyne.TextWrapWord
		objs = append(objs, intro, widget.NewSeparator())
	}
	for _, cf := range d.cs {
		r := v.newRow(cf)
		if o := old[cf.Field]; o != nil {
			r.takeInput(o)
		}
		if m := msgs[cf.Field]; m != "" {
			r.msg.SetText(m)
			r.msg.Show()
		}
		v.rows = append(v.rows, r)
		objs = append(objs, r.view(d.c, d.schema), widget.NewSeparator())
	}
	v.content.Objects = objs
	v.content.Refresh()
	if len(d.cs) == 0 {
		v.apply.Hide()
		v.cancel.SetText(tr("conflicts.close"))
	}
}

// newRow builds the widgets of one conflicting field.
func (v *conflictView) newRow(cf cases.Conflict) *conflictRow {
	r := &conflictRow{cf: cf}
	if key, ok := strings.CutPrefix(cf.Field, "values."); ok && v.data.schema != nil {
		r.field, _ = v.data.schema.Field(key)
	}
	opts := []string{tr("conflicts.useMine"), tr("conflicts.useTheirs")}
	if conflictOwnValue(cf.Field, r.field) {
		opts = append(opts, tr("conflicts.useOwn"))
		switch {
		case r.field != nil && r.field.Type == cases.TypeSelect:
			labels := make([]string, len(r.field.Options))
			for i, o := range r.field.Options {
				labels[i] = o.Label.In(language())
			}
			r.sel = widget.NewSelect(labels, func(string) { r.choice.SetSelected(opts[conflictChoiceOwn]) })
			r.sel.PlaceHolder = tr("conflicts.choose")
		default:
			r.entry = newEscEntry(false, func() { v.dlg.Hide() }) // Escape closes the dialog
			r.entry.PlaceHolder = tr("conflicts.ownPlaceholder")
			if conflictIsDate(cf.Field, r.field) {
				r.entry.PlaceHolder = tr("conflicts.datePlaceholder")
			}
			r.entry.OnChanged = func(s string) {
				if s != "" {
					r.choice.SetSelected(opts[conflictChoiceOwn])
				}
			}
		}
	}
	r.choice = widget.NewRadioGroup(opts, func(string) {
		r.msg.Hide()
		v.status.Hide()
	})
	r.choice.Horizontal = true
	r.msg = widget.NewLabel("")
	r.msg.Importance = widget.DangerImportance
	r.msg.Wrapping = fyne.TextWrapWord
	r.msg.Hide()
	return r
}

// takeInput copies what the user chose and typed from an earlier row of the field.
func (r *conflictRow) takeInput(o *conflictRow) {
	r.choice.Selected = o.choice.Selected
	if r.entry != nil && o.entry != nil {
		r.entry.Text = o.entry.Text
	}
	if r.sel != nil && o.sel != nil {
		r.sel.Selected = o.sel.Selected
	}
}

// view lays out the row: label, "Meine Eingabe" and "Portal" side by side, the
// choice, the new value and the error.
func (r *conflictRow) view(c *cases.Case, s *cases.Schema) fyne.CanvasObject {
	label := widget.NewLabel(conflictFieldLabel(c, s, r.cf.Field))
	label.TextStyle.Bold = true
	label.Wrapping = fyne.TextWrapWord
	side := func(caption, value string) fyne.CanvasObject {
		head := widget.NewLabel(caption)
		head.Importance = widget.LowImportance
		val := widget.NewLabel(conflictValueText(c, s, r.cf.Field, value))
		val.Wrapping = fyne.TextWrapWord
		return container.NewVBox(head, val)
	}
	objs := []fyne.CanvasObject{
		label,
		container.NewGridWithColumns(2, side(tr("conflicts.mine"), r.cf.Mine), side(tr("conflicts.theirs"), r.cf.Theirs)),
		r.choice,
	}
	switch {
	case r.sel != nil:
		objs = append(objs, r.sel)
	case r.entry != nil:
		objs = append(objs, r.entry)
	}
	objs = append(objs, r.msg)
	return container.NewVBox(objs...)
}

// resolution is a row's choice: storage.ResolveMine or ResolveTheirs, or a typed
// value (taken literally, even "mine").
type resolution struct {
	value string
	typed bool
}

// resolution returns what to hand to the vault for the row: a zero resolution when
// nothing is chosen, or a message when the new value is missing or malformed.
func (r *conflictRow) resolution() (choice resolution, problem string) {
	i := slices.Index(r.choice.Options, r.choice.Selected)
	switch i {
	case conflictChoiceMine:
		return resolution{value: storage.ResolveMine}, ""
	case conflictChoiceTheirs:
		return resolution{value: storage.ResolveTheirs}, ""
	case conflictChoiceOwn:
	default:
		return resolution{}, ""
	}
	var val string
	switch {
	case r.sel != nil:
		j := slices.Index(r.sel.Options, r.sel.Selected)
		if j < 0 {
			return resolution{}, tr("conflicts.ownMissing")
		}
		val = r.field.Options[j].Value
	case r.entry != nil:
		val = strings.TrimSpace(r.entry.Text)
	}
	if val == "" {
		return resolution{}, tr("conflicts.ownMissing")
	}
	if r.cf.Field == "due_date" {
		d, err := cases.ParseDate(val)
		if err != nil {
			return resolution{}, tr("conflicts.badDate")
		}
		val = cases.ISODate(d)
	}
	return resolution{value: val, typed: true}, ""
}

// applyChoices records every chosen field (off the UI goroutine), then shows what is
// left: fields without a choice and those whose value was refused, with the reason.
func (v *conflictView) applyChoices() {
	if v.busy {
		return
	}
	choices := map[string]resolution{}
	var order []string
	bad := false
	for _, r := range v.rows {
		r.msg.Hide()
		choice, problem := r.resolution()
		switch {
		case problem != "":
			r.msg.SetText(problem)
			r.msg.Show()
			bad = true
		case choice.value != "":
			choices[r.cf.Field] = choice
			order = append(order, r.cf.Field)
		}
	}
	if bad {
		return
	}
	if len(order) == 0 {
		v.status.SetText(tr("conflicts.noChoice"))
		v.status.Show()
		return
	}
	v.setBusy(true)
	u, id := v.u, v.id
	type result struct {
		data    conflictData
		msgs    map[string]string
		applied int
	}
	goDo(func() (result, error) {
		res := result{msgs: map[string]string{}}
		for _, f := range order {
			var err error
			if ch := choices[f]; ch.typed {
				_, err = u.vlt.ResolveConflictValue(id, f, ch.value)
			} else {
				_, err = u.vlt.ResolveConflict(id, f, ch.value)
			}
			var ve *storage.ValidationError
			switch {
			case err == nil:
				res.applied++
			case errors.Is(err, storage.ErrNoConflict):
				// settled meanwhile (a sync brought the same value)
			case errors.As(err, &ve):
				res.msgs[f] = conflictValidationText(ve, f)
			default:
				return res, err
			}
		}
		var err error
		res.data, err = u.loadConflicts(id)
		return res, err
	}, func(res result, err error) {
		defer v.setBusy(false)
		if res.applied > 0 {
			u.edited()
			u.refreshList()
			if u.detail != nil && u.detail.visible() {
				u.detail.reload()
			}
		}
		if err != nil {
			u.log.Error("resolve conflicts", "err", err)
			v.status.SetText(userMessage(err))
			v.status.Show()
			return
		}
		if len(res.data.cs) == 0 && len(res.msgs) == 0 {
			v.dlg.Hide()
			return
		}
		v.setData(res.data, res.msgs)
		if len(res.msgs) == 0 && len(res.data.cs) > 0 {
			v.status.SetText(conflictOpenText(len(res.data.cs)))
			v.status.Show()
		}
	})
}

// conflictValidationText is the message of a ValidationError for field (or all of them).
func conflictValidationText(ve *storage.ValidationError, field string) string {
	if m, ok := ve.Fields[field]; ok {
		return m
	}
	var msgs []string
	for _, k := range slices.Sorted(maps.Keys(ve.Fields)) {
		msgs = append(msgs, ve.Fields[k])
	}
	return strings.Join(msgs, "; ")
}

func (v *conflictView) setBusy(b bool) {
	v.busy = b
	if b {
		v.apply.Disable()
		v.apply.SetText(tr("conflicts.busy"))
		v.status.Hide()
		return
	}
	v.apply.Enable()
	v.apply.SetText(tr("conflicts.apply"))
}

// rejectionsView explains the ops the portal refused.
func (v *conflictView) rejectionsView() []fyne.CanvasObject {
	d := v.data
	title := widget.NewLabel(tr("conflicts.rejectedTitle"))
	title.TextStyle.Bold = true
	objs := []fyne.CanvasObject{title}
	for _, r := range d.rej {
		var b strings.Builder
		b.WriteString(tr("conflicts.rejected", formatDateTime(r.Time), conflictKindText(r.Kind)))
		if r.Reason != "" {
			b.WriteString("\n" + tr("conflicts.reason", r.Reason))
		}
		for _, f := range slices.Sorted(maps.Keys(r.Fields)) {
			b.WriteString("\n• " + tr("conflicts.fieldMsg", conflictFieldLabel(d.c, d.schema, f), r.Fields[f]))
		}
		l := widget.NewLabel(b.String())
		l.Wrapping = fyne.TextWrapWord
		l.Importance = widget.WarningImportance
		objs = append(objs, l)
	}
	hint := widget.NewLabel(tr("conflicts.rejectedReset"))
	hint.Wrapping = fyne.TextWrapWord
	return append(objs, hint, widget.NewSeparator())
}

// conflictOpenText says how many fields still wait for a choice.
func conflictOpenText(n int) string {
	if n == 1 {
		return tr("conflicts.openOne")
	}
	return tr("conflicts.open", n)
}

// conflictCaseTitle names the case: Aktenzeichen and applicant.
func conflictCaseTitle(c *cases.Case) string {
	ref := c.Aktenzeichen
	if ref == "" {
		ref = tr("conflicts.noReference")
	}
	if name := c.Applicant.DisplayName(); name != "" {
		return tr("conflicts.case", ref, name)
	}
	return ref
}

// conflictKindText says what kind of change the portal refused.
func conflictKindText(kind string) string {
	switch kind {
	case storage.OpCreate:
		return tr("conflicts.kind.create")
	case storage.OpPatch:
		return tr("conflicts.kind.patch")
	case storage.OpTransition:
		return tr("conflicts.kind.transition")
	case storage.OpNote:
		return tr("conflicts.kind.note")
	case storage.OpAttach:
		return tr("conflicts.kind.attach")
	}
	return tr("conflicts.kind.other")
}

// conflictAttrLabel names a case attribute (cases' field paths) in words.
func conflictAttrLabel(path string) string {
	switch path {
	case "aktenzeichen":
		return tr("conflicts.attr.aktenzeichen")
	case "status":
		return tr("conflicts.attr.status")
	case "assignee":
		return tr("conflicts.attr.assignee")
	case "due_date":
		return tr("conflicts.attr.dueDate")
	case "applicant.family_name":
		return tr("conflicts.attr.familyName")
	case "applicant.given_names":
		return tr("conflicts.attr.givenNames")
	case "applicant.birth_name":
		return tr("conflicts.attr.birthName")
	case "applicant.organisation":
		return tr("conflicts.attr.organisation")
	case "applicant.address.street":
		return tr("conflicts.attr.street")
	case "applicant.address.house_number":
		return tr("conflicts.attr.houseNumber")
	case "applicant.address.addition":
		return tr("conflicts.attr.addition")
	case "applicant.address.postcode":
		return tr("conflicts.attr.postcode")
	case "applicant.address.city":
		return tr("conflicts.attr.city")
	case "applicant.address.country":
		return tr("conflicts.attr.country")
	}
	return path
}

// conflictPartLabel names a part of a postal address field (cases.AddressParts).
func conflictPartLabel(part string) string {
	switch part {
	case "strasse":
		return tr("conflicts.part.street")
	case "hausnummer":
		return tr("conflicts.part.houseNumber")
	case "zusatz":
		return tr("conflicts.part.addition")
	case "plz":
		return tr("conflicts.part.postcode")
	case "ort":
		return tr("conflicts.part.city")
	case "staat":
		return tr("conflicts.part.country")
	}
	return part
}

// conflictOwnValue reports whether a new value can be typed for the field: form
// values that are text, numbers, dates or single choices, and the case's attributes
// other than the status (which only moves through the workflow).
func conflictOwnValue(path string, f *cases.Field) bool {
	switch {
	case path == "status", strings.HasPrefix(path, "notes."), strings.HasPrefix(path, "attachments."):
		return false
	case f == nil:
		return true
	}
	switch f.Type {
	case cases.TypeMultiselect, cases.TypeCheckbox, cases.TypeFile, cases.TypeSignature:
		return false
	}
	return true
}

func conflictIsDate(path string, f *cases.Field) bool {
	return path == "due_date" || f != nil && f.Type == cases.TypeDate
}

// conflictFieldLabel names a field path in words: the form's label (an address part
// with the part's name), the attribute's name, or the note or attachment it is about.
// Paths without "values." that name a form value key (as the portal's messages may)
// are labelled too.
func conflictFieldLabel(c *cases.Case, s *cases.Schema, path string) string {
	head, key, _ := strings.Cut(path, ".")
	switch {
	case path == "aktenzeichen" || path == "status" || path == "assignee" || path == "due_date" ||
		head == "applicant":
		return conflictAttrLabel(path)
	case head == "notes":
		if n, ok := conflictNote(c, key, ""); ok {
			return tr("conflicts.note", n.Author, formatDate(n.Created.Local()))
		}
		return tr("conflicts.noteUnknown")
	case head == "attachments":
		if a, ok := c.Attachment(key); ok {
			return tr("conflicts.attachment", a.Name)
		}
		return tr("conflicts.attachmentUnknown")
	case head == "values":
		return conflictKeyLabel(s, key)
	}
	return conflictKeyLabel(s, path)
}

// conflictKeyLabel labels a form value key ("familienname", "neue_wohnung.plz").
func conflictKeyLabel(s *cases.Schema, key string) string {
	if s == nil {
		return key
	}
	f, ok := s.Field(key)
	if !ok {
		return key
	}
	label := f.Label.In(language())
	if _, part, isPart := strings.Cut(key, "."); isPart && f.Type == cases.TypeAddress {
		return tr("conflicts.partLabel", label, conflictPartLabel(part))
	}
	return label
}

// conflictNote finds note id in c, or decodes it from a conflict value (a deleted note).
func conflictNote(c *cases.Case, id, value string) (cases.Note, bool) {
	if value != "" {
		var n cases.Note
		if json.Unmarshal([]byte(value), &n) == nil {
			return n, true
		}
	}
	return c.Note(id)
}

// conflictValueText shows a stored value in words: dates TT.MM.JJJJ, option labels,
// Ja/Nein, decimal commas, the attachment's name, a note's text.
func conflictValueText(c *cases.Case, s *cases.Schema, path, value string) string {
	head, key, _ := strings.Cut(path, ".")
	if value == "" {
		if head == "notes" || head == "attachments" {
			return tr("conflicts.removed")
		}
		return tr("conflicts.empty")
	}
	switch {
	case path == "due_date":
		return formatISODate(value)
	case path == "status":
		if s != nil && s.Workflow != nil {
			if st, ok := s.Workflow.State(value); ok {
				return st.Label.In(language())
			}
		}
		return value
	case head == "notes":
		if n, ok := conflictNote(c, key, value); ok {
			return conflictShorten(n.Text, 400)
		}
		return value
	case head == "attachments":
		var a cases.AttachmentRef
		if json.Unmarshal([]byte(value), &a) == nil && a.Name != "" {
			return tr("conflicts.attachmentValue", a.Name, formatBytes(a.Size))
		}
		return value
	case head != "values" || s == nil:
		return value
	}
	f, ok := s.Field(key)
	if !ok {
		return value
	}
	lang := language()
	switch f.Type {
	case cases.TypeDate:
		return formatISODate(value)
	case cases.TypeSelect:
		return f.OptionLabel(value, lang)
	case cases.TypeMultiselect:
		var labels []string
		for _, o := range strings.Split(value, ",") {
			labels = append(labels, f.OptionLabel(strings.TrimSpace(o), lang))
		}
		return strings.Join(labels, ", ")
	case cases.TypeCheckbox:
		if value == "true" {
			return tr("conflicts.yes")
		}
		return tr("conflicts.no")
	case cases.TypeNumber:
		if lang == LangDE {
			return strings.Replace(value, ".", ",", 1)
		}
		return value
	case cases.TypeIBAN:
		return conflictIBAN(value)
	case cases.TypeFile, cases.TypeSignature:
		var names []string
		for _, sha := range strings.Split(value, ",") {
			sha = strings.TrimSpace(sha)
			if a, ok := c.Attachment(sha); ok {
				names = append(names, a.Name)
			} else if len(sha) >= 12 {
				names = append(names, tr("conflicts.attachmentRef", sha[:12]))
			}
		}
		return strings.Join(names, ", ")
	case cases.TypeMultiline:
		return conflictShorten(value, 400)
	}
	return value
}

// conflictIBAN writes an IBAN in groups of four, as printed on a bank card.
func conflictIBAN(s string) string {
	s = strings.ReplaceAll(s, " ", "")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// conflictShorten cuts s to at most n characters, marking the cut with "…".
func conflictShorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
