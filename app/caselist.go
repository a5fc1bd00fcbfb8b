package app

import (
	"cmp"
	"errors"
	"image/color"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	stdsync "sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"fieldoffice/assets"
	"fieldoffice/cases"
	"fieldoffice/storage"
)

// The case list ("Vorgänge")
//
// The list shows the summaries the vault keeps decoded in memory (Vault.Cases), in a
// widget.List: only the visible rows exist as widgets, and a row is filled from the
// summary slice by index, so scrolling costs the same for 200 cases as for 100,000.
// Every vault call (Cases, Search) runs off the UI goroutine (goDo); each load has a
// generation number and a result whose generation is no longer current is dropped, so
// the last query typed wins. Typing in the search box waits listDebounce before it
// searches.
//
// Search and filters combine: the blind-index hits are filtered and sorted here with
// the same rules as storage.CaseQuery (listMatch, listSort). A new query shows a
// fresh list widget (at the top, keyboard focus on the first row); refreshList keeps
// the widget, so scroll position and focused row stay.

// listDebounce is how long the search waits after the last key.
const listDebounce = 200 * time.Millisecond

// Sort keys of storage.CaseQuery, in the order the sort menu offers them.
var listSortKeys = []string{"updated", "due", "aktenzeichen", "applicant", "status"}

// dueMode is the Wiedervorlage filter.
type dueMode int

const (
	dueAny      dueMode = iota // no filter
	dueOverdue                 // before today
	dueThisWeek                // up to this Sunday (overdue included)
	dueUntil                   // up to and including a day the user types
)

// listFilter is what the user chose above the list (the search text is kept apart).
type listFilter struct {
	status, service    string
	due                dueMode
	dueDate            string // ISO day for dueUntil ("" = no filter)
	unsynced, conflict bool
	sort               string // one of listSortKeys
	desc               bool
}

// defaultListFilter shows every case, most recently changed first.
func defaultListFilter() listFilter { return listFilter{sort: "updated", desc: true} }

// active counts the filters that narrow the list.
func (f listFilter) active() int {
	n := 0
	for _, on := range []bool{f.status != "", f.service != "", f.unsynced, f.conflict,
		f.due == dueOverdue || f.due == dueThisWeek || f.due == dueUntil && f.dueDate != ""} {
		if on {
			n++
		}
	}
	return n
}

// query turns the filter into a storage query; now decides "today" and "this week".
func (f listFilter) query(now time.Time) storage.CaseQuery {
	q := storage.CaseQuery{Status: f.status, Service: f.service, Unsynced: f.unsynced,
		Conflict: f.conflict, Sort: f.sort, Desc: f.desc}
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	switch f.due {
	case dueOverdue:
		q.DueBefore = cases.ISODate(today)
	case dueThisWeek:
		// Up to Sunday: before next Monday, 7 days ahead on a Monday … 1 on a Sunday.
		days := (8 - int(today.Weekday())) % 7
		if days == 0 {
			days = 7
		}
		q.DueBefore = cases.ISODate(today.AddDate(0, 0, days))
	case dueUntil:
		if d, err := cases.ParseDate(f.dueDate); err == nil && f.dueDate != "" {
			q.DueBefore = cases.ISODate(d.AddDate(0, 0, 1))
		}
	}
	return q
}

// caseList is the case list screen and its state for the session (UI.list): the
// filters and search text survive leaving the screen and coming back.
type caseList struct {
	trimmed bool // FreeOSMemory ran after the first load
	u       *UI
	forms   *listForms
	clock   func() time.Time // time.Now; tests fix the day
	open    func(id string)  // opens a case: u.openCase; tests record the call
	names   listNames        // service titles and state labels, per language

	filter   listFilter
	search   string           // the search box's text
	rows     []*cases.Summary // what the list shows, in order; shared with the vault: read only
	loaded   bool             // rows hold a load's result
	rowsFor  string           // the search text rows answer ("" = the filtered list)
	loadErr  error            // the last load failed
	gen      uint64           // generation of the newest load; older results are dropped
	shownGen uint64           // generation of the load the rows come from
	debounce *time.Timer
	todayISO string // for the overdue mark, set at each load
	services []string
	opened   string // the case last opened from the list

	rowUpdates int // calls of updateRow: a test checks it does not grow with the list

	cols *listColumns
	view *caseListView
	// widgets of the current screen (rebuilt by showCases, e.g. after a language switch)
	content    fyne.CanvasObject
	holder     *fyne.Container // holds view
	searchBox  *listSearchEntry
	count      *widget.Label
	notice     *widget.Label // "Vorgänge werden geladen …", "Keine Vorgänge gefunden."
	statusSel  *widget.Select
	serviceSel *widget.Select
	dueSel     *widget.Select
	dueDate    *widget.Entry
	unsynced   *widget.Check
	conflict   *widget.Check
	sortSel    *widget.Select
	dirBtn     *widget.Button
	filters    *fyne.Container // the filter bar
	filtersBtn *widget.Button  // shows and hides the filter bar
	filtersSet bool            // filtersShown was decided
	// filtersShown: the filter bar is open (on a narrow screen with large text it
	// starts closed; the button says how many filters are active).
	filtersShown bool
	statusIDs    []string // IDs behind statusSel's options ("" = alle)
	serviceIDs   []string // IDs behind serviceSel's options ("" = alle)
	setting      bool     // the code is setting widgets: their OnChanged must not reload
}

// newCaseList creates the list state for the session.
func newCaseList(u *UI) *caseList {
	var forms storage.Forms
	if u.sess != nil {
		forms = u.sess.forms
	}
	l := &caseList{u: u, forms: newListForms(forms), clock: time.Now, filter: defaultListFilter(), cols: &listColumns{}}
	l.open = func(id string) { u.openCase(id) }
	l.cols.width = u.windowWidth
	l.cols.changed = func() {
		// The rows' height changed (one line ⇄ two): after this layout pass, the list
		// measures its rows again.
		uiDo(func() {
			l.view.Refresh()
			if l.content != nil {
				l.content.Refresh()
			}
		})
	}
	l.view = l.newView()
	return l
}

// showCases shows the case list: the known rows at once, then a fresh load.
func (u *UI) showCases() {
	if u.sess == nil || u.vlt == nil {
		return
	}
	if u.list == nil {
		u.list = newCaseList(u)
	}
	l := u.list
	u.showMain(tr("screen.cases"), l.build())
	l.load(false)
	if l.opened != "" && len(l.rows) > 0 {
		u.win.Canvas().Focus(l.view) // back from a case: where the user was
	} else {
		u.win.Canvas().Focus(l.searchBox)
	}
}

// refreshList reloads the shown list after a change (a save, a sync that brought
// changes), keeping filters, search text, scroll position and the focused row. When
// the list is not on screen, the next showCases loads.
func (u *UI) refreshList() {
	if l := u.list; l != nil && l.onScreen() {
		l.load(false)
	}
}

// focusSearch puts the keyboard focus into the search box (Ctrl+F), showing the case
// list first when another screen is up.
func (u *UI) focusSearch() {
	if u.sess == nil {
		return
	}
	if u.list == nil || !u.list.onScreen() {
		u.showCases()
	}
	if u.list != nil && u.list.searchBox != nil {
		u.win.Canvas().Focus(u.list.searchBox)
	}
}

// onScreen reports whether the list is the window's current screen.
func (l *caseList) onScreen() bool {
	return l.u.list == l && l.content != nil && l.u.screen == tr("screen.cases")
}

// build creates the screen's widgets in the current language from the list's state.
func (l *caseList) build() fyne.CanvasObject {
	l.setting = true
	defer func() { l.setting = false }()

	l.searchBox = newListSearchEntry()
	l.searchBox.SetPlaceHolder(tr("list.search"))
	l.searchBox.SetText(l.search)
	l.searchBox.OnChanged = l.searchChanged
	l.searchBox.OnSubmitted = func(string) { l.focusList() }
	l.searchBox.onEscape = l.clearSearch
	l.searchBox.onDown = l.focusList
	l.searchBox.ActionItem = widget.NewButtonWithIcon("", theme.ContentClearIcon(), l.clearSearch)

	l.count = widget.NewLabel("")
	l.count.TextStyle.Bold = true
	l.notice = widget.NewLabel("")
	l.notice.Alignment = fyne.TextAlignCenter
	l.notice.Wrapping = fyne.TextWrapWord

	l.statusSel = widget.NewSelect(nil, func(string) { l.statusChosen() })
	l.serviceSel = widget.NewSelect(nil, func(string) { l.serviceChosen() })
	l.setFilterOptions()

	l.dueSel = widget.NewSelect([]string{tr("list.due.any"), tr("list.due.overdue"), tr("list.due.week"), tr("list.due.date")},
		func(string) { l.dueChosen() })
	l.dueSel.SetSelectedIndex(int(l.filter.due))
	l.dueDate = widget.NewEntry()
	l.dueDate.SetPlaceHolder(tr("list.due.placeholder"))
	l.dueDate.Validator = func(s string) error {
		if _, err := cases.ParseDate(s); s != "" && err != nil {
			return errors.New(tr("list.due.invalid"))
		}
		return nil
	}
	if l.filter.dueDate != "" {
		l.dueDate.SetText(formatISODate(l.filter.dueDate))
	}
	l.dueDate.OnChanged = l.dueDateTyped

	l.unsynced = widget.NewCheck(tr("list.filter.unsynced"), func(on bool) { l.setFilter(func(f *listFilter) { f.unsynced = on }) })
	l.unsynced.SetChecked(l.filter.unsynced)
	l.conflict = widget.NewCheck(tr("list.filter.conflict"), func(on bool) { l.setFilter(func(f *listFilter) { f.conflict = on }) })
	l.conflict.SetChecked(l.filter.conflict)

	sortLabels := []string{tr("list.sort.updated"), tr("list.sort.due"), tr("list.sort.aktenzeichen"),
		tr("list.sort.applicant"), tr("list.sort.status")} // as listSortKeys
	l.sortSel = widget.NewSelect(sortLabels, func(string) { l.sortChosen() })
	l.sortSel.SetSelectedIndex(max(0, slices.Index(listSortKeys, l.filter.sort)))
	l.dirBtn = widget.NewButton("", l.toggleDirection)
	l.showDirection()
	reset := widget.NewButtonWithIcon(tr("list.filter.reset"), theme.ContentUndoIcon(), l.resetFilters)

	labeled := func(key string, obj fyne.CanvasObject, ems float32) fyne.CanvasObject {
		return container.NewHBox(widget.NewLabel(tr(key)), container.New(&listMinWidth{ems: ems}, obj))
	}
	filters := container.New(&flowLayout{width: l.u.windowWidth},
		labeled("list.filter.status", l.statusSel, 11),
		labeled("list.filter.service", l.serviceSel, 15),
		container.NewHBox(widget.NewLabel(tr("list.filter.due")), container.New(&listMinWidth{ems: 10}, l.dueSel),
			container.New(&listMinWidth{ems: 9}, l.dueDate)),
		l.unsynced, l.conflict,
		labeled("list.sort", l.sortSel, 12),
		l.dirBtn, reset)

	if !l.filtersSet { // filters open, unless the screen is narrow for the text size
		l.filtersShown, l.filtersSet = !l.cols.compactAt(l.u.windowWidth()), true
	}
	l.filters = filters
	l.filtersBtn = widget.NewButton("", l.toggleFilters)
	l.showFilters()
	search := container.NewBorder(nil, nil, widget.NewIcon(theme.SearchIcon()),
		container.NewHBox(l.count, l.filtersBtn), l.searchBox)
	header := l.header()
	l.holder = container.NewStack(l.view)
	l.content = container.NewBorder(container.NewVBox(search, filters, header), nil, nil, nil,
		container.NewStack(l.holder, container.New(wrapCenter{}, l.notice)))
	l.showState()
	return l.content
}

// header is the column titles above the rows, laid out like a row.
func (l *caseList) header() fyne.CanvasObject {
	keys := []string{"list.col.aktenzeichen", "list.col.applicant", "list.col.service", "list.col.status", "list.col.due", "list.col.badges"}
	objs := make([]fyne.CanvasObject, len(keys))
	for i, k := range keys {
		lb := widget.NewLabelWithStyle(tr(k), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		lb.Truncation = fyne.TextTruncateEllipsis
		objs[i] = lb
	}
	return container.NewVBox(container.New(l.cols, objs...), widget.NewSeparator())
}

// newView creates the list widget over l.rows.
func (l *caseList) newView() *caseListView {
	v := &caseListView{}
	v.Length = func() int { return len(l.rows) }
	v.CreateItem = func() fyne.CanvasObject { return newCaseRow(l) }
	v.UpdateItem = l.updateRow
	v.OnSelected = func(i widget.ListItemID) {
		v.UnselectAll() // coming back, the same row opens again
		if i >= 0 && i < len(l.rows) {
			l.openRow(l.rows[i].ID)
		}
	}
	v.onEscape = func() { l.u.win.Canvas().Focus(l.searchBox) }
	v.ExtendBaseWidget(v)
	return v
}

// openRow opens case id (selection, Enter).
func (l *caseList) openRow(id string) {
	l.opened = id
	l.open(id)
}

// focusList moves the keyboard focus to the list (Enter or ↓ in the search box).
func (l *caseList) focusList() {
	if len(l.rows) > 0 {
		l.u.win.Canvas().Focus(l.view)
	}
}

// searchChanged runs on every key in the search box: the search starts when the user
// pauses (an empty box shows the filtered list at once).
func (l *caseList) searchChanged(text string) {
	if l.setting {
		return
	}
	l.search = text
	l.gen++ // a load in flight no longer answers the box's text
	if l.debounce != nil {
		l.debounce.Stop()
	}
	if strings.TrimSpace(text) == "" {
		l.load(true)
		return
	}
	gen := l.gen
	l.debounce = time.AfterFunc(listDebounce, func() {
		uiDo(func() {
			if gen == l.gen && l.u.list == l {
				l.load(true)
			}
		})
	})
}

// clearSearch empties the search box (Escape, the clear button).
func (l *caseList) clearSearch() {
	if l.searchBox != nil && l.searchBox.Text != "" {
		l.searchBox.SetText("") // OnChanged reloads
	}
}

// setFilter changes the filter and shows the new list.
func (l *caseList) setFilter(change func(*listFilter)) {
	if l.setting {
		return
	}
	change(&l.filter)
	l.load(true)
}

// statusChosen filters by the workflow state picked.
func (l *caseList) statusChosen() {
	i := l.statusSel.SelectedIndex()
	if i >= 0 && i < len(l.statusIDs) {
		l.setFilter(func(f *listFilter) { f.status = l.statusIDs[i] })
	}
}

// serviceChosen filters by the service picked; the status menu then offers its states.
func (l *caseList) serviceChosen() {
	i := l.serviceSel.SelectedIndex()
	if i < 0 || i >= len(l.serviceIDs) || l.setting {
		return
	}
	l.filter.service = l.serviceIDs[i]
	l.setFilterOptionsQuietly() // the states of the chosen service
	l.load(true)
}

// dueChosen applies the Wiedervorlage menu; "Datum" waits for a day in the field.
func (l *caseList) dueChosen() {
	if l.setting {
		return
	}
	mode := dueMode(max(0, l.dueSel.SelectedIndex()))
	l.filter.due = mode
	if mode != dueUntil && l.dueDate.Text != "" {
		l.setting = true
		l.dueDate.SetText("")
		l.setting = false
		l.filter.dueDate = ""
	}
	if mode == dueUntil && l.filter.dueDate == "" {
		l.u.win.Canvas().Focus(l.dueDate) // the day is still to type
		return
	}
	l.load(true)
}

// dueDateTyped applies a complete date typed into the Wiedervorlage field.
func (l *caseList) dueDateTyped(text string) {
	if l.setting {
		return
	}
	text = strings.TrimSpace(text)
	if text == "" {
		if l.filter.dueDate != "" {
			l.filter.dueDate = ""
			l.load(true)
		}
		return
	}
	d, err := cases.ParseDate(text)
	if err != nil {
		return // the entry shows why
	}
	l.filter.due, l.filter.dueDate = dueUntil, cases.ISODate(d)
	l.setting = true
	l.dueSel.SetSelectedIndex(int(dueUntil))
	l.setting = false
	l.load(true)
}

// sortChosen sorts by the key picked, newest first for "zuletzt geändert", else A→Z.
func (l *caseList) sortChosen() {
	i := l.sortSel.SelectedIndex()
	if i < 0 || l.setting {
		return
	}
	l.filter.sort = listSortKeys[i]
	l.filter.desc = l.filter.sort == "updated"
	l.showDirection()
	l.load(true)
}

// toggleDirection switches between ascending and descending.
func (l *caseList) toggleDirection() {
	l.filter.desc = !l.filter.desc
	l.showDirection()
	l.load(true)
}

// showDirection labels the direction button with the current order.
func (l *caseList) showDirection() {
	if l.filter.desc {
		l.dirBtn.SetText(tr("list.sort.desc"))
		l.dirBtn.SetIcon(theme.MoveDownIcon())
	} else {
		l.dirBtn.SetText(tr("list.sort.asc"))
		l.dirBtn.SetIcon(theme.MoveUpIcon())
	}
}

// toggleFilters opens or closes the filter bar.
func (l *caseList) toggleFilters() {
	l.filtersShown = !l.filtersShown
	l.showFilters()
	if l.content != nil {
		l.content.Refresh()
	}
}

// showFilters shows or hides the filter bar and labels its button with the number of
// active filters.
func (l *caseList) showFilters() {
	if l.filtersBtn == nil {
		return
	}
	text := tr("list.filters")
	if n := l.filter.active(); n > 0 {
		text = tr("list.filtersActive", n)
	}
	l.filtersBtn.SetText(text)
	if l.filtersShown {
		l.filtersBtn.SetIcon(theme.MenuDropUpIcon())
		l.filters.Show()
	} else {
		l.filtersBtn.SetIcon(theme.MenuDropDownIcon())
		l.filters.Hide()
	}
}

// resetFilters shows every case again (the search text stays).
func (l *caseList) resetFilters() {
	l.filter = defaultListFilter()
	l.setting = true
	l.setFilterOptions()
	l.dueSel.SetSelectedIndex(int(dueAny))
	l.dueDate.SetText("")
	l.unsynced.SetChecked(false)
	l.conflict.SetChecked(false)
	l.sortSel.SetSelectedIndex(0)
	l.showDirection()
	l.setting = false
	l.load(true)
}

// listLoad is what a load brings back to the UI goroutine.
type listLoad struct {
	rows     []*cases.Summary // shared with the vault (storage.Vault.CaseRefs): read only
	services []string         // every service of the forms and of the cases loaded
}

// load reads the list for the current filter and search text off the UI goroutine.
// fresh: the query changed, so the result shows in a new list widget at the top;
// otherwise the widget (scroll position, focused row) stays.
func (l *caseList) load(fresh bool) {
	u := l.u
	if u.sess == nil || u.vlt == nil {
		return
	}
	if l.debounce != nil {
		l.debounce.Stop()
	}
	l.gen++
	gen := l.gen
	now := l.clock()
	l.showFilters() // the number of active filters
	q, text := l.filter.query(now), strings.TrimSpace(l.search)
	v, forms := u.vlt, l.forms
	goDo(func() (listLoad, error) {
		return loadCaseList(v, forms, q, text)
	}, func(r listLoad, err error) {
		l.finish(listAnswer{gen: gen, now: now, text: text, fresh: fresh, load: r, err: err})
	})
}

// listAnswer is a load's result with what it answers.
type listAnswer struct {
	gen   uint64    // the load's generation
	now   time.Time // the day it filtered for
	text  string    // the search text it answers
	fresh bool      // a new query: a new list widget
	load  listLoad
	err   error
}

// finish shows a load's answer unless a newer load started or the session ended
// since: the last query wins, whichever answer comes first.
func (l *caseList) finish(a listAnswer) {
	if a.gen != l.gen || l.u.list != l {
		return
	}
	l.todayISO = a.now.Format(time.DateOnly)
	l.apply(a)
}

// loadCaseList runs off the UI goroutine: the filtered list, or the filtered and
// sorted search hits; and the services to offer in the filter.
func loadCaseList(v *storage.Vault, forms *listForms, q storage.CaseQuery, text string) (listLoad, error) {
	var r listLoad
	var err error
	if text == "" {
		r.rows, err = v.CaseRefs(q)
	} else {
		r.rows, err = v.SearchRefs(text, q)
	}
	if err != nil {
		return listLoad{}, err
	}
	seen := map[string]bool{}
	for _, s := range forms.services() {
		seen[s] = true
	}
	for i := range r.rows {
		seen[r.rows[i].Service] = true
	}
	for s := range seen {
		forms.schema(s) // looked up here, off the UI goroutine
		r.services = append(r.services, s)
	}
	slices.Sort(r.services)
	return r, nil
}

// apply shows a load's answer.
func (l *caseList) apply(a listAnswer) {
	defer func() { l.shownGen = max(l.shownGen, a.gen) }() // last: tests wait for it
	r, err := a.load, a.err
	if err != nil {
		if !errors.Is(err, storage.ErrLocked) {
			l.u.log.Error("load case list", "err", err)
		}
		l.loadErr = err
		l.showState()
		return
	}
	l.loadErr = nil
	l.rows, l.rowsFor, l.loaded = r.rows, a.text, true
	if more := slices.DeleteFunc(r.services, func(s string) bool { return slices.Contains(l.services, s) }); len(more) > 0 {
		l.services = slices.Sorted(slices.Values(append(l.services, more...)))
		l.setFilterOptionsQuietly()
	}
	if a.fresh {
		focused := l.u.win.Canvas().Focused() == fyne.Focusable(l.view)
		l.view = l.newView()
		l.holder.Objects = []fyne.CanvasObject{l.view}
		l.holder.Refresh()
		if focused {
			l.u.win.Canvas().Focus(l.view)
		}
	} else {
		l.view.Refresh()
	}
	l.showState()
	if f := l.u.hooks.listShown; f != nil {
		f(len(l.rows))
	}
	if !l.trimmed {
		// The first load decodes every summary: the sealed copies and decoding garbage
		// are gone now, and the file pages it read stay mapped. Hand both back to the
		// system instead of keeping them (RSS with 100,000 cases: docs/BENCHMARKS.md).
		l.trimmed = true
		v := l.u.vlt
		go func() {
			debug.FreeOSMemory()
			if err := v.TrimMemory(); err != nil {
				l.u.log.Debug("trim memory", "err", err)
			}
		}()
	}
}

// showState updates the count and the notice over the list.
func (l *caseList) showState() {
	if l.count == nil {
		return
	}
	switch {
	case l.loadErr != nil:
		l.count.SetText("")
		l.notice.SetText(tr("list.loadFailed") + "\n" + userMessage(l.loadErr))
		l.notice.Show()
	case !l.loaded:
		l.count.SetText("")
		l.notice.SetText(tr("list.loading"))
		l.notice.Show()
	case len(l.rows) == 0:
		l.count.SetText(listCountText(0))
		if l.rowsFor != "" {
			l.notice.SetText(tr("list.emptySearch", l.rowsFor))
		} else {
			l.notice.SetText(tr("list.empty"))
		}
		l.notice.Show()
	default:
		l.count.SetText(listCountText(len(l.rows)))
		l.notice.Hide()
	}
}

// listCountText is "1.234 Vorgänge" ("1,234 cases").
func listCountText(n int) string {
	switch n {
	case 0:
		return tr("list.count.none")
	case 1:
		return tr("list.count.one")
	}
	return tr("list.count", listGroupDigits(n))
}

// listGroupDigits writes n with thousands separators: 100.000 (German), 100,000
// (English).
func listGroupDigits(n int) string {
	sep := "."
	if language() == LangEN {
		sep = ","
	}
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(c)
	}
	return b.String()
}

// setFilterOptionsQuietly refreshes the filter menus without reloading.
func (l *caseList) setFilterOptionsQuietly() {
	if l.statusSel == nil {
		return
	}
	was := l.setting
	l.setting = true
	l.setFilterOptions()
	l.setting = was
}

// setFilterOptions fills the status and service menus from the known services and
// their workflows, keeping the choice. Callers set l.setting.
func (l *caseList) setFilterOptions() {
	if l.statusSel == nil {
		return
	}
	services := slices.Clone(l.services)
	slices.SortStableFunc(services, func(a, b string) int {
		return strings.Compare(storage.FoldName(l.title(a)), storage.FoldName(l.title(b)))
	})
	l.serviceIDs = append([]string{""}, services...)
	labels := []string{tr("list.filter.all")}
	for _, s := range services {
		labels = append(labels, l.title(s))
	}
	l.serviceSel.SetOptions(labels)
	l.serviceSel.SetSelectedIndex(max(0, slices.Index(l.serviceIDs, l.filter.service)))

	ids, names := l.statusOptions()
	if l.filter.status != "" && !slices.Contains(ids, l.filter.status) {
		ids, names = append(ids, l.filter.status), append(names, l.filter.status)
	}
	l.statusIDs = append([]string{""}, ids...)
	l.statusSel.SetOptions(append([]string{tr("list.filter.all")}, names...))
	l.statusSel.SetSelectedIndex(max(0, slices.Index(l.statusIDs, l.filter.status)))
}

// statusOptions lists the workflow states to filter by: those of the chosen service,
// or of every known service (in workflow order; a state whose label differs between
// services, like "Abgeschlossen (Ausweis ausgestellt)", shows without the part in
// parentheses).
func (l *caseList) statusOptions() (ids, labels []string) {
	services := l.services
	if l.filter.service != "" {
		services = []string{l.filter.service}
	}
	byID := map[string]string{}
	for _, svc := range services {
		s := l.forms.schema(svc)
		if s == nil || s.Workflow == nil {
			continue
		}
		for _, st := range s.Workflow.States {
			label := st.Label.In(language())
			prev, ok := byID[st.ID]
			switch {
			case !ok:
				ids = append(ids, st.ID)
				byID[st.ID] = label
			case prev != label:
				byID[st.ID] = listStripParens(prev)
			}
		}
	}
	for _, id := range ids {
		labels = append(labels, byID[id])
	}
	return ids, labels
}

// listStripParens drops a trailing " (…)" from a label.
func listStripParens(s string) string {
	if i := strings.Index(s, " ("); i > 0 && strings.HasSuffix(s, ")") {
		return s[:i]
	}
	return s
}

// updateRow fills row o with case i. It runs for visible rows only and does O(1)
// work: the summary by index, names from caches.
func (l *caseList) updateRow(i widget.ListItemID, o fyne.CanvasObject) {
	l.rowUpdates++
	r := o.(*caseRow)
	if i < 0 || i >= len(l.rows) {
		r.show(nil, rowTexts{})
		return
	}
	s := l.rows[i]
	n := l.namesNow()
	r.show(s, rowTexts{
		service:  l.title(s.Service),
		status:   l.stateLabel(s.Service, s.Status),
		due:      formatISODate(s.DueDate),
		overdue:  s.DueDate != "" && s.DueDate < l.todayISO,
		unsynced: n.unsynced,
		conflict: n.conflict,
		none:     n.none,
	})
}

// listNames caches what rows show in the current language.
type listNames struct {
	lang                     string
	titles                   map[string]string    // service → title
	states                   map[[2]string]string // service, state → label
	unsynced, conflict, none string
}

// namesNow returns the caches, emptied when the language changed.
func (l *caseList) namesNow() *listNames {
	if l.names.lang != language() || l.names.titles == nil {
		l.names = listNames{lang: language(), titles: map[string]string{}, states: map[[2]string]string{},
			unsynced: tr("list.badge.unsynced"), conflict: tr("list.badge.conflict"), none: tr("list.none")}
	}
	return &l.names
}

// title is the service's title from its form, e.g. "Anmeldung einer Wohnung".
func (l *caseList) title(service string) string {
	n := l.namesNow()
	t, ok := n.titles[service]
	if !ok {
		t = service
		if s := l.forms.schema(service); s != nil && s.Title.De != "" {
			t = s.Title.In(n.lang)
		}
		n.titles[service] = t
	}
	return t
}

// stateLabel is the workflow state's label, e.g. "In Bearbeitung".
func (l *caseList) stateLabel(service, state string) string {
	n := l.namesNow()
	k := [2]string{service, state}
	t, ok := n.states[k]
	if !ok {
		t = state
		if s := l.forms.schema(service); s != nil && s.Workflow != nil {
			if st, ok := s.Workflow.State(state); ok {
				t = st.Label.In(n.lang)
			}
		}
		n.states[k] = t
	}
	return t
}

// listForms looks each service's form up once (titles, workflow states). Safe for
// concurrent use; the loader calls it first, off the UI goroutine.
type listForms struct {
	mu    stdsync.Mutex
	forms storage.Forms
	byID  map[string]*cases.Schema // nil value: no form for the service
}

func newListForms(f storage.Forms) *listForms {
	return &listForms{forms: f, byID: map[string]*cases.Schema{}}
}

func (f *listForms) schema(service string) *cases.Schema {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.byID[service]
	if !ok && f.forms != nil {
		s, _ = f.forms.Schema(service)
		f.byID[service] = s
	}
	return s
}

// services lists the services the forms offer (the sample forms, on which the
// portal's forms fall back).
func (f *listForms) services() []string {
	if l, ok := f.forms.(interface{ Services() ([]string, error) }); ok {
		if s, err := l.Services(); err == nil {
			return s
		}
	}
	s, _ := assets.Schemas{}.Services()
	return s
}

// caseListView is the list widget: widget.List plus Enter to open the focused row,
// Page Up/Down, and Escape back to the search box.
type caseListView struct {
	widget.List
	onEscape func()
}

// TypedKey handles the list's keys; ↑/↓ and Space are widget.List's.
func (v *caseListView) TypedKey(ev *fyne.KeyEvent) {
	switch ev.Name {
	case fyne.KeyReturn, fyne.KeyEnter:
		v.List.TypedKey(&fyne.KeyEvent{Name: fyne.KeySpace}) // selects the focused row: opens it
	case fyne.KeyPageDown, fyne.KeyPageUp:
		step := &fyne.KeyEvent{Name: fyne.KeyDown}
		if ev.Name == fyne.KeyPageUp {
			step.Name = fyne.KeyUp
		}
		row := v.CreateItem().MinSize().Height + theme.Padding() // one or two lines
		for range max(1, int(v.Size().Height/row)-1) {
			v.List.TypedKey(step)
		}
	case fyne.KeyEscape:
		if v.onEscape != nil {
			v.onEscape()
		}
	default:
		v.List.TypedKey(ev)
	}
}

// listSearchEntry is the search box: Escape clears it, ↓ goes to the list.
type listSearchEntry struct {
	widget.Entry
	onEscape, onDown func()
}

func newListSearchEntry() *listSearchEntry {
	e := &listSearchEntry{}
	e.ExtendBaseWidget(e)
	return e
}

// TypedKey handles Escape and ↓; everything else is the entry's.
func (e *listSearchEntry) TypedKey(ev *fyne.KeyEvent) {
	switch {
	case ev.Name == fyne.KeyEscape && e.onEscape != nil:
		e.onEscape()
	case ev.Name == fyne.KeyDown && e.onDown != nil:
		e.onDown()
	default:
		e.Entry.TypedKey(ev)
	}
}

// listMinWidth gives its one object at least ems times the text size as width.
type listMinWidth struct{ ems float32 }

func (m *listMinWidth) MinSize(objs []fyne.CanvasObject) fyne.Size {
	s := objs[0].MinSize()
	return fyne.NewSize(max(s.Width, m.ems*theme.TextSize()), s.Height)
}

func (m *listMinWidth) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	objs[0].Move(fyne.Position{})
	objs[0].Resize(size)
}

// rowTexts is what a row shows besides the summary's own fields.
type rowTexts struct {
	service, status, due     string
	overdue                  bool
	unsynced, conflict, none string
}

// caseRow is one row of the list: Aktenzeichen, Antragsteller/in, Leistung, Status,
// Wiedervorlage (overdue: warning icon, bold, error colour) and the badges.
type caseRow struct {
	widget.BaseWidget
	id                                  string // the case shown
	az, applicant, service, status, due *widget.Label
	overdue                             *widget.Icon
	unsynced                            *listBadge
	conflict                            *conflictBadge
	dueBox, badgeBox                    *fyne.Container
	cells                               fyne.CanvasObject
}

func newCaseRow(l *caseList) *caseRow {
	label := func(bold bool) *widget.Label {
		lb := widget.NewLabel("")
		lb.Truncation = fyne.TextTruncateEllipsis
		lb.TextStyle.Bold = bold
		return lb
	}
	r := &caseRow{az: label(true), applicant: label(false), service: label(false), status: label(false), due: label(false)}
	r.overdue = widget.NewIcon(theme.NewErrorThemedResource(theme.WarningIcon()))
	r.overdue.Hide()
	r.unsynced = newListBadge(theme.UploadIcon(), false)
	r.unsynced.Hide()
	r.conflict = newConflictBadge(func() {
		if r.id != "" {
			l.u.resolveConflicts(r.id)
		}
	})
	r.conflict.Hide()
	r.dueBox = container.NewBorder(nil, nil, r.overdue, nil, r.due)
	r.badgeBox = container.New(listBadgeRow{}, r.conflict, r.unsynced)
	r.cells = container.New(l.cols, r.az, r.applicant, r.service, r.status, r.dueBox, r.badgeBox)
	r.ExtendBaseWidget(r)
	return r
}

// CreateRenderer shows the row's cells.
func (r *caseRow) CreateRenderer() fyne.WidgetRenderer { return widget.NewSimpleRenderer(r.cells) }

// show fills the row with s (nil: empty), refreshing only what changed.
func (r *caseRow) show(s *cases.Summary, t rowTexts) {
	if s == nil {
		s = &cases.Summary{}
		t = rowTexts{}
	}
	r.id = s.ID
	or := func(v string) string { return cmp.Or(v, t.none) }
	if s.ID == "" {
		or = func(v string) string { return v }
	}
	listSetLabel(r.az, or(s.Aktenzeichen))
	listSetLabel(r.applicant, or(s.Applicant))
	listSetLabel(r.service, t.service)
	listSetLabel(r.status, t.status)
	if due := or(t.due); r.due.Text != due || r.due.TextStyle.Bold != t.overdue {
		r.due.Text = due
		r.due.TextStyle.Bold = t.overdue
		r.due.Importance = widget.MediumImportance
		if t.overdue {
			r.due.Importance = widget.DangerImportance
		}
		r.due.Refresh()
	}
	relayout := listSetVisible(r.overdue, t.overdue)
	if relayout {
		r.dueBox.Refresh()
	}
	r.conflict.setText(t.conflict)
	r.unsynced.setText(t.unsynced)
	a := listSetVisible(r.conflict, s.Flags&cases.FlagConflict != 0)
	b := listSetVisible(r.unsynced, s.Flags&cases.FlagUnsynced != 0)
	if a || b {
		r.badgeBox.Refresh()
	}
}

// listSetLabel sets a label's text when it differs (a refresh costs more than a compare).
func listSetLabel(l *widget.Label, text string) {
	if l.Text != text {
		l.SetText(text)
	}
}

// listSetVisible shows or hides o and reports whether that changed anything.
func listSetVisible(o fyne.CanvasObject, show bool) bool {
	if o.Visible() == show {
		return false
	}
	if show {
		o.Show()
	} else {
		o.Hide()
	}
	return true
}

// listColumns lays out a row and the header. Aktenzeichen, Wiedervorlage and the
// badges get the width their content needs (measured once per language and text
// size); Antragsteller/in, Leistung and Status share the rest by weight. Where the
// row is narrower than listCompactEms text sizes (a 10" tablet with large text) a row
// takes two lines: Aktenzeichen, Antragsteller/in, Wiedervorlage above; Leistung,
// Status and the badges below.
type listColumns struct {
	measured string     // language and text size the widths are for
	fixed    [6]float32 // widths of the measured columns, 0 for the shared ones
	width    func() float32
	last     float32 // the width of the last layout (0: none yet, width() guesses)
	reported bool    // two lines, as MinSize last said
	changed  func()  // called when a layout finds the number of lines changed
}

// listColumnWeights share the width left by the measured columns.
var listColumnWeights = [6]float32{0, 1.5, 1.8, 1.3, 0, 0}

// The columns on one line, and on each of two lines.
var (
	listOneLine = []int{0, 1, 2, 3, 4, 5}
	listLine1   = []int{0, 1, 4}
	listLine2   = []int{2, 3, 5}
)

// listCompactEms: rows narrower than this many text sizes take two lines.
const listCompactEms = 64

// listSharedMin is the part of a line the shared columns get at least; the measured
// ones shrink (and truncate) when the line is too narrow for them.
const listSharedMin = 0.3

// compactAt reports whether rows of width w take two lines.
func (c *listColumns) compactAt(w float32) bool { return w > 0 && w < listCompactEms*theme.TextSize() }

// widths returns the measured columns' widths in the current language and theme.
func (c *listColumns) widths() *[6]float32 {
	k := language() + "/" + strconv.FormatFloat(float64(theme.TextSize()), 'f', -1, 32)
	if k == c.measured {
		return &c.fixed
	}
	c.measured = k
	bold := fyne.TextStyle{Bold: true}
	size, pad := theme.TextSize(), theme.Padding()
	inner := 2*theme.InnerPadding() + 2*pad // RichText truncates a little before the text would touch the edge
	az := max(fyne.MeasureText("MB-2026-000000", size, bold).Width, fyne.MeasureText(tr("list.col.aktenzeichen"), size, bold).Width)
	date := formatDate(time.Date(2026, 12, 28, 0, 0, 0, 0, time.UTC))
	due := max(theme.IconInlineSize()+pad+fyne.MeasureText(date, size, bold).Width, fyne.MeasureText(tr("list.col.due"), size, bold).Width)
	badges := listBadgeWidth(tr("list.badge.conflict")) + pad + listBadgeWidth(tr("list.badge.unsynced"))
	c.fixed = [6]float32{az + inner, 0, 0, 0, due + inner, badges}
	return &c.fixed
}

// MinSize: one or two lines high (as the width known so far asks); a width that never
// makes the window wider than its own minimum (the columns truncate instead).
func (c *listColumns) MinSize(objs []fyne.CanvasObject) fyne.Size {
	w := c.last
	if w <= 0 && c.width != nil {
		w = c.width()
	}
	c.reported = c.compactAt(w)
	var used, h float32
	for _, f := range c.widths() {
		used += f
	}
	for _, o := range objs {
		h = max(h, o.MinSize().Height)
	}
	if c.reported {
		return fyne.NewSize(used/4+6*theme.TextSize(), 2*h+theme.Padding())
	}
	return fyne.NewSize(used/2+9*theme.TextSize(), h)
}

// Layout places the columns on one line or two.
func (c *listColumns) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	c.last = size.Width
	compact := c.compactAt(size.Width)
	if compact != c.reported {
		c.reported = compact
		if c.changed != nil {
			c.changed()
		}
	}
	if !compact {
		c.line(objs, listOneLine, 0, size.Height, size.Width)
		return
	}
	h := (size.Height - theme.Padding()) / 2
	c.line(objs, listLine1, 0, h, size.Width)
	c.line(objs, listLine2, h+theme.Padding(), h, size.Width)
}

// line places the columns cols of objs side by side at y; the last takes the rest.
func (c *listColumns) line(objs []fyne.CanvasObject, cols []int, y, h, width float32) {
	pad := theme.Padding()
	fixed := c.widths()
	var sum, used float32
	for _, i := range cols {
		sum += listColumnWeights[i]
		used += fixed[i]
	}
	avail := max(0, width-pad*float32(len(cols)-1))
	scale := float32(1)
	if limit := (1 - listSharedMin) * avail; used > limit {
		scale = limit / used
	}
	share := max(0, avail-used*scale)
	var x float32
	for k, i := range cols {
		if i >= len(objs) {
			continue
		}
		w := fixed[i] * scale
		if w == 0 {
			w = share * listColumnWeights[i] / sum
		}
		if k == len(cols)-1 {
			w = max(w, width-x)
		}
		objs[i].Move(fyne.NewPos(x, y))
		objs[i].Resize(fyne.NewSize(max(0, w), h))
		x += w + pad
	}
}

// listBadgeRow places the visible badges side by side, each as wide as it needs as
// long as the row has room, then narrower (the badge shows its icon alone).
type listBadgeRow struct{}

func (listBadgeRow) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var h float32
	for _, o := range objs {
		h = max(h, o.MinSize().Height)
	}
	return fyne.NewSize(0, h)
}

func (listBadgeRow) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	var x float32
	for _, o := range objs {
		if !o.Visible() {
			continue
		}
		w := max(0, min(o.MinSize().Width, size.Width-x))
		o.Move(fyne.NewPos(x, 0))
		o.Resize(fyne.NewSize(w, size.Height))
		x += w + theme.Padding()
	}
}

// listBadge marks a row: an icon and a word in a frame ("nicht synchronisiert"), so
// the state does not rest on colour alone.
type listBadge struct {
	widget.BaseWidget
	icon  fyne.Resource
	text  string
	alert bool // error-coloured frame (conflict)
}

func newListBadge(icon fyne.Resource, alert bool) *listBadge {
	b := &listBadge{icon: icon, alert: alert}
	b.ExtendBaseWidget(b)
	return b
}

// setText changes the word (language switch).
func (b *listBadge) setText(s string) {
	if b.text != s {
		b.text = s
		b.Refresh()
	}
}

// CreateRenderer draws the frame, icon and word.
func (b *listBadge) CreateRenderer() fyne.WidgetRenderer {
	r := &listBadgeRenderer{b: b, frame: canvas.NewRectangle(color.Transparent), icon: widget.NewIcon(b.icon), text: canvas.NewText(b.text, color.Black)}
	r.Refresh()
	return r
}

// listBadgeMetrics are the badge's paddings and icon size in the current theme.
func listBadgeMetrics() (padX, padY, icon, gap float32) {
	return theme.InnerPadding() / 2, theme.InnerPadding() / 4, theme.IconInlineSize(), theme.InnerPadding() / 2
}

// listBadgeWidth is the width of a badge with text.
func listBadgeWidth(text string) float32 {
	padX, _, icon, gap := listBadgeMetrics()
	return 2*padX + icon + gap + fyne.MeasureText(text, theme.TextSize(), fyne.TextStyle{}).Width
}

type listBadgeRenderer struct {
	b     *listBadge
	frame *canvas.Rectangle
	icon  *widget.Icon
	text  *canvas.Text
}

func (r *listBadgeRenderer) Destroy() {}

func (r *listBadgeRenderer) Objects() []fyne.CanvasObject {
	return []fyne.CanvasObject{r.frame, r.icon, r.text}
}

func (r *listBadgeRenderer) MinSize() fyne.Size {
	_, padY, icon, _ := listBadgeMetrics()
	return fyne.NewSize(listBadgeWidth(r.b.text), max(icon, r.text.MinSize().Height)+2*padY)
}

func (r *listBadgeRenderer) Layout(size fyne.Size) {
	padX, _, icon, gap := listBadgeMetrics()
	r.text.Hidden = size.Width < listBadgeWidth(r.b.text) // too narrow: the icon alone
	h := min(size.Height, r.MinSize().Height)
	y := (size.Height - h) / 2
	r.frame.Move(fyne.NewPos(0, y))
	r.frame.Resize(fyne.NewSize(size.Width, h))
	r.icon.Move(fyne.NewPos(padX, y+(h-icon)/2))
	r.icon.Resize(fyne.NewSquareSize(icon))
	ts := r.text.MinSize()
	r.text.Move(fyne.NewPos(padX+icon+gap, y+(h-ts.Height)/2))
	r.text.Resize(ts)
}

func (r *listBadgeRenderer) Refresh() {
	th := r.b.Theme()
	v := fyne.CurrentApp().Settings().ThemeVariant()
	r.text.Text = r.b.text
	r.text.TextSize = th.Size(theme.SizeNameText)
	r.text.Color = th.Color(theme.ColorNameForeground, v)
	stroke := theme.ColorNamePrimary
	if r.b.alert {
		stroke = theme.ColorNameError
	}
	r.frame.StrokeColor = th.Color(stroke, v)
	r.frame.StrokeWidth = 1
	r.frame.CornerRadius = th.Size(theme.SizeNameInputRadius)
	r.icon.SetResource(r.b.icon)
	r.Layout(r.b.Size())
	r.frame.Refresh()
	r.text.Refresh()
}

// conflictBadge is the "Konflikt" badge: tapping it offers to resolve the conflict
// (by keyboard: open the case, the detail screen offers it too).
type conflictBadge struct {
	listBadge
	onTapped func()
}

func newConflictBadge(onTapped func()) *conflictBadge {
	b := &conflictBadge{listBadge: listBadge{icon: theme.NewErrorThemedResource(theme.WarningIcon()), alert: true}, onTapped: onTapped}
	b.ExtendBaseWidget(b)
	return b
}

// Tapped resolves the row's conflict.
func (b *conflictBadge) Tapped(*fyne.PointEvent) {
	if b.onTapped != nil {
		b.onTapped()
	}
}

// Cursor shows that the badge can be tapped.
func (b *conflictBadge) Cursor() desktop.Cursor { return desktop.PointerCursor }
