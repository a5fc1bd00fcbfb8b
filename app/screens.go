package app

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"fieldoffice/assets"
	"fieldoffice/cases"
	"fieldoffice/storage"
	fsync "fieldoffice/sync"
)

func (u *UI) loadingScreen() fyne.CanvasObject {
	return container.NewCenter(widget.NewLabel("Tresor wird geöffnet …"))
}

// setupScreen is shown on a device without a vault.
func (u *UI) setupScreen() fyne.CanvasObject {
	title := widget.NewLabelWithStyle("Dieses Gerät ist noch nicht eingerichtet.", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	body := widget.NewLabel("Bitte wenden Sie sich an Ihre IT-Administration. Zum Einrichten:\n\n" +
		"    fieldoffice init --user NAME --data " + u.cfg.DataDir)
	body.Wrapping = fyne.TextWrapWord
	return container.NewPadded(container.NewVBox(title, body))
}

func (u *UI) errorScreen(err error) fyne.CanvasObject {
	title := widget.NewLabelWithStyle("Der Tresor kann nicht geöffnet werden.", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	msg := widget.NewLabel(userMessage(err))
	msg.Wrapping = fyne.TextWrapWord
	details := widget.NewLabel(err.Error())
	details.Wrapping = fyne.TextWrapWord
	return container.NewPadded(container.NewVBox(title, msg, widget.NewAccordion(widget.NewAccordionItem("Details für die IT", details))))
}

// userMessage says in a caseworker's words what went wrong and what to do.
func userMessage(err error) string {
	var wrong *storage.WrongPINError
	switch {
	case errors.As(err, &wrong):
		if wrong.Left == 1 {
			return "Die PIN ist falsch. Noch 1 Versuch, danach wird der Zugang gesperrt."
		}
		return fmt.Sprintf("Die PIN ist falsch. Noch %d Versuche.", wrong.Left)
	case errors.Is(err, storage.ErrSlotLocked):
		return "Ihr Zugang ist nach zu vielen falschen PINs gesperrt. Eine Kollegin, ein Kollege oder die IT kann ihn wieder freigeben."
	case errors.Is(err, storage.ErrTPMLockout):
		return "Der Sicherheitschip sperrt nach zu vielen falschen PINs vorübergehend. Bitte warten Sie einige Minuten."
	case errors.Is(err, storage.ErrTPMRefused):
		return "Der Sicherheitschip gibt den Schlüssel nicht frei (Firmware-Update, Chip zurückgesetzt oder ausgetauscht). Bitte wenden Sie sich an die IT: sie kann die Daten mit dem Wiederherstellungsschlüssel zurückholen."
	case errors.Is(err, storage.ErrRollback):
		return "Die Datenablage ist älter als der letzte Stand dieses Geräts (zurückgespielte Kopie). Es wurden keine Daten angezeigt. Bitte wenden Sie sich an die IT."
	case errors.Is(err, storage.ErrTampered), errors.Is(err, storage.ErrCorrupt):
		return "Die Datenablage ist beschädigt oder wurde verändert. Es wurden keine Daten angezeigt. Bitte wenden Sie sich an die IT."
	case errors.Is(err, storage.ErrAlreadyOpen):
		return "FieldOffice läuft bereits (oder ein Verwaltungsbefehl). Bitte schließen Sie das andere Fenster."
	case errors.Is(err, storage.ErrBadPIN):
		return "Die PIN besteht aus mindestens 6 Ziffern."
	case errors.Is(err, errOfflineTooLong):
		return err.Error()
	}
	return "Ein unerwarteter Fehler ist aufgetreten. Die Details helfen der IT."
}

// unlockScreen lets a user pick their slot and enter the PIN.
func (u *UI) unlockScreen(msg string) fyne.CanvasObject {
	users := u.vlt.Users()
	who := widget.NewSelect(users, nil)
	who.PlaceHolder = "Benutzer wählen"
	if len(users) > 0 {
		who.SetSelected(users[0])
	}
	pin := widget.NewPasswordEntry()
	pin.SetPlaceHolder("PIN")
	status := widget.NewLabel(msg)
	status.Wrapping = fyne.TextWrapWord
	var btn *widget.Button
	submit := func() {
		p := []byte(pin.Text)
		pin.SetText("")
		user := who.Selected
		btn.Disable()
		status.SetText("Wird entsperrt …")
		go func() {
			var err error
			if dev, derr := fsync.LoadDevice(u.cfg.DataDir); derr == nil {
				if oerr := dev.CheckOffline(time.Now()); oerr != nil {
					err = errOfflineTooLong
				}
			}
			if err == nil {
				err = u.vlt.Unlock(user, p)
			}
			clear(p)
			fyne.Do(func() {
				btn.Enable()
				if err != nil {
					status.SetText(userMessage(err))
					return
				}
				u.showCases()
			})
		}()
	}
	btn = widget.NewButton("Entsperren", submit)
	u.unlock = unlockWidgets{user: who, pin: pin, button: btn, status: status}
	btn.Importance = widget.HighImportance
	pin.OnSubmitted = func(string) { submit() }
	form := container.NewVBox(
		widget.NewLabelWithStyle("FieldOffice", fyne.TextAlignCenter, fyne.TextStyle{Bold: true}),
		widget.NewLabel("Benutzer"), who,
		widget.NewLabel("PIN"), pin, btn, status)
	return container.NewCenter(container.NewGridWrap(fyne.NewSize(360, 360), form))
}

// showUnlock shows the unlock screen with msg and puts the keyboard focus on the PIN.
func (u *UI) showUnlock(msg string) {
	u.setScreen("Entsperren", u.unlockScreen(msg))
	u.win.Canvas().Focus(u.unlock.pin)
}

// showCases loads the case list (summaries only) in the background and shows it.
func (u *UI) showCases() {
	u.setScreen("Vorgänge", container.NewCenter(widget.NewLabel("Vorgänge werden geladen …")))
	go func() {
		u.vlt.SetForms(assets.Schemas{})
		list, err := u.vlt.Cases(storage.CaseQuery{Sort: "updated", Desc: true})
		fyne.Do(func() {
			if err != nil {
				u.setScreen("Fehler", u.errorScreen(err))
				return
			}
			u.setScreen("Vorgänge", u.caseList(list))
		})
	}()
}

// caseRow is the one line the list shows of a case.
func caseRow(s cases.Summary) string {
	due := ""
	if d, err := cases.ParseDate(s.DueDate); err == nil && s.DueDate != "" {
		due = "WV " + cases.FormatDate(d)
	}
	badge := ""
	switch {
	case s.Flags&cases.FlagConflict != 0:
		badge = "  ⚠ Konflikt"
	case s.Flags&cases.FlagUnsynced != 0:
		badge = "  ● nicht synchronisiert"
	}
	return fmt.Sprintf("%s   %s   %s   %s   %s%s", s.Aktenzeichen, s.Applicant, s.Service, s.Status, due, badge)
}

func (u *UI) caseList(list []cases.Summary) fyne.CanvasObject {
	lw := widget.NewList(func() int { return len(list) },
		func() fyne.CanvasObject { return widget.NewLabel("") },
		func(i widget.ListItemID, o fyne.CanvasObject) { o.(*widget.Label).SetText(caseRow(list[i])) })
	detail := widget.NewLabel("Vorgang auswählen")
	detail.Wrapping = fyne.TextWrapWord
	lw.OnSelected = func(i widget.ListItemID) {
		id := list[i].ID
		go func() {
			c, err := u.vlt.Case(id)
			fyne.Do(func() {
				if err != nil {
					detail.SetText("Der Vorgang kann nicht gelesen werden: " + err.Error())
					return
				}
				detail.SetText(caseText(c))
			})
		}()
	}
	lock := widget.NewButton("Sperren", func() {
		u.vlt.Lock()
		u.showUnlock("Gesperrt.")
	})
	top := container.NewBorder(nil, nil, widget.NewLabel(fmt.Sprintf("%d Vorgänge – angemeldet: %s", len(list), u.vlt.User())), lock)
	split := container.NewHSplit(lw, container.NewVScroll(detail))
	split.Offset = 0.55
	return container.NewBorder(top, nil, nil, nil, split)
}

// caseText is the detail pane's text of a case.
func caseText(c *cases.Case) string {
	s := fmt.Sprintf("Vorgang %s\nAktenzeichen: %s\nLeistung: %s\nStatus: %s\nAntragsteller/in: %s\nAnschrift: %s\nAngelegt: %s\n\n",
		c.ID, c.Aktenzeichen, c.Service, c.Status, c.Applicant.DisplayName(), c.Applicant.Address, c.Created.Local().Format("02.01.2006 15:04"))
	for _, k := range slices.Sorted(maps.Keys(c.Values)) {
		s += k + ": " + c.Values[k] + "\n"
	}
	for _, n := range c.Notes {
		s += "\nVermerk " + n.Created.Local().Format("02.01.2006") + ": " + n.Text
	}
	return s
}

// errOfflineTooLong: the device must check in with the portal before it unlocks.
var errOfflineTooLong = errors.New("Dieses Gerät war länger offline, als die Richtlinie erlaubt. Bitte mit dem Netz verbinden und synchronisieren (fieldoffice sync), dann entsperren.")
