package app

import (
	"errors"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"fieldoffice/storage"
	fsync "fieldoffice/sync"
)

func (u *UI) loadingScreen() fyne.CanvasObject {
	return container.NewCenter(widget.NewLabel(tr("screen.loading")))
}

// setupScreen is shown on a device without a vault.
func (u *UI) setupScreen() fyne.CanvasObject {
	title := widget.NewLabelWithStyle(tr("setup.title"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	body := widget.NewLabel(tr("setup.body", u.cfg.DataDir))
	body.Wrapping = fyne.TextWrapWord
	return container.NewPadded(container.NewVBox(title, body))
}

func (u *UI) errorScreen(err error) fyne.CanvasObject {
	title := widget.NewLabelWithStyle(tr("error.title"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	msg := widget.NewLabel(userMessage(err))
	msg.Wrapping = fyne.TextWrapWord
	details := widget.NewLabel(err.Error())
	details.Wrapping = fyne.TextWrapWord
	return container.NewPadded(container.NewVBox(title, msg, widget.NewAccordion(widget.NewAccordionItem(tr("error.details"), details))))
}

// errOfflineTooLong: the device must check in with the portal before it unlocks.
var errOfflineTooLong = errors.New("offline longer than the policy allows")

// userMessage says in a caseworker's words what went wrong and what to do.
func userMessage(err error) string {
	var wrong *storage.WrongPINError
	switch {
	case errors.As(err, &wrong):
		if wrong.Left == 1 {
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
	case errors.Is(err, errOfflineTooLong):
		return tr("error.offline")
	}
	return tr("error.unexpected")
}

type unlockWidgets struct {
	user   *widget.Select
	pin    *widget.Entry
	button *widget.Button
	status *widget.Label
}

// unlockScreen lets a user pick their slot and enter the PIN.
func (u *UI) unlockScreen(msg string) fyne.CanvasObject {
	users := u.vlt.Users()
	who := widget.NewSelect(users, nil)
	who.PlaceHolder = tr("unlock.chooseUser")
	if len(users) == 1 {
		who.SetSelected(users[0])
	}
	pin := widget.NewPasswordEntry()
	pin.SetPlaceHolder(tr("unlock.pin"))
	status := widget.NewLabel(msg)
	status.Wrapping = fyne.TextWrapWord
	var btn *widget.Button
	submit := func() {
		p := []byte(pin.Text)
		pin.SetText("")
		user := who.Selected
		btn.Disable()
		status.SetText(tr("unlock.busy"))
		goDo(func() (*session, error) {
			defer clear(p)
			if dev, err := fsync.LoadDevice(u.cfg.DataDir); err == nil {
				if dev.CheckOffline(time.Now()) != nil {
					return nil, errOfflineTooLong
				}
			}
			if err := u.vlt.Unlock(user, p); err != nil {
				return nil, err
			}
			s, err := u.startSession()
			if err != nil {
				u.log.Warn("background sync is off for this session", "err", err)
			}
			return s, nil
		}, func(s *session, err error) {
			btn.Enable()
			if err != nil {
				status.SetText(userMessage(err))
				return
			}
			u.sess = s
			u.locker.unlocked()
			u.showCases()
		})
	}
	btn = widget.NewButton(tr("unlock.button"), submit)
	u.unlock = unlockWidgets{user: who, pin: pin, button: btn, status: status}
	btn.Importance = widget.HighImportance
	pin.OnSubmitted = func(string) { submit() }
	form := container.NewVBox(
		widget.NewLabelWithStyle(tr("app.title"), fyne.TextAlignCenter, fyne.TextStyle{Bold: true}),
		widget.NewLabel(tr("unlock.user")), who,
		widget.NewLabel(tr("unlock.pin")), pin, btn, status)
	return container.NewCenter(container.NewGridWrap(fyne.NewSize(360, 360), form))
}

// showUnlock shows the unlock screen with msg and puts the keyboard focus on the PIN.
func (u *UI) showUnlock(msg string) {
	u.setScreen(tr("screen.unlock"), u.unlockScreen(msg))
	u.win.Canvas().Focus(u.unlock.pin)
}
