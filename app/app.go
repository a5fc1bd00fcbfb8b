// Package app is the FieldOffice GUI (Fyne). It shows screens and talks to the vault
// only through storage's API: no bbolt, no HTTP here. Every storage or TPM call runs off
// the UI goroutine; results come back through fyne.Do.
package app

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

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

// UI is the running app: one window whose content is the current screen.
type UI struct {
	app  fyne.App
	win  fyne.Window
	cfg  Config
	log  *slog.Logger
	vlt  *storage.Vault
	last error // last open error, shown on the setup screen

	unlock unlockWidgets // the unlock screen's widgets, for keyboard focus and tests
}

type unlockWidgets struct {
	user   *widget.Select
	pin    *widget.Entry
	button *widget.Button
	status *widget.Label
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
	u := &UI{app: a, cfg: cfg, log: cfg.Logger}
	u.win = a.NewWindow("FieldOffice")
	u.win.Resize(fyne.NewSize(1024, 700))
	u.win.SetContent(u.loadingScreen())
	go u.open()
	return u, nil
}

// open opens the vault (off the UI goroutine) and shows the next screen.
func (u *UI) open() {
	v, err := storage.OpenDevice(u.cfg.DataDir, u.cfg.TPMSpec, u.log)
	fyne.Do(func() {
		switch {
		case errors.Is(err, storage.ErrNotInitialised):
			u.setScreen("Einrichtung", u.setupScreen())
		case err != nil:
			u.last = err
			u.setScreen("Fehler", u.errorScreen(err))
		default:
			u.vlt = v
			u.showUnlock("")
		}
	})
}

func (u *UI) setScreen(name string, c fyne.CanvasObject) {
	u.win.SetTitle("FieldOffice – " + name)
	u.win.SetContent(c)
}

func (u *UI) shutdown() {
	if u.vlt != nil {
		if err := u.vlt.Close(); err != nil {
			u.log.Error("close vault", "err", err)
		}
	}
}
