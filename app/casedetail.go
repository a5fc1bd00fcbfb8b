package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	fstorage "fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"fieldoffice/cases"
	"fieldoffice/storage"
)

// The case screen
//
// One case (Vorgang): a header with what identifies it (Aktenzeichen, Antragsteller/in,
// Leistung, Status) and what the caseworker sets (Sachbearbeitung, Wiedervorlage),
// badges for unsynced changes and conflicts, what the portal refused; the form (form.go)
// with "Speichern"; beside it the workflow buttons, Vermerke, Anlagen and the history.
//
// Every vault call runs off the UI goroutine (goDo). The screen is drawn from a
// detailData, which is loaded in one go; the history (the audit trail, which is read
// whole) follows on its own.

// detailData is what the case screen shows, loaded off the UI goroutine.
type detailData struct {
	c          *cases.Case
	schema     *cases.Schema   // nil when the service's form is not known
	pending    int             // ops of the case waiting for the portal
	uploading  map[string]bool // attachment SHA-256 → an op adding it waits
	local      map[string]bool // attachment SHA-256 → the content is on this device
	conflicts  []cases.Conflict
	rejections []storage.Rejection
}

// historyLimit is how many audit entries the history shows (newest first).
const historyLimit = 200

// caseDetail is the case screen.
type caseDetail struct {
	u    *UI
	id   string
	data *detailData
	now  func() time.Time

	root      fyne.CanvasObject // the screen's content, inside the shell
	form      *formView
	assignee  *escEntry
	assignMe  *widget.Button
	due       *escEntry
	attrErrs  map[string]*widget.Label // "assignee", "due_date" → message line
	saveBtn   *widget.Button
	status    *widget.Label // result of the last action
	workflow  *fyne.Container
	notes     *fyne.Container
	noteEntry *escEntry
	noteBtn   *widget.Button
	files     *fyne.Container
	transfers *fyne.Container // attachments being added or exported, with progress
	history   *fyne.Container
	header    *fyne.Container

	busy  bool         // a save or transition is running
	jobs  atomic.Int32 // vault calls running for this screen
	shown atomic.Int32 // times the screen was built from loaded data
}

// detailDo is goDo for the case screen: it counts the running calls (tests wait for
// them before they close the vault).
func detailDo[T any](d *caseDetail, work func() (T, error), done func(T, error)) {
	d.jobs.Add(1)
	goDo(work, func(v T, err error) {
		defer d.jobs.Add(-1)
		done(v, err)
	})
}

// openCase shows case id.
func (u *UI) openCase(id string) {
	d := &caseDetail{u: u, id: id, now: time.Now}
	u.detail = d
	loading := widget.NewLabel(tr("detail.loading"))
	d.root = container.NewCenter(loading)
	u.showMain(tr("screen.case"), d.root)
	d.load(nil)
}

// saveCurrent saves what the user is editing: the open case, or the new application
// being captured; elsewhere it does nothing (Ctrl+S).
func (u *UI) saveCurrent() {
	switch {
	case u.detail != nil && u.detail.visible():
		u.detail.save()
	case u.capture != nil:
		u.capture.save()
	}
}

// visible reports whether the case screen is the window's current content.
func (d *caseDetail) visible() bool {
	if d == nil || d.u.detail != d || d.root == nil {
		return false
	}
	c := d.u.mainFrame()
	return c != nil && slices.Contains(c.Objects, d.root)
}

// reload reads the case again and redraws the screen (after a language switch, a
// resolved conflict or a sync that brought a new version), keeping unsaved edits.
func (d *caseDetail) reload() {
	var edits map[string]string
	if d.form != nil {
		edits = d.form.Changed()
	}
	d.load(edits)
}

// back returns to the case list ("Zur Liste", Escape); with unsaved changes it asks
// first whether to discard them.
func (d *caseDetail) back() {
	if d.data == nil || d.busy || len(d.changes()) == 0 {
		d.u.showCases()
		return
	}
	dialog.ShowCustomConfirm(tr("detail.discard.title"), tr("detail.discard.yes"), tr("detail.discard.no"),
		widget.NewLabel(tr("detail.discard.body")), func(discard bool) {
			if discard && d.u.detail == d {
				d.u.showCases()
			}
		}, d.u.win)
}

// load reads the case off the UI goroutine and shows it; edits are unsaved form values
// to keep.
func (d *caseDetail) load(edits map[string]string) {
	u, sess := d.u, d.u.sess
	if sess == nil {
		return
	}
	var attrs map[string]string
	if d.assignee != nil {
		attrs = d.attrChanges()
	}
	detailDo(d, func() (*detailData, error) { return loadDetail(u.vlt, sess.forms, d.id) }, func(dd *detailData, err error) {
		if u.detail != d || u.sess != sess {
			return // another case was opened, or the app was locked meanwhile
		}
		if err != nil {
			u.log.Error("open case", "err", err)
			d.showError(err)
			return
		}
		d.show(dd, edits, attrs)
		d.loadHistory()
	})
}

// loadDetail reads what the case screen shows of case id.
func loadDetail(v *storage.Vault, forms storage.Forms, id string) (*detailData, error) {
	c, err := v.Case(id)
	if err != nil {
		return nil, err
	}
	dd := &detailData{c: c, uploading: map[string]bool{}, local: map[string]bool{}}
	if forms != nil {
		if s, err := forms.Schema(c.Service); err == nil {
			dd.schema = s
		}
	}
	ops, err := v.Outbox()
	if err != nil {
		return nil, err
	}
	for _, op := range ops {
		if op.CaseID != id {
			continue
		}
		dd.pending++
		for _, f := range op.Patch.Fields() {
			if sha, ok := strings.CutPrefix(f, "attachments."); ok {
				dd.uploading[sha] = true
			}
		}
	}
	for _, a := range c.Attachments {
		ok, err := v.HasBlob(a.SHA256)
		if err != nil {
			return nil, err
		}
		dd.local[a.SHA256] = ok
	}
	if dd.conflicts, err = v.Conflicts(id); err != nil {
		return nil, err
	}
	if dd.rejections, err = v.Rejections(id); err != nil {
		return nil, err
	}
	return dd, nil
}

// showError replaces the screen with a message and the way back.
func (d *caseDetail) showError(err error) {
	msg := userMessage(err)
	if errors.Is(err, storage.ErrNotFound) {
		msg = tr("detail.notFound")
	}
	l := widget.NewLabel(msg)
	l.Wrapping = fyne.TextWrapWord
	d.root = container.NewVBox(l, container.NewHBox(widget.NewButtonWithIcon(tr("detail.back"), theme.NavigateBackIcon(), d.back)))
	d.u.showMain(tr("screen.case"), d.root)
}

// show builds the screen from dd, keeping unsaved form edits and attribute edits.
func (d *caseDetail) show(dd *detailData, edits, attrs map[string]string) {
	d.data = dd
	d.root = d.build(edits, attrs)
	name := tr("screen.case")
	if dd.c.Aktenzeichen != "" {
		name += " " + dd.c.Aktenzeichen
	}
	d.u.showMain(name, d.root)
	if d.form != nil {
		d.form.FocusFirst(d.u.win.Canvas())
	}
	d.shown.Add(1)
}

// build creates the screen's widgets for d.data.
func (d *caseDetail) build(edits, attrs map[string]string) fyne.CanvasObject {
	dd := d.data
	d.status = widget.NewLabel("")
	d.status.Wrapping = fyne.TextWrapWord
	d.status.Hide()
	d.saveBtn = widget.NewButtonWithIcon(tr("detail.save"), theme.DocumentSaveIcon(), d.save)
	d.saveBtn.Importance = widget.HighImportance
	back := widget.NewButtonWithIcon(tr("detail.back"), theme.NavigateBackIcon(), d.back)
	title := widget.NewLabelWithStyle(d.title(), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	title.Truncation = fyne.TextTruncateEllipsis
	top := container.NewBorder(nil, d.status, back, d.saveBtn, title)

	d.assignee = newEscEntry(false, d.back)
	d.assignee.SetText(dd.c.Assignee)
	d.due = newEscEntry(false, d.back)
	d.due.SetPlaceHolder(tr("form.date.placeholder"))
	d.due.SetText(formatISOInput(dd.c.DueDate))
	d.attrErrs = map[string]*widget.Label{"assignee": newMessage(), "due_date": newMessage()}
	if v, ok := attrs["assignee"]; ok {
		d.assignee.SetText(v)
	}
	if v, ok := attrs["due_date"]; ok {
		d.due.SetText(formatISOInput(v))
	}
	d.header = container.NewVBox()
	d.updateHeader()

	left := []fyne.CanvasObject{d.header}
	d.form = nil
	if dd.schema != nil {
		d.form = newFormView(dd.schema, dd.c.Values, nil)
		d.form.SetFileNames(attachmentNames(dd.c))
		d.form.attach = d.attachToField
		d.form.signature = d.signField
		d.form.escape = d.back
		d.form.apply(edits)
		left = append(left, d.form.Widget())
	} else {
		l := widget.NewLabel(tr("detail.noForm", dd.c.Service))
		l.Wrapping = fyne.TextWrapWord
		left = append(left, l, valuesTable(dd.c.Values))
	}

	d.workflow = container.NewVBox()
	d.notes = container.NewVBox()
	d.noteEntry = newEscEntry(true, d.back)
	d.noteEntry.SetPlaceHolder(tr("detail.notes.placeholder"))
	d.noteEntry.SetMinRowsVisible(2)
	d.noteBtn = widget.NewButtonWithIcon(tr("detail.notes.add"), theme.ContentAddIcon(), d.addNote)
	d.files = container.NewVBox()
	d.transfers = container.NewVBox()
	addFile := widget.NewButtonWithIcon(tr("detail.files.add"), theme.ContentAddIcon(), func() { d.pickFile(nil) })
	d.history = container.NewVBox(wrapped(tr("detail.history.loading")))
	d.updateParts()

	right := container.NewVBox(
		widget.NewCard(tr("detail.workflow.title"), "", d.workflow),
		widget.NewCard(tr("detail.notes.title"), "", container.NewVBox(d.notes, d.noteEntry, container.NewHBox(d.noteBtn))),
		widget.NewCard(tr("detail.files.title"), "", container.NewVBox(d.files, d.transfers, container.NewHBox(addFile))),
		widget.NewCard(tr("detail.history.title"), "", d.history),
	)
	cols := container.New(&detailColumns{}, container.NewVScroll(container.NewVBox(left...)), container.NewVScroll(right))
	return container.NewBorder(top, nil, nil, nil, cols)
}

// title is "Aktenzeichen · Leistung" (or the applicant when there is no Aktenzeichen yet).
func (d *caseDetail) title() string {
	c := d.data.c
	ref := c.Aktenzeichen
	if ref == "" {
		ref = tr("detail.noAktenzeichen")
	}
	return ref + " · " + d.serviceTitle()
}

func (d *caseDetail) serviceTitle() string {
	if d.data.schema != nil {
		return d.data.schema.Title.In(language())
	}
	return d.data.c.Service
}

// statusLabel is the label of state id in the case's workflow.
func (d *caseDetail) statusLabel(id string) string {
	if s := d.data.schema; s != nil && s.Workflow != nil {
		if st, ok := s.Workflow.State(id); ok {
			return st.Label.In(language())
		}
	}
	return id
}

// updateHeader fills the header card: facts, the caseworker's fields, badges, refusals.
func (d *caseDetail) updateHeader() {
	dd, c := d.data, d.data.c
	ref := c.Aktenzeichen
	if ref == "" {
		ref = tr("detail.noAktenzeichen")
	}
	applicant := c.Applicant.DisplayName()
	if applicant == "" {
		applicant = "–"
	}
	if a := c.Applicant.Address.String(); a != "" {
		applicant += "\n" + a
	}
	d.assignMe = widget.NewButton(tr("detail.assignMe"), func() {
		if d.u.sess != nil {
			d.assignee.SetText(d.u.sess.user)
		}
	})
	fact := func(label, value string) []fyne.CanvasObject {
		v := widget.NewLabel(value)
		v.Wrapping = fyne.TextWrapWord
		return []fyne.CanvasObject{widget.NewLabelWithStyle(label, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), v}
	}
	edit := func(label string, obj fyne.CanvasObject, msg *widget.Label) []fyne.CanvasObject {
		return []fyne.CanvasObject{widget.NewLabelWithStyle(label, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), container.NewVBox(obj, msg)}
	}
	var cells []fyne.CanvasObject
	cells = append(cells, fact(tr("detail.aktenzeichen"), ref)...)
	cells = append(cells, fact(tr("detail.applicant"), applicant)...)
	cells = append(cells, fact(tr("detail.service"), d.serviceTitle())...)
	cells = append(cells, fact(tr("detail.status"), d.statusLabel(c.Status))...)
	cells = append(cells, edit(tr("detail.assignee"), container.NewBorder(nil, nil, nil, d.assignMe, d.assignee), d.attrErrs["assignee"])...)
	cells = append(cells, edit(tr("detail.due"), d.due, d.attrErrs["due_date"])...)
	cells = append(cells, fact(tr("detail.created"), formatDateTime(c.Created))...)
	cells = append(cells, fact(tr("detail.updated"), formatDateTime(c.Updated))...)
	grid := container.New(&formRowsLayout{}, cells...)

	var badges []fyne.CanvasObject
	badge := func(icon fyne.Resource, text string, imp widget.Importance) fyne.CanvasObject {
		l := widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		l.Wrapping = fyne.TextWrapWord
		l.Importance = imp
		return container.NewBorder(nil, nil, widget.NewIcon(icon), nil, l)
	}
	if dd.pending > 0 {
		badges = append(badges, badge(theme.UploadIcon(), plural(dd.pending, "detail.badge.unsynced1", "detail.badge.unsynced"), widget.WarningImportance))
	} else {
		badges = append(badges, badge(theme.ConfirmIcon(), tr("detail.badge.synced"), widget.SuccessImportance))
	}
	if len(dd.conflicts) > 0 {
		badges = append(badges, badge(theme.ErrorIcon(), plural(len(dd.conflicts), "detail.badge.conflict1", "detail.badge.conflict"), widget.DangerImportance))
		resolve := widget.NewButtonWithIcon(tr("detail.resolve"), theme.WarningIcon(), func() { d.u.resolveConflicts(d.id) })
		resolve.Importance = widget.DangerImportance
		badges = append(badges, container.NewHBox(resolve))
	}
	objs := append([]fyne.CanvasObject{grid}, badges...)
	for _, r := range dd.rejections {
		objs = append(objs, rejectionLabel(r, dd.schema))
	}
	d.header.Objects = []fyne.CanvasObject{widget.NewCard(tr("detail.case.title"), "", container.NewVBox(objs...))}
	d.header.Refresh()
}

// rejectionLabel says what the portal refused and why.
func rejectionLabel(r storage.Rejection, s *cases.Schema) fyne.CanvasObject {
	var parts []string
	if r.Reason != "" {
		parts = append(parts, r.Reason)
	}
	for _, k := range slices.Sorted(maps.Keys(r.Fields)) {
		parts = append(parts, fieldName(k, s)+": "+r.Fields[k])
	}
	text := tr("detail.rejected", formatDateTime(r.Time), opName(r.Kind))
	if len(parts) > 0 {
		text += " " + strings.Join(parts, "; ")
	}
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	l.Importance = widget.DangerImportance
	return l
}

// updateParts fills the workflow, notes and attachments from d.data.
func (d *caseDetail) updateParts() {
	d.updateWorkflow()
	d.updateNotes()
	d.updateFiles()
}

// updateWorkflow shows a button per transition out of the current state: enabled when
// allowed, disabled with the reason below it when not.
func (d *caseDetail) updateWorkflow() {
	dd := d.data
	var objs []fyne.CanvasObject
	objs = append(objs, wrapped(tr("detail.workflow.current", d.statusLabel(dd.c.Status))))
	var choices []cases.Choice
	if dd.schema != nil && dd.schema.Workflow != nil && d.u.sess != nil {
		choices = dd.schema.Workflow.Allowed(dd.c, d.u.sess.role, dd.schema, d.now())
	}
	if len(choices) == 0 {
		objs = append(objs, wrapped(tr("detail.workflow.none")))
	}
	for _, ch := range choices {
		b := widget.NewButton(ch.Label.In(language()), nil)
		if ch.Enabled {
			to := ch.To
			b.OnTapped = func() { d.transition(to) }
			objs = append(objs, container.NewHBox(b))
			continue
		}
		b.Disable()
		reason := widget.NewLabel(ch.Reason.In(language()))
		reason.Wrapping = fyne.TextWrapWord
		reason.Importance = widget.LowImportance
		objs = append(objs, container.NewHBox(b), reason)
	}
	d.workflow.Objects = objs
	d.workflow.Refresh()
}

// updateNotes lists the Vermerke, newest first.
func (d *caseDetail) updateNotes() {
	notes := d.data.c.Notes
	var objs []fyne.CanvasObject
	if len(notes) == 0 {
		objs = append(objs, wrapped(tr("detail.notes.none")))
	}
	for i := len(notes) - 1; i >= 0; i-- {
		n := notes[i]
		head := widget.NewLabelWithStyle(tr("detail.notes.by", formatDateTime(n.Created), n.Author), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		head.Wrapping = fyne.TextWrapWord
		body := widget.NewLabel(n.Text)
		body.Wrapping = fyne.TextWrapWord
		objs = append(objs, head, body)
	}
	d.notes.Objects = objs
	d.notes.Refresh()
}

// updateFiles lists the Anlagen: name, size, type, sync state and the export button.
func (d *caseDetail) updateFiles() {
	dd := d.data
	var objs []fyne.CanvasObject
	if len(dd.c.Attachments) == 0 {
		objs = append(objs, wrapped(tr("detail.files.none")))
	}
	for _, a := range dd.c.Attachments {
		var state string
		switch {
		case dd.uploading[a.SHA256]:
			state = tr("detail.files.pending")
		case !dd.local[a.SHA256]:
			state = tr("detail.files.remote")
		default:
			state = tr("detail.files.synced")
		}
		name := widget.NewLabelWithStyle(a.Name, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		name.Wrapping = fyne.TextWrapBreak
		info := widget.NewLabel(strings.Join([]string{formatBytes(a.Size), a.MediaType, state}, " · "))
		info.Wrapping = fyne.TextWrapWord
		ref := a
		export := widget.NewButtonWithIcon(tr("detail.files.export"), theme.DownloadIcon(), func() { d.saveFile(ref) })
		objs = append(objs, container.NewBorder(nil, nil, widget.NewIcon(theme.FileIcon()), export, name), info)
	}
	d.files.Objects = objs
	d.files.Refresh()
}

// loadHistory reads the case's newest audit entries (through the vault's per-case
// index) off the UI goroutine and shows them.
func (d *caseDetail) loadHistory() {
	u, id, sess := d.u, d.id, d.u.sess
	detailDo(d, func() ([]storage.AuditEntry, error) {
		return u.vlt.CaseAudit(id, historyLimit)
	}, func(entries []storage.AuditEntry, err error) {
		if u.detail != d || u.sess != sess || d.history == nil {
			return
		}
		if err != nil {
			u.log.Error("case history", "err", err)
			d.showHistory(nil, userMessage(err))
			return
		}
		d.showHistory(entries, "")
	})
}

// showHistory lists audit entries (newest first): when, who, what, which fields.
func (d *caseDetail) showHistory(entries []storage.AuditEntry, errMsg string) {
	var objs []fyne.CanvasObject
	switch {
	case errMsg != "":
		l := widget.NewLabel(errMsg)
		l.Importance = widget.DangerImportance
		objs = append(objs, l)
	case len(entries) == 0:
		objs = append(objs, wrapped(tr("detail.history.none")))
	}
	var s *cases.Schema
	if d.data != nil {
		s = d.data.schema
	}
	for _, e := range entries {
		head := widget.NewLabelWithStyle(tr("detail.history.entry", formatDateTime(e.Time), e.User, opName(e.Op)), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		head.Wrapping = fyne.TextWrapWord
		objs = append(objs, head)
		if names := fieldNames(e.Fields, s); len(names) > 0 {
			l := widget.NewLabel(strings.Join(names, ", "))
			l.Wrapping = fyne.TextWrapWord
			objs = append(objs, l)
		}
	}
	if len(entries) == historyLimit {
		objs = append(objs, wrapped(tr("detail.history.more", historyLimit)))
	}
	d.history.Objects = objs
	d.history.Refresh()
}

// opName says what an audit or outbox operation did.
func opName(op string) string { return trOr("detail.op."+op, op) }

// trOr is tr(key), or fallback when no language has a text for key.
func trOr(key, fallback string) string {
	if t := tr(key); t != key {
		return t
	}
	return fallback
}

// fieldNames turns field paths of an audit entry into the labels a caseworker knows,
// without duplicates (an address counts once).
func fieldNames(paths []string, s *cases.Schema) []string {
	var out []string
	for _, p := range paths {
		n := fieldName(p, s)
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// fieldName names one field path: a form field's label, or the case attribute.
func fieldName(path string, s *cases.Schema) string {
	key := strings.TrimPrefix(path, "values.")
	if head, _, ok := strings.Cut(path, "."); ok && (head == "notes" || head == "attachments") {
		return trOr("detail.field."+head, head)
	}
	if s != nil {
		if f, ok := s.Field(key); ok {
			return f.Label.In(language())
		}
	}
	return trOr("detail.field."+key, key)
}

// say shows a message in the status line; bad ones in the danger colour.
func (d *caseDetail) say(msg string, bad bool) {
	d.status.Importance = widget.MediumImportance
	if bad {
		d.status.Importance = widget.DangerImportance
	}
	d.status.SetText(msg)
	d.status.Show()
}

// attrChanges returns the changed caseworker fields (Sachbearbeitung, Wiedervorlage).
func (d *caseDetail) attrChanges() map[string]string {
	out := map[string]string{}
	c := d.data.c
	if v := strings.TrimSpace(d.assignee.Text); v != c.Assignee {
		out["assignee"] = v
	}
	due := strings.TrimSpace(d.due.Text)
	if dt, err := cases.ParseDate(due); err == nil {
		due = cases.ISODate(dt)
	}
	if due != c.DueDate {
		out["due_date"] = due
	}
	return out
}

// changes is everything unsaved: form values and caseworker fields.
func (d *caseDetail) changes() map[string]string {
	out := d.attrChanges()
	if d.form != nil {
		maps.Copy(out, d.form.Changed())
	}
	return out
}

// save writes the changes (Speichern, Ctrl+S) with SetFields, off the UI goroutine.
func (d *caseDetail) save() {
	if d.busy || d.data == nil {
		return
	}
	changes := d.changes()
	if len(changes) == 0 {
		d.say(tr("detail.nothingToSave"), false)
		return
	}
	d.run(tr("detail.saving"), changes, nil, func(*cases.Case) { d.say(tr("detail.saved"), false) })
}

// transition takes the workflow step to state to, saving unsaved changes first.
func (d *caseDetail) transition(to string) {
	if d.busy || d.data == nil {
		return
	}
	label := d.statusLabel(to)
	d.run(tr("detail.workflow.busy"), d.changes(), &to, func(*cases.Case) {
		d.say(tr("detail.workflow.done", label), false)
	})
}

// run saves changes (if any) and then takes the transition to (if not nil), off the
// UI goroutine; afterwards it shows the outcome: messages at the fields, or the new
// state of the case and ok's message.
func (d *caseDetail) run(busyMsg string, changes map[string]string, to *string, ok func(*cases.Case)) {
	u, id, sess := d.u, d.id, d.u.sess
	if sess == nil {
		return
	}
	d.setBusy(true)
	d.say(busyMsg, false)
	type result struct {
		c     *cases.Case
		saved bool
	}
	detailDo(d, func() (result, error) {
		var r result
		if len(changes) > 0 {
			c, err := u.vlt.SetFields(id, changes)
			if err != nil {
				return r, err
			}
			r.c, r.saved = c, true
		}
		if to != nil {
			c, err := u.vlt.TransitionCase(id, *to, sess.role)
			if err != nil {
				return r, err
			}
			r.c = c
		}
		return r, nil
	}, func(r result, err error) {
		if u.detail != d || u.sess != sess {
			return
		}
		d.setBusy(false)
		if r.saved || (err == nil && r.c != nil) {
			u.edited()
			u.refreshList()
		}
		if r.c != nil {
			d.applied(r.c, r.saved)
		}
		if err != nil {
			d.failed(err)
		} else {
			ok(r.c)
		}
		if r.c != nil {
			d.refreshMeta()
		}
	})
}

// applied shows c, the case as the vault now holds it; saved says the form's values
// were written.
func (d *caseDetail) applied(c *cases.Case, saved bool) {
	d.data.c = c
	if saved {
		if d.form != nil {
			d.form.Saved(c.Values)
		}
		if _, edited := d.attrChanges()["due_date"]; !edited {
			d.due.SetText(formatISOInput(c.DueDate)) // "1.4.2026" as 01.04.2026
		}
		for _, l := range d.attrErrs {
			setMessage(l, "")
		}
	}
	d.updateHeader()
	d.updateParts()
}

// failed shows why a save or transition did not happen.
func (d *caseDetail) failed(err error) {
	var ve *storage.ValidationError
	var te *cases.TransitionError
	switch {
	case errors.As(err, &ve):
		d.showFieldErrors(ve.Fields)
		d.say(tr("detail.invalid"), true)
	case errors.As(err, &te):
		d.showFieldErrors(te.Fields)
		d.say(te.Message(language()), true)
	default:
		d.u.log.Error("change case", "err", err)
		d.say(userMessage(err), true)
	}
}

// showFieldErrors shows messages at the form's fields and the caseworker fields.
func (d *caseDetail) showFieldErrors(msgs map[string]string) {
	for _, l := range d.attrErrs {
		setMessage(l, "")
	}
	rest := map[string]string{}
	for k, m := range msgs {
		if l, ok := d.attrErrs[k]; ok {
			setMessage(l, m)
			continue
		}
		if k == "applicant" || k == "aktenzeichen" { // said in the reason already
			continue
		}
		rest[k] = m
	}
	if d.form != nil {
		d.form.ShowErrors(rest)
		d.form.FocusError(d.u.win.Canvas())
	}
}

func (d *caseDetail) setBusy(on bool) {
	d.busy = on
	enable(d.saveBtn, !on)
}

// refreshMeta reloads the sync state of the case (pending ops, conflicts, refusals,
// attachments on the device) and the history, without touching the form.
func (d *caseDetail) refreshMeta() { d.refreshAfter(false) }

// synced is for the end of a sync run while the case shows: it updates the sync state,
// and when the portal changed the case, the whole screen (unsaved edits are kept).
func (d *caseDetail) synced() {
	if d.data != nil && !d.busy {
		d.refreshAfter(true)
	}
}

// refreshAfter reloads the case's data; rebuild allows redrawing the screen when the
// case itself changed, otherwise only header, workflow, notes, attachments and history
// are updated.
func (d *caseDetail) refreshAfter(rebuild bool) {
	u, sess := d.u, d.u.sess
	if sess == nil {
		return
	}
	detailDo(d, func() (*detailData, error) { return loadDetail(u.vlt, sess.forms, d.id) }, func(dd *detailData, err error) {
		if u.detail != d || u.sess != sess || err != nil || d.data == nil {
			return
		}
		changed := dd.c.Revision != d.data.c.Revision || !dd.c.Updated.Equal(d.data.c.Updated)
		if rebuild && changed && !d.busy {
			var edits map[string]string
			if d.form != nil {
				edits = d.form.Changed()
			}
			d.show(dd, edits, d.attrChanges())
			d.loadHistory()
			return
		}
		d.data = dd
		d.updateHeader()
		d.updateParts()
		d.loadHistory()
	})
}

// addNote adds the typed Vermerk.
func (d *caseDetail) addNote() {
	text := strings.TrimSpace(d.noteEntry.Text)
	if d.busy {
		return
	}
	if text == "" {
		d.say(tr("detail.notes.empty"), true)
		return
	}
	u, id, sess := d.u, d.id, d.u.sess
	if sess == nil {
		return
	}
	d.noteBtn.Disable()
	detailDo(d, func() (*cases.Case, error) { return u.vlt.AddNote(id, text) }, func(c *cases.Case, err error) {
		if u.detail != d || u.sess != sess {
			return
		}
		d.noteBtn.Enable()
		if err != nil {
			d.failed(err)
			return
		}
		u.edited()
		u.refreshList()
		d.noteEntry.SetText("")
		d.data.c.Notes = c.Notes
		d.data.c.Updated = c.Updated
		d.updateNotes()
		d.say(tr("detail.notes.added"), false)
		d.refreshMeta()
	})
}

// --- attachments ----------------------------------------------------------------------

// pickFile lets the user choose a file and adds it to the case as an Anlage; then, if
// done is not nil, it gets the new attachment (a file field takes it).
func (d *caseDetail) pickFile(done func(cases.AttachmentRef)) {
	fd := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil {
			d.say(tr("detail.files.openFailed"), true)
			return
		}
		if r == nil {
			return // cancelled
		}
		uri := r.URI()
		size := int64(-1)
		if uri.Scheme() == "file" {
			if fi, err := os.Stat(uri.Path()); err == nil {
				size = fi.Size()
			}
		}
		d.addAttachment(uri.Name(), uri.MimeType(), size, r, done)
	}, d.u.win)
	fd.Resize(fyne.NewSize(800, 560))
	fd.Show()
}

// attachToField is the form's attach hook: the picked file becomes an Anlage and is
// listed in the file field.
func (d *caseDetail) attachToField(field string) {
	form := d.form
	d.pickFile(func(a cases.AttachmentRef) {
		if d.form == form {
			form.AddFile(field, a.SHA256, a.Name)
		}
	})
}

// mediaTypeOf returns the media type of a file by its name, given (the file dialog's
// guess) or derived from the extension.
func mediaTypeOf(name, given string) string {
	if given != "" && given != "application/octet-stream" && given != "text/plain" {
		return given
	}
	if t := mime.TypeByExtension(strings.ToLower(filepath.Ext(name))); t != "" {
		mt, _, _ := strings.Cut(t, ";")
		return mt
	}
	if given != "" {
		return given
	}
	return "application/octet-stream"
}

// addAttachment stores r (size bytes, -1 when unknown) as an Anlage named name: the
// content streamed into the blob store, then the reference recorded on the case (an op
// for the portal). It runs off the UI goroutine with a progress bar; r is closed.
func (d *caseDetail) addAttachment(name, mediaType string, size int64, r io.ReadCloser, done func(cases.AttachmentRef)) {
	u, id, sess := d.u, d.id, d.u.sess
	if sess == nil {
		r.Close()
		return
	}
	p := d.newTransfer(tr("detail.files.adding", name), size)
	cr := &countingReader{r: r, n: &p.done}
	ref := cases.AttachmentRef{Name: name, MediaType: mediaTypeOf(name, mediaType)}
	detailDo(d, func() (*cases.Case, error) {
		defer r.Close()
		info, err := u.vlt.PutDraftBlob(cr, 0)
		if err != nil {
			return nil, err
		}
		ref.SHA256, ref.Size = info.SHA256, info.Size
		return u.vlt.AddAttachment(id, ref)
	}, func(c *cases.Case, err error) {
		p.finish()
		if u.detail != d || u.sess != sess {
			return
		}
		if err != nil {
			if errors.Is(err, storage.ErrBlobTooLarge) {
				d.say(tr("detail.files.tooLarge", name, formatBytes(storage.DefaultMaxBlobSize)), true)
			} else {
				u.log.Error("add attachment", "err", err)
				d.say(tr("detail.files.addFailed", name)+" "+userMessage(err), true)
			}
			return
		}
		u.edited()
		u.refreshList()
		d.data.c.Attachments = c.Attachments
		d.data.c.Updated = c.Updated
		d.data.uploading[ref.SHA256] = true
		d.data.local[ref.SHA256] = true
		d.updateFiles()
		if d.form != nil {
			d.form.SetFileNames(map[string]string{ref.SHA256: ref.Name})
		}
		d.say(tr("detail.files.added", name), false)
		if done != nil {
			done(ref)
		}
		d.refreshMeta()
	})
}

// saveFile asks where to save attachment a and exports it there.
func (d *caseDetail) saveFile(a cases.AttachmentRef) {
	fd := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			d.say(tr("detail.files.exportFailed", a.Name), true)
			return
		}
		if w == nil {
			return // cancelled
		}
		uri := w.URI()
		d.exportAttachment(a, w, func(err error) {
			if err != nil {
				_ = fstorage.Delete(uri) // no half-written file
			}
		})
	}, d.u.win)
	fd.SetFileName(a.Name)
	fd.Resize(fyne.NewSize(800, 560))
	fd.Show()
}

// exportAttachment writes the content of a to w and closes it, off the UI goroutine,
// with a progress bar. An attachment that is not on the device (pulled from the portal)
// is downloaded first when the device syncs. done, if not nil, runs on the UI goroutine
// with the outcome.
func (d *caseDetail) exportAttachment(a cases.AttachmentRef, w io.WriteCloser, done func(error)) {
	u, sess := d.u, d.u.sess
	if sess == nil {
		w.Close()
		return
	}
	p := d.newTransfer(tr("detail.files.exporting", a.Name), a.Size)
	detailDo(d, func() (struct{}, error) {
		err := exportBlob(u.vlt, sess, a.SHA256, &countingWriter{w: w, n: &p.done})
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		return struct{}{}, err
	}, func(_ struct{}, err error) {
		p.finish()
		if done != nil {
			defer done(err)
		}
		if u.detail != d {
			return
		}
		if err != nil {
			u.log.Error("export attachment", "err", err)
			msg := tr("detail.files.exportFailed", a.Name)
			if errors.Is(err, errNotOnDevice) {
				msg = tr("detail.files.notOnDevice", a.Name)
			}
			d.say(msg, true)
			return
		}
		d.data.local[a.SHA256] = true
		d.updateFiles()
		d.say(tr("detail.files.exported", a.Name), false)
	})
}

// errNotOnDevice: the attachment's content is only on the portal, and this device
// cannot download it (not enrolled).
var errNotOnDevice = errors.New("attachment content not on this device")

// exportBlob copies blob sha to w, downloading it from the portal first when needed.
func exportBlob(v *storage.Vault, sess *session, sha string, w io.Writer) error {
	ok, err := v.HasBlob(sha)
	if err != nil {
		return err
	}
	if !ok {
		if sess.engine == nil {
			return errNotOnDevice
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		if err := sess.engine.FetchBlob(ctx, sha); err != nil {
			return err
		}
	}
	r, _, err := v.OpenBlob(sha)
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = io.Copy(w, r)
	return err
}

// transfer is one running attachment upload or export on screen: a label and a
// progress bar (infinite when the size is unknown), updated every 100 ms.
type transfer struct {
	done  atomic.Int64
	row   fyne.CanvasObject
	stop  chan struct{}
	owner *fyne.Container
}

func (d *caseDetail) newTransfer(label string, size int64) *transfer {
	p := &transfer{stop: make(chan struct{}), owner: d.transfers}
	var bar fyne.CanvasObject
	var set func()
	if size > 0 {
		b := widget.NewProgressBar()
		b.Max = float64(size)
		bar = b
		set = func() { b.SetValue(float64(min(p.done.Load(), size))) }
	} else {
		bar = widget.NewProgressBarInfinite()
		set = func() {}
	}
	p.row = container.NewVBox(widget.NewLabel(label), bar)
	d.transfers.Add(p.row)
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				uiDo(set)
			}
		}
	}()
	return p
}

// finish removes the transfer from the screen (UI goroutine).
func (p *transfer) finish() {
	close(p.stop)
	if pb, ok := p.row.(*fyne.Container).Objects[1].(*widget.ProgressBarInfinite); ok {
		pb.Stop()
	}
	p.owner.Remove(p.row)
}

// countingReader and countingWriter count the bytes that passed, for progress bars.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	k, err := c.r.Read(b)
	c.n.Add(int64(k))
	return k, err
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	k, err := c.w.Write(b)
	c.n.Add(int64(k))
	return k, err
}

// --- signature ---------------------------------------------------------------------

// signField is the form's signature hook: a pad in a dialog; the signature is stored
// as a PNG Anlage and set on the field.
func (d *caseDetail) signField(field string) {
	form := d.form
	pad := newSignaturePad()
	hint := widget.NewLabel(tr("detail.sign.hint"))
	hint.Wrapping = fyne.TextWrapWord
	wipe := widget.NewButtonWithIcon(tr("detail.sign.clear"), theme.ContentClearIcon(), pad.Clear)
	content := container.NewBorder(hint, container.NewHBox(wipe), nil, nil, pad)
	dlg := dialog.NewCustomConfirm(tr("detail.sign.title"), tr("detail.sign.ok"), tr("detail.sign.cancel"), content, func(ok bool) {
		if !ok || pad.Empty() || d.form != form {
			return
		}
		png, err := pad.PNG()
		if err != nil {
			d.say(userMessage(err), true)
			return
		}
		name := fmt.Sprintf("unterschrift-%s.png", field)
		d.addAttachment(name, "image/png", int64(len(png)), io.NopCloser(bytes.NewReader(png)), func(a cases.AttachmentRef) {
			if d.form == form {
				form.SetSignature(field, a.SHA256, png)
			}
		})
	}, d.u.win)
	dlg.Resize(fyne.NewSize(720, 400))
	dlg.Show()
	d.u.win.Canvas().Focus(pad)
}

// --- helpers -----------------------------------------------------------------------

// wrapped is a label that wraps at word boundaries (no clipping at 200 % text size).
func wrapped(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	return l
}

// detailColumns lays out the case screen's two columns (form, and workflow with notes,
// attachments, history): side by side, the first taking 60 % of the width (at least
// its minimum, leaving the second its minimum) while both minimums fit; otherwise —
// large text on a small screen — one above the other, 60 % and 40 % of the height,
// each at full width, so that nothing is clipped.
type detailColumns struct{}

// sideBySide reports whether both columns fit next to each other in width w.
func (l *detailColumns) sideBySide(objs []fyne.CanvasObject, w float32) bool {
	return objs[0].MinSize().Width+theme.Padding()+objs[1].MinSize().Width <= w
}

// Layout implements fyne.Layout.
func (l *detailColumns) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	if len(objs) != 2 {
		return
	}
	pad := theme.Padding()
	if l.sideBySide(objs, size.Width) {
		lw := max(size.Width*0.6, objs[0].MinSize().Width)
		lw = min(lw, size.Width-pad-objs[1].MinSize().Width)
		objs[0].Move(fyne.NewPos(0, 0))
		objs[0].Resize(fyne.NewSize(lw, size.Height))
		objs[1].Move(fyne.NewPos(lw+pad, 0))
		objs[1].Resize(fyne.NewSize(size.Width-lw-pad, size.Height))
		return
	}
	th := (size.Height - pad) * 0.6
	objs[0].Move(fyne.NewPos(0, 0))
	objs[0].Resize(fyne.NewSize(size.Width, th))
	objs[1].Move(fyne.NewPos(0, th+pad))
	objs[1].Resize(fyne.NewSize(size.Width, size.Height-th-pad))
}

// MinSize implements fyne.Layout: the wider column's width, so that the window can
// stack them.
func (l *detailColumns) MinSize(objs []fyne.CanvasObject) fyne.Size {
	if len(objs) != 2 {
		return fyne.Size{}
	}
	a, b := objs[0].MinSize(), objs[1].MinSize()
	return fyne.NewSize(max(a.Width, b.Width), a.Height+theme.Padding()+b.Height)
}

// plural is tr(one) for n == 1, else tr(many, n).
func plural(n int, one, many string) string {
	if n == 1 {
		return tr(one)
	}
	return tr(many, n)
}

// attachmentNames maps the case's attachment SHA-256s to their names.
func attachmentNames(c *cases.Case) map[string]string {
	m := make(map[string]string, len(c.Attachments))
	for _, a := range c.Attachments {
		m[a.SHA256] = a.Name
	}
	return m
}

// formatISOInput writes a stored ISO date as a German user types it (TT.MM.JJJJ).
func formatISOInput(iso string) string {
	if d, err := cases.ParseDate(iso); err == nil {
		return cases.FormatDate(d)
	}
	return iso
}

// valuesTable lists raw values when the form of a case is not known on this device.
func valuesTable(v cases.Values) fyne.CanvasObject {
	var cells []fyne.CanvasObject
	for _, k := range slices.Sorted(maps.Keys(v)) {
		cells = append(cells, widget.NewLabel(k), widget.NewLabel(v[k]))
	}
	return container.New(&formRowsLayout{}, cells...)
}

// formRowsLayout lays out label/value pairs in two columns: the labels as wide as the
// widest, the values taking the rest; each row as high as its taller cell.
type formRowsLayout struct{}

func (l *formRowsLayout) widths(objs []fyne.CanvasObject) float32 {
	var w float32
	for i := 0; i < len(objs); i += 2 {
		w = max(w, objs[i].MinSize().Width)
	}
	return w
}

// Layout implements fyne.Layout.
func (l *formRowsLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	pad := theme.Padding()
	lw := l.widths(objs)
	y := float32(0)
	for i := 0; i+1 < len(objs); i += 2 {
		vw := max(size.Width-lw-pad, 0)
		objs[i+1].Resize(fyne.NewSize(vw, objs[i+1].MinSize().Height))
		h := max(objs[i].MinSize().Height, objs[i+1].MinSize().Height)
		objs[i].Move(fyne.NewPos(0, y))
		objs[i].Resize(fyne.NewSize(lw, objs[i].MinSize().Height))
		objs[i+1].Move(fyne.NewPos(lw+pad, y))
		objs[i+1].Resize(fyne.NewSize(vw, h))
		y += h + pad
	}
}

// MinSize implements fyne.Layout.
func (l *formRowsLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	pad := theme.Padding()
	lw := l.widths(objs)
	var vw, h float32
	for i := 0; i+1 < len(objs); i += 2 {
		vw = max(vw, objs[i+1].MinSize().Width)
		h += max(objs[i].MinSize().Height, objs[i+1].MinSize().Height) + pad
	}
	if h > 0 {
		h -= pad
	}
	return fyne.NewSize(lw+pad+vw, h)
}
