package app

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	fsync "fieldoffice/sync"
)

// syncBar shows online/offline, last sync, pending changes and progress (to be built).
type syncBar struct {
	u     *UI
	label *widget.Label
}

func newSyncBar(u *UI) *syncBar { return &syncBar{u: u, label: widget.NewLabel("")} }

func (b *syncBar) widget() fyne.CanvasObject { return b.label }

// syncEvent and syncResult receive background sync's reports on the UI goroutine.
func (u *UI) syncEvent(ev fsync.Event)                             {}
func (u *UI) syncResult(reason string, s fsync.Summary, err error) {}
