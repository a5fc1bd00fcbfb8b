package app

import (
	"image/color"
	"math"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// The look: colours, high contrast, text size
//
// fieldTheme wraps Fyne's default theme: fonts and icons are the default ones, sizes
// are the default ones times the text scale, and the colours come from one of four
// palettes (normal or high contrast, each light and dark as the system variant says).
// The palettes are complete, so the look does not depend on the primary colour a user
// chose in Fyne's settings, and every text colour meets WCAG 2.1 AA (4.5:1) against
// every background it is drawn on — including the blends Fyne draws for hovered and
// focused buttons and for list rows (theme_test.go computes them all).
//
// Focus is always visible and never looks like a selection: the focus colour is an
// orange (high contrast: opaque, in the luminance band where both black and white
// text keep 4.5:1, so a focused button of any importance stays readable), the
// selection is blue, hover is grey (normal) or magenta (high contrast). Entries show
// focus with a primary-coloured border; in high contrast the unfocused border is black
// (light) or white (dark) and the focused one differs from it by at least 3:1.
//
// Text scaling multiplies every theme size — text, padding, icon and input heights,
// scroll bars — so widgets grow with their labels and nothing clips; separators and
// input borders grow too (high contrast starts them at 2 px).

// Text scales the app offers (device screen, menu "Ansicht").
var textScales = []float32{1, 1.25, 1.5, 2}

// clampScale keeps a stored scale within 100 … 200 %.
func clampScale(s float32) float32 {
	if math.IsNaN(float64(s)) || s < 1 {
		return 1
	}
	return min(s, 2)
}

// applyTheme sets the app's theme: high contrast or not, text scaled by scale
// (1 … 2). All windows redraw.
func applyTheme(a fyne.App, highContrast bool, scale float32) {
	a.Settings().SetTheme(newFieldTheme(highContrast, scale))
}

// fieldTheme is FieldOffice's fyne.Theme.
type fieldTheme struct {
	base         fyne.Theme
	highContrast bool
	scale        float32
}

func newFieldTheme(highContrast bool, scale float32) *fieldTheme {
	return &fieldTheme{base: theme.DefaultTheme(), highContrast: highContrast, scale: clampScale(scale)}
}

// Color returns the palette's colour; names the palette does not know (added by a
// later Fyne) come from the default theme.
func (t *fieldTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	if c, ok := paletteFor(t.highContrast, v)[n]; ok {
		return c
	}
	return t.base.Color(n, v)
}

func (t *fieldTheme) Font(s fyne.TextStyle) fyne.Resource     { return t.base.Font(s) }
func (t *fieldTheme) Icon(n fyne.ThemeIconName) fyne.Resource { return t.base.Icon(n) }

// Size is the default size times the text scale; high contrast draws separators and
// input borders 2 px wide.
func (t *fieldTheme) Size(n fyne.ThemeSizeName) float32 {
	s := t.base.Size(n)
	if t.highContrast && (n == theme.SizeNameSeparatorThickness || n == theme.SizeNameInputBorder) {
		s = max(s, 2)
	}
	return s * t.scale
}

type palette map[fyne.ThemeColorName]color.Color

func paletteFor(highContrast bool, v fyne.ThemeVariant) palette {
	switch {
	case highContrast && v == theme.VariantDark:
		return contrastDark
	case highContrast:
		return contrastLight
	case v == theme.VariantDark:
		return normalDark
	}
	return normalLight
}

func rgb(c uint32) color.NRGBA {
	return color.NRGBA{R: uint8(c >> 16), G: uint8(c >> 8), B: uint8(c), A: 0xff}
}

func rgba(c uint32, a uint8) color.NRGBA {
	n := rgb(c)
	n.A = a
	return n
}

// normalLight is Fyne's light palette made accessible: darker text, primary, error,
// success and warning; visible input borders (3:1); a stronger hover (list keyboard
// focus shows as hover) and an orange focus.
var normalLight = palette{
	theme.ColorNameBackground:          rgb(0xffffff),
	theme.ColorNameButton:              rgb(0xf0f0f0),
	theme.ColorNameDisabledButton:      rgb(0xf5f5f5),
	theme.ColorNameDisabled:            rgb(0x9e9e9e),
	theme.ColorNameError:               rgb(0xb71c1c),
	theme.ColorNameFocus:               rgba(0xe65100, 0x66),
	theme.ColorNameForeground:          rgb(0x303030),
	theme.ColorNameForegroundOnError:   rgb(0xffffff),
	theme.ColorNameForegroundOnPrimary: rgb(0xffffff),
	theme.ColorNameForegroundOnSuccess: rgb(0xffffff),
	theme.ColorNameForegroundOnWarning: rgb(0xffffff),
	theme.ColorNameHeaderBackground:    rgb(0xf5f5f5),
	theme.ColorNameHover:               rgba(0x000000, 0x1a),
	theme.ColorNameHyperlink:           rgb(0x1565c0),
	theme.ColorNameInputBackground:     rgb(0xffffff),
	theme.ColorNameInputBorder:         rgb(0x8a8a8a),
	theme.ColorNameMenuBackground:      rgb(0xf5f5f5),
	theme.ColorNameOverlayBackground:   rgb(0xffffff),
	theme.ColorNamePlaceHolder:         rgb(0x6b6b6b),
	theme.ColorNamePressed:             rgba(0x000000, 0x19),
	theme.ColorNamePrimary:             rgb(0x1565c0),
	theme.ColorNameScrollBar:           rgba(0x000000, 0x99),
	theme.ColorNameScrollBarBackground: rgb(0xdbdbdb),
	theme.ColorNameSelection:           rgba(0x1565c0, 0x40),
	theme.ColorNameSeparator:           rgb(0xd0d0d0),
	theme.ColorNameShadow:              rgba(0x000000, 0x33),
	theme.ColorNameSuccess:             rgb(0x1b5e20),
	theme.ColorNameWarning:             rgb(0x8a4b00),
}

// normalDark is Fyne's dark palette made accessible in the same way.
var normalDark = palette{
	theme.ColorNameBackground:          rgb(0x171718),
	theme.ColorNameButton:              rgb(0x2c2d33),
	theme.ColorNameDisabledButton:      rgb(0x28292e),
	theme.ColorNameDisabled:            rgb(0x6a6a6a),
	theme.ColorNameError:               rgb(0xff7b72),
	theme.ColorNameFocus:               rgba(0xffa726, 0x59),
	theme.ColorNameForeground:          rgb(0xf3f3f3),
	theme.ColorNameForegroundOnError:   rgb(0x171718),
	theme.ColorNameForegroundOnPrimary: rgb(0x171718),
	theme.ColorNameForegroundOnSuccess: rgb(0x171718),
	theme.ColorNameForegroundOnWarning: rgb(0x171718),
	theme.ColorNameHeaderBackground:    rgb(0x1b1b1b),
	theme.ColorNameHover:               rgba(0xffffff, 0x1f),
	theme.ColorNameHyperlink:           rgb(0x6cb4ff),
	theme.ColorNameInputBackground:     rgb(0x202023),
	theme.ColorNameInputBorder:         rgb(0x7a7a7a),
	theme.ColorNameMenuBackground:      rgb(0x28292e),
	theme.ColorNameOverlayBackground:   rgb(0x181d25),
	theme.ColorNamePlaceHolder:         rgb(0xb2b2b2),
	theme.ColorNamePressed:             rgba(0xffffff, 0x66),
	theme.ColorNamePrimary:             rgb(0x6cb4ff),
	theme.ColorNameScrollBar:           rgba(0xffffff, 0x99),
	theme.ColorNameScrollBarBackground: rgb(0x202023),
	theme.ColorNameSelection:           rgba(0x6cb4ff, 0x40),
	theme.ColorNameSeparator:           rgb(0x4a4a4a),
	theme.ColorNameShadow:              rgba(0x000000, 0x66),
	theme.ColorNameSuccess:             rgb(0x66bb6a),
	theme.ColorNameWarning:             rgb(0xffb74d),
}

// Opaque colours of the high-contrast palettes whose relative luminance is ≈ 0.179:
// black and white text both keep 4.5:1 on them, and they keep 3:1 (light) or 4:1
// (dark) against the background.
var (
	contrastFocus = rgb(0xc75000) // orange
	contrastHover = rgb(0xba4aa2) // magenta
)

// contrastLight: black on white; grey buttons (3:1 to the background), black input
// borders, blue selection, orange focus, magenta hover.
var contrastLight = palette{
	theme.ColorNameBackground:          rgb(0xffffff),
	theme.ColorNameButton:              rgb(0x8c8c8c),
	theme.ColorNameDisabledButton:      rgb(0xd9d9d9),
	theme.ColorNameDisabled:            rgb(0x595959),
	theme.ColorNameError:               rgb(0xb00020),
	theme.ColorNameFocus:               contrastFocus,
	theme.ColorNameForeground:          rgb(0x000000),
	theme.ColorNameForegroundOnError:   rgb(0xffffff),
	theme.ColorNameForegroundOnPrimary: rgb(0xffffff),
	theme.ColorNameForegroundOnSuccess: rgb(0xffffff),
	theme.ColorNameForegroundOnWarning: rgb(0xffffff),
	theme.ColorNameHeaderBackground:    rgb(0xe6e6e6),
	theme.ColorNameHover:               contrastHover,
	theme.ColorNameHyperlink:           rgb(0x0050dc),
	theme.ColorNameInputBackground:     rgb(0xffffff),
	theme.ColorNameInputBorder:         rgb(0x000000),
	theme.ColorNameMenuBackground:      rgb(0xffffff),
	theme.ColorNameOverlayBackground:   rgb(0xffffff),
	theme.ColorNamePlaceHolder:         rgb(0x595959),
	theme.ColorNamePressed:             rgba(0x000000, 0x40),
	theme.ColorNamePrimary:             rgb(0x0050dc),
	theme.ColorNameScrollBar:           rgba(0x000000, 0xcc),
	theme.ColorNameScrollBarBackground: rgb(0xe0e0e0),
	theme.ColorNameSelection:           rgb(0x5a8cff),
	theme.ColorNameSeparator:           rgb(0x000000),
	theme.ColorNameShadow:              rgba(0x000000, 0x66),
	theme.ColorNameSuccess:             rgb(0x1b5e20),
	theme.ColorNameWarning:             rgb(0x8a4b00),
}

// contrastDark: white on black; the same scheme.
var contrastDark = palette{
	theme.ColorNameBackground:          rgb(0x000000),
	theme.ColorNameButton:              rgb(0x636363),
	theme.ColorNameDisabledButton:      rgb(0x262626),
	theme.ColorNameDisabled:            rgb(0xa6a6a6),
	theme.ColorNameError:               rgb(0xff6e6e),
	theme.ColorNameFocus:               contrastFocus,
	theme.ColorNameForeground:          rgb(0xffffff),
	theme.ColorNameForegroundOnError:   rgb(0x000000),
	theme.ColorNameForegroundOnPrimary: rgb(0x000000),
	theme.ColorNameForegroundOnSuccess: rgb(0x000000),
	theme.ColorNameForegroundOnWarning: rgb(0x000000),
	theme.ColorNameHeaderBackground:    rgb(0x1a1a1a),
	theme.ColorNameHover:               contrastHover,
	theme.ColorNameHyperlink:           rgb(0x4d7cff),
	theme.ColorNameInputBackground:     rgb(0x000000),
	theme.ColorNameInputBorder:         rgb(0xffffff),
	theme.ColorNameMenuBackground:      rgb(0x000000),
	theme.ColorNameOverlayBackground:   rgb(0x000000),
	theme.ColorNamePlaceHolder:         rgb(0xbdbdbd),
	theme.ColorNamePressed:             rgba(0xffffff, 0x40),
	theme.ColorNamePrimary:             rgb(0x4d7cff),
	theme.ColorNameScrollBar:           rgba(0xffffff, 0xcc),
	theme.ColorNameScrollBarBackground: rgb(0x1f1f1f),
	theme.ColorNameSelection:           rgb(0x2a5bd7),
	theme.ColorNameSeparator:           rgb(0xffffff),
	theme.ColorNameShadow:              rgba(0x000000, 0xff),
	theme.ColorNameSuccess:             rgb(0x5cd65c),
	theme.ColorNameWarning:             rgb(0xffb000),
}
