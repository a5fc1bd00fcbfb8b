package app

import "fyne.io/fyne/v2"

// uiDo runs f on the UI goroutine (fyne.Do). Every update of widgets from another
// goroutine goes through it. Tests replace it (thread_test.go): Fyne's test driver
// runs fyne.Do callbacks on the calling goroutine, so without a lock two background
// callbacks could touch widgets at once, which the real driver never does.
var uiDo = fyne.Do
