package app

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"mime"
	"os"
	"path"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"fieldoffice/assets"
	"fieldoffice/cases"
	"fieldoffice/storage"
)

// A new application (mobile Bürgerbüro)
//
// The caseworker takes an application with the citizen at the tablet, in steps:
//
//  1. Leistung: the services this device may capture (the policy's list, else all
//     forms the session knows), as large cards;
//  2. Angaben: the service's form (formView), validated as the citizen's data is typed;
//  3. Unterlagen: documents and photos, each streamed into the vault's blob store off
//     the UI goroutine with a progress bar; files for a file field of the form are
//     added from the form and listed here too;
//  4. Unterschrift: a signature pad per signature field (the form's signature button
//     opens the same pad in a dialog);
//  5. Prüfen und speichern: what is missing, documents, signatures, then Save.
//
// Saving checks the whole form (Schema.Validate, required fields included: a captured
// application is complete), creates the case in its workflow's initial state with all
// its values in one transaction (Vault.NewCase), adds each document and signature as an
// Anlage, and tells background sync at once (u.edited). Nothing the user entered is
// lost on a validation error: the form shows the messages at the fields. If adding
// an attachment fails after the case was created, saving again completes that case
// instead of creating a second one.
//
// A draft survives leaving the screen through the navigation bar ("Neuer Antrag"
// resumes it); "Abbrechen" or Escape discard it after asking. Blobs a draft stored and
// that no case uses are deleted again when the draft is discarded or a document is
// removed. The draft is dropped on lock (lock.go clears u.capture); its documents are
// stored as drafts (storage.Vault.PutDraftBlob), which the next unlock deletes unless
// a case came to refer to them.

// captureStep is a step of the flow.
type captureStep int

const (
	capStepService captureStep = iota
	capStepForm
	capStepDocs
	capStepSign
	capStepReview
)

// capture is a new application in progress (UI.capture). It lives on the UI
// goroutine.
type capture struct {
	u        *UI
	step     captureStep
	services []*cases.Schema // what may be captured; nil while loading
	loadErr  error

	schema  *cases.Schema
	form    *formView
	edited  bool // the user changed something in the form
	docs    []*captureDoc
	sigs    []*captureSig // one per signature field, in form order
	maxBlob int64

	created  *cases.Case     // the case of an earlier save whose attachments did not all get stored
	attached map[string]bool // SHA-256 of the attachments created already has
	saving   bool
	done     bool // saved: the screen only offers the next step

	root    *fyne.Container // the screen's content (inside the shell)
	steps   *widget.RichText
	body    *fyne.Container
	status  *widget.Label
	back    *widget.Button
	next    *widget.Button
	saveBtn *widget.Button
	cancel  *widget.Button
	docBox  *fyne.Container // the documents list, while the documents step shows
	// firstPick is the first service card's button (keyboard focus), while the
	// service step shows.
	firstPick *widget.Button
}

// captureDoc is a document added to the application.
type captureDoc struct {
	name      string
	mediaType string
	field     string // the file field it was added to; "" = an Anlage of the application
	size      int64  // bytes read so far, the file's size when stored
	total     int64  // the file's size when known (progress), else 0
	sha       string // set once stored
	newBlob   bool   // the blob store did not hold this content before: delete it with the document
	err       string // why storing failed
	stop      atomic.Bool

	// the document's row updates in place while it is stored
	progress *widget.ProgressBar         // when the size is known
	spinner  *widget.ProgressBarInfinite // when it is not
	detail   *widget.Label               // size, progress or error
}

func (d *captureDoc) uploading() bool { return d.sha == "" && d.err == "" }

// captureSig is the signature of one signature field.
type captureSig struct {
	field    *cases.Field
	pad      *signaturePad
	dirty    bool   // drawn since png was made
	png, svg []byte // the committed signature
	sha      string // SHA-256 of png: the field's value; "" while unsigned
}

// newApplication starts capturing a new application, or resumes the draft of one
// (left through the navigation bar) so that nothing entered is lost.
func (u *UI) newApplication() {
	if u.sess == nil || u.vlt == nil {
		return
	}
	if c := u.capture; c != nil && !c.done && c.dirty() {
		c.show()
		return
	}
	c := &capture{u: u, attached: map[string]bool{}, maxBlob: storage.DefaultMaxBlobSize}
	if d := u.sess.dev; d != nil && d.Policy.MaxAttachmentBytes > 0 {
		c.maxBlob = d.Policy.MaxAttachmentBytes
	}
	u.capture = c
	c.show()
	sess := u.sess
	goDo(func() ([]*cases.Schema, error) { return captureServices(sess) }, func(list []*cases.Schema, err error) {
		c.services, c.loadErr = list, err
		if err != nil {
			u.log.Error("list services for capture", "err", err)
		}
		if c.step == capStepService && c.visible() {
			c.showStep(capStepService)
		}
	})
}

// captureServices returns the forms that may be captured on this device, sorted by
// title: those the policy allows (all when it names none) among the portal's forms
// and the built-in ones.
func captureServices(s *session) ([]*cases.Schema, error) {
	ids := map[string]bool{}
	builtin, err := assets.Schemas{}.Services()
	if err != nil {
		return nil, err
	}
	for _, id := range builtin {
		ids[id] = true
	}
	var allowed []string
	if s.dev != nil {
		for _, raw := range s.dev.Forms {
			var head struct {
				Service string `json:"service"`
			}
			if json.Unmarshal(raw, &head) == nil && head.Service != "" {
				ids[head.Service] = true
			}
		}
		allowed = s.dev.Policy.Services
	}
	var out []*cases.Schema
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		if len(allowed) > 0 && !slices.Contains(allowed, id) {
			continue
		}
		if sc, err := s.forms.Schema(id); err == nil {
			out = append(out, sc)
		}
	}
	lang := language()
	slices.SortFunc(out, func(a, b *cases.Schema) int { return strings.Compare(a.Title.In(lang), b.Title.In(lang)) })
	return out, nil
}

// show puts the capture screen in the window at its current step.
func (c *capture) show() {
	c.build()
	c.u.showMain(tr("screen.capture"), c.root)
	c.showStep(c.step)
}

// visible reports whether the capture screen is the window's content.
func (c *capture) visible() bool {
	if c == nil || c.root == nil || c.u.win == nil {
		return false
	}
	ct := c.u.mainFrame()
	return ct != nil && slices.Contains(ct.Objects, fyne.CanvasObject(c.root))
}

// reload rebuilds the screen (after a language switch) keeping everything entered.
func (c *capture) reload() {
	if c.form != nil {
		if len(c.form.Changed()) > 0 {
			c.edited = true // the rebuilt form starts from these values
		}
		c.form = c.newForm(c.form.Values())
	}
	c.show()
}

// build makes the frame: steps above, the step's content, status and buttons below.
func (c *capture) build() {
	c.steps = widget.NewRichText() // wraps at large text sizes
	c.steps.Wrapping = fyne.TextWrapWord
	c.body = container.NewStack()
	c.status = widget.NewLabel("")
	c.status.Wrapping = fyne.TextWrapWord
	c.status.Importance = widget.DangerImportance
	c.status.Hide()
	c.back = widget.NewButtonWithIcon(tr("capture.back"), theme.NavigateBackIcon(), c.goBack)
	c.next = widget.NewButtonWithIcon(tr("capture.next"), theme.NavigateNextIcon(), c.goNext)
	c.next.Importance = widget.HighImportance
	c.next.IconPlacement = widget.ButtonIconTrailingText
	c.saveBtn = widget.NewButtonWithIcon(tr("capture.save"), theme.DocumentSaveIcon(), c.save)
	c.saveBtn.Importance = widget.HighImportance
	c.cancel = widget.NewButtonWithIcon(tr("capture.cancel"), theme.CancelIcon(), c.cancelCapture)
	buttons := container.NewHBox(c.cancel, layout.NewSpacer(), c.back, c.next, c.saveBtn)
	top := container.NewVBox(c.steps, widget.NewSeparator())
	bottom := container.NewVBox(widget.NewSeparator(), c.status, buttons)
	c.root = container.NewBorder(top, bottom, nil, nil, c.body)
}

// stepsShown are the steps of the flow for the chosen form (no signature step
// without signature fields).
func (c *capture) stepsShown() []captureStep {
	steps := []captureStep{capStepService, capStepForm, capStepDocs, capStepSign, capStepReview}
	if c.schema != nil && len(c.sigs) == 0 {
		steps = slices.DeleteFunc(steps, func(s captureStep) bool { return s == capStepSign })
	}
	return steps
}

func captureStepTitle(s captureStep) string {
	switch s {
	case capStepService:
		return tr("capture.step.service")
	case capStepForm:
		return tr("capture.step.form")
	case capStepDocs:
		return tr("capture.step.docs")
	case capStepSign:
		return tr("capture.step.sign")
	}
	return tr("capture.step.review")
}

// showStep shows step s.
func (c *capture) showStep(s captureStep) {
	if s != capStepService && c.schema == nil {
		s = capStepService
	}
	c.step = s
	c.docBox, c.firstPick = nil, nil
	steps := c.stepsShown()
	c.steps.Segments = nil
	for i, st := range steps {
		if i > 0 {
			c.steps.Segments = append(c.steps.Segments, &widget.TextSegment{Text: "  ›  ", Style: widget.RichTextStyleInline})
		}
		style := widget.RichTextStyle{Inline: true, ColorName: theme.ColorNamePlaceHolder}
		if st == s {
			style = widget.RichTextStyle{Inline: true, ColorName: theme.ColorNamePrimary, TextStyle: fyne.TextStyle{Bold: true}}
		}
		c.steps.Segments = append(c.steps.Segments, &widget.TextSegment{Text: tr("capture.stepN", i+1, captureStepTitle(st)), Style: style})
	}
	c.steps.Refresh()

	var content fyne.CanvasObject
	switch s {
	case capStepService:
		content = c.serviceStep()
	case capStepForm:
		content = c.formStep()
	case capStepDocs:
		content = c.docsStep()
	case capStepSign:
		content = c.signStep()
	default:
		c.commitSignatures()
		content = c.reviewStep()
	}
	c.body.Objects = []fyne.CanvasObject{content}
	c.body.Refresh()

	i := slices.Index(steps, s)
	captureShowIf(c.back, i > 0 && !c.done)
	captureShowIf(c.next, s != capStepService && s != capStepReview && !c.done)
	captureShowIf(c.saveBtn, s == capStepReview && !c.done)
	c.setSaving(c.saving)
	switch {
	case s == capStepForm && c.form != nil:
		c.form.FocusFirst(c.u.win.Canvas())
	case s == capStepService && c.firstPick != nil:
		c.u.win.Canvas().Focus(c.firstPick)
	}
}

// captureShowIf shows o when on, else hides it.
func captureShowIf(o fyne.CanvasObject, on bool) {
	if on {
		o.Show()
	} else {
		o.Hide()
	}
}

// goNext moves one step on; goBack one step back.
func (c *capture) goNext() { c.move(1) }
func (c *capture) goBack() { c.move(-1) }

func (c *capture) move(by int) {
	if c.step == capStepSign {
		c.commitSignatures()
	}
	steps := c.stepsShown()
	i := slices.Index(steps, c.step) + by
	if i < 0 || i >= len(steps) {
		return
	}
	c.clearStatus()
	c.showStep(steps[i])
}

func (c *capture) setStatus(msg string) {
	c.status.SetText(msg)
	c.status.Show()
}

func (c *capture) clearStatus() { c.status.Hide() }

// --- step 1: service ---------------------------------------------------------------

func (c *capture) serviceStep() fyne.CanvasObject {
	intro := widget.NewLabel(tr("capture.service.intro"))
	intro.Wrapping = fyne.TextWrapWord
	switch {
	case c.loadErr != nil:
		msg := widget.NewLabel(userMessage(c.loadErr))
		msg.Wrapping = fyne.TextWrapWord
		return container.NewVScroll(container.NewVBox(intro, msg))
	case c.services == nil:
		return container.NewVBox(intro, widget.NewLabel(tr("capture.service.loading")))
	case len(c.services) == 0:
		none := widget.NewLabel(tr("capture.service.none"))
		none.Wrapping = fyne.TextWrapWord
		return container.NewVBox(intro, none)
	}
	lang := language()
	var cards []fyne.CanvasObject
	for _, s := range c.services {
		desc := widget.NewLabel(s.Description.In(lang))
		desc.Wrapping = fyne.TextWrapWord
		pick := widget.NewButtonWithIcon(tr("capture.service.choose"), theme.NavigateNextIcon(), func() { c.chooseService(s) })
		pick.Importance = widget.HighImportance
		if c.schema != nil && c.schema.Service == s.Service {
			pick.SetText(tr("capture.service.continue"))
		}
		if c.firstPick == nil {
			c.firstPick = pick
		}
		cards = append(cards, widget.NewCard(s.Title.In(lang), s.Authority.In(lang), container.NewVBox(desc, pick)))
	}
	// two columns where they fit (a 10" tablet at 100 %), else one
	return container.NewVScroll(container.NewVBox(intro, container.New(&fitColumns{max: 2}, cards...)))
}

// chooseService starts the form of s; a different service than the one begun asks
// before dropping what was entered.
func (c *capture) chooseService(s *cases.Schema) {
	if c.schema != nil && c.schema.Service == s.Service {
		c.showStep(capStepForm)
		return
	}
	start := func() {
		if c.created == nil { // else the case saved before uses the blobs
			c.dropDocs(c.docs)
		}
		c.docs, c.created, c.attached = nil, nil, map[string]bool{}
		c.schema, c.edited = s, false
		c.sigs = nil
		for _, f := range s.Fields() {
			if f.Type == cases.TypeSignature {
				c.sigs = append(c.sigs, c.newSig(f))
			}
		}
		c.form = c.newForm(nil)
		c.showStep(capStepForm)
	}
	if c.schema != nil && c.dirty() {
		dialog.ShowConfirm(tr("capture.switch.title"), tr("capture.switch.body"), func(ok bool) {
			if ok {
				start()
			}
		}, c.u.win)
		return
	}
	start()
}

// newForm builds the form view of the chosen service showing vals, with the hooks
// for documents and signatures and what was attached and signed so far.
func (c *capture) newForm(vals cases.Values) *formView {
	fv := newFormView(c.schema, vals, func() {
		c.edited = true
		c.clearStatus()
	})
	fv.attach = c.pickFile
	fv.signature = c.signDialog
	fv.escape = c.cancelCapture
	names := map[string]string{}
	for _, d := range c.docs {
		if d.sha != "" {
			names[d.sha] = d.name
		}
	}
	fv.SetFileNames(names)
	fv.Widget()                // enables the hooks' buttons
	for _, s := range c.sigs { // a rebuilt form shows the signatures' images again
		if s.sha != "" {
			fv.SetSignature(s.field.Name, s.sha, s.png)
		}
	}
	return fv
}

// --- step 2: form ------------------------------------------------------------------

func (c *capture) formStep() fyne.CanvasObject {
	title := widget.NewLabel(c.schema.Title.In(language()))
	title.TextStyle.Bold = true
	title.Wrapping = fyne.TextWrapWord
	return container.NewVScroll(container.NewVBox(title, c.form.Widget()))
}

// --- step 3: documents -------------------------------------------------------------

func (c *capture) docsStep() fyne.CanvasObject {
	intro := widget.NewLabel(tr("capture.docs.intro", formatBytes(c.maxBlob)))
	intro.Wrapping = fyne.TextWrapWord
	add := widget.NewButtonWithIcon(tr("capture.docs.add"), theme.ContentAddIcon(), func() { c.pickFile("") })
	add.Importance = widget.HighImportance
	c.docBox = container.NewVBox()
	c.renderDocs()
	return container.NewVScroll(container.NewVBox(intro, container.NewHBox(add), c.docBox))
}

// fieldFiles returns the SHA-256s the form's file fields hold now.
func (c *capture) fieldFiles() map[string]bool {
	out := map[string]bool{}
	if c.form == nil {
		return out
	}
	vals := c.form.Values()
	for _, f := range c.schema.Fields() {
		if f.Type == cases.TypeFile {
			for _, sha := range vals.List(f.Name) {
				out[sha] = true
			}
		}
	}
	return out
}

// keptDocs are the documents that go with the application: the general ones and
// those a file field still holds (one the form's "Entfernen" took out is dropped).
func (c *capture) keptDocs() []*captureDoc {
	inForm := c.fieldFiles()
	var out []*captureDoc
	for _, d := range c.docs {
		if d.field == "" || d.sha == "" || inForm[d.sha] {
			out = append(out, d)
		}
	}
	return out
}

// renderDocs lists the documents (when the documents step shows).
func (c *capture) renderDocs() {
	if c.docBox == nil {
		return
	}
	docs := c.keptDocs()
	var rows []fyne.CanvasObject
	if len(docs) == 0 {
		none := widget.NewLabel(tr("capture.docs.none"))
		none.Importance = widget.LowImportance
		rows = append(rows, none)
	}
	for _, d := range docs {
		name := widget.NewLabel(d.name)
		name.TextStyle.Bold = true
		name.Truncation = fyne.TextTruncateEllipsis
		d.detail.SetText(c.docInfo(d))
		if d.err != "" {
			d.detail.Importance = widget.DangerImportance
		}
		texts := container.NewVBox(name, d.detail)
		switch {
		case d.uploading() && d.total > 0:
			texts.Add(d.progress)
		case d.uploading():
			texts.Add(d.spinner)
		}
		var right fyne.CanvasObject
		if d.field == "" || d.err != "" || d.uploading() {
			remove := widget.NewButtonWithIcon(tr("capture.docs.remove"), theme.DeleteIcon(), func() { c.removeDoc(d) })
			right = remove
		} else {
			hint := widget.NewLabel(tr("capture.docs.inForm"))
			hint.Importance = widget.LowImportance
			right = hint
		}
		icon := widget.NewIcon(theme.FileIcon())
		if strings.HasPrefix(d.mediaType, "image/") {
			icon.SetResource(theme.FileImageIcon())
		}
		rows = append(rows, container.NewBorder(nil, nil, icon, right, texts), widget.NewSeparator())
	}
	c.docBox.Objects = rows
	c.docBox.Refresh()
}

// docInfo says in words how far d is: size, bytes stored so far, or the error; and
// the form field it belongs to.
func (c *capture) docInfo(d *captureDoc) string {
	var info string
	switch {
	case d.err != "":
		info = d.err
	case d.uploading() && d.total > 0:
		info = tr("capture.docs.storing", formatBytes(d.size), formatBytes(d.total))
	case d.uploading():
		info = tr("capture.docs.storingUnknown", formatBytes(d.size))
	default:
		info = formatBytes(d.size)
	}
	if d.field != "" {
		if f, ok := c.schema.Field(d.field); ok {
			info = tr("capture.docs.forField", info, f.Label.In(language()))
		}
	}
	return info
}

// pickFile lets the user choose a file to add: for file field field, or ("") as an
// Anlage of the application.
func (c *capture) pickFile(field string) {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil {
			c.u.log.Warn("file dialog", "err", err)
			c.setStatus(tr("capture.docs.openFailed"))
			return
		}
		if r == nil {
			return // cancelled
		}
		uri := r.URI()
		var stat func() int64
		if uri.Scheme() == "file" {
			p := uri.Path()
			stat = func() int64 {
				if fi, err := os.Stat(p); err == nil {
					return fi.Size()
				}
				return 0
			}
		}
		c.addFile(field, uri.Name(), captureMediaType(uri.Name(), uri.MimeType()), stat, func() (io.ReadCloser, error) { return r, nil })
	}, c.u.win)
	ws := c.u.win.Canvas().Size()
	d.Resize(fyne.NewSize(min(900, ws.Width-40), min(640, ws.Height-40)))
	d.Show()
}

// captureMediaType names the content type of a file: by the driver's guess, else by the
// extension, else application/octet-stream.
func captureMediaType(name, guess string) string {
	if t, _, err := mime.ParseMediaType(guess); err == nil && t != "" && t != "application/octet-stream" {
		return t
	}
	if t := mime.TypeByExtension(strings.ToLower(path.Ext(name))); t != "" {
		if mt, _, err := mime.ParseMediaType(t); err == nil {
			return mt
		}
	}
	return "application/octet-stream"
}

// errCaptureStopped ends the upload of a document the user removed meanwhile.
var errCaptureStopped = errors.New("upload stopped")

// addFile stores a document in the blob store, streamed off the UI goroutine with
// progress, and adds it to the list (and to file field field, if not ""). size (may
// be nil) tells the file's size for the progress bar.
func (c *capture) addFile(field, name, mediaType string, size func() int64, open func() (io.ReadCloser, error)) {
	d := &captureDoc{name: name, mediaType: mediaType, field: field, progress: widget.NewProgressBar(),
		spinner: widget.NewProgressBarInfinite(), detail: widget.NewLabel("")}
	d.detail.Wrapping = fyne.TextWrapWord
	c.docs = append(c.docs, d)
	c.edited = true
	c.renderDocs()
	v, limit := c.u.vlt, c.maxBlob
	go func() {
		var total int64
		if size != nil {
			total = size()
		}
		uiDo(func() {
			d.total = total
			if total > 0 {
				d.progress.Max = float64(total)
				c.renderDocs() // a bar instead of the spinner
			}
		})
		info, newBlob, err := captureStoreDoc(v, open, limit, &d.stop, func(n int64) {
			uiDo(func() {
				d.size = n
				if d.total > 0 {
					d.progress.SetValue(float64(n))
				}
				d.detail.SetText(c.docInfo(d))
			})
		})
		uiDo(func() { c.docStored(d, info, newBlob, err) })
	}()
}

// captureStoreDoc streams a file into the blob store; report gets the bytes read, at most
// ten times a second. newBlob says whether the content was not stored before.
func captureStoreDoc(v *storage.Vault, open func() (io.ReadCloser, error), limit int64, stop *atomic.Bool, report func(int64)) (storage.BlobInfo, bool, error) {
	r, err := open()
	if err != nil {
		return storage.BlobInfo{}, false, err
	}
	defer r.Close()
	start := time.Now()
	info, err := v.PutDraftBlob(&captureProgress{r: r, stop: stop, report: report}, limit)
	if err != nil {
		return info, false, err
	}
	return info, !info.Created.Before(start), nil
}

// captureProgress counts what is read and reports it; it fails once stop is set.
type captureProgress struct {
	r      io.Reader
	n      int64
	stop   *atomic.Bool
	report func(int64)
	last   time.Time
}

func (p *captureProgress) Read(b []byte) (int, error) {
	if p.stop.Load() {
		return 0, errCaptureStopped
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	if now := time.Now(); err != nil || now.Sub(p.last) >= 100*time.Millisecond {
		p.last = now
		p.report(p.n)
	}
	return n, err
}

// docStored records the outcome of storing d.
func (c *capture) docStored(d *captureDoc, info storage.BlobInfo, newBlob bool, err error) {
	d.spinner.Stop()
	if c.u.capture != c || !slices.Contains(c.docs, d) {
		// The draft or the document was dropped meanwhile: drop the blob too.
		if err == nil && newBlob {
			c.deleteBlobs([]string{info.SHA256})
		}
		return
	}
	switch {
	case err == nil:
	case errors.Is(err, errCaptureStopped):
		return
	case errors.Is(err, storage.ErrBlobTooLarge):
		d.err = tr("capture.docs.tooLarge", formatBytes(c.maxBlob))
	default:
		c.u.log.Error("store document", "err", err)
		d.err = tr("capture.docs.failed", userMessage(err))
	}
	if d.err != "" {
		c.renderDocs()
		return
	}
	if i := slices.IndexFunc(c.docs, func(o *captureDoc) bool { return o != d && o.sha == info.SHA256 }); i >= 0 {
		// The same file again: one Anlage; it may now also belong to a file field.
		first := c.docs[i]
		c.docs = slices.DeleteFunc(c.docs, func(o *captureDoc) bool { return o == d })
		if d.field != "" {
			if first.field == "" {
				first.field = d.field
			}
			c.form.AddFile(d.field, first.sha, first.name)
		} else {
			c.setStatus(tr("capture.docs.duplicate", d.name))
		}
		c.renderDocs()
		return
	}
	d.sha, d.size, d.newBlob = info.SHA256, info.Size, newBlob
	if d.field != "" && c.form != nil {
		c.form.AddFile(d.field, d.sha, d.name)
	}
	c.renderDocs()
}

// removeDoc takes a document out of the application (and its blob out of the store
// when this draft stored it).
func (c *capture) removeDoc(d *captureDoc) {
	d.stop.Store(true)
	d.spinner.Stop()
	c.docs = slices.DeleteFunc(c.docs, func(o *captureDoc) bool { return o == d })
	c.dropDocs([]*captureDoc{d})
	c.renderDocs()
}

// dropDocs deletes the blobs this draft stored for docs (off the UI goroutine).
func (c *capture) dropDocs(docs []*captureDoc) {
	var shas []string
	for _, d := range docs {
		d.stop.Store(true)
		if d.sha != "" && d.newBlob {
			shas = append(shas, d.sha)
		}
	}
	c.deleteBlobs(shas)
}

func (c *capture) deleteBlobs(shas []string) {
	if len(shas) == 0 {
		return
	}
	v, log := c.u.vlt, c.u.log
	go func() {
		for _, sha := range shas {
			if err := v.DeleteBlob(sha); err != nil && !errors.Is(err, storage.ErrNotFound) {
				log.Warn("delete the blob of a removed document", "err", err)
			}
		}
	}()
}

func (c *capture) uploading() bool {
	return slices.ContainsFunc(c.docs, (*captureDoc).uploading)
}

// --- step 4: signature -------------------------------------------------------------

func (c *capture) newSig(f *cases.Field) *captureSig {
	s := &captureSig{field: f, pad: newSignaturePad()}
	s.pad.OnChanged = func() {
		s.dirty = true
		c.edited = true
	}
	s.pad.OnEscape = c.cancelCapture
	return s
}

func (c *capture) signStep() fyne.CanvasObject {
	lang := language()
	objs := []fyne.CanvasObject{}
	intro := widget.NewLabel(tr("capture.sign.intro"))
	intro.Wrapping = fyne.TextWrapWord
	objs = append(objs, intro)
	if len(c.sigs) == 1 { // one signature: the pad takes the whole screen (and scrolls with large text)
		s := c.sigs[0]
		return container.NewVScroll(container.NewBorder(intro, nil, nil, nil, widget.NewCard(s.field.Label.In(lang), s.field.Help.In(lang), c.padView(s))))
	}
	for _, s := range c.sigs {
		objs = append(objs, widget.NewCard(s.field.Label.In(lang), s.field.Help.In(lang), c.padView(s)))
	}
	return container.NewVScroll(container.NewVBox(objs...))
}

// padView is a pad with its "Löschen" button.
func (c *capture) padView(s *captureSig) fyne.CanvasObject {
	clearBtn := widget.NewButtonWithIcon(tr("capture.sign.clear"), theme.ContentClearIcon(), s.pad.Clear)
	return container.NewBorder(nil, container.NewHBox(clearBtn, widget.NewLabel(tr("capture.sign.keys"))), nil, nil, newPadBox(s.pad))
}

// signDialog opens the pad of signature field field over the form (the form's
// signature hook); "Übernehmen" sets the field, "Abbrechen" restores the pad.
func (c *capture) signDialog(field string) {
	i := slices.IndexFunc(c.sigs, func(s *captureSig) bool { return s.field.Name == field })
	if i < 0 {
		return
	}
	s := c.sigs[i]
	before, dirty := s.pad.Strokes(), s.dirty
	help := widget.NewLabel(s.field.Help.In(language()))
	help.Wrapping = fyne.TextWrapWord
	content := container.NewBorder(help, nil, nil, nil, c.padView(s))
	d := dialog.NewCustomConfirm(s.field.Label.In(language()), tr("capture.sign.done"), tr("capture.sign.cancel"), content, func(ok bool) {
		s.pad.OnEscape = c.cancelCapture
		if !ok {
			s.pad.setStrokes(before)
			s.dirty = dirty
			return
		}
		c.commitSignatures()
	}, c.u.win)
	s.pad.OnEscape = d.Dismiss // Escape on the pad closes the dialog, as "Abbrechen"
	ws := c.u.win.Canvas().Size()
	d.Resize(fyne.NewSize(min(860, ws.Width-40), min(520, ws.Height-40)))
	d.Show()
	c.u.win.Canvas().Focus(s.pad)
}

// commitSignatures turns the pads into the signature fields' values: a drawn pad into
// its PNG's SHA-256 (the images are stored on save), a cleared one into "".
func (c *capture) commitSignatures() {
	if c.form == nil {
		return
	}
	for _, s := range c.sigs {
		if s.pad.Empty() {
			if s.sha != "" {
				s.sha, s.png, s.svg = "", nil, nil
				c.form.SetSignature(s.field.Name, "", nil)
			}
			s.dirty = false
			continue
		}
		if !s.dirty && s.sha != "" {
			continue
		}
		png, err := s.pad.PNG()
		if err != nil {
			c.u.log.Error("render signature", "err", err)
			c.setStatus(tr("capture.sign.failed"))
			continue
		}
		sum := sha256.Sum256(png)
		s.png, s.svg, s.sha, s.dirty = png, s.pad.SVG(), hex.EncodeToString(sum[:]), false
		c.form.SetSignature(s.field.Name, s.sha, png)
	}
}

// --- step 5: review and save -------------------------------------------------------

func (c *capture) reviewStep() fyne.CanvasObject {
	lang := language()
	vals := c.form.Values()
	tmp := &cases.Case{Values: vals}
	c.schema.FillApplicant(tmp)
	var objs []fyne.CanvasObject
	add := func(caption, text string, imp widget.Importance) {
		h := widget.NewLabel(caption)
		h.TextStyle.Bold = true
		l := widget.NewLabel(text)
		l.Wrapping = fyne.TextWrapWord
		l.Importance = imp
		objs = append(objs, h, l)
	}
	add(tr("capture.review.service"), c.schema.Title.In(lang), widget.MediumImportance)
	applicant := tmp.Applicant.DisplayName()
	if applicant == "" {
		applicant = tr("capture.review.noApplicant")
	}
	add(tr("capture.review.applicant"), applicant, widget.MediumImportance)
	if c.schema.Workflow != nil {
		if st, ok := c.schema.Workflow.State(c.schema.Workflow.Initial()); ok {
			add(tr("capture.review.status"), st.Label.In(lang), widget.MediumImportance)
		}
	}
	if msgs := c.form.Validate(); len(msgs) > 0 {
		var lines []string
		for _, k := range c.orderedKeys(msgs) {
			lines = append(lines, "• "+conflictKeyLabel(c.schema, k)+": "+msgs[k])
		}
		add(tr("capture.review.missing"), strings.Join(lines, "\n"), widget.DangerImportance)
		toForm := widget.NewButtonWithIcon(tr("capture.review.toForm"), theme.DocumentCreateIcon(), func() { c.showInvalid(msgs) })
		objs = append(objs, container.NewHBox(toForm))
	} else {
		add(tr("capture.review.complete"), tr("capture.review.completeText"), widget.SuccessImportance)
	}
	docs := c.keptDocs()
	var names []string
	for _, d := range docs {
		names = append(names, "• "+d.name+" ("+formatBytes(d.size)+")")
	}
	if len(names) == 0 {
		names = []string{tr("capture.docs.none")}
	}
	add(tr("capture.review.docs", len(docs)), strings.Join(names, "\n"), widget.MediumImportance)
	for _, s := range c.sigs {
		if !c.schema.Visible(s.field.Name, vals) {
			continue
		}
		h := widget.NewLabel(s.field.Label.In(lang))
		h.TextStyle.Bold = true
		objs = append(objs, h)
		if s.sha == "" {
			l := widget.NewLabel(tr("capture.review.unsigned"))
			l.Importance = widget.DangerImportance
			objs = append(objs, l)
			continue
		}
		img := canvas.NewImageFromResource(fyne.NewStaticResource("unterschrift.png", s.png))
		img.FillMode = canvas.ImageFillContain
		img.SetMinSize(fyne.NewSize(240, 80))
		objs = append(objs, container.NewHBox(img))
	}
	note := widget.NewLabel(tr("capture.review.note"))
	note.Wrapping = fyne.TextWrapWord
	note.Importance = widget.LowImportance
	objs = append(objs, widget.NewSeparator(), note)
	return container.NewVScroll(container.NewVBox(objs...))
}

// orderedKeys returns the keys of msgs in form order (unknown keys last).
func (c *capture) orderedKeys(msgs map[string]string) []string {
	keys := c.schema.Keys()
	out := slices.Collect(maps.Keys(msgs))
	slices.SortFunc(out, func(a, b string) int {
		ia, ib := slices.Index(keys, a), slices.Index(keys, b)
		if ia < 0 {
			ia = len(keys)
		}
		if ib < 0 {
			ib = len(keys)
		}
		if ia != ib {
			return ia - ib
		}
		return strings.Compare(a, b)
	})
	return out
}

// showInvalid goes to the form and shows msgs at the fields; nothing is cleared.
func (c *capture) showInvalid(msgs map[string]string) {
	c.showStep(capStepForm)
	c.form.ShowErrors(msgs)
	c.form.FocusError(c.u.win.Canvas())
	if len(msgs) == 1 {
		c.setStatus(tr("capture.invalidOne"))
	} else {
		c.setStatus(tr("capture.invalid", len(msgs)))
	}
}

// captureJob is what saving needs, copied off the capture for the worker goroutine.
type captureJob struct {
	service  string
	fields   map[string]string
	docs     []cases.AttachmentRef // stored already
	sigs     []captureImage        // to store
	created  *cases.Case
	attached map[string]bool
}

// captureImage is a signature image to store and attach.
type captureImage struct {
	name, mediaType string
	data            []byte
}

// captureResult is what saving did: the case (also when an attachment failed) and
// the attachments it has.
type captureResult struct {
	c        *cases.Case
	attached map[string]bool
}

// run saves the application (off the UI goroutine): signature images into the blob
// store, the case with all values in one go (or, after a failed attempt, the values
// set on the case created then), then each Anlage.
func (j captureJob) run(v *storage.Vault) (captureResult, error) {
	res := captureResult{c: j.created, attached: maps.Clone(j.attached)}
	refs := slices.Clone(j.docs)
	for _, img := range j.sigs {
		info, err := v.PutDraftBlob(bytes.NewReader(img.data), 0)
		if err != nil {
			return res, err
		}
		refs = append(refs, cases.AttachmentRef{SHA256: info.SHA256, Name: img.name, MediaType: img.mediaType, Size: info.Size})
	}
	var err error
	if res.c == nil {
		res.c, err = v.NewCase(j.service, j.fields)
	} else {
		var c *cases.Case
		if c, err = v.SetFields(res.c.ID, j.fields); err == nil {
			res.c = c
		}
	}
	if err != nil {
		return res, err
	}
	for _, ref := range refs {
		if res.attached[ref.SHA256] {
			continue
		}
		c, err := v.AddAttachment(res.c.ID, ref)
		if err != nil {
			return res, err
		}
		res.c = c
		res.attached[ref.SHA256] = true
	}
	return res, nil
}

// save checks and saves the application (the Save button, Ctrl+S through
// saveCurrent). It does nothing unless the capture screen shows a form.
func (c *capture) save() {
	if c == nil || !c.visible() || c.saving || c.done || c.schema == nil {
		return
	}
	if c.u.win.Canvas().Overlays().Top() != nil {
		return // a dialog is open (Ctrl+S behind it would save what it has not settled)
	}
	c.commitSignatures()
	if c.uploading() {
		c.setStatus(tr("capture.waitUploads"))
		return
	}
	if msgs := c.form.Validate(); len(msgs) > 0 {
		c.showInvalid(msgs)
		return
	}
	vals := c.form.Values()
	job := captureJob{service: c.schema.Service, fields: map[string]string{}, created: c.created, attached: c.attached}
	for k, v := range vals {
		if v != "" {
			job.fields[k] = v
		}
	}
	for _, d := range c.keptDocs() {
		if d.err == "" {
			job.docs = append(job.docs, cases.AttachmentRef{SHA256: d.sha, Name: d.name, MediaType: d.mediaType, Size: d.size})
		}
	}
	for _, s := range c.sigs {
		if s.sha == "" || vals[s.field.Name] != s.sha {
			continue
		}
		job.sigs = append(job.sigs,
			captureImage{name: s.field.Name + ".png", mediaType: "image/png", data: s.png},
			captureImage{name: s.field.Name + ".svg", mediaType: "image/svg+xml", data: s.svg})
	}
	c.setSaving(true)
	c.clearStatus()
	v := c.u.vlt
	goDo(func() (captureResult, error) { return job.run(v) }, c.saved)
}

// saved shows the outcome of save.
func (c *capture) saved(res captureResult, err error) {
	c.setSaving(false)
	if res.c != nil {
		c.created, c.attached = res.c, res.attached
	}
	var ve *storage.ValidationError
	switch {
	case errors.As(err, &ve):
		c.showInvalid(ve.Fields)
		return
	case err != nil:
		c.u.log.Error("save application", "err", err)
		c.setStatus(tr("capture.saveFailed", userMessage(err)))
		return
	}
	c.done = true
	c.u.edited()
	c.u.refreshList()
	kept := c.keptDocs()
	c.dropDocs(slices.DeleteFunc(slices.Clone(c.docs), func(d *captureDoc) bool { return slices.Contains(kept, d) }))
	if c.visible() {
		c.showStep(capStepReview)
	}
	who := res.c.Applicant.DisplayName()
	if who == "" {
		who = tr("capture.review.noApplicant")
	}
	msg := widget.NewLabel(tr("capture.saved.body", c.schema.Title.In(language()), who))
	msg.Wrapping = fyne.TextWrapWord
	d := dialog.NewCustomConfirm(tr("capture.saved.title"), tr("capture.saved.next"), tr("capture.saved.list"), msg, func(next bool) {
		if c.u.capture == c {
			c.u.capture = nil
		}
		if next {
			c.u.newApplication()
		} else {
			c.u.showCases()
		}
	}, c.u.win)
	d.Resize(fyne.NewSize(min(560, c.u.win.Canvas().Size().Width-40), 0))
	d.Show()
}

func (c *capture) setSaving(b bool) {
	c.saving = b
	if b {
		c.saveBtn.Disable()
		c.saveBtn.SetText(tr("capture.saving"))
		c.back.Disable()
		c.cancel.Disable()
		return
	}
	c.saveBtn.Enable()
	c.saveBtn.SetText(tr("capture.save"))
	c.back.Enable()
	c.cancel.Enable()
}

// --- leaving -----------------------------------------------------------------------

// dirty reports whether anything was entered.
func (c *capture) dirty() bool {
	return c.edited || len(c.docs) > 0 || (c.form != nil && len(c.form.Changed()) > 0) ||
		slices.ContainsFunc(c.sigs, func(s *captureSig) bool { return !s.pad.Empty() })
}

// cancelCapture ends the capture (the "Abbrechen" button, Escape): after asking when
// anything was entered, the draft is discarded and the case list shows.
func (c *capture) cancelCapture() {
	if c == nil || c.saving {
		return
	}
	leave := func() {
		c.discard()
		c.u.showCases()
	}
	if c.done || !c.dirty() {
		leave()
		return
	}
	dialog.ShowConfirm(tr("capture.discard.title"), tr("capture.discard.body"), func(ok bool) {
		if ok {
			leave()
		}
	}, c.u.win)
}

// discard drops the draft and the blobs it stored that no case uses.
func (c *capture) discard() {
	if !c.done && c.created == nil {
		c.dropDocs(c.docs)
	}
	c.docs = nil
	if c.u.capture == c {
		c.u.capture = nil
	}
}
