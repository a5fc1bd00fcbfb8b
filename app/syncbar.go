package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"fieldoffice/portal"
	"fieldoffice/storage"
	fsync "fieldoffice/sync"
)

// The sync bar
//
// One syncBar lives as long as the window; showMain puts its widget at the bottom of
// every main screen. What it shows belongs to the session: start (after an unlock)
// loads the last successful sync and the pending changes and starts the clock that
// keeps "vor 5 Minuten" current; stop (at lock) drops all of it and stops the clock.
// Everything here runs on the UI goroutine; the vault is read through goDo, the clock
// and background sync reach the widgets only through fyne.Do.
//
// Online or offline comes from the last run: ErrPortalUnreachable means offline; any
// answer of the portal, even a refusal, means online. Background sync probes the
// portal while offline and runs again when it answers (ReasonNetwork), so the bar
// turns online with that run's result.

// onlineState is what the bar knows about the portal's reachability.
type onlineState int

const (
	onlineUnknown onlineState = iota // no run finished in this session yet
	onlineYes
	onlineNo
)

// syncOutcome is the last run's result, kept for the Details dialog.
type syncOutcome struct {
	reason string
	sum    fsync.Summary
	err    error
	when   time.Time
}

// syncBar shows online/offline, last sync, pending changes, progress and the last
// run's outcome.
type syncBar struct {
	u *UI
	// now is the clock and every the refresh period of the relative time (30 s);
	// tests replace them.
	now   func() time.Time
	every time.Duration

	state    *widget.Label
	last     *widget.Label
	pending  *widget.Label
	phase    *widget.Label
	progress *widget.ProgressBar
	progRow  *fyne.Container
	message  *widget.Label
	details  *widget.Button
	syncBtn  *widget.Button
	msgRow   *fyne.Container
	flow     *fyne.Container
	root     *fyne.Container

	session    uint64 // bumped at start and stop: late answers of an older session are dropped
	active     bool   // a session is running
	enrolled   bool   // the device is enrolled with a portal
	available  bool   // background sync runs in this session
	online     onlineState
	lastSync   time.Time
	certExpiry time.Time // of the device certificate; zero when unknown
	pendingN   int       // changes waiting for the portal; -1 while unknown
	running    bool
	loading    bool          // start's read of the vault is running
	outcome    *syncOutcome  // last run's result; nil before the first
	msg        func() string // the outcome in a caseworker's words ("" = none), rebuilt per language
	msgLevel   widget.Importance
	conflicts  int // cases in conflict after the last run (for the notification)
	lang       string
	stopClock  chan struct{}

	refreshing, refreshAgain bool // a pending-count read is running / another is wanted

	wipe *wipeState // set once a revocation wiped (or is wiping) the device
}

func newSyncBar(u *UI) *syncBar {
	b := &syncBar{u: u, now: time.Now, every: 30 * time.Second, pendingN: -1}
	b.state = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	b.last = widget.NewLabel("")
	b.pending = widget.NewLabel("")
	b.phase = widget.NewLabel("")
	b.progress = widget.NewProgressBar()
	// The bar's own percentage would be drawn half on the bar and half beside it,
	// where its colour lacks contrast; the phase label says what is happening instead.
	b.progress.TextFormatter = func() string { return "" }
	b.progRow = container.NewHBox(b.phase, container.New(&emWidth{em: 12}, b.progress))
	b.progRow.Hide()
	b.message = widget.NewLabel("")
	b.message.Wrapping = fyne.TextWrapWord
	b.details = widget.NewButtonWithIcon("", theme.InfoIcon(), b.showDetails)
	b.details.Importance = widget.LowImportance
	b.syncBtn = widget.NewButtonWithIcon("", theme.ViewRefreshIcon(), func() { b.u.runCommand(commandNamed("menu.syncNow")) })
	b.msgRow = container.NewBorder(nil, nil, nil, b.details, b.message)
	b.msgRow.Hide()
	b.flow = container.New(&flowLayout{width: b.u.windowWidth}, b.state, b.last, b.pending, b.progRow, b.syncBtn)
	b.root = container.NewVBox(widget.NewSeparator(), b.flow, b.msgRow)
	b.retranslate()
	return b
}

// widget returns the bar for showMain. A new main screen means the user did something
// (activity) and may have changed something (pending count).
func (b *syncBar) widget() fyne.CanvasObject {
	b.retranslate()
	if b.active {
		b.u.locker.activity()
		b.refreshPending()
	}
	return b.root
}

// retranslate sets the texts again after a language switch (and the menu with them).
func (b *syncBar) retranslate() {
	if b.lang == language() {
		return
	}
	first := b.lang == ""
	b.lang = language()
	b.syncBtn.SetText(tr("sync.now"))
	b.details.SetText(tr("sync.details"))
	b.render()
	if !first {
		b.u.updateMenu()
	}
}

// start begins a session's bar (after an unlock): state from the vault, then the clock.
func (b *syncBar) start() {
	b.reset()
	b.active = true
	s := b.u.sess
	b.enrolled = s != nil && s.dev != nil
	b.available = s != nil && s.bg != nil
	gen, v := b.session, b.u.vlt
	var dev *fsync.Device
	if b.enrolled {
		dev = s.dev
	}
	type loaded struct {
		st      storage.SyncState
		pending int
		expiry  time.Time
	}
	b.loading = true
	goDo(func() (loaded, error) {
		var l loaded
		var err error
		if l.st, err = v.SyncState(); err != nil {
			return l, err
		}
		if l.pending, err = v.OutboxLen(); err != nil {
			return l, err
		}
		if dev != nil {
			if c, cerr := dev.Cert(); cerr == nil {
				l.expiry = c.NotAfter
			}
		}
		return l, nil
	}, func(l loaded, err error) {
		if gen != b.session {
			return
		}
		b.loading = false
		if err != nil {
			b.u.log.Warn("sync bar: read the sync state", "err", err)
			return
		}
		if b.lastSync.IsZero() {
			b.lastSync = l.st.LastSuccess
		}
		if b.pendingN < 0 {
			b.pendingN = l.pending
		}
		b.certExpiry = l.expiry
		b.render()
	})
	stop := make(chan struct{})
	b.stopClock = stop
	tickOnUI(b.every, stop, func() chan struct{} { return b.stopClock }, b.renderLast)
	b.render()
}

// stop ends the session's bar (at lock or wipe): the clock stops, the state is dropped.
func (b *syncBar) stop() {
	b.reset()
	b.render()
}

func (b *syncBar) reset() {
	if b.stopClock != nil {
		close(b.stopClock)
		b.stopClock = nil
	}
	b.session++
	b.active, b.enrolled, b.available, b.running = false, false, false, false
	b.online, b.lastSync, b.certExpiry, b.pendingN = onlineUnknown, time.Time{}, time.Time{}, -1
	b.outcome, b.msg, b.msgLevel, b.conflicts = nil, nil, widget.MediumImportance, 0
	b.refreshAgain, b.loading = false, false
}

// refreshPending reads the number of pending changes off the UI goroutine; calls
// while a read runs make one more read afterwards.
func (b *syncBar) refreshPending() {
	if !b.active || b.u.vlt == nil {
		return
	}
	if b.refreshing {
		b.refreshAgain = true
		return
	}
	b.refreshing = true
	gen, v := b.session, b.u.vlt
	goDo(v.OutboxLen, func(n int, err error) {
		b.refreshing = false
		if gen != b.session {
			return
		}
		if err == nil {
			b.pendingN = n
			b.renderPending()
		}
		if b.refreshAgain {
			b.refreshAgain = false
			b.refreshPending()
		}
	})
}

// render sets every widget from the state.
func (b *syncBar) render() {
	switch {
	case !b.active:
		b.state.SetText("")
	case !b.enrolled:
		b.state.SetText(tr("sync.notEnrolled"))
	case !b.available:
		b.state.SetText(tr("sync.unavailable"))
	case b.online == onlineYes:
		b.state.SetText(tr("sync.online"))
	case b.online == onlineNo:
		b.state.SetText(tr("sync.offline"))
	default:
		b.state.SetText(tr("sync.checking"))
	}
	if b.active && b.available && !b.running {
		b.syncBtn.Enable()
	} else {
		b.syncBtn.Disable()
	}
	b.renderLast()
	b.renderPending()
	if b.running {
		b.progRow.Show()
	} else {
		b.progRow.Hide()
	}
	text := ""
	if b.msg != nil {
		text = b.msg()
	}
	b.message.Importance = b.msgLevel
	b.message.SetText(text)
	if b.outcome != nil && b.outcome.err != nil {
		b.details.Show()
	} else {
		b.details.Hide()
	}
	if text != "" || b.details.Visible() {
		b.msgRow.Show()
	} else {
		b.msgRow.Hide()
	}
	b.relayout()
}

// relayout lays the bar out again after texts or visibility changed (the flow wraps
// differently).
func (b *syncBar) relayout() {
	b.flow.Refresh()
	b.root.Refresh()
}

// renderLast shows when the last sync succeeded, relative to now.
func (b *syncBar) renderLast() {
	if !b.active || !b.enrolled {
		b.last.SetText("")
		return
	}
	b.last.SetText(tr("sync.last", relativeTime(b.lastSync, b.now())))
	b.flow.Refresh()
}

func (b *syncBar) renderPending() {
	switch {
	case !b.active || b.pendingN < 0:
		b.pending.SetText("")
	case b.pendingN == 0:
		b.pending.SetText(tr("sync.pendingNone"))
	case b.pendingN == 1:
		b.pending.SetText(tr("sync.pendingOne"))
	default:
		b.pending.SetText(tr("sync.pending", b.pendingN))
	}
	b.flow.Refresh()
}

// Where each phase sits on the progress bar (0 … 1).
var phaseSpan = map[string][2]float64{
	fsync.PhaseConnect: {0, 0.05},
	fsync.PhasePull:    {0.05, 0.45},
	fsync.PhaseUpload:  {0.45, 0.8},
	fsync.PhasePush:    {0.8, 1},
}

// syncEvent receives a progress report of background sync (on the UI goroutine).
func (u *UI) syncEvent(ev fsync.Event) {
	if u.sess == nil {
		return
	}
	u.bar.event(ev)
}

func (b *syncBar) event(ev fsync.Event) {
	if ev.Phase == fsync.PhaseDone {
		b.progress.SetValue(1)
		return // the result follows
	}
	span, ok := phaseSpan[ev.Phase]
	if !ok {
		return
	}
	frac := 0.0
	if ev.Total > 0 {
		frac = min(float64(ev.Done)/float64(ev.Total), 1)
	}
	b.progress.SetValue(span[0] + frac*(span[1]-span[0]))
	b.phase.SetText(phaseText(ev))
	if !b.running {
		b.running = true
		b.render()
	} else {
		b.flow.Refresh()
	}
	if ev.Phase == fsync.PhasePush && ev.Done > 0 {
		b.refreshPending()
	}
}

// phaseText names a phase in the caseworker's words, with its counts.
func phaseText(ev fsync.Event) string {
	switch ev.Phase {
	case fsync.PhaseConnect:
		return tr("sync.phase.connect")
	case fsync.PhasePull:
		if ev.Done > 0 {
			return tr("sync.phase.pullN", ev.Done)
		}
		return tr("sync.phase.pull")
	case fsync.PhaseUpload:
		if ev.Total > 0 {
			return tr("sync.phase.uploadN", ev.Done, ev.Total, formatBytes(ev.Bytes))
		}
		return tr("sync.phase.upload")
	case fsync.PhasePush:
		if ev.Total > 0 {
			return tr("sync.phase.pushN", ev.Done, ev.Total)
		}
		return tr("sync.phase.push")
	}
	return ""
}

// syncResult receives the result of a background sync run (on the UI goroutine).
func (u *UI) syncResult(reason string, s fsync.Summary, err error) {
	if errors.Is(err, fsync.ErrRevoked) || errors.Is(err, fsync.ErrWiped) {
		u.wipeRevoked(err) // after a remote wipe the vault is gone already: this ends the session and says so
		return
	}
	if u.sess == nil {
		return
	}
	u.bar.result(reason, s, err)
	if s.Pulled > 0 || s.Pushed > 0 || s.Rejected > 0 || s.Requeued > 0 {
		u.refreshList()
	}
	if err == nil {
		u.locker.reloadPolicy() // IT may have changed the idle minutes
	}
	if u.detail != nil && u.detail.visible() {
		u.detail.synced()
	}
}

func (b *syncBar) result(reason string, s fsync.Summary, err error) {
	now := b.now()
	b.running = false
	b.progress.SetValue(0)
	if errors.Is(err, context.Canceled) || errors.Is(err, storage.ErrLocked) {
		b.render() // the session ended during the run: nothing learned
		return
	}
	b.outcome = &syncOutcome{reason: reason, sum: s, err: err, when: now}
	b.pendingN = s.Pending
	switch {
	case err == nil:
		b.online = onlineYes
		b.lastSync = now
	case errors.Is(err, fsync.ErrPortalUnreachable):
		b.online = onlineNo
	default:
		b.online = onlineYes // the portal answered, even if it refused
	}
	errText := b.errorText(err, now)
	level := widget.MediumImportance
	if err != nil && !errors.Is(err, fsync.ErrPortalUnreachable) {
		level = widget.DangerImportance
	}
	n := s.Conflicts
	switch {
	case n > 0:
		level = widget.WarningImportance
		if errText != "" {
			level = widget.DangerImportance
		}
		b.msg = func() string { return joinSentences(errText, conflictText(n)) }
	case err != nil:
		b.msg = func() string { return errText }
	case s.Pulled > 0 || s.Pushed > 0:
		pulled, pushed := s.Pulled, s.Pushed
		b.msg = func() string { return tr("sync.done", pulled, pushed) }
	default:
		b.msg = nil
	}
	b.msgLevel = level
	if n > b.conflicts {
		b.u.app.SendNotification(fyne.NewNotification(tr("app.title"), tr("sync.notify.conflicts", n)))
	}
	b.conflicts = n
	b.render()
}

func joinSentences(a, b string) string {
	if a == "" {
		return b
	}
	return a + " " + b
}

// conflictText: "3 Vorgänge brauchen Ihre Entscheidung."
func conflictText(n int) string {
	if n == 1 {
		return tr("sync.conflictsOne")
	}
	return tr("sync.conflicts", n)
}

// errorText says in a caseworker's words what a failed run means and what happens
// next; "" for no error. The technical error is one click away (Details).
func (b *syncBar) errorText(err error, now time.Time) string {
	var problem *portal.Problem
	switch {
	case err == nil:
		return ""
	case !b.certExpiry.IsZero() && now.After(b.certExpiry):
		// the portal refuses an expired client certificate at the TLS handshake, which
		// the client reports as unreachable
		return tr("sync.err.certExpired", formatDate(b.certExpiry))
	case errors.Is(err, fsync.ErrPortalUnreachable):
		return tr("sync.err.offline")
	case errors.Is(err, context.DeadlineExceeded):
		return tr("sync.err.timeout")
	case errors.Is(err, fsync.ErrBadAnswer):
		return tr("sync.err.protocol")
	case errors.As(err, &problem) && (problem.Status == 401 || problem.Status == 403):
		return tr("sync.err.refused")
	case errors.As(err, &problem) && problem.Status >= 500:
		return tr("sync.err.portal")
	}
	return tr("sync.err.failed")
}

// showDetails shows the last run's technical details for the admin (selectable, to
// copy into a ticket). No case content: counts, reason, error text.
func (b *syncBar) showDetails() {
	o := b.outcome
	if o == nil {
		return
	}
	var sb strings.Builder
	line := func(key string, v any) { fmt.Fprintf(&sb, "%s: %v\n", tr(key), v) }
	line("sync.d.time", formatDateTime(o.when))
	line("sync.d.reason", o.reason)
	if o.err != nil {
		line("sync.d.error", o.err.Error())
	}
	s := o.sum
	line("sync.d.pulled", s.Pulled)
	line("sync.d.merged", s.Merged)
	line("sync.d.pushed", s.Pushed)
	line("sync.d.rejected", s.Rejected)
	line("sync.d.conflicts", s.Conflicts)
	line("sync.d.pending", s.Pending)
	line("sync.d.blobs", fmt.Sprintf("%d (%s)", s.BlobsUp, formatBytes(s.BytesUp)))
	line("sync.d.duration", fmt.Sprintf("%d ms", s.DurationMS))
	if !b.certExpiry.IsZero() {
		line("sync.d.cert", formatDateTime(b.certExpiry))
	}
	text := widget.NewLabel(strings.TrimRight(sb.String(), "\n"))
	text.Selectable = true
	text.Wrapping = fyne.TextWrapWord
	d := dialog.NewCustom(tr("sync.details.title"), tr("sync.close"), container.NewVScroll(text), b.u.win)
	d.Resize(fyne.NewSize(min(640, b.u.win.Canvas().Size().Width-40), 420))
	d.Show()
}

// emWidth gives its one object a minimum width of em text heights (so it grows with
// the text scale) and the object's own minimum height.
type emWidth struct{ em float32 }

func (l *emWidth) MinSize(objs []fyne.CanvasObject) fyne.Size {
	h := float32(0)
	for _, o := range objs {
		h = max(h, o.MinSize().Height)
	}
	return fyne.NewSize(l.em*theme.TextSize(), h)
}

func (l *emWidth) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

// wipeState is the progress of the wipe after a revocation.
type wipeState struct {
	done bool
	rep  storage.WipeReport
	err  error
}

// wipeRevoked carries out the portal's revocation: the session ends, the vault is
// locked and closed, crypto-erased (storage.Wipe) and the enrollment record removed —
// all off the UI goroutine — and the window says that IT locked the device and its
// data is gone. There is no way back from here but a new enrollment.
func (u *UI) wipeRevoked(cause error) {
	if u.bar.wipe != nil {
		return
	}
	u.log.Warn("the portal revoked this device: wiping the vault", "err", cause)
	s, v := u.sess, u.vlt
	u.sess, u.vlt = nil, nil
	u.detail, u.list, u.capture = nil, nil, nil
	u.locker.stop()
	u.bar.stop()
	u.bar.wipe = &wipeState{}
	if v != nil {
		v.Lock() // keys zeroed now, as for a lock
	}
	closeOverlays(u.win.Canvas())
	u.showWiped()
	u.updateMenu()
	fallback := u.cfg.DataDir
	go func() {
		s.end()
		dir := fallback
		if v != nil {
			dir = filepath.Dir(v.Status().Path)
			if err := v.Close(); err != nil {
				u.log.Warn("close the vault before the wipe", "err", err)
			}
		}
		rep, err := storage.Wipe(dir)
		if err == nil {
			err = fsync.RemoveDevice(dir)
		}
		if err != nil {
			u.log.Error("wipe after revocation failed", "err", err)
		} else {
			u.log.Warn("vault wiped after revocation", "path", rep.Path, "overwritten", rep.Overwritten)
		}
		uiDo(func() {
			u.bar.wipe = &wipeState{done: true, rep: rep, err: err}
			u.showWiped()
		})
	}()
}

// showWiped shows the screen after a revocation (again after a language switch).
func (u *UI) showWiped() {
	w := u.bar.wipe
	title := widget.NewLabelWithStyle(tr("wipe.title"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	var body string
	switch {
	case !w.done:
		body = tr("wipe.busy")
	case w.err != nil:
		body = tr("wipe.failed")
	default:
		body = tr("wipe.done")
	}
	msg := widget.NewLabel(body)
	msg.Wrapping = fyne.TextWrapWord
	items := []fyne.CanvasObject{title, msg}
	if w.done {
		var d string
		if w.err != nil {
			d = w.err.Error()
		} else {
			d = tr("wipe.report", w.rep.Path, formatDateTime(w.rep.Time), w.rep.Overwritten)
		}
		details := widget.NewLabel(d)
		details.Wrapping = fyne.TextWrapWord
		details.Selectable = true
		quit := widget.NewButton(tr("wipe.quit"), u.app.Quit)
		items = append(items, widget.NewAccordion(widget.NewAccordionItem(tr("error.details"), details)), quit)
	}
	u.setScreen(tr("wipe.screen"), container.NewVScroll(container.NewPadded(container.NewVBox(items...))))
}

// closeOverlays removes every dialog and pop-up from c: nothing of a session may stay
// on screen after a lock.
func closeOverlays(c fyne.Canvas) {
	for o := c.Overlays().Top(); o != nil; o = c.Overlays().Top() {
		c.Overlays().Remove(o)
	}
}
