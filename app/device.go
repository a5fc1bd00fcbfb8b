package app

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"fieldoffice/platform"
	"fieldoffice/storage"
	fsync "fieldoffice/sync"
)

// The device screen: what protects the data (TPM, PCR binding, rollback protection),
// the enrollment (portal, office, certificate, policy, last contact), the vault
// (size, format), its users, the pending changes; buttons to lock and to change the
// PIN; the text size and contrast; the keyboard shortcuts. Everything it shows is read
// off the UI goroutine first (deviceInfo), then drawn.

// deviceInfo is what the device screen shows, read in one go off the UI goroutine.
type deviceInfo struct {
	status    storage.Status
	tpm       *platform.Info // nil: no TPM (software key slots)
	dev       *fsync.Device  // nil: not enrolled (or devErr)
	devErr    error          // the enrollment record exists but cannot be read
	certEnd   time.Time      // device certificate's expiry; zero when unknown
	sync      storage.SyncState
	pending   int
	conflicts int
}

// loadDeviceInfo reads the device screen's data (storage, TPM info, enrollment record).
func (u *UI) loadDeviceInfo() (deviceInfo, error) {
	var in deviceInfo
	in.status = u.vlt.Status()
	if t := u.vlt.TPM(); t != nil {
		info := t.Info()
		in.tpm = &info
	}
	dev, err := fsync.LoadDevice(u.cfg.DataDir)
	switch {
	case errors.Is(err, fsync.ErrNotEnrolled):
	case err != nil:
		in.devErr = err
	default:
		in.dev = dev
		if c, cerr := dev.Cert(); cerr == nil {
			in.certEnd = c.NotAfter
		}
	}
	if in.sync, err = u.vlt.SyncState(); err != nil {
		return in, err
	}
	if in.pending, err = u.vlt.OutboxLen(); err != nil {
		return in, err
	}
	ids, err := u.vlt.ConflictCases()
	in.conflicts = len(ids)
	return in, err
}

// showDevice shows the device screen.
func (u *UI) showDevice() {
	if u.sess == nil {
		return
	}
	s := u.sess
	u.showMain(tr("screen.device"), container.NewCenter(widget.NewLabel(tr("device.loading"))))
	goDo(u.loadDeviceInfo, func(in deviceInfo, err error) {
		if u.sess != s || u.screen != tr("screen.device") {
			return // locked or gone elsewhere meanwhile
		}
		if err != nil {
			u.log.Error("device screen", "err", err)
			msg := widget.NewLabel(tr("error.loadFailed"))
			u.showMain(tr("screen.device"), container.NewCenter(msg))
			return
		}
		u.showMain(tr("screen.device"), u.deviceView(in, time.Now()))
	})
}

// deviceView draws in; now is the time relative dates refer to.
func (u *UI) deviceView(in deviceInfo, now time.Time) fyne.CanvasObject {
	lock := widget.NewButtonWithIcon(tr("nav.lock"), theme.LoginIcon(), u.lock)
	lock.Importance = widget.WarningImportance
	minPIN := 6
	if in.dev != nil {
		minPIN = max(minPIN, in.dev.Policy.MinPINLength)
	}
	pin := widget.NewButtonWithIcon(tr("device.changePin"), theme.AccountIcon(), func() { u.newPINDialog(minPIN).show() })
	actions := container.NewHBox(lock, pin)

	sections := []fyne.CanvasObject{actions,
		deviceSection(tr("device.sec.security"), u.securityRows(in)...),
		deviceSection(tr("device.sec.enrollment"), enrollmentRows(in, now)...),
		deviceSection(tr("device.sec.storage"), storageRows(in, now)...),
		deviceSection(tr("device.sec.users"), userRows(in)...),
		deviceSection(tr("device.sec.display"), u.displayRows()...),
		deviceSection(tr("device.sec.keys"), keyRows()...),
	}
	return container.NewVScroll(container.NewPadded(container.NewVBox(sections...)))
}

// deviceSection is a heading over label/value rows (pairs of objects).
func deviceSection(title string, rows ...fyne.CanvasObject) fyne.CanvasObject {
	head := widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	return container.NewVBox(widget.NewSeparator(), head, container.New(layout.NewFormLayout(), rows...))
}

// row is one label/value pair of a section; the value wraps.
func row(label, value string) []fyne.CanvasObject {
	k := widget.NewLabel(label)
	v := widget.NewLabel(value)
	v.Wrapping = fyne.TextWrapWord
	return []fyne.CanvasObject{k, v}
}

func yesNo(b bool) string {
	if b {
		return tr("device.yes")
	}
	return tr("device.no")
}

// securityRows: TPM kind, hardware or not, PCR binding, rollback protection, recovery.
func (u *UI) securityRows(in deviceInfo) []fyne.CanvasObject {
	st := in.status
	var kind, hardware string
	switch {
	case in.tpm != nil && in.tpm.Hardware:
		kind = tr("device.tpm.hardware")
		if in.tpm.Manufacturer != "" {
			kind = tr("device.tpm.hardwareBy", in.tpm.Manufacturer)
		}
		hardware = tr("device.yes")
	case in.tpm != nil && in.tpm.Spec.Kind == platform.KindSim:
		kind, hardware = tr("device.tpm.sim"), tr("device.tpm.noProtection")
	case in.tpm != nil:
		kind, hardware = tr("device.tpm.software", in.tpm.Spec.String()), tr("device.no")
	default:
		kind, hardware = tr("device.tpm.none"), tr("device.tpm.softwareKey")
	}
	pcrs := tr("device.pcr.none")
	hasTPMSlot := false
	for _, sl := range st.Slots {
		hasTPMSlot = hasTPMSlot || sl.Type == "tpm"
	}
	if hasTPMSlot && len(st.PCRs) > 0 {
		s := make([]string, len(st.PCRs))
		for i, p := range st.PCRs {
			s[i] = strconv.Itoa(p)
		}
		pcrs = tr("device.pcr.list", strings.Join(s, ", "))
	}
	var rows []fyne.CanvasObject
	rows = append(rows, row(tr("device.tpm"), kind)...)
	rows = append(rows, row(tr("device.hardware"), hardware)...)
	rows = append(rows, row(tr("device.pcr"), pcrs)...)
	rows = append(rows, row(tr("device.rollback"), yesNo(st.RollbackProtected))...)
	rows = append(rows, row(tr("device.recovery"), yesNo(st.RecoveryConfigured))...)
	if in.tpm != nil && in.tpm.Warning != "" {
		rows = append(rows, row(tr("device.warning"), in.tpm.Warning)...)
	}
	return rows
}

// enrollmentRows: portal, office, device, certificate, policy, contact.
func enrollmentRows(in deviceInfo, now time.Time) []fyne.CanvasObject {
	if in.devErr != nil {
		return row(tr("device.enrollment"), tr("device.enrollment.broken", in.devErr.Error()))
	}
	d := in.dev
	if d == nil {
		return row(tr("device.enrollment"), tr("device.enrollment.none"))
	}
	cert := tr("device.unknown")
	if !in.certEnd.IsZero() {
		cert = formatDate(in.certEnd.Local())
		switch left := in.certEnd.Sub(now); {
		case left <= 0:
			cert = tr("device.cert.expired", cert)
		case left < 30*24*time.Hour:
			cert = tr("device.cert.soon", cert, int(left.Hours()/24))
		}
	}
	var rows []fyne.CanvasObject
	rows = append(rows, row(tr("device.portal"), d.PortalURL)...)
	rows = append(rows, row(tr("device.office"), d.Office)...)
	rows = append(rows, row(tr("device.name"), d.Name)...)
	rows = append(rows, row(tr("device.id"), d.DeviceID)...)
	rows = append(rows, row(tr("device.cert"), cert)...)
	rows = append(rows, row(tr("device.policy"), tr("device.policy.value", d.Policy.Version, idleLimit(d.Policy.IdleLockMinutes)/time.Minute, d.Policy.MaxOfflineDays))...)
	rows = append(rows, row(tr("device.enrolled"), formatDateTime(d.Enrolled))...)
	rows = append(rows, row(tr("device.lastContact"), relativeTime(d.LastContact, now))...)
	return rows
}

// storageRows: vault size and format, pending changes, conflicts, last sync.
func storageRows(in deviceInfo, now time.Time) []fyne.CanvasObject {
	st := in.status
	var rows []fyne.CanvasObject
	rows = append(rows, row(tr("device.size"), formatBytes(st.SizeBytes))...)
	rows = append(rows, row(tr("device.format"), strconv.Itoa(st.FormatVersion))...)
	rows = append(rows, row(tr("device.path"), st.Path)...)
	rows = append(rows, row(tr("device.created"), formatDate(st.Created.Local()))...)
	rows = append(rows, row(tr("device.pending"), strconv.Itoa(in.pending))...)
	rows = append(rows, row(tr("device.conflicts"), strconv.Itoa(in.conflicts))...)
	rows = append(rows, row(tr("device.lastSync"), relativeTime(in.sync.LastSuccess, now))...)
	if in.sync.LastError != "" {
		rows = append(rows, row(tr("device.lastError"), in.sync.LastError)...)
	}
	return rows
}

// userRows: one row per user key slot: kind, locked or wrong PINs, signed in.
func userRows(in deviceInfo) []fyne.CanvasObject {
	var rows []fyne.CanvasObject
	for _, s := range in.status.Slots {
		if s.Type == "recovery" {
			continue
		}
		kind := tr("device.slot.software")
		if s.Type == "tpm" {
			kind = tr("device.slot.tpm")
		}
		var state []string
		state = append(state, kind)
		switch {
		case s.Locked:
			state = append(state, tr("device.slot.locked"))
		case s.Failures > 0:
			state = append(state, tr("device.slot.failures", s.Failures))
		}
		if s.Name == in.status.User {
			state = append(state, tr("device.slot.current"))
		}
		rows = append(rows, row(s.Name, strings.Join(state, " · "))...)
	}
	return rows
}

// displayRows: text size and high contrast (remembered in the preferences).
func (u *UI) displayRows() []fyne.CanvasObject {
	scale := clampScale(float32(u.app.Preferences().FloatWithFallback(prefTextScale, 1)))
	labels := make([]string, len(textScales))
	for i, s := range textScales {
		labels[i] = scaleLabel(s)
	}
	size := widget.NewRadioGroup(labels, nil)
	size.Horizontal = true
	size.Required = true
	size.SetSelected(scaleLabel(scale))
	size.OnChanged = func(sel string) {
		for _, s := range textScales {
			if scaleLabel(s) == sel {
				u.setTextScale(s)
			}
		}
	}
	contrast := widget.NewCheck(tr("menu.contrast"), nil)
	contrast.SetChecked(u.app.Preferences().Bool(prefHighContrast))
	contrast.OnChanged = u.setContrast
	return []fyne.CanvasObject{widget.NewLabel(tr("menu.textSize")), size, widget.NewLabel(tr("device.contrast")), contrast}
}

// keyRows documents the keyboard ("Tastenkürzel").
func keyRows() []fyne.CanvasObject {
	var rows []fyne.CanvasObject
	for _, c := range commands() {
		rows = append(rows, row(shortcutLabel(c), tr(c.label))...)
	}
	rows = append(rows, row("F5", tr("keys.f5"))...)
	rows = append(rows, row(tr("keys.tab"), tr("keys.tabText"))...)
	rows = append(rows, row(tr("keys.enter"), tr("keys.enterText"))...)
	rows = append(rows, row(tr("keys.escape"), tr("keys.escapeText"))...)
	rows = append(rows, row(tr("keys.menu"), tr("keys.menuText"))...)
	return rows
}

// pinEntry is a PIN field that closes its dialog on Escape.
type pinEntry struct {
	widget.Entry
	onEscape func()
}

func newPINEntry(onEscape func()) *pinEntry {
	e := &pinEntry{onEscape: onEscape}
	e.Password = true
	e.ExtendBaseWidget(e)
	return e
}

// TypedKey handles Escape; everything else is the Entry's.
func (e *pinEntry) TypedKey(ev *fyne.KeyEvent) {
	if ev.Name == fyne.KeyEscape && e.onEscape != nil {
		e.onEscape()
		return
	}
	e.Entry.TypedKey(ev)
}

// pinDialog changes the signed-in user's PIN: old PIN, new PIN twice.
type pinDialog struct {
	u                *UI
	old, new1, new2  *pinEntry
	status           *widget.Label
	submit, cancel   *widget.Button
	dlg              *dialog.CustomDialog
	minLen           int
	busy, wasChanged bool
}

func (u *UI) newPINDialog(minLen int) *pinDialog {
	p := &pinDialog{u: u, minLen: minLen}
	p.old = newPINEntry(p.close)
	p.new1 = newPINEntry(p.close)
	p.new2 = newPINEntry(p.close)
	p.old.OnSubmitted = func(string) { u.win.Canvas().Focus(p.new1) }
	p.new1.OnSubmitted = func(string) { u.win.Canvas().Focus(p.new2) }
	p.new2.OnSubmitted = func(string) { p.change() }
	p.status = widget.NewLabel(tr("device.pin.hint", minLen))
	p.status.Wrapping = fyne.TextWrapWord
	p.submit = widget.NewButton(tr("device.changePin"), p.change)
	p.submit.Importance = widget.HighImportance
	p.cancel = widget.NewButton(tr("device.cancel"), p.close)
	wide := func(e *pinEntry) fyne.CanvasObject { return container.New(&emWidth{em: 14}, e) }
	form := container.New(layout.NewFormLayout(),
		widget.NewLabel(tr("device.pin.old")), wide(p.old),
		widget.NewLabel(tr("device.pin.new")), wide(p.new1),
		widget.NewLabel(tr("device.pin.repeat")), wide(p.new2))
	content := container.NewVBox(form, p.status, container.NewHBox(layout.NewSpacer(), p.cancel, p.submit))
	p.dlg = dialog.NewCustomWithoutButtons(tr("device.pin.title"), content, u.win)
	return p
}

func (p *pinDialog) show() {
	p.dlg.Resize(fyne.NewSize(max(420, p.dlg.MinSize().Width), p.dlg.MinSize().Height))
	p.dlg.Show()
	p.u.win.Canvas().Focus(p.old)
}

// close closes the dialog (Cancel, Escape), not while the change runs.
func (p *pinDialog) close() {
	if !p.busy {
		p.hide()
	}
}

func (p *pinDialog) hide() {
	p.old.SetText("")
	p.new1.SetText("")
	p.new2.SetText("")
	p.dlg.Hide()
}

// fail shows msg and puts the focus where the user has to correct.
func (p *pinDialog) fail(msg string, focus *pinEntry) {
	p.status.Importance = widget.DangerImportance
	p.status.SetText(msg)
	focus.SetText("")
	p.u.win.Canvas().Focus(focus)
}

// change checks the input and changes the PIN off the UI goroutine.
func (p *pinDialog) change() {
	if p.busy || p.u.sess == nil {
		return
	}
	oldPIN, newPIN := p.old.Text, p.new1.Text
	switch {
	case oldPIN == "":
		p.fail(tr("device.pin.oldMissing"), p.old)
		return
	case len(newPIN) < p.minLen || storage.ValidatePIN([]byte(newPIN)) != nil:
		p.new2.SetText("")
		p.fail(tr("device.pin.tooShort", p.minLen), p.new1)
		return
	case newPIN != p.new2.Text:
		p.fail(tr("device.pin.mismatch"), p.new2)
		return
	case newPIN == oldPIN:
		p.new2.SetText("")
		p.fail(tr("device.pin.same"), p.new1)
		return
	}
	p.busy = true
	p.submit.Disable()
	p.status.Importance = widget.MediumImportance
	p.status.SetText(tr("device.pin.busy"))
	user, v := p.u.sess.user, p.u.vlt
	o, n := []byte(oldPIN), []byte(newPIN)
	goDo(func() (struct{}, error) {
		defer clear(o)
		defer clear(n)
		return struct{}{}, v.ChangePIN(user, o, n)
	}, func(_ struct{}, err error) {
		defer func() {
			p.busy = false
			p.submit.Enable()
		}()
		var wrong *storage.WrongPINError
		switch {
		case errors.As(err, &wrong) && wrong.Left > 1:
			p.new1.SetText("")
			p.new2.SetText("")
			p.fail(tr("device.pin.wrongOld", wrong.Left), p.old)
		case err != nil:
			p.fail(userMessage(err), p.old)
		default:
			p.hide()
			dialog.ShowInformation(tr("device.pin.title"), tr("device.pin.changed"), p.u.win)
			p.wasChanged = true
		}
	})
}
