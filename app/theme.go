package app

import "fyne.io/fyne/v2"

// applyTheme sets the app's theme: high contrast or not, text scaled by scale
// (1 … 2). To be built.
func applyTheme(a fyne.App, highContrast bool, scale float32) {}
