package app

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Fitting a 10" tablet
//
// A desktop window is never smaller than its content's MinSize: Fyne grows the window
// whenever the content asks for more, and never shrinks it again. Every screen fits a
// 1280×720 window at 100 % text (a 10" tablet in landscape less the system bars, a
// laptop) without scrolling as a whole, and the window's minimum is minWindow
// (960×600) at any text size: a main screen is never narrower than that (newFrameMin)
// and asks for no more height than that (newMainFrame); with large text its bars and
// content scroll together. Long content scrolls in the screens themselves, bars wrap
// (minsize_test.go measures every screen as the desktop driver does).
//
// Two traps make a screen ask for far more than it needs. A wrapped label asks for a
// line per letter until it has been given a width, so it must never sit where it only
// gets its own MinSize width (container.NewCenter, an HBox): wrapCenter gives it the
// full width. And the desktop driver first lays out a new content at its MinSize and
// then asks again (glCanvas.SetContent), so a layout that wraps at the width it was
// last given (like layout.NewRowWrapLayout) answers for the narrowest window: the bars
// here wrap at the window's width instead (flowLayout, navLayout).

// wrapCenter centres wrapped text at the full width of the space it is given (the
// notice over the case list). It asks for the text's height at the width it has, and
// for no width: the text wraps to any.
type wrapCenter struct{}

func (wrapCenter) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var h float32
	for _, o := range objs {
		if o.Visible() && o.Size().Width > 0 { // before its first layout, a wrapped label is one letter wide
			h = max(h, o.MinSize().Height)
		}
	}
	return fyne.NewSize(0, h)
}

func (wrapCenter) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Resize(fyne.NewSize(size.Width, o.Size().Height))
		h := o.MinSize().Height // at this width
		o.Resize(fyne.NewSize(size.Width, h))
		o.Move(fyne.NewPos(0, max(0, (size.Height-h)/2)))
	}
}

// navLayout lays out a bar of buttons on one line, with a gap before object split
// (the navigation bar: screens, then language, contrast and lock). When the window is
// too narrow for one line (large text), the buttons wrap like words, in their order,
// which is also the keyboard's. It wraps at the window's width (width), as flowLayout
// does.
type navLayout struct {
	split int
	width func() float32
}

// navGap is the gap between the bar's two groups.
func navGap() float32 { return 2 * theme.InnerPadding() }

// line returns the width of the bar on one line and its height.
func (n *navLayout) line(objs []fyne.CanvasObject) (w, h float32) {
	k := 0
	for i, o := range objs {
		if !o.Visible() {
			continue
		}
		s := o.MinSize()
		if k > 0 {
			w += theme.Padding()
		}
		if i == n.split && k > 0 {
			w += navGap()
		}
		w, h = w+s.Width, max(h, s.Height)
		k++
	}
	return w, h
}

func (n *navLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var widest float32
	for _, o := range objs {
		if o.Visible() {
			widest = max(widest, o.MinSize().Width)
		}
	}
	if lw, h := n.line(objs); lw <= max(widest, n.width()) {
		return fyne.NewSize(widest, h)
	}
	return fyne.NewSize(widest, (&flowLayout{}).place(objs, max(widest, n.width()), false))
}

func (n *navLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	lw, h := n.line(objs)
	if lw > size.Width {
		(&flowLayout{}).place(objs, size.Width, true)
		return
	}
	var x float32
	for i, o := range objs {
		if !o.Visible() {
			continue
		}
		if i == n.split && x > 0 {
			x += navGap()
		}
		s := o.MinSize()
		o.Move(fyne.NewPos(x, 0))
		o.Resize(fyne.NewSize(s.Width, h))
		x += s.Width + theme.Padding()
	}
}

// flowLayout places objects left to right and starts a new line when the next does
// not fit, like words in a paragraph (the sync bar, the case list's filters): at
// 200 % text a bar takes two or three lines instead of forcing the window wider than
// the screen. Unlike layout.NewRowWrapLayout its MinSize is right before the first
// layout too: it wraps at width() (the window's), or else at the width it last had.
type flowLayout struct {
	width func() float32
	last  float32 // the width of the last layout
}

func (f *flowLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	widest := float32(0)
	for _, o := range objs {
		if o.Visible() {
			widest = max(widest, o.MinSize().Width)
		}
	}
	w := f.last
	if f.width != nil && f.width() > 0 {
		w = f.width()
	}
	return fyne.NewSize(widest, f.place(objs, max(widest, w), false))
}

func (f *flowLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	f.last = size.Width
	f.place(objs, size.Width, true)
}

// place lays out objs in lines of width w (moving them when move is set) and returns
// the height used.
func (f *flowLayout) place(objs []fyne.CanvasObject, w float32, move bool) float32 {
	pad := theme.Padding()
	var x, y, lineH float32
	for _, o := range objs {
		if !o.Visible() {
			continue
		}
		ms := o.MinSize()
		if x > 0 && x+ms.Width > w {
			x, y, lineH = 0, y+lineH+pad, 0
		}
		if move {
			o.Move(fyne.NewPos(x, y))
			o.Resize(ms)
		}
		x += ms.Width + pad
		lineH = max(lineH, ms.Height)
	}
	return y + lineH
}

// windowWidth is the width the window gives its content (less the canvas padding).
func (u *UI) windowWidth() float32 {
	if u.win == nil {
		return 0
	}
	return u.win.Canvas().Size().Width - 2*theme.Padding()
}

// fitColumns places cards in columns of equal width, as many (up to max) as fit
// side by side at the widest card's minimum width; each row is as high as its
// highest card. It asks for the width of the widest card and for the height at the
// width it last had: it belongs in a scroll container, which asks for neither.
type fitColumns struct {
	max  int
	last float32 // the width of the last layout
}

func (f *fitColumns) widest(objs []fyne.CanvasObject) float32 {
	var w float32
	for _, o := range objs {
		w = max(w, o.MinSize().Width)
	}
	return w
}

// rows lays out (place) or measures objs in columns at width w and returns the height.
func (f *fitColumns) rows(objs []fyne.CanvasObject, w float32, place bool) float32 {
	pad := theme.Padding()
	cols := max(1, min(int((w+pad)/(f.widest(objs)+pad)), f.max, len(objs)))
	cw := (w - pad*float32(cols-1)) / float32(cols)
	var y float32
	for i := 0; i < len(objs); i += cols {
		row := objs[i:min(i+cols, len(objs))]
		var h float32
		for _, o := range row {
			if place {
				o.Resize(fyne.NewSize(cw, o.Size().Height)) // wrapped text measures at its width
			}
			h = max(h, o.MinSize().Height)
		}
		if place {
			for k, o := range row {
				o.Move(fyne.NewPos(float32(k)*(cw+pad), y))
				o.Resize(fyne.NewSize(cw, h))
			}
		}
		y += h + pad
	}
	return max(0, y-pad)
}

func (f *fitColumns) MinSize(objs []fyne.CanvasObject) fyne.Size {
	w := f.widest(objs)
	return fyne.NewSize(w, f.rows(objs, max(w, f.last), false))
}

func (f *fitColumns) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	f.last = size.Width
	f.rows(objs, size.Width, true)
}

// newMainFrame holds a main screen (navigation bar, content, sync bar) in a vertical
// scroll container that asks for the screen's whole height up to frameCap and
// scrolls beyond it. At 100 % text every screen fits (minsize_test.go), so nothing
// scrolls and the screen fills the window as without the container; with large text
// on a small window the bars and the content scroll together instead of making the
// window taller than the screen.
func newMainFrame(screen fyne.CanvasObject) *fyne.Container {
	return container.New(mainFrameLayout{}, container.NewVScroll(screen))
}

// frameCap is the most height a main screen asks of the window: minWindow's, less
// the main menu bar drawn in the window (Linux, Windows) and the canvas padding.
func frameCap() float32 {
	menu := fyne.MeasureText("FieldOffice", theme.TextSize(), fyne.TextStyle{}).Height + theme.InnerPadding()
	return minWindow.Height - menu - 2*theme.Padding()
}

type mainFrameLayout struct{}

func (mainFrameLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	s := objs[0].MinSize() // the scroll container: the screen's width
	if sc, ok := objs[0].(*container.Scroll); ok {
		s.Height = max(s.Height, min(sc.Content.MinSize().Height, frameCap()))
	}
	return s
}

func (mainFrameLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	objs[0].Move(fyne.Position{})
	objs[0].Resize(size)
}

// mainFrame returns the screen showMain shows (the container of bars and content),
// or the window's content when it is no main screen.
func (u *UI) mainFrame() *fyne.Container {
	c, _ := u.win.Content().(*fyne.Container)
	if c == nil {
		return nil
	}
	if _, ok := c.Layout.(mainFrameLayout); ok && len(c.Objects) == 1 {
		if sc, ok := c.Objects[0].(*container.Scroll); ok {
			inner, _ := sc.Content.(*fyne.Container)
			return inner
		}
	}
	return c
}

// frameContentLines is how many lines of text a main screen's content keeps room for:
// with large text on a small window the bars would leave a form a line or two, so
// the screen scrolls as a whole instead.
const frameContentLines = 12

// frameMin is an invisible object behind a main screen's content: the screen is
// never narrower than minWindow, and its content never lower than
// frameContentLines lines of text.
type frameMin struct{ widget.BaseWidget }

func newFrameMin() *frameMin {
	f := &frameMin{}
	f.ExtendBaseWidget(f)
	return f
}

func (f *frameMin) MinSize() fyne.Size {
	return fyne.NewSize(minWindow.Width-2*theme.Padding(), frameContentLines*theme.TextSize())
}

func (f *frameMin) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(canvas.NewRectangle(color.Transparent))
}
