package app

import (
	"image/color"
	"reflect"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"

	fsync "fieldoffice/sync"
)

// Locking
//
// u.lock() ends the session: the vault's keys are zeroed before it returns, every
// screen's state and every dialog is dropped, the sync bar and the idle clock stop,
// and the unlock screen shows. Three things call it besides the lock button and
// Ctrl+L: the idle limit of the device policy, the system going to sleep, and (on
// tablets) the app staying in the background.
//
// # What counts as input
//
// Fyne 2.7 has no global input hook: keys go to the focused widget only (the canvas's
// OnTypedKey/OnTypedRune and desktop OnKeyDown hooks see keys only while nothing has
// focus), and pointer events go to the deepest widget under the pointer that wants
// them. So the locker gathers input from several places, each cheap:
//
//  1. activityArea, a transparent widget behind each main screen's content
//     (locker.area): it is desktop.Hoverable, so pointer movement over every part that
//     does not handle the pointer itself, and every crossing into or out of a widget
//     that does, counts.
//  2. the canvas's desktop key-down hook (installShortcuts): keys while nothing has focus.
//  3. every shortcut and menu command, and every new main screen (syncBar.widget).
//  4. at every idle check, a fingerprint of the focus (inputPrint): another widget
//     focused, an entry's text length or cursor (also of widgets that embed an Entry),
//     a select's choice, a check box, a list's scroll offset, a dialog opened or
//     closed. Typing and tabbing always change one of these.
//  5. locker.activity() from any goroutine, for widgets that know better.
//
// The idle time is measured on the wall clock: Go's monotonic clock stands still while
// a Linux machine sleeps, the wall clock does not, so a device that slept longer than
// the limit locks at the first check after it wakes even where suspend itself is not
// reported.
//
// # Lock on suspend
//
// Linux (lock_linux.go): logind's PrepareForSleep signal on the system D-Bus, with a
// delay inhibitor so that the lock happens before the machine sleeps. Tablets (Android,
// iOS): the app locks when it stayed in the background for backgroundGrace — taking a
// photo or picking a file in another app briefly is fine. Windows, macOS and the BSDs:
// Fyne reports no suspend there; the wall-clock idle check locks after wake-up instead
// (lock_other.go).

const (
	defaultIdle     = 10 * time.Minute // when the policy names no idle limit
	backgroundGrace = 30 * time.Second // tablets: time in the background before the lock
	maxCheckEvery   = 15 * time.Second
)

// locker locks the app on request, after the policy's idle minutes, before the system
// sleeps and (tablets) in the background. Its methods run on the UI goroutine, except
// activity, which runs anywhere.
type locker struct {
	u *UI
	// idleOverride replaces the policy's idle limit when set (tests).
	idleOverride time.Duration

	last        atomic.Int64 // wall-clock UnixNano of the last input
	idle        time.Duration
	print       inputPrint
	gen         uint64 // bumped per session and at stop: late callbacks are dropped
	stopCheck   chan struct{}
	stopSuspend func()
	away        time.Time   // tablets: when the app went to the background
	awayTimer   *time.Timer // tablets: locks after backgroundGrace in the background
}

func newLocker(u *UI) *locker {
	l := &locker{u: u}
	lc := u.app.Lifecycle()
	lc.SetOnEnteredForeground(l.foreground)
	lc.SetOnExitedForeground(l.background)
	return l
}

// unlocked is called after every successful unlock (u.sess is set): it starts the idle
// clock, the suspend watch and the sync bar's session.
func (l *locker) unlocked() {
	l.stop()
	l.gen++
	l.activity()
	l.print = inputPrintOf(l.u.win.Canvas())
	l.setLimit(defaultIdle)
	l.reloadPolicy()
	l.stopSuspend = watchSuspend(l.u.log, l.suspending)
	l.u.bar.start()
	l.u.updateMenu()
}

// activity records user input now. Safe on any goroutine; cheap enough for every
// pointer movement.
func (l *locker) activity() { l.last.Store(time.Now().UnixNano()) }

// idleFor is the wall-clock time since the last input.
func (l *locker) idleFor() time.Duration {
	return time.Now().Round(0).Sub(time.Unix(0, l.last.Load()))
}

// setLimit sets the idle limit (the override wins) and restarts the checks at a
// period that fits it: a twentieth of the limit, at most 15 s.
func (l *locker) setLimit(d time.Duration) {
	if l.idleOverride > 0 {
		d = l.idleOverride
	}
	if d == l.idle && l.stopCheck != nil {
		return
	}
	l.idle = d
	if l.stopCheck != nil {
		close(l.stopCheck)
	}
	stop := make(chan struct{})
	l.stopCheck = stop
	every := min(max(d/20, 10*time.Millisecond), maxCheckEvery)
	tickOnUI(every, stop, func() chan struct{} { return l.stopCheck }, l.check)
}

// reloadPolicy reads the idle limit from the enrollment record off the UI goroutine
// (at unlock, and after each sync, which may have brought a new policy). The record on
// disk, not u.sess.dev: background sync updates that one while we would read it.
func (l *locker) reloadPolicy() {
	if l.u.sess == nil || l.u.sess.dev == nil {
		return
	}
	gen, dir := l.gen, l.u.cfg.DataDir
	goDo(func() (*fsync.Device, error) { return fsync.LoadDevice(dir) }, func(d *fsync.Device, err error) {
		if gen != l.gen || l.u.sess == nil {
			return
		}
		if err != nil {
			l.u.log.Warn("idle lock: read the policy", "err", err)
			return
		}
		l.setLimit(idleLimit(d.Policy.IdleLockMinutes))
	})
}

// idleLimit is the policy's idle limit; 0 or less means the default.
func idleLimit(minutes int) time.Duration {
	if minutes <= 0 {
		return defaultIdle
	}
	return time.Duration(minutes) * time.Minute
}

// check notices input through the focus fingerprint and locks when the limit passed.
func (l *locker) check() {
	if l.u.sess == nil {
		return
	}
	if p := inputPrintOf(l.u.win.Canvas()); p != l.print {
		l.print = p
		l.activity()
	}
	if l.idleFor() >= l.idle {
		l.u.lockWith(tr("unlock.idleLocked", max(1, int(l.idle/time.Minute))))
	}
}

// stop ends the session's clock, suspend watch and background timer.
func (l *locker) stop() {
	l.gen++
	if l.stopCheck != nil {
		close(l.stopCheck)
		l.stopCheck = nil
	}
	l.idle = 0
	if l.stopSuspend != nil {
		l.stopSuspend()
		l.stopSuspend = nil
	}
	if l.awayTimer != nil {
		l.awayTimer.Stop()
		l.awayTimer = nil
	}
}

// suspending is called (on the UI goroutine) when the system is about to sleep.
func (l *locker) suspending() { l.u.lockWith(tr("lock.suspended")) }

// background: on a tablet the app locks after backgroundGrace in the background.
func (l *locker) background() {
	if l.u.sess == nil || !fyne.CurrentDevice().IsMobile() {
		return
	}
	l.away = time.Now().Round(0)
	gen := l.gen
	l.awayTimer = time.AfterFunc(backgroundGrace, func() {
		uiDo(func() {
			if gen == l.gen {
				l.u.lockWith(tr("lock.background"))
			}
		})
	})
}

// foreground: back from the background (or the window got the focus again): lock if
// the app was away too long or the idle limit passed meanwhile (after a sleep).
func (l *locker) foreground() {
	if l.awayTimer != nil {
		l.awayTimer.Stop()
		l.awayTimer = nil
		if l.u.sess != nil && time.Now().Round(0).Sub(l.away) >= backgroundGrace {
			l.u.lockWith(tr("lock.background"))
			return
		}
	}
	if l.u.sess != nil && l.idle > 0 {
		l.check()
	}
}

// lock ends the session, zeroes the keys and shows the unlock screen.
func (u *UI) lock() { u.lockWith(tr("unlock.locked")) }

// lockWith locks and shows msg on the unlock screen. Nothing happens while locked.
// vault.Lock zeroes the keys before it returns (it also counts the TPM's anti-rollback
// counter up: one TPM command, on purpose on this goroutine, so that no new unlock can
// start before the old keys are gone); the session ends in the background, where
// Background.Stop waits for a run to notice the locked vault.
func (u *UI) lockWith(msg string) {
	if u.sess == nil || u.vlt == nil {
		return
	}
	s := u.sess
	u.sess = nil
	u.detail, u.list, u.capture = nil, nil, nil
	u.locker.stop()
	u.bar.stop()
	u.vlt.Lock()
	go s.end()
	closeOverlays(u.win.Canvas())
	u.showUnlock(msg)
	u.updateMenu()
}

// area returns a transparent widget for the back of a main screen that reports
// pointer movement as input (showMain puts it behind the content; see "What counts
// as input").
func (l *locker) area() fyne.CanvasObject { return newActivityArea(l.activity) }

// activityArea is a transparent widget that reports pointer movement. Placed behind
// a screen's content it gets the pointer wherever the content does not handle it
// itself (labels, backgrounds, padding), and MouseIn/MouseOut whenever the pointer
// crosses into or out of a widget that does (buttons, entries, list rows).
type activityArea struct {
	widget.BaseWidget
	touch func()
}

var _ desktop.Hoverable = (*activityArea)(nil)

func newActivityArea(touch func()) *activityArea {
	a := &activityArea{touch: touch}
	a.ExtendBaseWidget(a)
	return a
}

func (a *activityArea) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(canvas.NewRectangle(color.Transparent))
}

func (a *activityArea) MouseIn(*desktop.MouseEvent)    { a.touch() }
func (a *activityArea) MouseMoved(*desktop.MouseEvent) { a.touch() }
func (a *activityArea) MouseOut()                      { a.touch() }

// inputPrint is a fingerprint of what input changes: the focused widget and its value,
// the top dialog. Two prints differ when the user typed, tabbed, chose or scrolled
// with the keyboard since the first was taken.
type inputPrint struct {
	focused fyne.Focusable
	overlay fyne.CanvasObject
	n, row  int
	col     int
	s       string
	f       float32
}

func inputPrintOf(c fyne.Canvas) inputPrint {
	p := inputPrint{focused: c.Focused(), overlay: c.Overlays().Top()}
	if p.focused == nil {
		return p
	}
	if e := embedded[widget.Entry](p.focused); e != nil {
		p.n, p.row, p.col = len(e.Text), e.CursorRow, e.CursorColumn
	} else if l := embedded[widget.List](p.focused); l != nil {
		p.f = l.GetScrollOffset()
	}
	switch w := p.focused.(type) {
	case *widget.Select:
		p.s = w.Selected
	case *widget.Check:
		if w.Checked {
			p.n = 1
		}
	case *widget.Slider:
		p.f = float32(w.Value)
	}
	return p
}

// embedded returns the T that f is or embeds (as apps do to add keys to an Entry or
// a List), or nil.
func embedded[T any](f fyne.Focusable) *T {
	if t, ok := any(f).(*T); ok {
		return t
	}
	v := reflect.ValueOf(f)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	want := reflect.TypeFor[T]()
	fld := v.Elem().FieldByName(want.Name())
	if !fld.IsValid() || fld.Type() != want || !fld.CanAddr() {
		return nil
	}
	return fld.Addr().Interface().(*T)
}
