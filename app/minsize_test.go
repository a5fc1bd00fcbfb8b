package app

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"fieldoffice/storage"
	fsync "fieldoffice/sync"
)

// The window's size on a 10" tablet and a laptop
//
// A Fyne window is never smaller than its content's MinSize: the desktop driver grows
// the window whenever the content asks for more (and never shrinks it again). So every
// screen, in every state, must ask for no more than the window the app is made for:
// 1280×720 (a 10" tablet in landscape, 1280×800, less the title and task bars; a
// laptop), at every text size. At 100 % no screen may need to scroll as a whole
// either (fit.go).
//
// The desktop driver asks a new content twice (glCanvas.SetContent): once as built,
// then again after laying it out at that first MinSize; the second answer sizes the
// window. Wrapped labels and the wrapping bars answer differently before and after a
// layout, so fitMeasure asks the way the driver does, and again at the window's size
// (as the driver does on every frame). The main menu is drawn inside the window on
// Linux and Windows: its height counts too.

// fitWindow is the window every screen must fit at 100 % text.
var fitWindow = fyne.NewSize(1280, 720)

// fitMenuHeight is the height of the main menu bar drawn in the window (as Fyne's
// desktop driver measures it: a line of text and the inner padding).
func fitMenuHeight() float32 {
	return canvas.NewText("Datei", nil).MinSize().Height + theme.InnerPadding()
}

// fitSize is what a screen asks of the window.
type fitSize struct {
	set, laid fyne.Size // window size asked when the content is set / once laid out at the window's width
	frame     fyne.Size // a main screen's own (bars and content) before its frame caps the height
	overlay   fyne.Size // the topmost dialog's minimum (zero: none)
}

func (s fitSize) window() fyne.Size { return s.set.Max(s.laid) }

func (s fitSize) String() string {
	str := fmt.Sprintf("window %4.0f × %4.0f", s.window().Width, s.window().Height)
	if !s.frame.IsZero() {
		str += fmt.Sprintf(", screen %4.0f × %4.0f", s.frame.Width, s.frame.Height)
	}
	if !s.overlay.IsZero() {
		str += fmt.Sprintf(", dialog %4.0f × %4.0f", s.overlay.Width, s.overlay.Height)
	}
	return str
}

// fitResize gives the test window the canvas of a fitWindow-sized desktop window
// (less the menu bar).
func fitResize(u *UI) {
	u.win.Resize(fyne.NewSize(fitWindow.Width, fitWindow.Height-fitMenuHeight()))
}

// fitMeasure (on the UI goroutine) returns the window size the current content asks
// for, as the desktop driver computes it, the main screen's own size and the topmost
// dialog's minimum size.
func fitMeasure(u *UI) fitSize {
	pad := fyne.NewSquareSize(2 * theme.Padding())
	menu := fyne.NewSize(0, fitMenuHeight())
	c := u.win.Content()
	var frame fyne.CanvasObject
	if f := u.mainFrame(); f != nil && fyne.CanvasObject(f) != c {
		frame = f
	}
	var s fitSize
	c.Resize(c.MinSize()) // glCanvas.SetContent: lay out at MinSize, then ask again
	s.set = c.MinSize().Add(pad).Add(menu)
	if frame != nil {
		s.frame = frame.MinSize()
	}
	c.Resize(u.win.Canvas().Size().Subtract(pad)) // back to the window's size
	s.laid = c.MinSize().Add(pad).Add(menu)
	if frame != nil {
		s.frame = s.frame.Max(frame.MinSize()).Add(pad).Add(menu)
	}
	if top := u.win.Canvas().Overlays().Top(); top != nil {
		s.overlay = top.MinSize()
	}
	return s
}

// fitScreen is one screen in one state; show opens it on u (waiting for what it
// loads) and returns its measure.
type fitScreen struct {
	name string
	show func(t *testing.T, u *UI) fitSize
}

// fitAfter runs open on the UI goroutine, waits until ready and measures.
func fitAfter(t *testing.T, u *UI, open func(), what string, ready func() bool) fitSize {
	t.Helper()
	uiWait(func() {
		fitResize(u)
		open()
	})
	if ready != nil {
		waitFor(t, what, ready)
	}
	var s fitSize
	uiWait(func() { s = fitMeasure(u) })
	return s
}

// fitNow opens and measures in one UI callback: the state before anything loaded.
func fitNow(u *UI, open func()) fitSize {
	var s fitSize
	uiWait(func() {
		fitResize(u)
		open()
		s = fitMeasure(u)
	})
	return s
}

// fitCloseOverlays closes the dialogs a screen left open.
func fitCloseOverlays(u *UI) { uiWait(func() { closeOverlays(u.win.Canvas()) }) }

// fitScreens lists the screens of an unlocked session on a vault with cases.
func fitScreens(conflictID string) []fitScreen {
	listShown := func(u *UI) bool { return u.list != nil && u.list.loaded && !u.list.pending() }
	detail := func(u *UI) bool { return u.detail != nil && u.detail.shown.Load() > 0 && u.detail.visible() }
	capStep := func(step captureStep) func(t *testing.T, u *UI) fitSize {
		return func(t *testing.T, u *UI) fitSize {
			return fitAfter(t, u, func() { u.capture.showStep(step) }, "", nil)
		}
	}
	return []fitScreen{
		{"Vorgänge, beim Laden", func(t *testing.T, u *UI) fitSize {
			return fitNow(u, func() {
				u.list = nil // a new session's list: nothing loaded yet
				u.showCases()
			})
		}},
		{"Vorgänge", func(t *testing.T, u *UI) fitSize {
			s := fitAfter(t, u, u.showCases, "the list", func() bool { return listShown(u) })
			uiWait(func() {
				if theme.TextSize() < 15 && !u.list.filtersShown {
					t.Errorf("the filter bar starts closed at %v", u.win.Canvas().Size())
				}
			})
			return s
		}},
		{"Vorgänge, nichts gefunden", func(t *testing.T, u *UI) fitSize {
			return fitAfter(t, u, func() {
				u.showCases()
				u.list.searchBox.SetText("Keine Person dieses Namens gibt es hier")
			}, "the empty search", func() bool { return listShown(u) && len(u.list.rows) == 0 })
		}},
		{"Vorgänge, Fehler beim Laden", func(t *testing.T, u *UI) fitSize {
			return fitNow(u, func() {
				u.showCases()
				l := u.list
				l.loadErr = errors.New("vault: database file is corrupt: page 123456 of the bucket cases has a bad checksum")
				l.showState()
			})
		}},
		{"Vorgang, beim Laden", func(t *testing.T, u *UI) fitSize {
			s := fitNow(u, func() { u.openCase(conflictID) })
			waitFor(t, "the case", func() bool { return detail(u) })
			return s
		}},
		{"Vorgang", func(t *testing.T, u *UI) fitSize {
			return fitAfter(t, u, func() { u.openCase(conflictID) }, "the case", func() bool {
				return detail(u) && u.detail.jobs.Load() == 0
			})
		}},
		{"Konflikte lösen", func(t *testing.T, u *UI) fitSize {
			var view *conflictView
			s := fitAfter(t, u, func() { u.showConflicts(conflictID, func(v *conflictView) { view = v }) },
				"the conflict dialog", func() bool { return view != nil })
			fitCloseOverlays(u)
			return s
		}},
		{"Neuer Antrag: Leistung", func(t *testing.T, u *UI) fitSize {
			return fitAfter(t, u, func() {
				u.capture = nil
				u.newApplication()
			}, "the services", func() bool { return u.capture.services != nil && u.capture.firstPick != nil })
		}},
		{"Neuer Antrag: Angaben", func(t *testing.T, u *UI) fitSize {
			return fitAfter(t, u, func() { captureChoose(t, u.capture, "bewohnerparkausweis") }, "", nil)
		}},
		{"Neuer Antrag: Unterlagen", capStep(capStepDocs)},
		{"Neuer Antrag: Unterschrift", capStep(capStepSign)},
		{"Neuer Antrag: Unterschrift im Formular", func(t *testing.T, u *UI) fitSize {
			c := u.capture
			s := fitAfter(t, u, func() {
				c.showStep(capStepForm)
				c.signDialog(c.sigs[0].field.Name)
			}, "", nil)
			fitCloseOverlays(u)
			return s
		}},
		{"Neuer Antrag: Prüfen", capStep(capStepReview)},
		{"Gerät", func(t *testing.T, u *UI) fitSize {
			return fitAfter(t, u, u.showDevice, "the device information", func() bool {
				return chromeShows(u.win.Content(), tr("device.sec.keys"))
			})
		}},
		{"Gerät: PIN ändern", func(t *testing.T, u *UI) fitSize {
			s := fitAfter(t, u, func() { u.newPINDialog(6).show() }, "", nil)
			fitCloseOverlays(u)
			return s
		}},
		{"Synchronisation: Details", func(t *testing.T, u *UI) fitSize {
			s := fitAfter(t, u, func() {
				u.showCases()
				u.bar.showDetails()
			}, "", nil)
			fitCloseOverlays(u)
			return s
		}},
	}
}

// TestScreensFitTabletWindow: every screen, in every state that changes its size, and
// its dialogs fit a 1280×720 window at 100, 150 and 200 % text, in German and English;
// at 100 % the main screens fit without scrolling as a whole. Before, the case list
// asked for 895 px while it loaded (952 with a sync error shown, 1,792 with an empty
// search result).
func TestScreensFitTabletWindow(t *testing.T) {
	dir, conflictID := conflictVault(t)
	users := newTestVault(t, 0, func(v *storage.Vault) {
		for _, name := range []string{"meier", "yilmaz", "nowak", "schulze-bergmann", "dimitriou"} {
			if err := v.AddUser(name, []byte("135790")); err != nil {
				t.Fatal(err)
			}
		}
	})
	setup := newTestUI(t, t.TempDir())
	setupReady(t, setup)
	shared := newTestUI(t, users)
	unlockReady(t, shared)
	u := unlockedUI(t, dir)
	t.Cleanup(func() {
		waitFor(t, "the case screen's vault calls", func() bool { return u.detail == nil || u.detail.jobs.Load() == 0 })
	})

	before := []fitScreen{
		{"Einrichtung", func(t *testing.T, _ *UI) fitSize {
			return fitNow(setup, setup.showSetup)
		}},
		{"Entsperren", func(t *testing.T, _ *UI) fitSize {
			return fitNow(shared, func() {
				shared.buildUnlock(userMessage(fmt.Errorf("%w (20 days)", fsync.ErrOfflineTooLong)))
				shared.unlock.checkIn.Show()
			})
		}},
		{"Fehler", func(t *testing.T, _ *UI) fitSize {
			return fitNow(setup, func() {
				setup.setScreen(tr("screen.error"), setup.errorScreen(&storage.TamperError{Bucket: "cases", Key: strings.Repeat("x", 80)}))
			})
		}},
	}
	after := []fitScreen{
		{"Gerät gelöscht", func(t *testing.T, _ *UI) fitSize {
			return fitNow(setup, func() {
				setup.bar.wipe = &wipeState{done: true, rep: storage.WipeReport{Path: "/var/lib/fieldoffice/vault.db", Time: time.Now(), Overwritten: 3}}
				setup.showWiped()
			})
		}},
	}
	// The sync bar's tallest state: a failed sync, with cases in conflict.
	chromeSettle(t, u)
	uiWait(func() {
		b := u.bar
		b.enrolled, b.available = true, true
		b.result("manual", fsync.Summary{Pulled: 12, Pushed: 3, Conflicts: 2},
			fmt.Errorf("push: %w", errors.New("portal answered 503 Service Unavailable: the portal is being maintained, try again in 15 minutes")))
	})
	screens := append(append(before, fitScreens(conflictID)...), after...)
	defer uiWait(func() {
		setup.bar.wipe = nil
		applyTheme(u.app, false, 1)
		setLanguage(LangDE)
	})

	for _, run := range []struct {
		lang  string
		scale float32
	}{{LangDE, 1}, {LangDE, 1.5}, {LangDE, 2}, {LangEN, 1}, {LangEN, 2}} {
		scale := run.scale
		uiWait(func() {
			setLanguage(run.lang)
			for _, x := range []*UI{u, setup, shared} {
				applyTheme(x.app, false, scale)
			}
		})
		for _, sc := range screens {
			name := fmt.Sprintf("%s %.0f%% %s", sc.name, scale*100, run.lang)
			s := sc.show(t, u)
			t.Logf("%-44s %v", name, s)
			if d := os.Getenv("FIT_DUMP"); d != "" && strings.Contains(name, d) {
				uiWait(func() {
					for _, x := range []*UI{u, setup, shared} {
						c := x.win.Content()
						c.Resize(c.MinSize())
						fitDump(t, c, 0, 7)
						c.Resize(x.win.Canvas().Size().Subtract(fyne.NewSquareSize(2 * theme.Padding())))
					}
				})
			}
			w, canvas := s.window(), fitWindow.Subtract(fyne.NewSize(0, fitMenuHeight()))
			if w.Width > fitWindow.Width || w.Height > fitWindow.Height {
				t.Errorf("%s: the window must be at least %v, more than %v", name, w, fitWindow)
			}
			if s.overlay.Width > canvas.Width || s.overlay.Height > canvas.Height {
				t.Errorf("%s: the dialog needs %v, more than the window's %v", name, s.overlay, canvas)
			}
			if scale == 1 && (s.frame.Width > fitWindow.Width || s.frame.Height > fitWindow.Height) {
				t.Errorf("%s: the screen needs %v: it scrolls in a %v window", name, s.frame, fitWindow)
			}
		}
	}
}

// fitDump logs o's tree of visible objects with their minimum and current sizes, to
// find what asks for the height: FIT_DUMP=<part of a screen's name> go test -tags ci
// -run TestScreensFitTabletWindow -v ./app/
func fitDump(t *testing.T, o fyne.CanvasObject, depth, maxDepth int) {
	if !o.Visible() {
		return
	}
	extra := ""
	switch w := o.(type) {
	case *widget.Label:
		extra = fmt.Sprintf(" %q", w.Text)
	case *widget.Button:
		extra = fmt.Sprintf(" %q", w.Text)
	case *fyne.Container:
		extra = fmt.Sprintf(" %T", w.Layout)
	case *container.Scroll:
		if depth < maxDepth {
			defer fitDump(t, w.Content, depth+1, maxDepth)
		}
	}
	t.Logf("%s%T min %v size %v%s", strings.Repeat("  ", depth), o, o.MinSize(), o.Size(), extra)
	if c, ok := o.(*fyne.Container); ok && depth < maxDepth {
		for _, k := range c.Objects {
			fitDump(t, k, depth+1, maxDepth)
		}
	}
}

// TestNavBarWrapsInOrder: with large text the navigation bar takes two lines, and
// Tab still reaches its buttons in their order.
func TestNavBarWrapsInOrder(t *testing.T) {
	u := unlockedUI(t, newTestVault(t, 3, nil))
	defer uiWait(func() { applyTheme(u.app, false, 1) })
	want := []string{tr("nav.cases"), tr("nav.capture"), tr("nav.device"), tr("nav.language"), tr("nav.contrast"), tr("nav.lock")}
	for _, scale := range []float32{1, 2} {
		uiWait(func() {
			applyTheme(u.app, false, scale)
			fitResize(u)
			u.showCases()
			nav := u.mainFrame().Objects[len(u.mainFrame().Objects)-2].(*fyne.Container) // NewBorder appends top, bottom
			lines := map[float32]bool{}
			for _, o := range nav.Objects {
				lines[o.Position().Y] = true
			}
			if n := len(lines); (scale == 1) != (n == 1) {
				t.Errorf("at %.0f %%, the navigation bar takes %d lines", scale*100, n)
			}
			c := u.win.Canvas()
			c.Unfocus()
			var order []string
			for range 40 {
				test.FocusNext(c)
				if b, ok := c.Focused().(*widget.Button); ok && slices.Contains(want, b.Text) && !slices.Contains(order, b.Text) {
					order = append(order, b.Text)
				}
			}
			if !slices.Equal(order, want) {
				t.Errorf("at %.0f %%, Tab reaches the navigation bar as %q", scale*100, order)
			}
		})
	}
}
