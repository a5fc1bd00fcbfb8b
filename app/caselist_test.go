package app

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"fieldoffice/assets"
	"fieldoffice/cases"
	"fieldoffice/storage"
)

// listTestCases is the size of the demo vault of the list tests.
const listTestCases = 300

// listSyncSome pretends the portal applied the create ops of the first synced demo
// cases, and answered the next conflicts ones with a conflict on one field.
func listSyncSome(t testing.TB, v *storage.Vault, synced, conflicts int) {
	t.Helper()
	ops, err := v.OutboxBatch(synced + conflicts)
	if err != nil || len(ops) != synced+conflicts {
		t.Fatalf("outbox: %d ops, %v", len(ops), err)
	}
	var out []storage.OpOutcome
	for i, op := range ops {
		c, err := v.Case(op.CaseID)
		if err != nil {
			t.Fatal(err)
		}
		p := c.Clone()
		p.Revision = 1
		r := storage.OpOutcome{OpID: op.OpID, Status: "applied"}
		if i >= synced {
			keys := slices.Sorted(func(yield func(string) bool) {
				for k := range p.Values {
					if !yield(k) {
						return
					}
				}
			})
			p.Values[keys[0]] += " (Portal)"
			r.Status, r.Conflicts = "conflict", []string{"values." + keys[0]}
		}
		if r.Case, err = json.Marshal(p); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	st, err := v.RecordResults(out)
	if err != nil || st.Applied != synced || st.Conflict != conflicts {
		t.Fatalf("RecordResults = %+v, %v", st, err)
	}
}

// listUI unlocks a vault of listTestCases demo cases (synced and conflicts as
// listSyncSome) and waits for the full list. shown receives the hook's counts.
func listUI(t *testing.T, synced, conflicts int) (u *UI, shown *[]int) {
	t.Helper()
	dir := newTestVault(t, listTestCases, func(v *storage.Vault) {
		if synced+conflicts > 0 {
			listSyncSome(t, v, synced, conflicts)
		}
	})
	u = newTestUI(t, dir)
	var counts []int
	u.hooks.listShown = func(n int) { counts = append(counts, n) }
	waitTitle(t, u, tr("screen.unlock"))
	uiWait(func() {
		test.Type(u.unlock.pin, testPIN)
		test.Tap(u.unlock.button)
	})
	waitTitle(t, u, tr("screen.cases"))
	listWait(t, u, "the full list", func(l *caseList) bool { return len(l.rows) == listTestCases })
	return u, &counts
}

// listWait waits until the list is loaded, no load is pending and cond holds.
func listWait(t *testing.T, u *UI, what string, cond func(l *caseList) bool) {
	t.Helper()
	waitFor(t, what, func() bool {
		l := u.list
		return l != nil && l.loaded && !l.pending() && cond(l)
	})
}

// pending reports whether a load or a debounced search has not answered yet.
func (l *caseList) pending() bool { return l.gen != l.shownGen }

// listRows returns a copy of the rows shown.
func listRows(u *UI) []cases.Summary {
	var rows []cases.Summary
	uiWait(func() {
		for _, s := range u.list.rows {
			rows = append(rows, *s)
		}
	})
	return rows
}

func listIDs(rows []cases.Summary) []string {
	ids := make([]string, len(rows))
	for i, s := range rows {
		ids[i] = s.ID
	}
	slices.Sort(ids)
	return ids
}

func TestListSearchNarrowsAndClears(t *testing.T) {
	u, shown := listUI(t, 0, 0)
	all := listRows(u)
	uiWait(func() {
		if got := u.list.count.Text; got != "300 Vorgänge" {
			t.Errorf("count = %q", got)
		}
		if len(*shown) == 0 || (*shown)[len(*shown)-1] != listTestCases {
			t.Errorf("listShown hook calls = %v", *shown)
		}
		if u.win.Canvas().Focused() != fyne.Focusable(u.list.searchBox) {
			t.Error("the search box does not have the focus after unlock")
		}
	})
	family, _, _ := strings.Cut(all[0].Applicant, ",")

	uiWait(func() { test.Type(u.list.searchBox, family) })
	listWait(t, u, "search results", func(l *caseList) bool { return l.rowsFor == family })
	hits := listRows(u)
	if len(hits) == 0 || len(hits) >= len(all) {
		t.Fatalf("search %q shows %d of %d cases", family, len(hits), len(all))
	}
	want, err := u.vlt.Search(family, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(listIDs(hits), listIDs(want)) {
		t.Errorf("search %q shows %d cases, the index has %d", family, len(hits), len(want))
	}
	for _, s := range all { // every case of that family is found
		if strings.HasPrefix(s.Applicant, family+",") && !slices.ContainsFunc(hits, func(h cases.Summary) bool { return h.ID == s.ID }) {
			t.Errorf("%s (%s) is missing from the hits", s.Aktenzeichen, s.Applicant)
		}
	}
	uiWait(func() {
		if got, want := u.list.count.Text, listCountText(len(hits)); got != want {
			t.Errorf("count = %q, want %q", got, want)
		}
	})

	// Escape clears the search: every case again.
	uiWait(func() { u.list.searchBox.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape}) })
	listWait(t, u, "the full list again", func(l *caseList) bool { return l.rowsFor == "" && len(l.rows) == len(all) })
	uiWait(func() {
		if u.list.searchBox.Text != "" {
			t.Errorf("search box after Escape = %q", u.list.searchBox.Text)
		}
	})

	// A name nobody has: an empty list that says so.
	uiWait(func() { test.Type(u.list.searchBox, "Xylophonbauer") })
	listWait(t, u, "no hits", func(l *caseList) bool { return l.rowsFor == "Xylophonbauer" })
	uiWait(func() {
		if len(u.list.rows) != 0 || !u.list.notice.Visible() || !strings.Contains(u.list.notice.Text, "Xylophonbauer") {
			t.Errorf("no hits: %d rows, notice %q (visible %v)", len(u.list.rows), u.list.notice.Text, u.list.notice.Visible())
		}
	})
}

func TestListStaleResultsDropped(t *testing.T) {
	u, shown := listUI(t, 0, 0)
	uiWait(func() {
		l := u.list
		before, view := len(*shown), l.view
		l.gen += 2 // two loads started: the user typed on
		l.finish(listAnswer{gen: l.gen - 1, now: time.Now(), text: "Müller", fresh: true, load: listLoad{rows: l.rows[:3]}})
		if len(l.rows) != listTestCases || l.rowsFor != "" || l.view != view || len(*shown) != before {
			t.Errorf("an overtaken answer shows: %d rows for %q, hook %v", len(l.rows), l.rowsFor, (*shown)[before:])
		}
		l.finish(listAnswer{gen: l.gen, now: time.Now(), text: "Weber", fresh: true, load: listLoad{rows: l.rows[:2]}})
		if len(l.rows) != 2 || l.rowsFor != "Weber" || l.view == view || !slices.Equal((*shown)[before:], []int{2}) {
			t.Errorf("the newest answer: %d rows for %q, hook %v", len(l.rows), l.rowsFor, (*shown)[before:])
		}
		u.list = nil // locked meanwhile
		l.gen++
		l.finish(listAnswer{gen: l.gen, now: time.Now(), load: listLoad{rows: l.rows[:1]}})
		if len(l.rows) != 2 {
			t.Error("an answer after the session ended shows")
		}
	})
}

func TestListFilters(t *testing.T) {
	const synced, conflicts = 40, 3
	u, _ := listUI(t, synced, conflicts)
	l := u.list
	today := time.Now().Format(time.DateOnly)
	check := func(what string, set func(), ok func(cases.Summary) bool, wantN int) []cases.Summary {
		t.Helper()
		var gen uint64
		uiWait(func() { set(); gen = l.gen })
		listWait(t, u, what, func(l *caseList) bool { return l.shownGen >= gen })
		rows := listRows(u)
		if len(rows) == 0 || len(rows) >= listTestCases && wantN != listTestCases {
			t.Errorf("%s: %d rows", what, len(rows))
		}
		if wantN >= 0 && len(rows) != wantN {
			t.Errorf("%s: %d rows, want %d", what, len(rows), wantN)
		}
		for _, s := range rows {
			if !ok(s) {
				t.Errorf("%s: %s (%s, %s, due %q, flags %b) does not belong", what, s.Aktenzeichen, s.Service, s.Status, s.DueDate, s.Flags)
				break
			}
		}
		return rows
	}
	all := func(cases.Summary) bool { return true }

	i := slices.Index(l.statusIDs, "in_bearbeitung")
	if i < 0 {
		t.Fatalf("status options %v lack in_bearbeitung", l.statusIDs)
	}
	uiWait(func() {
		if got := l.statusSel.Options[i]; got != "In Bearbeitung" {
			t.Errorf("status option = %q", got)
		}
		if !slices.Contains(l.statusSel.Options, "Abgeschlossen") {
			t.Errorf("status options %v: no common label for abgeschlossen", l.statusSel.Options)
		}
	})
	check("status", func() { l.statusSel.SetSelectedIndex(i) },
		func(s cases.Summary) bool { return s.Status == "in_bearbeitung" }, -1)
	check("status reset", func() { l.statusSel.SetSelectedIndex(0) }, all, listTestCases)

	j := slices.Index(l.serviceIDs, "anmeldung")
	uiWait(func() {
		if got := l.serviceSel.Options[j]; got != "Anmeldung einer Wohnung" {
			t.Errorf("service option = %q", got)
		}
	})
	check("service", func() { l.serviceSel.SetSelectedIndex(j) },
		func(s cases.Summary) bool { return s.Service == "anmeldung" }, -1)
	uiWait(func() {
		if !slices.Contains(l.statusSel.Options, "Abgeschlossen (Meldebestätigung erteilt)") {
			t.Errorf("with a service chosen, status options = %v", l.statusSel.Options)
		}
	})
	check("service reset", func() { l.serviceSel.SetSelectedIndex(0) }, all, listTestCases)

	check("unsynced", func() { l.unsynced.SetChecked(true) },
		func(s cases.Summary) bool { return s.Flags&cases.FlagUnsynced != 0 }, listTestCases-synced-conflicts)
	check("unsynced off", func() { l.unsynced.SetChecked(false) }, all, listTestCases)
	check("conflict", func() { l.conflict.SetChecked(true) },
		func(s cases.Summary) bool { return s.Flags&cases.FlagConflict != 0 }, conflicts)
	check("conflict off", func() { l.conflict.SetChecked(false) }, all, listTestCases)

	check("overdue", func() { l.dueSel.SetSelectedIndex(int(dueOverdue)) },
		func(s cases.Summary) bool { return s.DueDate != "" && s.DueDate < today }, -1)
	far := check("due until a typed day", func() { test.Type(l.dueDate, "31.12.2099") },
		func(s cases.Summary) bool { return s.DueDate != "" && s.DueDate <= "2099-12-31" }, -1)
	uiWait(func() {
		if l.dueSel.SelectedIndex() != int(dueUntil) {
			t.Errorf("typing a day selects %q", l.dueSel.Selected)
		}
	})

	// Search and filter together: the hits of the filter.
	family, _, _ := strings.Cut(far[0].Applicant, ",")
	uiWait(func() { test.Type(l.searchBox, family) })
	listWait(t, u, "search within the filter", func(l *caseList) bool { return l.rowsFor == family })
	for _, s := range listRows(u) {
		if s.DueDate == "" {
			t.Errorf("search %q with due filter shows %s without Wiedervorlage", family, s.Aktenzeichen)
		}
	}
	check("search cleared", func() { l.searchBox.SetText("") },
		func(s cases.Summary) bool { return s.DueDate != "" && s.DueDate <= "2099-12-31" }, len(far))
	check("reset", func() { l.resetFilters() }, all, listTestCases)
	uiWait(func() {
		if l.dueDate.Text != "" || l.dueSel.SelectedIndex() != int(dueAny) {
			t.Errorf("after reset: due %q / %q", l.dueSel.Selected, l.dueDate.Text)
		}
	})
}

func TestListSortOrders(t *testing.T) {
	u, _ := listUI(t, 0, 0)
	l := u.list
	sortBy := func(key string) []cases.Summary {
		t.Helper()
		var gen uint64
		uiWait(func() {
			l.sortSel.SetSelectedIndex(slices.Index(listSortKeys, key))
			gen = l.gen
		})
		listWait(t, u, "sorted by "+key, func(l *caseList) bool { return l.shownGen >= gen })
		return listRows(u)
	}
	toggle := func() []cases.Summary {
		t.Helper()
		var gen uint64
		uiWait(func() { test.Tap(l.dirBtn); gen = l.gen })
		listWait(t, u, "other direction", func(l *caseList) bool { return l.shownGen >= gen })
		return listRows(u)
	}
	rows := sortBy("aktenzeichen")
	if !sort.SliceIsSorted(rows, func(i, j int) bool { return rows[i].Aktenzeichen < rows[j].Aktenzeichen }) {
		t.Error("not sorted by Aktenzeichen ascending")
	}
	uiWait(func() {
		if l.dirBtn.Text != "aufsteigend" {
			t.Errorf("direction button = %q", l.dirBtn.Text)
		}
	})
	rows = toggle()
	if !sort.SliceIsSorted(rows, func(i, j int) bool { return rows[i].Aktenzeichen > rows[j].Aktenzeichen }) {
		t.Error("not sorted by Aktenzeichen descending")
	}
	rows = sortBy("due")
	firstEmpty := slices.IndexFunc(rows, func(s cases.Summary) bool { return s.DueDate == "" })
	if firstEmpty <= 0 || slices.ContainsFunc(rows[firstEmpty:], func(s cases.Summary) bool { return s.DueDate != "" }) {
		t.Errorf("sort by due: cases without Wiedervorlage not last (first at %d)", firstEmpty)
	}
	if !sort.SliceIsSorted(rows[:firstEmpty], func(i, j int) bool { return rows[i].DueDate < rows[j].DueDate }) {
		t.Error("not sorted by Wiedervorlage")
	}
	rows = sortBy("updated")
	if !sort.SliceIsSorted(rows, func(i, j int) bool { return rows[i].Updated.After(rows[j].Updated) }) {
		t.Error("zuletzt geändert: not newest first")
	}
	rows = sortBy("applicant")
	if !sort.SliceIsSorted(rows, func(i, j int) bool {
		return storage.FoldName(rows[i].Applicant) < storage.FoldName(rows[j].Applicant) ||
			storage.FoldName(rows[i].Applicant) == storage.FoldName(rows[j].Applicant) && rows[i].ID < rows[j].ID
	}) {
		t.Error("not sorted by applicant")
	}

	// Search hits are sorted here like the vault sorts the list.
	all, err := u.vlt.Cases(storage.CaseQuery{})
	if err != nil {
		t.Fatal(err)
	}
	plain := slices.Clone(all)
	ids := map[string]bool{}
	for _, s := range plain {
		ids[s.ID] = true
	}
	for _, key := range listSortKeys {
		for _, desc := range []bool{false, true} {
			want, err := u.vlt.Cases(storage.CaseQuery{Sort: key, Desc: desc})
			if err != nil {
				t.Fatal(err)
			}
			want = slices.DeleteFunc(want, func(s cases.Summary) bool { return !ids[s.ID] })
			got := slices.Clone(plain)
			storage.SortSummaries(got, storage.CaseQuery{Sort: key, Desc: desc})
			if !slices.EqualFunc(got, want, func(a, b cases.Summary) bool { return a.ID == b.ID }) {
				t.Errorf("SortSummaries(%s, desc %v) differs from the vault's order", key, desc)
			}
		}
	}
}

// listVisibleRows returns the filled rows the list shows.
func listVisibleRows(l *caseList) []*caseRow {
	var rows []*caseRow
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if !o.Visible() {
			return
		}
		switch x := o.(type) {
		case *caseRow:
			if x.id != "" {
				rows = append(rows, x)
			}
			return
		case *fyne.Container:
			for _, c := range x.Objects {
				walk(c)
			}
		case fyne.Widget:
			for _, c := range test.WidgetRenderer(x).Objects() {
				walk(c)
			}
		}
	}
	walk(l.view)
	return rows
}

func TestListBadges(t *testing.T) {
	u, _ := listUI(t, 40, 3)
	l := u.list
	var gen uint64
	uiWait(func() { l.conflict.SetChecked(true); gen = l.gen })
	listWait(t, u, "conflicts only", func(l *caseList) bool { return l.shownGen >= gen })
	uiWait(func() {
		rows := listVisibleRows(l)
		if len(rows) != 3 {
			t.Fatalf("%d rows visible, want 3", len(rows))
		}
		for _, r := range rows {
			if !r.conflict.Visible() || r.conflict.text != "Konflikt" || r.unsynced.Visible() {
				t.Errorf("row %s: conflict badge %v %q, unsynced badge %v", r.az.Text, r.conflict.Visible(), r.conflict.text, r.unsynced.Visible())
			}
		}
		l.conflict.SetChecked(false)
		l.unsynced.SetChecked(true)
		gen = l.gen
	})
	listWait(t, u, "unsynced only", func(l *caseList) bool { return l.shownGen >= gen })
	uiWait(func() {
		rows := listVisibleRows(l)
		if len(rows) == 0 {
			t.Fatal("no rows visible")
		}
		for _, r := range rows {
			if !r.unsynced.Visible() || r.unsynced.text != "nicht synchronisiert" || r.conflict.Visible() {
				t.Errorf("row %s: unsynced badge %v %q, conflict badge %v", r.az.Text, r.unsynced.Visible(), r.unsynced.text, r.conflict.Visible())
			}
		}
	})
}

func TestListKeyboardAndSelectionOpenCase(t *testing.T) {
	u, _ := listUI(t, 0, 0)
	l := u.list
	var opened []string
	uiWait(func() {
		l.open = func(id string) { opened = append(opened, id) }
		c := u.win.Canvas()
		// Enter in the search box goes to the list; ↓ ↓ Enter opens the third row.
		l.searchBox.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
		if c.Focused() != fyne.Focusable(l.view) {
			t.Fatalf("focus after Enter in the search box: %T", c.Focused())
		}
		l.view.TypedKey(&fyne.KeyEvent{Name: fyne.KeyDown})
		l.view.TypedKey(&fyne.KeyEvent{Name: fyne.KeyDown})
		l.view.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
		l.view.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn}) // again: the same case again
		// A tap (selection) opens the case too.
		l.view.Select(5)
		// Escape goes back to the search box.
		l.view.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
		if c.Focused() != fyne.Focusable(l.searchBox) {
			t.Errorf("focus after Escape in the list: %T", c.Focused())
		}
	})
	rows := listRows(u)
	want := []string{rows[2].ID, rows[2].ID, rows[5].ID}
	if !slices.Equal(opened, want) {
		t.Errorf("opened %v, want %v", opened, want)
	}

	// Tab goes from the search box through the filters to the list.
	uiWait(func() {
		c := u.win.Canvas()
		c.Focus(l.searchBox)
		var seen []string
		for range 30 {
			test.FocusNext(c)
			seen = append(seen, fmt.Sprintf("%T", c.Focused()))
			if c.Focused() == fyne.Focusable(l.view) {
				break
			}
		}
		if c.Focused() != fyne.Focusable(l.view) {
			t.Errorf("Tab from the search box never reaches the list: %v", seen)
		}
		for _, w := range []fyne.Focusable{l.statusSel, l.serviceSel, l.dueSel, l.dueDate, l.unsynced, l.conflict, l.sortSel} {
			if !slices.Contains(seen, fmt.Sprintf("%T", w)) {
				t.Errorf("Tab skips %T", w)
			}
		}
	})

	// focusSearch (Ctrl+F) puts the focus into the search box.
	uiWait(func() {
		u.win.Canvas().Focus(l.view)
		u.focusSearch()
		if u.win.Canvas().Focused() != fyne.Focusable(l.searchBox) {
			t.Errorf("focusSearch: focus on %T", u.win.Canvas().Focused())
		}
	})
}

func TestListRefreshKeepsStateAndScroll(t *testing.T) {
	u, _ := listUI(t, 0, 0)
	l := u.list
	var gen uint64
	var view *caseListView
	uiWait(func() {
		l.unsynced.SetChecked(true)
		gen = l.gen
	})
	listWait(t, u, "filtered", func(l *caseList) bool { return l.shownGen >= gen })
	uiWait(func() {
		l.view.ScrollToOffset(800)
		view = l.view
		u.refreshList()
		gen = l.gen
	})
	listWait(t, u, "refreshed", func(l *caseList) bool { return l.shownGen >= gen })
	uiWait(func() {
		if l.view != view || l.view.GetScrollOffset() != 800 || !l.filter.unsynced || !l.unsynced.Checked {
			t.Errorf("after refreshList: same widget %v, offset %v, filter %v", l.view == view, l.view.GetScrollOffset(), l.filter.unsynced)
		}
		// Leaving and coming back keeps filters and scroll position too.
		u.showCases()
		gen = l.gen
	})
	listWait(t, u, "shown again", func(l *caseList) bool { return l.shownGen >= gen })
	uiWait(func() {
		if l.view != view || l.view.GetScrollOffset() != 800 || !l.unsynced.Checked {
			t.Errorf("after showCases: same widget %v, offset %v, checked %v", l.view == view, l.view.GetScrollOffset(), l.unsynced.Checked)
		}
	})
}

// listFixture builds the list screen without a vault, on rows, in a test window.
func listFixture(t *testing.T, rows []cases.Summary, size fyne.Size) (*caseList, fyne.Window) {
	t.Helper()
	a := test.NewTempApp(t)
	u := &UI{app: a, log: slog.Default(), sess: &session{forms: assets.Schemas{}}}
	l := newCaseList(u)
	l.clock = func() time.Time { return time.Date(2026, 3, 11, 10, 0, 0, 0, time.Local) }
	l.todayISO = "2026-03-11"
	l.services, _ = assets.Schemas{}.Services()
	for i := range rows {
		l.rows = append(l.rows, &rows[i])
	}
	l.loaded = true
	u.list = l
	w := test.NewTempWindow(t, nil)
	w.Resize(size)
	u.win = w
	w.SetContent(l.build())
	return l, w
}

// listSample is a small list with every kind of row.
func listSample() []cases.Summary {
	at := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	return []cases.Summary{
		{ID: "1", Aktenzeichen: "MB-2026-000101", Applicant: "Schäfer, Anna", Service: "anmeldung", Status: "eingegangen", DueDate: "2026-03-20", Updated: at, Flags: cases.FlagUnsynced},
		{ID: "2", Aktenzeichen: "MB-2026-000102", Applicant: "Yılmaz, Mehmet", Service: "personalausweis", Status: "abholbereit", DueDate: "2026-03-02", Updated: at},
		{ID: "3", Aktenzeichen: "MB-2026-000103", Applicant: "Bäckerei Krüger GmbH", Service: "gewerbeanmeldung", Status: "rueckfrage", DueDate: "2026-03-09", Updated: at, Flags: cases.FlagConflict | cases.FlagUnsynced},
		{ID: "4", Aktenzeichen: "", Applicant: "Nguyen, Lan", Service: "bewohnerparkausweis", Status: "in_bearbeitung", Updated: at, Flags: cases.FlagConflict},
	}
}

func TestListGoldenMarkup(t *testing.T) {
	setLanguage(LangDE)
	_, w := listFixture(t, listSample(), fyne.NewSize(1100, 420))
	w.Canvas().Unfocus() // a focused entry's cursor blinks: its colour at capture time varies
	test.AssertRendersToMarkup(t, "list/small.xml", w.Canvas())
}

func TestListRowUpdatesDoNotGrowWithLength(t *testing.T) {
	rows := func(n int) []cases.Summary {
		base := listSample()
		out := make([]cases.Summary, n)
		for i := range out {
			out[i] = base[i%len(base)]
			out[i].ID = fmt.Sprint(i)
			out[i].Aktenzeichen = fmt.Sprintf("MB-2026-%06d", i)
		}
		return out
	}
	scroll := func(n int) (updates int, shown int) {
		l, _ := listFixture(t, rows(n), fyne.NewSize(1100, 600))
		step := l.view.CreateItem().MinSize().Height * 3.5
		l.rowUpdates = 0
		for i := range 40 { // 140 rows down: inside both lists
			l.view.ScrollToOffset(float32(i) * step)
		}
		return l.rowUpdates, len(listVisibleRows(l))
	}
	small, visible := scroll(200)
	large, _ := scroll(2000)
	if small != large {
		t.Errorf("scrolling the same distance updated %d rows of 200 cases and %d of 2,000", small, large)
	}
	if limit := 40 * (visible + 2); large > limit || large == 0 {
		t.Errorf("%d row updates for 40 scroll steps with %d rows visible (limit %d)", large, visible, limit)
	}
}

func TestListCountAndQuery(t *testing.T) {
	defer setLanguage(LangDE)
	setLanguage(LangDE)
	for n, want := range map[int]string{0: "Keine Vorgänge", 1: "1 Vorgang", 12: "12 Vorgänge", 1234: "1.234 Vorgänge", 100000: "100.000 Vorgänge"} {
		if got := listCountText(n); got != want {
			t.Errorf("listCountText(%d) = %q, want %q", n, got, want)
		}
	}
	setLanguage(LangEN)
	if got := listCountText(1234567); got != "1,234,567 cases" {
		t.Errorf("English count = %q", got)
	}

	wed := time.Date(2026, 3, 11, 15, 0, 0, 0, time.Local)
	for _, c := range []struct {
		f    listFilter
		now  time.Time
		want string
	}{
		{listFilter{due: dueOverdue}, wed, "2026-03-11"},
		{listFilter{due: dueThisWeek}, wed, "2026-03-16"},
		{listFilter{due: dueThisWeek}, wed.AddDate(0, 0, -2), "2026-03-16"}, // Monday
		{listFilter{due: dueThisWeek}, wed.AddDate(0, 0, 4), "2026-03-16"},  // Sunday
		{listFilter{due: dueUntil, dueDate: "2026-03-31"}, wed, "2026-04-01"},
		{listFilter{due: dueUntil}, wed, ""},
		{listFilter{}, wed, ""},
	} {
		if got := c.f.query(c.now).DueBefore; got != c.want {
			t.Errorf("%+v on %s: DueBefore %q, want %q", c.f, c.now.Weekday(), got, c.want)
		}
	}
	if got := storage.FoldName("Meyer-Lüdenscheidt, Jörg"); got != "meyer luedenscheidt joerg" {
		t.Errorf("FoldName = %q", got)
	}
}

func TestListNarrowScreenTwoLines(t *testing.T) {
	l, w := listFixture(t, listSample(), fyne.NewSize(720, 500)) // narrow for 100 % text
	if l.filtersShown || l.filters.Visible() {
		t.Error("the filter bar is open on a narrow screen")
	}
	if w.Content().MinSize().Width > 720 {
		t.Errorf("the list needs %v, more than the window", w.Content().MinSize())
	}
	rows := listVisibleRows(l)
	if len(rows) == 0 {
		t.Fatal("no rows")
	}
	r := rows[0]
	if r.service.Position().Y <= r.az.Position().Y || r.az.Size().Width <= 0 || r.service.Size().Width <= 0 {
		t.Errorf("row not on two lines: Aktenzeichen at %v, Leistung at %v", r.az.Position(), r.service.Position())
	}
	test.Tap(l.filtersBtn)
	if !l.filters.Visible() || l.filtersBtn.Text != "Filter" {
		t.Errorf("filter button: bar visible %v, text %q", l.filters.Visible(), l.filtersBtn.Text)
	}
	l.filter.conflict = true
	l.showFilters()
	if l.filtersBtn.Text != "Filter (1)" {
		t.Errorf("with one filter the button says %q", l.filtersBtn.Text)
	}
	w.Resize(fyne.NewSize(1200, 500)) // wide: one line again
	r = listVisibleRows(l)[0]
	if r.service.Position().Y != r.az.Position().Y {
		t.Errorf("wide window: Aktenzeichen at %v, Leistung at %v", r.az.Position(), r.service.Position())
	}
}

func TestListPageKeys(t *testing.T) {
	rows := make([]cases.Summary, 100)
	for i := range rows {
		rows[i] = listSample()[i%4]
		rows[i].ID = fmt.Sprint(i)
	}
	l, w := listFixture(t, rows, fyne.NewSize(1100, 600))
	var opened []string
	l.open = func(id string) { opened = append(opened, id) }
	w.Canvas().Focus(l.view)
	page := len(listVisibleRows(l))
	l.view.TypedKey(&fyne.KeyEvent{Name: fyne.KeyPageDown}) // to the bottom of the page
	l.view.TypedKey(&fyne.KeyEvent{Name: fyne.KeyPageDown}) // a page further
	l.view.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEnter})
	if len(opened) != 1 {
		t.Fatalf("Page Down ×2, Enter opened %v", opened)
	}
	if n, _ := strconv.Atoi(opened[0]); n < page {
		t.Fatalf("Page Down ×2, Enter with %d rows a page opened %v", page, opened)
	}
	if l.view.GetScrollOffset() <= 0 {
		t.Error("Page Down did not scroll")
	}
	l.view.TypedKey(&fyne.KeyEvent{Name: fyne.KeyPageUp})
	l.view.TypedKey(&fyne.KeyEvent{Name: fyne.KeyPageUp})
	l.view.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEnter})
	if len(opened) != 2 || opened[1] != "0" {
		t.Errorf("Page Up ×2, Enter opened %v", opened)
	}
}
