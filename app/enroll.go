package app

import (
	"context"
	"crypto/ecdh"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"fieldoffice/platform"
	"fieldoffice/portal"
	"fieldoffice/storage"
	"fieldoffice/storage/crypto"
	fsync "fieldoffice/sync"
)

// The setup screen: a device without a vault. It names the admin command, and lets
// the user enroll the device with a token from IT — the same steps as `fieldoffice
// enroll` (cli.cmdEnroll): the device key in the TPM (or, where the portal's policy
// allows it and there is no TPM, in software), enrollment with the portal, the vault
// with the policy's PCRs and recovery key, the enrollment record. All of it runs off
// the UI goroutine with the phase shown.

// enrollment enrolls this device in two steps, enroll and finish, so that a PIN the
// portal's policy finds too short does not waste the one-time token: the portal's
// answer is kept (and the TPM open) until the user chose a longer PIN. Not for
// concurrent use; one goroutine at a time.
type enrollment struct {
	dir       string
	spec      platform.Spec
	portalURL string // the system configuration's portal; "" = any
	log       *slog.Logger

	tpm platform.TPM  // open from enroll until finish succeeded or close
	dev *fsync.Device // the portal's answer, saved by finish
}

// enrollInput is what the user typed for enroll.
type enrollInput struct {
	Token, User, DeviceName string
}

// Errors of the GUI enrollment that the portal or storage do not name themselves.
var (
	errAlreadyEnrolled = errors.New("this device is enrolled already, but has no vault: wipe it (fieldoffice wipe --yes) and enroll again")
	errTokenExpired    = errors.New("the enrollment token expired")
	errWrongPortal     = errors.New("the token is for another portal than the system configuration names")
)

// pinPolicyError: the portal's policy needs a longer PIN than the one chosen.
type pinPolicyError struct{ Min int }

func (e *pinPolicyError) Error() string {
	return fmt.Sprintf("the portal's policy needs a PIN of at least %d digits", e.Min)
}

// newEnrollment prepares an enrollment into cfg's data directory with cfg's TPM
// (empty: auto) and the system configuration's portal, if any.
func newEnrollment(cfg Config) (*enrollment, error) {
	spec, err := platform.ParseSpec(cfg.TPMSpec)
	if err != nil {
		return nil, err
	}
	sys, err := platform.LoadSystemConfig()
	if err != nil {
		return nil, err
	}
	return &enrollment{dir: cfg.DataDir, spec: spec, portalURL: sys.PortalURL, log: cfg.Logger}, nil
}

// enrolled reports whether enroll succeeded and finish is still to do.
func (e *enrollment) enrolled() bool { return e != nil && e.dev != nil }

// enroll checks the token, creates the device key and enrolls with the portal. The
// result is kept for finish; nothing is written yet. progress gets a translation key
// per phase (on this goroutine).
func (e *enrollment) enroll(ctx context.Context, in enrollInput, progress func(string)) (err error) {
	tok, err := portal.ParseToken(in.Token)
	if err != nil {
		return err
	}
	if !tok.Expires.IsZero() && tok.Expires.Before(time.Now()) {
		return fmt.Errorf("%w on %s", errTokenExpired, tok.Expires.Local().Format("02.01.2006 15:04"))
	}
	if e.portalURL != "" && strings.TrimRight(tok.URL, "/") != strings.TrimRight(e.portalURL, "/") {
		return fmt.Errorf("%w: token %s, configured %s", errWrongPortal, tok.URL, e.portalURL)
	}
	if _, err := fsync.LoadDevice(e.dir); err == nil {
		return errAlreadyEnrolled
	}
	if _, err := os.Stat(filepath.Join(e.dir, storage.FileName)); err == nil {
		return storage.ErrExists
	}

	progress("enroll.phase.key")
	p := fsync.EnrollParams{Token: in.Token, User: in.User, DeviceName: in.DeviceName, TPMKind: string(platform.KindNone),
		Client: fsync.ClientConfig{Logger: e.log, Retries: 2, Timeout: 20 * time.Second}}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	if e.spec.Kind != platform.KindNone {
		if e.tpm, err = platform.Open(e.spec, platform.WithLogger(e.log)); err != nil {
			return fmt.Errorf("open TPM %s: %w", e.spec, err)
		}
		blob, err := platform.CreateDeviceKey(e.tpm)
		if err != nil {
			return fmt.Errorf("create the device key in the TPM: %w", err)
		}
		k, err := platform.LoadDeviceKey(e.tpm, blob)
		if err != nil {
			return fmt.Errorf("load the new device key: %w", err)
		}
		defer k.Close()
		p.Key, p.KeyKind, p.KeyBlob, p.Hardware = k, fsync.KeyTPM, blob, k.Hardware()
		p.TPMKind = string(e.tpm.Info().Spec.Kind)
	} else {
		k, err := platform.NewSoftwareDeviceKey()
		if err != nil {
			return err
		}
		defer k.Close()
		pemKey, err := k.MarshalPEM()
		if err != nil {
			return err
		}
		p.Key, p.KeyKind, p.KeyBlob = k, fsync.KeySoftware, pemKey
	}

	progress("enroll.phase.portal")
	dev, err := fsync.Enroll(ctx, p)
	if err != nil {
		return err
	}
	e.dev = dev
	e.log.Info("device enrolled from the app", "device", dev.DeviceID, "office", dev.Office, "key", p.KeyKind)
	return nil
}

// finish creates the vault for user with pin — bound to the policy's PCRs, with the
// portal's recovery key — and saves the enrollment record. A PIN shorter than the
// policy asks for gives a *pinPolicyError and leaves the enrollment pending.
func (e *enrollment) finish(user string, pin []byte, progress func(string)) error {
	pol := e.dev.Policy
	if len(pin) < pol.MinPINLength {
		return &pinPolicyError{Min: pol.MinPINLength}
	}
	progress("enroll.phase.vault")
	var rec *ecdh.PublicKey
	if e.dev.RecoveryPEM != "" {
		var err error
		if rec, err = crypto.ParseRecoveryPublicKey([]byte(e.dev.RecoveryPEM)); err != nil {
			return fmt.Errorf("the portal's recovery key: %w", err)
		}
	}
	if _, err := os.Stat(filepath.Join(e.dir, storage.FileName)); errors.Is(err, os.ErrNotExist) {
		v, err := storage.Create(storage.Config{Dir: e.dir, TPM: e.tpm, Spec: e.spec, Logger: e.log}, storage.CreateOptions{
			User: user, PIN: pin, PCRs: pol.PCRs, RecoveryKey: rec, AllowSoftwareKey: e.tpm == nil && pol.AllowSoftwareKeys,
		})
		if err != nil {
			return fmt.Errorf("create the vault: %w", err)
		}
		if err := v.Close(); err != nil {
			return err
		}
	}
	// The vault exists now (also when a first finish failed after creating it): the
	// record makes the device enrolled.
	if err := e.dev.Save(e.dir); err != nil {
		return err
	}
	e.close()
	return nil
}

// close releases the TPM (the vault opens it again itself).
func (e *enrollment) close() {
	if e != nil && e.tpm != nil {
		if err := e.tpm.Close(); err != nil {
			e.log.Warn("close TPM after enrollment", "err", err)
		}
		e.tpm = nil
	}
}

// enrollMessage says in the user's words why the enrollment failed and what to do.
func enrollMessage(err error) string {
	var prob *portal.Problem
	var short *pinPolicyError
	switch {
	case errors.Is(err, portal.ErrBadToken):
		return tr("enroll.err.badToken")
	case errors.Is(err, errTokenExpired):
		return tr("enroll.err.expired")
	case errors.Is(err, errWrongPortal):
		return tr("enroll.err.wrongPortal")
	case errors.Is(err, errAlreadyEnrolled):
		return tr("enroll.err.enrolled")
	case errors.As(err, &short):
		return tr("enroll.err.pinPolicy", short.Min)
	case errors.As(err, &prob) && prob.Type == portal.ProblemInvalidToken:
		return tr("enroll.err.tokenRefused")
	case errors.As(err, &prob) && prob.Type == portal.ProblemSoftwareKey, errors.Is(err, storage.ErrSoftwareKeyNotAllowed):
		return tr("enroll.err.softwareKey")
	case caMismatch(err):
		return tr("enroll.err.caMismatch")
	case errors.Is(err, fsync.ErrPortalUnreachable):
		return tr("enroll.err.unreachable")
	case errors.Is(err, platform.ErrNoTPM):
		return tr("enroll.err.noTPM")
	case errors.Is(err, storage.ErrBadUserName):
		return tr("enroll.err.userName")
	case errors.Is(err, storage.ErrBadPIN):
		return tr("error.badPin")
	case errors.Is(err, storage.ErrExists):
		return tr("enroll.err.vaultExists")
	}
	return tr("enroll.err.failed")
}

// caMismatch reports whether err says that the portal's CA is not the one the token
// pins (another server, or someone in between). package sync has no sentinel error for
// it yet: the TLS check's error reaches us only as text, inside ErrPortalUnreachable.
func caMismatch(err error) bool {
	s := err.Error()
	return strings.Contains(s, "does not match the enrollment token") ||
		strings.Contains(s, "does not verify against the CA in the token") ||
		strings.Contains(s, "a CA other than the one in the token")
}

// validUserName checks a user name as storage does (letters, digits and . _ - @, not
// first; 1 to 64 characters), so that a bad name is refused before the one-time token
// is used up.
func validUserName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			i > 0 && (c == '.' || c == '_' || c == '-' || c == '@')
		if !ok {
			return false
		}
	}
	return true
}

// setupForm is the setup screen's enrollment form.
type setupForm struct {
	token, user, device *widget.Entry
	pin, pin2           *pinField
	button              *widget.Button
	status              *widget.Label
	details             *widget.Label     // the error for IT
	detailsBox          *widget.Accordion // hidden until an error
	busy                *busyBar
	pending             *enrollment // enrolled with the portal, vault still to create
}

// showSetup shows the setup screen and puts the keyboard focus on the first field to
// fill.
func (u *UI) showSetup() {
	u.setScreen(tr("screen.setup"), u.setupScreen())
	f := u.unlock.setup
	if f.pending.enrolled() {
		u.win.Canvas().Focus(f.pin)
	} else {
		u.win.Canvas().Focus(f.token)
	}
}

// setupScreen is shown on a device without a vault. What was typed survives a
// rebuild (language switch), the PINs excepted.
func (u *UI) setupScreen() fyne.CanvasObject {
	old := u.unlock.setup
	f := setupForm{pending: old.pending}
	f.token = widget.NewEntry()
	f.token.SetPlaceHolder(tr("setup.tokenPlaceholder"))
	f.user = widget.NewEntry()
	f.user.SetPlaceHolder(tr("setup.userPlaceholder"))
	f.device = widget.NewEntry()
	if old.token != nil {
		f.token.SetText(old.token.Text)
		f.user.SetText(old.user.Text)
		f.device.SetText(old.device.Text)
	} else if host, err := os.Hostname(); err == nil {
		f.device.SetText(host)
	}
	f.pin = newPINField(nil, nil)
	f.pin.SetPlaceHolder(tr("setup.pinPlaceholder"))
	f.pin2 = newPINField(u.submitSetup, nil)
	f.pin2.SetPlaceHolder(tr("setup.pin2Placeholder"))
	f.button = widget.NewButtonWithIcon(tr("setup.button"), theme.ConfirmIcon(), u.submitSetup)
	f.button.Importance = widget.HighImportance
	f.status = widget.NewLabel("")
	f.status.Wrapping = fyne.TextWrapWord
	f.details = widget.NewLabel("")
	f.details.Wrapping = fyne.TextWrapWord
	f.details.Selectable = true
	f.detailsBox = widget.NewAccordion(widget.NewAccordionItem(tr("error.details"), f.details))
	f.detailsBox.Hide()
	f.busy = newBusyBar()
	// Enter moves to the next field; on the last one it enrolls.
	next := func(to fyne.Focusable) func(string) { return func(string) { u.win.Canvas().Focus(to) } }
	f.token.OnSubmitted, f.user.OnSubmitted = next(f.user), next(f.device)
	f.device.OnSubmitted, f.pin.OnSubmitted = next(f.pin), next(f.pin2)
	u.unlock.setup = f
	if f.pending.enrolled() {
		u.setSetupPending()
	}

	title := widget.NewLabelWithStyle(tr("setup.title"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameHeadingText
	title.Wrapping = fyne.TextWrapWord
	intro := widget.NewLabel(tr("setup.intro"))
	intro.Wrapping = fyne.TextWrapWord
	form := container.New(layout.NewFormLayout(),
		widget.NewLabel(tr("setup.token")), f.token,
		widget.NewLabel(tr("setup.user")), f.user,
		widget.NewLabel(tr("setup.device")), f.device,
		widget.NewLabel(tr("setup.pin")), f.pin,
		widget.NewLabel(tr("setup.pin2")), f.pin2)
	enrollCard := widget.NewCard(tr("setup.enrollTitle"), "", container.NewVBox(intro, form,
		container.NewHBox(layout.NewSpacer(), f.button), f.busy.box, f.status, f.detailsBox))
	admin := widget.NewLabel(tr("setup.body", u.cfg.DataDir))
	admin.Wrapping = fyne.TextWrapWord
	admin.Selectable = true
	adminCard := widget.NewCard(tr("setup.adminTitle"), "", admin)

	col := container.NewVBox(minWidth(600), title, enrollCard, adminCard)
	lang := widget.NewButton(tr("nav.language"), u.setupLanguage)
	contrast := widget.NewButtonWithIcon(tr("nav.contrast"), theme.ColorPaletteIcon(), u.toggleContrast)
	top := container.NewHBox(layout.NewSpacer(), lang, contrast)
	return container.NewBorder(top, nil, nil, nil, container.NewVScroll(container.NewCenter(container.NewPadded(col))))
}

// setupLanguage switches German ⇄ English on the setup screen (UI.refresh knows only
// the screens with a vault) and rebuilds it.
func (u *UI) setupLanguage() {
	if u.unlock.setup.busy.running() {
		return // the enrollment in progress reports to this form
	}
	next := LangEN
	if language() == LangEN {
		next = LangDE
	}
	setLanguage(next)
	u.app.Preferences().SetString(prefLanguage, next)
	u.showSetup()
}

// setSetupStatus shows msg under the form; a problem in the danger colour (in words
// too, never by colour alone), with details — the error for IT — one click away.
func (u *UI) setSetupStatus(msg string, problem bool, details error) {
	f := &u.unlock.setup
	f.status.Importance = widget.MediumImportance
	if problem {
		f.status.Importance = widget.DangerImportance
	}
	if details != nil {
		f.details.SetText(details.Error())
		f.detailsBox.Show()
	} else {
		f.detailsBox.Hide()
	}
	f.status.SetText(msg)
}

// setSetupBusy disables the form while the enrollment runs.
func (u *UI) setSetupBusy(busy bool) {
	f := &u.unlock.setup
	for _, d := range []fyne.Disableable{f.token, f.user, f.device, f.pin, f.pin2, f.button} {
		if busy {
			d.Disable()
		} else {
			d.Enable()
		}
	}
	f.busy.set(busy)
	if !busy && f.pending.enrolled() {
		u.setSetupPending()
	}
}

// setSetupPending locks the token, user and device fields: the portal enrolled the
// device already, only the PIN is still to choose.
func (u *UI) setSetupPending() {
	f := &u.unlock.setup
	f.token.Disable()
	f.user.Disable()
	f.device.Disable()
}

// submitSetup checks the form and enrolls (Enter in the last field, or the button).
func (u *UI) submitSetup() {
	f := &u.unlock.setup
	if f.busy.running() {
		return
	}
	pin, pin2 := []byte(f.pin.Text), []byte(f.pin2.Text)
	defer clear(pin2)
	f.pin.SetText("")
	f.pin2.SetText("")
	in := enrollInput{Token: strings.TrimSpace(f.token.Text), User: strings.TrimSpace(f.user.Text), DeviceName: strings.TrimSpace(f.device.Text)}
	refuse := func(msg string, focus fyne.Focusable) {
		clear(pin)
		u.setSetupStatus(msg, true, nil)
		u.win.Canvas().Focus(focus)
	}
	pending := f.pending.enrolled()
	switch {
	case !pending && in.Token == "":
		refuse(tr("setup.needToken"), f.token)
		return
	case !pending && !validUserName(in.User):
		refuse(tr("enroll.err.userName"), f.user)
		return
	case storage.ValidatePIN(pin) != nil:
		refuse(tr("error.badPin"), f.pin)
		return
	case string(pin) != string(pin2):
		refuse(tr("setup.pinMismatch"), f.pin)
		return
	}
	if !pending {
		if _, err := portal.ParseToken(in.Token); err != nil {
			refuse(tr("enroll.err.badToken"), f.token)
			return
		}
		if in.DeviceName == "" {
			in.DeviceName, _ = os.Hostname()
		}
	}
	u.setSetupBusy(true)
	u.setSetupStatus(tr("enroll.phase.start"), false, nil)
	progress := func(key string) { uiDo(func() { u.unlock.setup.status.SetText(tr(key)) }) }
	e := f.pending
	goDo(func() (*storage.Vault, error) {
		defer clear(pin)
		if e == nil {
			var err error
			if e, err = newEnrollment(u.cfg); err != nil {
				return nil, err
			}
		}
		if !e.enrolled() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := e.enroll(ctx, in, progress); err != nil {
				return nil, err
			}
		}
		// From here on the token is used up: keep the enrollment for another try.
		uiDo(func() { u.unlock.setup.pending = e })
		if err := e.finish(in.User, pin, progress); err != nil {
			return nil, err
		}
		progress("enroll.phase.open")
		return storage.OpenDevice(u.cfg.DataDir, u.cfg.TPMSpec, u.log)
	}, func(v *storage.Vault, err error) {
		if err != nil {
			u.log.Warn("enrollment from the app failed", "err", err)
			u.setSetupBusy(false)
			u.setSetupStatus(enrollMessage(err), true, err)
			focus := fyne.Focusable(u.unlock.setup.token)
			if u.unlock.setup.pending.enrolled() {
				focus = u.unlock.setup.pin
			}
			u.win.Canvas().Focus(focus)
			return
		}
		u.unlock.setup.busy.set(false) // its animation would outlive the screen
		u.unlock.setup = setupForm{}
		u.unlock.slots = nil
		u.vlt = v
		u.showUnlock(tr("setup.done"))
	})
}
