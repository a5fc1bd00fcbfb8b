package app

import (
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// caseList is the case list screen (to be built: search, filters, sort, badges).
type caseList struct{}

// showCases shows the case list.
func (u *UI) showCases() {
	u.showMain(tr("screen.cases"), container.NewCenter(widget.NewLabel(tr("screen.cases"))))
}

// refreshList reloads the list after a change (no-op until the list exists).
func (u *UI) refreshList() {}
