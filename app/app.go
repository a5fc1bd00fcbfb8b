// Package app is the FieldOffice GUI (Fyne). It shows screens and talks to the vault
// and the portal only through storage's and sync's API: no bbolt, no HTTP here. Every
// storage, TPM or network call runs off the UI goroutine (goDo); results come back
// through fyne.Do.
//
// # Layout of the package
//
//	app.go        UI, window, navigation between screens
//	session.go    what exists between unlock and lock: forms, sync engine, background
//	              sync, remote actions; goDo runs work off the UI goroutine
//	thread.go     uiDo: every widget update from another goroutine
//	shell.go      the frame around the main screens: navigation bar, sync bar
//	fit.go        every screen fits a 10" tablet's window: layouts that wrap and scroll
//	i18n.go       tr(): every string, German and English (assets/translations)
//	unlock.go     setup, error and unlock screens (PIN pad); enroll.go: enrolling from the GUI
//	caselist.go   the case list: search, filters, sort, badges
//	casedetail.go one case: form, workflow, notes, attachments, history (form.go renders forms)
//	capture.go    a new application, with signature.go's signature pad
//	conflicts.go  resolving conflicts field by field
//	syncbar.go    online/offline, last sync, pending changes, progress, wipe after revocation
//	device.go     TPM, enrollment, storage, users; change PIN; text size
//	lock.go       lock button, idle auto-lock; lock_linux.go: lock before suspend (logind)
//	theme.go      high contrast, text size; shortcuts.go: menu and keyboard

package app

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"

	"fyne.io/fyne/v2"

	"fieldoffice/platform"
	_ "fieldoffice/platform/locale" // a C locale becomes German before Fyne reads it
	"fieldoffice/storage"
)

// Config is what main hands to the app besides the fyne.App.
type Config struct {
	DataDir string // empty: platform.DefaultDataDir
	TPMSpec string // empty: the TPM recorded in the vault
	Logger  *slog.Logger
}

// CheckDisplay returns an error that says how to get a display when none is there
// (Linux/BSD: neither DISPLAY nor WAYLAND_DISPLAY set).
func CheckDisplay() error {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		return nil
	}
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return errors.New("no display: neither DISPLAY nor WAYLAND_DISPLAY is set. " +
			"Start the app in a desktop session, or under a virtual display: " +
			"apt-get install xvfb && xvfb-run -s '-screen 0 1280x800x24' fieldoffice. " +
			"The admin commands work without a display: fieldoffice help")
	}
	return nil
}

// Run builds the main window on a, shows it and blocks until the app quits; it
// returns the process exit code.
func Run(a fyne.App, cfg Config) int {
	ui, err := New(a, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fieldoffice:", err)
		return 1
	}
	ui.win.ShowAndRun()
	ui.shutdown()
	return 0
}

// Preference keys (fyne.Preferences; never secrets or case content).
const (
	prefLanguage     = "language"
	prefHighContrast = "high_contrast"
	prefTextScale    = "text_scale"
	prefWindowWidth  = "window_width"
	prefWindowHeight = "window_height"
)

// Minimum window size: a 10" tablet in landscape at 100 % (1280×800 less the system
// bars) and a small laptop.
var minWindow = fyne.NewSize(960, 600)

// UI is the running app: one window whose content is the current screen.
type UI struct {
	app  fyne.App
	win  fyne.Window
	cfg  Config
	log  *slog.Logger
	vlt  *storage.Vault
	sess *session // nil while locked
	last error    // last open error, shown on the error screen

	screen string // the current screen's name (title)

	unlock  unlockWidgets // the unlock screen's widgets, for keyboard focus and tests
	list    *caseList     // caselist.go
	detail  *caseDetail   // casedetail.go
	capture *capture      // capture.go
	bar     *syncBar      // syncbar.go
	locker  *locker       // lock.go

	// hooks for tests and measurements; nil in production.
	hooks struct {
		listShown func(n int) // the case list shows n cases
	}
}

// New creates the main window and shows the first screen: setup when the device has no
// vault, unlock otherwise. The vault is opened in the background.
func New(a fyne.App, cfg Config) (*UI, error) {
	if cfg.DataDir == "" {
		d, err := platform.DefaultDataDir()
		if err != nil {
			return nil, fmt.Errorf("find data directory (set --data): %w", err)
		}
		cfg.DataDir = d
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if _, err := loadCatalog(); err != nil {
		return nil, err
	}
	u := &UI{app: a, cfg: cfg, log: cfg.Logger}
	setLanguage(a.Preferences().StringWithFallback(prefLanguage, LangDE))
	applyTheme(a, a.Preferences().Bool(prefHighContrast), float32(a.Preferences().FloatWithFallback(prefTextScale, 1)))
	u.win = a.NewWindow(tr("app.title"))
	w := float32(a.Preferences().FloatWithFallback(prefWindowWidth, 1100))
	h := float32(a.Preferences().FloatWithFallback(prefWindowHeight, 720))
	u.win.Resize(fyne.NewSize(max(w, minWindow.Width), max(h, minWindow.Height)))
	u.win.SetContent(u.loadingScreen())
	u.bar = newSyncBar(u)
	u.locker = newLocker(u)
	installShortcuts(u)
	go u.open()
	return u, nil
}

// open opens the vault (off the UI goroutine) and shows the next screen.
func (u *UI) open() {
	// The unlock screen shows once the header and key slots are checked; the rest of
	// a large vault's structure check runs while the user types the PIN.
	v, err := storage.OpenDevice(u.cfg.DataDir, u.cfg.TPMSpec, u.log, storage.WithBackgroundCheck())
	uiDo(func() {
		switch {
		case errors.Is(err, storage.ErrNotInitialised):
			u.showSetup()
		case err != nil:
			u.last = err
			u.setScreen(tr("screen.error"), u.errorScreen(err))
		default:
			u.vlt = v
			u.showUnlock("")
		}
	})
}

// setScreen shows c as the window's whole content, titled "FieldOffice – name".
func (u *UI) setScreen(name string, c fyne.CanvasObject) {
	u.screen = name
	u.win.SetTitle(tr("app.title") + " – " + name)
	u.win.SetContent(c)
}

// rememberSize stores the window size for the next start.
func (u *UI) rememberSize() {
	s := u.win.Canvas().Size()
	if s.Width >= minWindow.Width && s.Height >= minWindow.Height {
		u.app.Preferences().SetFloat(prefWindowWidth, float64(s.Width))
		u.app.Preferences().SetFloat(prefWindowHeight, float64(s.Height))
	}
}

// shutdown ends the app after its window closed: the widgets' part (stopUI), then
// the session and the vault (release).
func (u *UI) shutdown() {
	u.stopUI()
	u.release()
}

// stopUI stops the clocks and timers that update widgets and remembers the window
// size. It touches widgets: it runs where UI callbacks run.
func (u *UI) stopUI() {
	u.locker.stop()
	u.bar.stop()
	u.rememberSize()
}

// release ends the session (waiting for a running sync) and closes the vault; it
// touches no widget.
func (u *UI) release() {
	u.sess.end()
	u.sess = nil
	if u.vlt != nil {
		if err := u.vlt.Close(); err != nil {
			u.log.Error("close vault", "err", err)
		}
	}
}
