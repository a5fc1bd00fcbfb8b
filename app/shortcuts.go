package app

import (
	"fmt"
	"runtime"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
)

// The keyboard
//
// Shortcuts (Ctrl on Linux and Windows, ⌘ on macOS):
//
//	Ctrl+S  save the open case or the new application   u.saveCurrent
//	Ctrl+F  search in the case list                     u.focusSearch
//	Ctrl+R  synchronise now (also F5)                   u.syncNow
//	Ctrl+L  lock                                        u.lock
//	Ctrl+N  new application                             u.newApplication
//	Ctrl+D  device screen                               u.showDevice
//
// Why a menu bar: in Fyne 2.7 a focused widget that takes shortcuts (every Entry)
// receives all of them and drops the ones it does not know, so shortcuts registered
// on the canvas never fire while the cursor is in a text field (fyne-io/fyne#2627).
// Shortcuts of main-menu items are looked at before the focused widget, so the
// commands live in a main menu ("Datei", "Vorgänge", "Synchronisation", "Ansicht"),
// which is also how a keyboard user finds them (Alt or F10 opens it on Linux and
// Windows; macOS shows it in the system menu bar). The same shortcuts are registered on
// the canvas too, for drivers without a main menu (mobile keyboards, the test
// driver). F5 has no modifier, so Fyne does not treat it as a shortcut: it works
// through the canvas's key-down hook, i.e. while no text field has the focus; Ctrl+R
// always works. Tab and Shift+Tab move the focus, Enter and Space press the focused
// button; Escape is handled by each screen and dialog.

// command is one thing the keyboard and the menu do.
type command struct {
	key   fyne.KeyName
	label string // translation key of the menu item and of the list on the device screen
	run   func(u *UI)
}

// commands returns the shortcut commands in the order the device screen lists them.
func commands() []command {
	return []command{
		{fyne.KeyS, "menu.save", (*UI).saveCurrent},
		{fyne.KeyF, "menu.search", (*UI).focusSearch},
		{fyne.KeyR, "menu.syncNow", (*UI).syncNow},
		{fyne.KeyL, "menu.lock", (*UI).lock},
		{fyne.KeyN, "menu.newApplication", (*UI).newApplication},
		{fyne.KeyD, "menu.device", (*UI).showDevice},
	}
}

// commandNamed returns the command with the label key.
func commandNamed(label string) command {
	for _, c := range commands() {
		if c.label == label {
			return c
		}
	}
	panic("no command " + label)
}

// commandShortcut is the shortcut of c: Ctrl (⌘ on macOS) and its key.
func commandShortcut(c command) *desktop.CustomShortcut {
	return &desktop.CustomShortcut{KeyName: c.key, Modifier: fyne.KeyModifierShortcutDefault}
}

// installShortcuts registers the keyboard shortcuts on the window: as a main menu
// (see above), on the canvas, and F5 plus input tracking in the key-down hook.
func installShortcuts(u *UI) {
	c := u.win.Canvas()
	for _, cmd := range commands() {
		c.AddShortcut(commandShortcut(cmd), func(fyne.Shortcut) { u.runCommand(cmd) })
	}
	if dc, ok := c.(desktop.Canvas); ok {
		prev := dc.OnKeyDown()
		dc.SetOnKeyDown(func(ev *fyne.KeyEvent) {
			u.keyDown(ev)
			if prev != nil {
				prev(ev)
			}
		})
	}
	u.updateMenu()
}

// keyDown sees the keys pressed while no widget has the focus.
func (u *UI) keyDown(ev *fyne.KeyEvent) {
	u.locker.activity()
	switch {
	case ev.Name == fyne.KeyF5:
		u.runCommand(commandNamed("menu.syncNow"))
	case ev.Name == fyne.KeyEscape && u.detail != nil && u.detail.visible():
		u.detail.back()
	case ev.Name == fyne.KeyEscape && u.capture != nil && u.capture.visible():
		u.capture.cancelCapture()
	}
}

// runCommand runs a command of the keyboard or the menu. Commands that need a session
// do nothing while the app is locked.
func (u *UI) runCommand(c command) {
	u.locker.activity()
	if u.sess == nil && c.label != "menu.lock" {
		return
	}
	c.run(u)
}

// updateMenu builds the main menu for the current state and language. Call it after
// lock, unlock, a language switch and a change of contrast or text size.
func (u *UI) updateMenu() {
	u.win.SetMainMenu(u.mainMenu())
}

func (u *UI) mainMenu() *fyne.MainMenu {
	unlocked := u.sess != nil
	item := func(c command) *fyne.MenuItem {
		it := fyne.NewMenuItem(tr(c.label), func() { u.runCommand(c) })
		it.Shortcut = commandShortcut(c)
		it.Disabled = !unlocked
		return it
	}
	quit := fyne.NewMenuItem(tr("menu.quit"), func() { u.app.Quit() })
	quit.IsQuit = true
	file := fyne.NewMenu(tr("menu.file"),
		item(commandNamed("menu.newApplication")), item(commandNamed("menu.save")),
		fyne.NewMenuItemSeparator(), item(commandNamed("menu.lock")),
		fyne.NewMenuItemSeparator(), quit)

	list := fyne.NewMenuItem(tr("menu.caseList"), func() { u.runCommand(command{label: "menu.caseList", run: (*UI).showCases}) })
	list.Disabled = !unlocked
	cases := fyne.NewMenu(tr("menu.cases"), list, item(commandNamed("menu.search")))

	syncNow := item(commandNamed("menu.syncNow"))
	syncNow.Disabled = !unlocked || u.sess.bg == nil
	syncMenu := fyne.NewMenu(tr("menu.sync"), syncNow)

	hc := u.app.Preferences().Bool(prefHighContrast)
	contrast := fyne.NewMenuItem(tr("menu.contrast"), func() { u.setContrast(!hc) })
	contrast.Checked = hc
	scale := clampScale(float32(u.app.Preferences().FloatWithFallback(prefTextScale, 1)))
	var sizes []*fyne.MenuItem
	for _, s := range textScales {
		it := fyne.NewMenuItem(scaleLabel(s), func() { u.setTextScale(s) })
		it.Checked = s == scale
		sizes = append(sizes, it)
	}
	textSize := fyne.NewMenuItem(tr("menu.textSize"), nil)
	textSize.ChildMenu = fyne.NewMenu("", sizes...)
	lang := fyne.NewMenuItem(tr("nav.language"), u.menuToggleLanguage)
	view := fyne.NewMenu(tr("menu.view"), item(commandNamed("menu.device")), fyne.NewMenuItemSeparator(), contrast, textSize, lang)
	return fyne.NewMainMenu(file, cases, syncMenu, view)
}

// scaleLabel: "125 %" (German puts a space before the percent sign; English does not).
func scaleLabel(s float32) string {
	return tr("menu.percent", int(s*100+0.5))
}

// setTextScale sets, remembers and applies a text scale.
func (u *UI) setTextScale(s float32) {
	s = clampScale(s)
	u.app.Preferences().SetFloat(prefTextScale, float64(s))
	applyTheme(u.app, u.app.Preferences().Bool(prefHighContrast), s)
	u.updateMenu()
}

// setContrast switches high contrast on or off (toggleContrast of the navigation bar
// does the same).
func (u *UI) setContrast(on bool) {
	if u.app.Preferences().Bool(prefHighContrast) != on {
		u.toggleContrast()
	}
	u.updateMenu()
}

// menuToggleLanguage switches the language from the menu, also on screens without the
// navigation bar (unlock, after a wipe).
func (u *UI) menuToggleLanguage() {
	if u.bar.wipe != nil {
		next := LangEN
		if language() == LangEN {
			next = LangDE
		}
		setLanguage(next)
		u.app.Preferences().SetString(prefLanguage, next)
		u.showWiped()
	} else {
		u.toggleLanguage()
	}
	u.updateMenu()
}

// shortcutLabel writes a command's keys the way the keyboard is labelled: "Strg+S",
// "Ctrl+S", "⌘S".
func shortcutLabel(c command) string {
	if runtime.GOOS == "darwin" {
		return "⌘" + string(c.key)
	}
	return fmt.Sprintf("%s+%s", tr("keys.ctrl"), c.key)
}
