package app

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// showMain shows content as a main screen: the navigation bar above (cases, new
// application, device, language, contrast, lock) and the sync bar below. name is the
// screen's title.
//
// The screen is never narrower than minWindow (a new content is first laid out at its
// minimum width, and text wrapped that narrow would make the window taller) and asks
// for no more height than minWindow's: with large text it scrolls (fit.go).
func (u *UI) showMain(name string, content fyne.CanvasObject) {
	u.setScreen(name, newMainFrame(container.NewBorder(u.navBar(), u.bar.widget(), nil, nil,
		newFrameMin(), u.locker.area(), content)))
}

// navBar is the bar above every main screen. Every action has a keyboard shortcut
// (shortcuts.go) and a label, so it works without a pointer and reads well to a
// screen reader later.
func (u *UI) navBar() fyne.CanvasObject {
	cases := widget.NewButtonWithIcon(tr("nav.cases"), theme.ListIcon(), u.showCases)
	capture := widget.NewButtonWithIcon(tr("nav.capture"), theme.ContentAddIcon(), u.newApplication)
	device := widget.NewButtonWithIcon(tr("nav.device"), theme.ComputerIcon(), u.showDevice)
	lang := widget.NewButton(tr("nav.language"), u.toggleLanguage)
	contrast := widget.NewButtonWithIcon(tr("nav.contrast"), theme.ColorPaletteIcon(), u.toggleContrast)
	lock := widget.NewButtonWithIcon(tr("nav.lock"), theme.LoginIcon(), u.lock)
	lock.Importance = widget.WarningImportance
	// One line on a 10" tablet; with large text the buttons wrap onto two.
	return container.New(&navLayout{split: 3, width: u.windowWidth}, cases, capture, device, lang, contrast, lock)
}

// toggleLanguage switches German ⇄ English, remembers it and redraws the screen.
func (u *UI) toggleLanguage() {
	next := LangEN
	if language() == LangEN {
		next = LangDE
	}
	setLanguage(next)
	u.app.Preferences().SetString(prefLanguage, next)
	u.refresh()
	u.updateMenu()
}

// toggleContrast switches the high-contrast theme.
func (u *UI) toggleContrast() {
	on := !u.app.Preferences().Bool(prefHighContrast)
	u.app.Preferences().SetBool(prefHighContrast, on)
	applyTheme(u.app, on, float32(u.app.Preferences().FloatWithFallback(prefTextScale, 1)))
	u.updateMenu()
}

// refresh rebuilds the current screen (after a language switch).
func (u *UI) refresh() {
	switch {
	case u.bar.wipe != nil:
		u.showWiped()
	case u.sess == nil && u.vlt != nil:
		u.showUnlock("")
	case u.detail != nil && u.detail.visible():
		u.detail.reload()
	case u.capture != nil && u.capture.visible():
		u.capture.reload()
	default:
		u.showCases()
	}
}
