package app

// installShortcuts registers the keyboard shortcuts on the window (to be built).
func installShortcuts(u *UI) {}
