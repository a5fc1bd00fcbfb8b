package app

import (
	"fmt"
	"image/color"
	"math"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// chromeOver draws over on under (the "over" operator, as Fyne blends button and row
// backgrounds).
func chromeOver(under, over color.Color) color.Color {
	dr, dg, db, da := under.RGBA()
	sr, sg, sb, sa := over.RGBA()
	a := float64(sa) / 0xffff
	return color.RGBA64{
		R: uint16(float64(sr) + float64(dr)*(1-a)),
		G: uint16(float64(sg) + float64(dg)*(1-a)),
		B: uint16(float64(sb) + float64(db)*(1-a)),
		A: uint16((a + float64(da)/0xffff*(1-a)) * 0xffff),
	}
}

// chromeLuminance is the WCAG 2.1 relative luminance of an opaque colour.
func chromeLuminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	lin := func(v uint32) float64 {
		s := float64(v) / 0xffff
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}

// chromeContrast is the WCAG contrast ratio of two opaque colours (1 … 21).
func chromeContrast(a, b color.Color) float64 {
	la, lb := chromeLuminance(a), chromeLuminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// chromePair is text (or a non-text part) drawn on a background.
type chromePair struct {
	what   string
	fg, bg color.Color
	min    float64
}

// chromePairs lists every text colour on every background Fyne draws it on, with the
// blends for hover, focus and selection, flattened onto the window background.
func chromePairs(th fyne.Theme, v fyne.ThemeVariant, highContrast bool) []chromePair {
	c := func(n fyne.ThemeColorName) color.Color { return th.Color(n, v) }
	bg := c(theme.ColorNameBackground)
	on := func(layers ...fyne.ThemeColorName) color.Color {
		out := bg
		for _, l := range layers {
			out = chromeOver(out, c(l))
		}
		return out
	}
	const text = 4.5
	p := []chromePair{
		{"foreground on background", c(theme.ColorNameForeground), on(), text},
		{"foreground on input", c(theme.ColorNameForeground), on(theme.ColorNameInputBackground), text},
		{"foreground on header", c(theme.ColorNameForeground), on(theme.ColorNameHeaderBackground), text},
		{"foreground on menu", c(theme.ColorNameForeground), on(theme.ColorNameMenuBackground), text},
		{"foreground on focused menu item", c(theme.ColorNameForeground), on(theme.ColorNameMenuBackground, theme.ColorNameFocus), text},
		{"foreground on dialog", c(theme.ColorNameForeground), on(theme.ColorNameOverlayBackground), text},
		{"foreground on button", c(theme.ColorNameForeground), on(theme.ColorNameButton), text},
		{"foreground on hovered button", c(theme.ColorNameForeground), on(theme.ColorNameButton, theme.ColorNameHover), text},
		{"foreground on focused button", c(theme.ColorNameForeground), on(theme.ColorNameButton, theme.ColorNameFocus), text},
		{"foreground on hovered/focused row", c(theme.ColorNameForeground), on(theme.ColorNameHover), text},
		{"foreground on selected row", c(theme.ColorNameForeground), on(theme.ColorNameSelection), text},
		{"foreground on selected text", c(theme.ColorNameForeground), on(theme.ColorNameInputBackground, theme.ColorNameSelection), text},
		{"placeholder on input", c(theme.ColorNamePlaceHolder), on(theme.ColorNameInputBackground), text},
		{"primary text", c(theme.ColorNamePrimary), on(), text},
		{"hyperlink", c(theme.ColorNameHyperlink), on(), text},
		{"error text", c(theme.ColorNameError), on(), text},
		{"error text on dialog", c(theme.ColorNameError), on(theme.ColorNameOverlayBackground), text},
		{"warning text", c(theme.ColorNameWarning), on(), text},
		{"success text", c(theme.ColorNameSuccess), on(), text},
	}
	for _, b := range []struct{ fg, bg fyne.ThemeColorName }{
		{theme.ColorNameForegroundOnPrimary, theme.ColorNamePrimary},
		{theme.ColorNameForegroundOnError, theme.ColorNameError},
		{theme.ColorNameForegroundOnWarning, theme.ColorNameWarning},
		{theme.ColorNameForegroundOnSuccess, theme.ColorNameSuccess},
	} {
		p = append(p,
			chromePair{string(b.fg) + " on " + string(b.bg), c(b.fg), on(b.bg), text},
			chromePair{string(b.fg) + " on hovered " + string(b.bg), c(b.fg), on(b.bg, theme.ColorNameHover), text},
			chromePair{string(b.fg) + " on focused " + string(b.bg), c(b.fg), on(b.bg, theme.ColorNameFocus), text})
	}
	if highContrast {
		// Disabled text is exempt in WCAG; high contrast keeps it readable anyway, and
		// the parts that identify controls and focus keep 3:1 (WCAG 1.4.11).
		p = append(p,
			chromePair{"disabled text", c(theme.ColorNameDisabled), on(), text},
			chromePair{"disabled button text", c(theme.ColorNameDisabled), on(theme.ColorNameDisabledButton), text},
			chromePair{"disabled entry text", c(theme.ColorNameDisabled), on(theme.ColorNameInputBackground), text},
			chromePair{"button against background", on(theme.ColorNameButton), on(), 3},
			chromePair{"focus against background", on(theme.ColorNameFocus), on(), 3},
			chromePair{"hover against background", on(theme.ColorNameHover), on(), 3},
			chromePair{"selection against background", on(theme.ColorNameSelection), on(), 3},
			chromePair{"input border", c(theme.ColorNameInputBorder), on(theme.ColorNameInputBackground), 3},
			chromePair{"focused against unfocused input border", c(theme.ColorNamePrimary), c(theme.ColorNameInputBorder), 3},
			chromePair{"separator", c(theme.ColorNameSeparator), on(), 3},
		)
	} else {
		p = append(p, chromePair{"input border", c(theme.ColorNameInputBorder), on(theme.ColorNameInputBackground), 3})
	}
	return p
}

// TestThemeContrast: every text colour keeps WCAG AA (4.5:1) on every background in
// all four palettes; high contrast also keeps disabled text and the non-text parts.
func TestThemeContrast(t *testing.T) {
	for _, hc := range []bool{false, true} {
		for _, v := range []fyne.ThemeVariant{theme.VariantLight, theme.VariantDark} {
			th := newFieldTheme(hc, 1)
			name := fmt.Sprintf("highContrast=%v/variant=%d", hc, v)
			t.Run(name, func(t *testing.T) {
				lowest, what := 21.0, ""
				for _, p := range chromePairs(th, v, hc) {
					r := chromeContrast(p.fg, p.bg)
					if r < p.min {
						t.Errorf("%s: contrast %.2f:1 < %.1f:1", p.what, r, p.min)
					}
					if p.min == 4.5 && r < lowest {
						lowest, what = r, p.what
					}
				}
				t.Logf("lowest text contrast %.2f:1 (%s)", lowest, what)
			})
		}
	}
}

// TestThemeFocusDistinct: focus never looks like selection or hover, in every palette.
func TestThemeFocusDistinct(t *testing.T) {
	dist := func(a, b color.Color) float64 {
		ar, ag, ab, _ := a.RGBA()
		br, bg, bb, _ := b.RGBA()
		d := func(x, y uint32) float64 { return (float64(x) - float64(y)) / 0xffff }
		return math.Sqrt(d(ar, br)*d(ar, br) + d(ag, bg)*d(ag, bg) + d(ab, bb)*d(ab, bb))
	}
	for _, hc := range []bool{false, true} {
		for _, v := range []fyne.ThemeVariant{theme.VariantLight, theme.VariantDark} {
			th := newFieldTheme(hc, 1)
			bg := th.Color(theme.ColorNameBackground, v)
			focus := chromeOver(bg, th.Color(theme.ColorNameFocus, v))
			sel := chromeOver(bg, th.Color(theme.ColorNameSelection, v))
			hover := chromeOver(bg, th.Color(theme.ColorNameHover, v))
			if d := dist(focus, sel); d < 0.3 {
				t.Errorf("hc=%v variant=%d: focus and selection too alike (%.2f)", hc, v, d)
			}
			if d := dist(focus, hover); d < 0.2 {
				t.Errorf("hc=%v variant=%d: focus and hover too alike (%.2f)", hc, v, d)
			}
			if d := dist(focus, bg); d < 0.2 {
				t.Errorf("hc=%v variant=%d: focus hardly visible (%.2f)", hc, v, d)
			}
		}
	}
}

// TestThemeScale: sizes grow with the text scale, out-of-range scales are clamped, and
// a label and a button grow with their text.
func TestThemeScale(t *testing.T) {
	base := theme.DefaultTheme()
	for _, s := range textScales {
		th := newFieldTheme(false, s)
		for _, n := range []fyne.ThemeSizeName{theme.SizeNameText, theme.SizeNamePadding, theme.SizeNameInnerPadding, theme.SizeNameInlineIcon, theme.SizeNameLineSpacing} {
			if got, want := th.Size(n), base.Size(n)*s; got != want {
				t.Errorf("scale %.2f: %s = %v, want %v", s, n, got, want)
			}
		}
	}
	if got := newFieldTheme(false, 3).Size(theme.SizeNameText); got != 2*base.Size(theme.SizeNameText) {
		t.Errorf("scale 3 not clamped to 2: text %v", got)
	}
	if got := newFieldTheme(false, 0).Size(theme.SizeNameText); got != base.Size(theme.SizeNameText) {
		t.Errorf("scale 0 not clamped to 1: text %v", got)
	}
	if got := newFieldTheme(true, 1).Size(theme.SizeNameInputBorder); got < 2 {
		t.Errorf("high contrast input border = %v, want ≥ 2", got)
	}

	a := test.NewTempApp(t)
	measure := func(scale float32) (label, button fyne.Size) {
		applyTheme(a, false, scale)
		l := widget.NewLabel("Zuletzt synchronisiert: vor 5 Minuten")
		b := widget.NewButton("Jetzt synchronisieren", nil)
		return l.MinSize(), b.MinSize()
	}
	l1, b1 := measure(1)
	l2, b2 := measure(2)
	for _, c := range []struct {
		what   string
		s1, s2 fyne.Size
	}{{"label", l1, l2}, {"button", b1, b2}} {
		if c.s2.Width < 1.9*c.s1.Width || c.s2.Height < 1.9*c.s1.Height {
			t.Errorf("%s at 200 %% = %v, at 100 %% = %v: does not grow with the text", c.what, c.s2, c.s1)
		}
	}
}
