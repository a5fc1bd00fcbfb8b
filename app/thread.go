package app

import (
	"time"

	"fyne.io/fyne/v2"
)

// uiDo runs f on the UI goroutine (fyne.Do). Every update of widgets from another
// goroutine goes through it. Tests replace it (thread_test.go): Fyne's test driver
// runs fyne.Do callbacks on the calling goroutine, so without a lock two background
// callbacks could touch widgets at once, which the real driver never does.
var uiDo = fyne.Do

// tickOnUI runs fn on the UI goroutine every interval until stop is closed. fn runs
// only while current() still returns stop (a newer ticker replaced this one, or the
// owner was stopped, when it does not).
func tickOnUI(every time.Duration, stop chan struct{}, current func() chan struct{}, fn func()) {
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				uiDo(func() {
					if current() == stop {
						fn()
					}
				})
			}
		}
	}()
}
