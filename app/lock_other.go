//go:build !linux || android

package app

import "log/slog"

// watchSuspend: Windows, macOS, the BSDs and the mobile systems tell a Fyne app
// nothing before they sleep (Fyne 2.7 has no such event; reading
// WM_POWERBROADCAST or NSWorkspaceWillSleepNotification would need cgo or a window
// hook Fyne does not expose). Not supported there: the idle check runs on the wall
// clock, so a device that slept longer than the idle limit locks at the first check
// after waking, and tablets lock after backgroundGrace in the background (lock.go).
func watchSuspend(*slog.Logger, func()) (stop func()) { return func() {} }
