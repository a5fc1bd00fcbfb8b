package app

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"os"
	stdsync "sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"fieldoffice/platform"
	"fieldoffice/storage"
	fsync "fieldoffice/sync"
)

// The screens before a session: loading, error, unlock (this file) and setup
// (enroll.go).
//
// The unlock screen is made for a shared 10" tablet as much as for a laptop: a user
// picker with one large button per key slot, a PIN pad of large keys, and the same
// through the keyboard alone — digits typed into the PIN field (focused from the
// start), Enter unlocks, Escape clears, Tab reaches the user buttons (Space picks
// one). The PIN is never shown and is cleared after every attempt. Unlocking
// (Argon2id and the TPM, about 0.1–1 s) runs off the UI goroutine with a busy bar.

func (u *UI) loadingScreen() fyne.CanvasObject {
	return container.NewCenter(widget.NewLabel(tr("screen.loading")))
}

// errorScreen says why the vault cannot be opened, what to do, and — one click away —
// the details for IT. "Erneut versuchen" opens the vault again (e.g. after closing the
// other window that held it).
func (u *UI) errorScreen(err error) fyne.CanvasObject {
	title := widget.NewLabelWithStyle(tr("error.title"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameSubHeadingText
	msg := widget.NewLabel(userMessage(err))
	msg.Wrapping = fyne.TextWrapWord
	details := widget.NewLabel(err.Error())
	details.Wrapping = fyne.TextWrapWord
	details.Selectable = true
	retry := widget.NewButtonWithIcon(tr("unlock.retry"), theme.ViewRefreshIcon(), func() {
		u.setScreen(tr("screen.loading"), u.loadingScreen())
		go u.open()
	})
	retry.Importance = widget.HighImportance
	body := container.NewVBox(title, msg, container.NewHBox(retry),
		widget.NewAccordion(widget.NewAccordionItem(tr("error.details"), details)))
	return container.NewVScroll(container.NewPadded(body))
}

// userMessage says in a caseworker's words what went wrong and what to do.
func userMessage(err error) string {
	var wrong *storage.WrongPINError
	switch {
	case errors.As(err, &wrong):
		switch {
		case wrong.Left <= 0:
			return tr("error.slotLocked")
		case wrong.Left == 1:
			return tr("error.wrongPinLast")
		}
		return tr("error.wrongPin", wrong.Left)
	case errors.Is(err, storage.ErrSlotLocked):
		return tr("error.slotLocked")
	case errors.Is(err, storage.ErrTPMLockout):
		return tr("error.tpmLockout")
	case errors.Is(err, storage.ErrTPMRefused):
		return tr("error.tpmRefused")
	case errors.Is(err, storage.ErrRollback):
		return tr("error.rollback")
	case errors.Is(err, storage.ErrTampered), errors.Is(err, storage.ErrCorrupt):
		return tr("error.tampered")
	case errors.Is(err, storage.ErrAlreadyOpen):
		return tr("error.alreadyOpen")
	case errors.Is(err, storage.ErrBadPIN):
		return tr("error.badPin")
	case errors.Is(err, storage.ErrUnknownUser):
		return tr("unlock.unknownUser")
	case errors.Is(err, fsync.ErrOfflineTooLong):
		return tr("error.offline")
	case errors.Is(err, fsync.ErrSoftwareKeyForbidden):
		return tr("error.softwareKeyForbidden")
	case errors.Is(err, fsync.ErrRevoked):
		return tr("unlock.revoked")
	case errors.Is(err, fsync.ErrPortalUnreachable):
		return tr("unlock.portalUnreachable")
	case errors.Is(err, platform.ErrNoTPM):
		return tr("unlock.noTPM")
	}
	return tr("error.unexpected")
}

// unlockWidgets are the widgets of the screens before a session, kept on the UI for
// keyboard focus, for the message after a lock, and for tests.
type unlockWidgets struct {
	user    *userPicker
	pin     *pinField
	button  *widget.Button          // unlocks: the PIN pad's bottom-right key
	status  *widget.Label           // what happened, what to do
	keys    map[rune]*widget.Button // the PIN pad: '0'…'9' and '⌫'
	busy    *busyBar
	checkIn *widget.Button   // shown when the device has been offline too long
	chrome  []*widget.Button // language and contrast: disabled while busy

	// slots are the user key slots last read from the vault; kept across rebuilds so
	// that the screen after a lock or a language switch needs no storage call first.
	slots []storage.SlotInfo

	setup setupForm // the setup screen's form (enroll.go)
}

// showUnlock shows the unlock screen with msg and puts the keyboard focus on the PIN.
// The user slots are read off the UI goroutine: the first time before the screen
// shows, afterwards in the background (a PIN attempt changes their counters).
func (u *UI) showUnlock(msg string) {
	if u.unlock.slots == nil {
		goDo(func() ([]storage.SlotInfo, error) { return userSlots(u.vlt), nil },
			func(s []storage.SlotInfo, _ error) {
				u.unlock.slots = s
				u.buildUnlock(msg)
			})
		return
	}
	u.buildUnlock(msg)
	u.reloadSlots()
}

// userSlots returns the vault's user key slots (not the recovery slot).
func userSlots(v *storage.Vault) []storage.SlotInfo {
	if v == nil {
		return []storage.SlotInfo{}
	}
	slots := []storage.SlotInfo{}
	for _, s := range v.Status().Slots {
		if s.Type != "recovery" {
			slots = append(slots, s)
		}
	}
	return slots
}

// reloadSlots rereads the slots in the background and updates the picker.
func (u *UI) reloadSlots() {
	goDo(func() ([]storage.SlotInfo, error) { return userSlots(u.vlt), nil },
		func(s []storage.SlotInfo, _ error) {
			u.unlock.slots = s
			if u.unlock.user != nil && u.sess == nil {
				u.unlock.user.setSlots(s)
			}
		})
}

// buildUnlock builds the unlock screen from the cached slots and shows it.
func (u *UI) buildUnlock(msg string) {
	w := unlockWidgets{slots: u.unlock.slots, setup: u.unlock.setup}
	w.status = widget.NewLabel("")
	w.status.Wrapping = fyne.TextWrapWord
	w.status.Alignment = fyne.TextAlignCenter
	w.pin = newPINField(u.submitUnlock, func() { u.setUnlockStatus("", false) })
	w.pin.SetPlaceHolder(tr("unlock.pinPlaceholder"))
	w.button = widget.NewButtonWithIcon(tr("unlock.button"), theme.ConfirmIcon(), u.submitUnlock)
	w.button.Importance = widget.HighImportance
	w.user = newUserPicker(u.userChosen)
	w.user.setSlots(w.slots)
	w.busy = newBusyBar()
	w.checkIn = widget.NewButtonWithIcon(tr("unlock.checkIn"), theme.ViewRefreshIcon(), u.checkIn)
	w.checkIn.Hide()
	lang := widget.NewButton(tr("nav.language"), u.toggleLanguage)
	contrast := widget.NewButtonWithIcon(tr("nav.contrast"), theme.ColorPaletteIcon(), u.toggleContrast)
	w.chrome = []*widget.Button{lang, contrast}
	pad := u.pinPad(&w)
	u.unlock = w
	if msg == "" && w.user.locked[w.user.Selected] {
		u.setUnlockStatus(tr("error.slotLocked"), true)
	} else {
		u.setUnlockStatus(msg, false)
	}

	heading := widget.NewLabelWithStyle(tr("app.title"), fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	heading.SizeName = theme.SizeNameHeadingText
	pinLabel := widget.NewLabelWithStyle(tr("unlock.pin"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	pinSide := container.NewVBox(minWidth(320), pinLabel, w.pin, pad, w.busy.box, w.status, w.checkIn)
	var body fyne.CanvasObject = pinSide
	switch n := len(w.slots); {
	case n == 1:
		who := widget.NewLabelWithStyle(tr("unlock.singleUser", w.slots[0].Name), fyne.TextAlignCenter, fyne.TextStyle{})
		pinSide.Objects = append([]fyne.CanvasObject{who}, pinSide.Objects...)
	case n > 1:
		userLabel := widget.NewLabelWithStyle(tr("unlock.chooseUser"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		users := container.NewBorder(userLabel, nil, nil, nil, w.user.widget())
		body = container.NewHBox(users, widget.NewSeparator(), pinSide)
	}
	top := container.NewHBox(layout.NewSpacer(), lang, contrast)
	screen := container.NewBorder(top, nil, nil, nil,
		container.NewVScroll(container.NewCenter(container.NewVBox(heading, body))))
	u.setScreen(tr("screen.unlock"), screen)
	u.win.Canvas().Focus(w.pin)
	measureUnlockShown(u)
}

// minWidth is an invisible spacer that gives a VBox column its width, so that wrapped
// labels in it have room (a label in a Center layout would otherwise wrap to nothing).
func minWidth(w float32) fyne.CanvasObject {
	r := canvas.NewRectangle(color.Transparent)
	r.SetMinSize(fyne.NewSize(w, 0))
	return r
}

// pinPad builds the PIN pad: 1–9, then ⌫, 0 and the unlock button. The keys type into
// the PIN field (at its cursor) and give the keyboard focus back to it, so that touch
// and keyboard mix freely.
func (u *UI) pinPad(w *unlockWidgets) fyne.CanvasObject {
	w.keys = map[rune]*widget.Button{}
	key := func(r rune) fyne.CanvasObject {
		b := widget.NewButton(string(r), func() {
			u.unlock.pin.TypedRune(r)
			u.win.Canvas().Focus(u.unlock.pin)
		})
		w.keys[r] = b
		return padCell(b)
	}
	back := widget.NewButton("⌫", func() {
		u.unlock.pin.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEnd})
		u.unlock.pin.TypedKey(&fyne.KeyEvent{Name: fyne.KeyBackspace})
		u.win.Canvas().Focus(u.unlock.pin)
	})
	w.keys['⌫'] = back
	cells := make([]fyne.CanvasObject, 0, 12)
	for _, r := range "123456789" {
		cells = append(cells, key(r))
	}
	cells = append(cells, padCell(back), key('0'), padCell(w.button))
	return container.NewGridWithColumns(3, cells...)
}

// padCell gives a PIN pad key a touch-sized minimum (about 9 mm on a 10" tablet).
func padCell(b *widget.Button) fyne.CanvasObject {
	r := canvas.NewRectangle(color.Transparent)
	r.SetMinSize(fyne.NewSize(96, 56))
	return container.NewStack(r, b)
}

// setUnlockStatus shows msg under the PIN pad; problems in the danger colour (and
// always in words, never by colour alone).
func (u *UI) setUnlockStatus(msg string, problem bool) {
	s := u.unlock.status
	if s == nil {
		return
	}
	s.Importance = widget.MediumImportance
	if problem {
		s.Importance = widget.DangerImportance
	}
	s.SetText(msg)
}

// setUnlockBusy disables the screen while an unlock or check-in runs.
func (u *UI) setUnlockBusy(busy bool) {
	w := &u.unlock
	set := func(d fyne.Disableable) {
		if busy {
			d.Disable()
		} else {
			d.Enable()
		}
	}
	set(w.pin)
	set(w.button)
	set(w.checkIn)
	for _, k := range w.keys {
		set(k)
	}
	for _, b := range w.chrome {
		set(b)
	}
	w.user.setDisabled(busy)
	w.busy.set(busy)
}

// unlocking reports whether an unlock or check-in is running.
func (u *UI) unlocking() bool { return u.unlock.busy != nil && u.unlock.busy.running() }

// userChosen runs when a user button is picked: it says at once when the slot is
// locked, and moves the focus to the PIN.
func (u *UI) userChosen(name string) {
	if u.unlock.user.locked[name] {
		u.setUnlockStatus(tr("error.slotLocked"), true)
	} else {
		u.setUnlockStatus("", false)
	}
	if u.unlock.pin != nil {
		u.win.Canvas().Focus(u.unlock.pin)
	}
}

// submitUnlock tries the PIN in the field for the chosen user (Enter, or the unlock
// key). The field is cleared at once; a PIN that cannot be right (too short, no
// user chosen) is refused here and costs no try.
func (u *UI) submitUnlock() {
	w := &u.unlock
	if w.pin == nil || u.unlocking() {
		return
	}
	pin := []byte(w.pin.Text)
	w.pin.SetText("")
	user := w.user.Selected
	if user == "" {
		clear(pin)
		u.setUnlockStatus(tr("unlock.noUser"), true)
		return
	}
	if err := storage.ValidatePIN(pin); err != nil {
		clear(pin)
		u.setUnlockStatus(userMessage(err), true)
		u.win.Canvas().Focus(w.pin)
		return
	}
	u.setUnlockBusy(true)
	u.setUnlockStatus(tr("unlock.busy"), false)
	measureMark("unlock-submit")
	u.showCheckProgress()
	goDo(func() (*session, error) {
		defer clear(pin)
		// The device policy (sync/policy.go): offline too long or a forbidden software
		// key refuse the unlock; afterwards the user's key follows the policy's PCRs.
		dev, derr := fsync.LoadDevice(u.cfg.DataDir)
		if derr == nil {
			if err := dev.BeforeUnlock(u.vlt.Status(), user, time.Now()); err != nil {
				return nil, err
			}
		}
		if err := u.vlt.Unlock(user, pin); err != nil {
			return nil, err
		}
		if derr == nil {
			if _, err := dev.AfterUnlock(u.vlt, user, pin); err != nil {
				u.log.Warn("could not apply the policy's PCR set", "err", err)
			}
		}
		s, err := u.startSession()
		if err != nil {
			u.log.Warn("background sync is off for this session", "err", err)
		}
		return s, nil
	}, func(s *session, err error) {
		if err != nil {
			// Ready for the next try before the message shows (tests wait for it).
			u.setUnlockBusy(false)
			u.setUnlockStatus(userMessage(err), true)
			if errors.Is(err, fsync.ErrOfflineTooLong) {
				u.unlock.checkIn.Show()
			}
			u.reloadSlots()
			u.win.Canvas().Focus(u.unlock.pin)
			return
		}
		u.setUnlockBusy(false) // stops the bar's animation, which would outlive the screen
		u.sess = s
		u.locker.unlocked()
		u.showCases()
	})
}

// showCheckProgress says, while an unlock waits for it, how far the vault's structure
// check has got (storage.Config.BackgroundCheck: on a large vault with a cold disk
// cache it can take a few seconds after the unlock screen appeared).
func (u *UI) showCheckProgress() {
	v := u.vlt
	if _, done := v.CheckProgress(); done {
		return
	}
	stop := make(chan struct{})
	current := stop
	tickOnUI(150*time.Millisecond, stop, func() chan struct{} { return current }, func() {
		share, done := v.CheckProgress()
		if done || !u.unlocking() || u.vlt != v {
			current = nil // runs once more at most: not again
			close(stop)
			if done && u.unlocking() {
				u.setUnlockStatus(tr("unlock.busy"), false)
			}
			return
		}
		u.setUnlockStatus(tr("unlock.checking", int(share*100)), false)
	})
}

// checkIn contacts the portal with the device key alone (no PIN): it lifts the lock of
// a device that has been offline too long. A revoked device is wiped, as on any other
// contact with the portal.
func (u *UI) checkIn() {
	if u.unlocking() {
		return
	}
	u.setUnlockBusy(true)
	u.setUnlockStatus(tr("unlock.checkingIn"), false)
	goDo(func() (struct{}, error) {
		dev, err := fsync.LoadDevice(u.cfg.DataDir)
		if err != nil {
			return struct{}{}, err
		}
		key, err := loadDeviceKey(u.vlt, dev)
		if err != nil {
			return struct{}{}, err
		}
		defer key.Close()
		client, err := dev.Client(key, fsync.ClientConfig{Logger: u.log, Retries: 2})
		if err != nil {
			return struct{}{}, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return struct{}{}, fsync.CheckIn(ctx, client, dev, u.cfg.DataDir)
	}, func(_ struct{}, err error) {
		if errors.Is(err, fsync.ErrRevoked) {
			u.setUnlockBusy(false)
			u.wipeRevoked(err) // syncbar.go: the portal's revocation, as after a sync
			return
		}
		u.setUnlockBusy(false)
		if err != nil {
			u.log.Warn("check-in failed", "err", err)
			u.setUnlockStatus(userMessage(err), true)
		} else {
			u.unlock.checkIn.Hide()
			u.setUnlockStatus(tr("unlock.checkedIn"), false)
		}
		u.win.Canvas().Focus(u.unlock.pin)
	})
}

// busyBar is an infinite progress bar that exists only while work runs. Fyne's
// ProgressBarInfinite animates from the moment its renderer is created, hidden or not,
// and until it is stopped — a hidden one in the tree costs CPU on every frame — so the
// bar is put into its box when the work starts and taken out when it ends.
type busyBar struct {
	box *fyne.Container
	bar *widget.ProgressBarInfinite
}

func newBusyBar() *busyBar {
	b := &busyBar{box: container.NewStack()}
	b.box.Hide() // no gap in a VBox while idle
	return b
}

// set starts or stops the bar.
func (b *busyBar) set(busy bool) {
	switch {
	case busy && b.bar == nil:
		b.bar = widget.NewProgressBarInfinite()
		b.box.Objects = []fyne.CanvasObject{b.bar}
		b.box.Show()
	case !busy && b.bar != nil:
		b.bar.Stop()
		b.bar = nil
		b.box.Objects = nil
		b.box.Hide()
	}
}

// running reports whether the bar shows.
func (b *busyBar) running() bool { return b.bar != nil }

// userPicker lets a user pick their key slot on a shared device: one large button per
// user (Tab reaches them, Space picks one). The chosen one carries a check mark — not
// colour alone — and locked slots say so in their label.
type userPicker struct {
	Selected string // the chosen user; "" = none yet

	box      *fyne.Container
	buttons  map[string]*widget.Button
	locked   map[string]bool
	disabled bool
	onSelect func(name string)
}

func newUserPicker(onSelect func(string)) *userPicker {
	return &userPicker{box: container.NewVBox(), buttons: map[string]*widget.Button{}, locked: map[string]bool{}, onSelect: onSelect}
}

// widget returns the picker's object for a layout.
func (p *userPicker) widget() fyne.CanvasObject {
	return container.NewStack(minWidth(240), p.box)
}

// setSlots shows one button per slot. A single user is chosen at once; the choice
// survives when its slot is still there.
func (p *userPicker) setSlots(slots []storage.SlotInfo) {
	p.box.Objects = nil
	p.buttons = map[string]*widget.Button{}
	p.locked = map[string]bool{}
	found := false
	for _, s := range slots {
		name := s.Name
		b := widget.NewButton(name, func() { p.SetSelected(name) })
		b.Alignment = widget.ButtonAlignLeading
		p.buttons[name], p.locked[name] = b, s.Locked
		p.box.Add(padCell(b))
		found = found || name == p.Selected
	}
	if !found {
		p.Selected = ""
	}
	if len(slots) == 1 {
		p.Selected = slots[0].Name
	}
	p.restyle()
	p.box.Refresh()
}

// SetSelected chooses user name (as a tap on its button does).
func (p *userPicker) SetSelected(name string) {
	if _, ok := p.buttons[name]; !ok {
		return
	}
	p.Selected = name
	p.restyle()
	if p.onSelect != nil {
		p.onSelect(name)
	}
}

// setDisabled disables every button (while an unlock runs).
func (p *userPicker) setDisabled(d bool) {
	p.disabled = d
	p.restyle()
}

func (p *userPicker) restyle() {
	for name, b := range p.buttons {
		text, icon, imp := name, theme.AccountIcon(), widget.MediumImportance
		if p.locked[name] {
			text, icon = tr("unlock.userLocked", name), theme.ErrorIcon()
		}
		if name == p.Selected {
			icon, imp = theme.ConfirmIcon(), widget.HighImportance
		}
		b.Text, b.Icon, b.Importance = text, icon, imp
		if p.disabled {
			b.Disable()
		} else {
			b.Enable()
		}
		b.Refresh()
	}
}

// maxPINDigits is the longest PIN storage.ValidatePIN accepts.
const maxPINDigits = 64

// pinField is a PIN field: a password entry whose PIN is never shown (no reveal
// button), that takes digits only, submits on Enter and clears on Escape.
type pinField struct {
	widget.Entry
	onEscape func()
}

// newPINField returns a PIN field that calls submit on Enter and escape after
// Escape cleared it (either may be nil).
func newPINField(submit, escape func()) *pinField {
	e := &pinField{onEscape: escape}
	e.Password = true
	e.Wrapping = fyne.TextWrap(fyne.TextTruncateClip)
	e.ActionItem = widget.NewIcon(theme.VisibilityOffIcon()) // in place of the reveal button
	e.ExtendBaseWidget(e)
	if submit != nil {
		e.OnSubmitted = func(string) { submit() }
	}
	return e
}

// TypedRune takes digits only, up to maxPINDigits.
func (e *pinField) TypedRune(r rune) {
	if r < '0' || r > '9' || len(e.Text) >= maxPINDigits {
		return
	}
	e.Entry.TypedRune(r)
}

// TypedKey clears the field on Escape; other keys as an entry.
func (e *pinField) TypedKey(k *fyne.KeyEvent) {
	if k.Name == fyne.KeyEscape {
		if !e.Disabled() {
			e.SetText("")
			if e.onEscape != nil {
				e.onEscape()
			}
		}
		return
	}
	e.Entry.TypedKey(k)
}

// TypedShortcut pastes digits only, and never copies or cuts the PIN.
func (e *pinField) TypedShortcut(s fyne.Shortcut) {
	switch s := s.(type) {
	case *fyne.ShortcutPaste:
		if s.Clipboard == nil {
			return
		}
		for _, r := range s.Clipboard.Content() {
			e.TypedRune(r)
		}
	case *fyne.ShortcutCopy, *fyne.ShortcutCut:
	default:
		e.Entry.TypedShortcut(s)
	}
}

// Timing marks for scripts/measure. With FIELDOFFICE_MEASURE=1 the app writes one
// line per event to stderr: "fieldoffice-measure <unix-ns> <event> [n]" — when the
// unlock screen is first shown (unlock-shown), when a PIN is submitted
// (unlock-submit), and each time the case list shows its cases (list-shown N, through
// UI.hooks.listShown). Off in normal runs; never a PIN, a name or case content.
var (
	measureOn       = os.Getenv("FIELDOFFICE_MEASURE") == "1"
	measureUnlockMu stdsync.Once
)

// measureMark writes a timing mark (when measuring).
func measureMark(event string) {
	if measureOn {
		fmt.Fprintf(os.Stderr, "fieldoffice-measure %d %s\n", time.Now().UnixNano(), event)
	}
}

// measureUnlockShown marks the first unlock screen and hooks the case list's marks.
func measureUnlockShown(u *UI) {
	if !measureOn {
		return
	}
	measureUnlockMu.Do(func() { measureMark("unlock-shown") })
	if u.hooks.listShown == nil {
		u.hooks.listShown = func(n int) { measureMark(fmt.Sprintf("list-shown %d", n)) }
	}
}
