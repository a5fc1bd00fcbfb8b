package app

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
	stdsync "sync"
	"testing"

	"fyne.io/fyne/v2"
)

// The test driver runs UI callbacks on whatever goroutine calls fyne.Do. uiLock
// makes them take turns, as on the real UI goroutine; it is re-entrant per goroutine
// because a callback may itself run UI code that calls uiDo.
var uiLock reentrant

type reentrant struct {
	mu    stdsync.Mutex
	cond  *stdsync.Cond
	owner uint64
	depth int
}

func goid() uint64 {
	b := make([]byte, 64)
	b = b[:runtime.Stack(b, false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	n, _ := strconv.ParseUint(string(b[:bytes.IndexByte(b, ' ')]), 10, 64)
	return n
}

func (r *reentrant) lock() {
	id := goid()
	r.mu.Lock()
	if r.cond == nil {
		r.cond = stdsync.NewCond(&r.mu)
	}
	for r.depth > 0 && r.owner != id {
		r.cond.Wait()
	}
	r.owner = id
	r.depth++
	r.mu.Unlock()
}

func (r *reentrant) unlock() {
	r.mu.Lock()
	r.depth--
	if r.depth == 0 {
		r.owner = 0
		r.cond.Broadcast()
	}
	r.mu.Unlock()
}

// uiWait runs f as a UI callback and waits for it (tests use it instead of
// fyne.DoAndWait).
func uiWait(f func()) {
	fyne.DoAndWait(func() {
		uiLock.lock()
		defer uiLock.unlock()
		f()
	})
}

func TestMain(m *testing.M) {
	uiDo = func(f func()) {
		fyne.Do(func() {
			uiLock.lock()
			defer uiLock.unlock()
			f()
		})
	}
	os.Exit(m.Run())
}
