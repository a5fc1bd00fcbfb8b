package app

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"strconv"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// The signature pad
//
// A citizen signs on the tablet with a finger or pen, a caseworker on a laptop with the
// mouse. The pad keeps what was drawn as vector strokes — lists of points normalised
// to the pad's size (0…1 on both axes), so a signature survives a resize or a rotated
// tablet — and turns them into a PNG (the image the record keeps as an Anlage) and an
// SVG path (the same signature as vectors).
//
// Rendering: one canvas.Line per segment between two points (a canvas.Circle for a
// dot). Drawing adds one object per new point; only a resize moves them all. So the
// work per frame is proportional to what changed, the work per resize to the number
// of points.
//
// Keyboard: the pad takes focus (Tab); Delete or Backspace clears it. There is no way
// to sign with the keyboard, and none is needed: the signature is the citizen's own
// hand, the keyboard user is the caseworker who clears a spoiled one.

// Size of the PNG rendering of a signature, in pixels (3:1, like the pad).
const (
	signaturePNGWidth  = 600
	signaturePNGHeight = 200
)

// errSignatureEmpty is returned by PNG for a pad nobody signed.
var errSignatureEmpty = errors.New("signature pad is empty")

// signatureInk is the colour of the signature in the PNG and SVG: dark blue, like a
// document-proof pen.
var signatureInk = color.NRGBA{R: 0x10, G: 0x1c, B: 0x5a, A: 0xff}

// Proportions of the pad: where the baseline sits and how thick the strokes are,
// relative to the pad's height.
const (
	signatureBaseline = 0.72  // baseline at 72 % of the height
	signatureStroke   = 0.016 // stroke width: 1.6 % of the height (3.2 px in the PNG)
	signatureMinStep  = 1.5   // points closer than this (widget units) to the last are dropped
)

// signaturePad is a widget on which a signature is drawn (fyne.Draggable for the
// strokes, fyne.Tappable for a dot, fyne.Focusable so that Delete clears it).
type signaturePad struct {
	widget.BaseWidget

	// OnChanged, if set, is called on the UI goroutine after a stroke ends, a dot is
	// set or the pad is cleared.
	OnChanged func()
	// OnEscape, if set, is called when Escape is pressed while the pad has the focus
	// (the screen's or dialog's "cancel").
	OnEscape func()

	strokes [][]fyne.Position // normalised points, one slice per stroke
	segs    []padSegment      // strokes as segments, in drawing order (what is rendered)
	gen     int               // raised when segments are removed or replaced (renderer rebuilds)
	drawing bool              // a drag is in progress: Dragged extends the last stroke
	focused bool
}

// padSegment is one rendered piece of a stroke: a line from a to b, or a dot at a.
type padSegment struct {
	a, b fyne.Position // normalised
	dot  bool
}

var (
	_ fyne.Widget        = (*signaturePad)(nil)
	_ fyne.Draggable     = (*signaturePad)(nil)
	_ fyne.Tappable      = (*signaturePad)(nil)
	_ fyne.Focusable     = (*signaturePad)(nil)
	_ desktop.Cursorable = (*signaturePad)(nil)
)

// newSignaturePad returns an empty pad.
func newSignaturePad() *signaturePad {
	p := &signaturePad{}
	p.ExtendBaseWidget(p)
	return p
}

// Strokes returns a copy of the strokes drawn so far, each a list of points normalised
// to the pad (0…1 on both axes; x from the left, y from the top). A dot is a stroke of
// one point.
func (p *signaturePad) Strokes() [][]fyne.Position {
	out := make([][]fyne.Position, len(p.strokes))
	for i, s := range p.strokes {
		out[i] = append([]fyne.Position(nil), s...)
	}
	return out
}

// Empty reports whether nothing is drawn.
func (p *signaturePad) Empty() bool { return len(p.strokes) == 0 }

// Clear removes every stroke.
func (p *signaturePad) Clear() {
	if p.Empty() && !p.drawing {
		return
	}
	p.strokes, p.segs, p.drawing = nil, nil, false
	p.gen++
	p.Refresh()
	p.changed()
}

// setStrokes replaces the drawing with strokes (normalised, as Strokes returns them),
// without calling OnChanged: it restores an earlier state.
func (p *signaturePad) setStrokes(strokes [][]fyne.Position) {
	p.strokes, p.segs, p.drawing = nil, nil, false
	for _, s := range strokes {
		if len(s) == 0 {
			continue
		}
		p.strokes = append(p.strokes, append([]fyne.Position(nil), s...))
		if len(s) == 1 {
			p.segs = append(p.segs, padSegment{a: s[0], dot: true})
		}
		for i := 1; i < len(s); i++ {
			p.segs = append(p.segs, padSegment{a: s[i-1], b: s[i]})
		}
	}
	p.gen++
	p.Refresh()
}

func (p *signaturePad) changed() {
	if p.OnChanged != nil {
		p.OnChanged()
	}
}

// normalise turns a position in the widget into the pad's 0…1 coordinates, clamped to
// the pad (a finger leaving the pad draws along its edge).
func (p *signaturePad) normalise(pos fyne.Position) fyne.Position {
	s := p.Size()
	if s.Width <= 0 || s.Height <= 0 {
		return fyne.Position{}
	}
	return fyne.NewPos(clamp01(pos.X/s.Width), clamp01(pos.Y/s.Height))
}

func clamp01(v float32) float32 { return min(max(v, 0), 1) }

// Dragged extends the current stroke, or starts one where the drag began.
func (p *signaturePad) Dragged(ev *fyne.DragEvent) {
	if !p.drawing {
		start := ev.Position.Subtract(ev.Dragged)
		p.strokes = append(p.strokes, []fyne.Position{p.normalise(start)})
		p.drawing = true
	}
	last := len(p.strokes) - 1
	stroke := p.strokes[last]
	prev := stroke[len(stroke)-1]
	next := p.normalise(ev.Position)
	s := p.Size()
	dx, dy := (next.X-prev.X)*s.Width, (next.Y-prev.Y)*s.Height
	if dx*dx+dy*dy < signatureMinStep*signatureMinStep {
		return
	}
	p.strokes[last] = append(stroke, next)
	p.segs = append(p.segs, padSegment{a: prev, b: next})
	p.Refresh()
}

// DragEnd ends the current stroke. A drag too short to leave a segment leaves a dot.
func (p *signaturePad) DragEnd() {
	if !p.drawing {
		return
	}
	p.drawing = false
	last := p.strokes[len(p.strokes)-1]
	if len(last) == 1 {
		p.segs = append(p.segs, padSegment{a: last[0], dot: true})
		p.Refresh()
	}
	p.changed()
}

// Tapped sets a dot (the i's dot, a full stop).
func (p *signaturePad) Tapped(ev *fyne.PointEvent) {
	pt := p.normalise(ev.Position)
	p.strokes = append(p.strokes, []fyne.Position{pt})
	p.segs = append(p.segs, padSegment{a: pt, dot: true})
	p.Refresh()
	p.changed()
}

// FocusGained shows the focus.
func (p *signaturePad) FocusGained() { p.focused = true; p.Refresh() }

// FocusLost hides the focus.
func (p *signaturePad) FocusLost() { p.focused = false; p.Refresh() }

// TypedRune ignores text: a signature is not typed.
func (p *signaturePad) TypedRune(rune) {}

// TypedKey clears the pad on Delete or Backspace; Escape calls OnEscape.
func (p *signaturePad) TypedKey(ev *fyne.KeyEvent) {
	switch ev.Name {
	case fyne.KeyDelete, fyne.KeyBackspace:
		p.Clear()
	case fyne.KeyEscape:
		if p.OnEscape != nil {
			p.OnEscape()
		}
	}
}

// Cursor is a crosshair over the pad (desktop).
func (p *signaturePad) Cursor() desktop.Cursor { return desktop.CrosshairCursor }

// MinSize is 3:1 (the PNG's shape) and large enough to sign with a finger.
func (p *signaturePad) MinSize() fyne.Size {
	p.ExtendBaseWidget(p)
	return fyne.NewSize(540, 180)
}

// newPadBox holds pad at 3:1, as large as the space allows, centred: so a signature
// drawn on a wide window does not come out squeezed in the PNG.
func newPadBox(pad *signaturePad) *fyne.Container {
	return container.New(padAspect{}, pad)
}

// padAspect lays out its objects at 3:1 within the space given, centred horizontally.
type padAspect struct{}

func (padAspect) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	w := min(size.Width, size.Height*3)
	h := w / 3
	for _, o := range objs {
		o.Resize(fyne.NewSize(w, h))
		o.Move(fyne.NewPos((size.Width-w)/2, (size.Height-h)/2))
	}
}

func (padAspect) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var s fyne.Size
	for _, o := range objs {
		s = s.Max(o.MinSize())
	}
	return s
}

// CreateRenderer builds the pad's renderer.
func (p *signaturePad) CreateRenderer() fyne.WidgetRenderer {
	p.ExtendBaseWidget(p)
	r := &padRenderer{
		pad:      p,
		bg:       canvas.NewRectangle(color.Transparent),
		baseline: canvas.NewLine(color.Transparent),
		cross:    canvas.NewText("✕", color.Transparent),
		hint:     canvas.NewText(tr("capture.signHere"), color.Transparent),
	}
	r.objects = []fyne.CanvasObject{r.bg, r.baseline, r.cross, r.hint}
	r.applyTheme()
	r.gen = p.gen
	for _, seg := range p.segs { // placed by the first Layout
		r.objects = append(r.objects, r.newObject(seg))
	}
	r.hint.Hidden = !p.Empty()
	r.cross.Hidden = !p.Empty()
	return r
}

// padRenderer draws the pad: background and border, baseline with "✕" and the hint
// while empty, and one object per segment.
type padRenderer struct {
	pad      *signaturePad
	bg       *canvas.Rectangle
	baseline *canvas.Line
	cross    *canvas.Text
	hint     *canvas.Text
	objects  []fyne.CanvasObject // the four above, then the segments' objects
	ink      color.Color
	size     fyne.Size // size the segments were laid out for
	gen      int       // the pad's gen the segment objects belong to
}

const padFixedObjects = 4

func (r *padRenderer) Destroy() {}

func (r *padRenderer) Objects() []fyne.CanvasObject { return r.objects }

func (r *padRenderer) MinSize() fyne.Size { return r.pad.MinSize() }

// Layout places everything for size; the segments only when the size changed.
func (r *padRenderer) Layout(size fyne.Size) {
	r.bg.Resize(size)
	margin := size.Width * 0.05
	y := size.Height * signatureBaseline
	r.baseline.Position1 = fyne.NewPos(margin, y)
	r.baseline.Position2 = fyne.NewPos(size.Width-margin, y)
	cs := r.cross.MinSize()
	r.cross.Move(fyne.NewPos(margin, y-cs.Height))
	r.cross.Resize(cs)
	hs := r.hint.MinSize()
	r.hint.Move(fyne.NewPos(margin+cs.Width+theme.Padding(), y-hs.Height))
	r.hint.Resize(hs)
	if size != r.size {
		r.size = size
		for i, seg := range r.pad.segs[:len(r.objects)-padFixedObjects] {
			r.place(r.objects[padFixedObjects+i], seg)
		}
	}
}

// place positions o, the object of seg, for the current size.
func (r *padRenderer) place(o fyne.CanvasObject, seg padSegment) {
	w := max(r.size.Height*signatureStroke, 1.5)
	at := func(p fyne.Position) fyne.Position {
		return fyne.NewPos(p.X*r.size.Width, p.Y*r.size.Height)
	}
	switch o := o.(type) {
	case *canvas.Line:
		o.StrokeWidth = w
		o.Position1, o.Position2 = at(seg.a), at(seg.b)
	case *canvas.Circle:
		c := at(seg.a)
		d := fyne.NewDelta(w*0.75, w*0.75)
		o.Position1, o.Position2 = c.Subtract(d), c.Add(d)
	}
}

// newObject makes the object that draws seg.
func (r *padRenderer) newObject(seg padSegment) fyne.CanvasObject {
	if seg.dot {
		return canvas.NewCircle(r.ink)
	}
	return canvas.NewLine(r.ink)
}

// Refresh brings the objects in step with the pad: new segments get an object (only
// those are drawn anew), a cleared pad drops them, a theme change recolours.
func (r *padRenderer) Refresh() {
	p := r.pad
	n := len(r.objects) - padFixedObjects
	if r.gen != p.gen || len(p.segs) < n {
		clear(r.objects[padFixedObjects:])
		r.objects = r.objects[:padFixedObjects]
		r.gen, n = p.gen, 0
	}
	if r.size != p.Size() {
		r.Layout(p.Size())
	}
	for _, seg := range p.segs[n:] {
		o := r.newObject(seg)
		r.place(o, seg)
		r.objects = append(r.objects, o)
		canvas.Refresh(o)
	}
	r.hint.Hidden = !p.Empty()
	r.cross.Hidden = !p.Empty()
	r.applyTheme()
	canvas.Refresh(r.bg)
}

// applyTheme sets the colours from the pad's theme; segments are recoloured only when
// the ink changes (a theme switch).
func (r *padRenderer) applyTheme() {
	p := r.pad
	th := p.Theme()
	v := fyne.CurrentApp().Settings().ThemeVariant()
	r.bg.FillColor = th.Color(theme.ColorNameInputBackground, v)
	r.bg.CornerRadius = th.Size(theme.SizeNameInputRadius)
	r.bg.StrokeWidth = th.Size(theme.SizeNameInputBorder)
	switch {
	case p.focused:
		r.bg.StrokeColor = th.Color(theme.ColorNamePrimary, v)
		r.bg.StrokeWidth *= 2
	default:
		r.bg.StrokeColor = th.Color(theme.ColorNameInputBorder, v)
	}
	r.baseline.StrokeColor = th.Color(theme.ColorNamePlaceHolder, v)
	r.baseline.StrokeWidth = 1
	r.cross.Color = th.Color(theme.ColorNamePlaceHolder, v)
	r.cross.TextSize = th.Size(theme.SizeNameSubHeadingText)
	r.hint.Color = th.Color(theme.ColorNamePlaceHolder, v)
	r.hint.TextSize = th.Size(theme.SizeNameText)
	r.hint.Text = tr("capture.signHere")
	ink := th.Color(theme.ColorNameForeground, v)
	if r.ink != ink {
		r.ink = ink
		for _, o := range r.objects[padFixedObjects:] {
			switch o := o.(type) {
			case *canvas.Line:
				o.StrokeColor = ink
			case *canvas.Circle:
				o.FillColor = ink
			}
			o.Refresh()
		}
	}
}

// PNG renders the signature as a PNG of signaturePNGWidth × signaturePNGHeight pixels:
// dark ink on white, anti-aliased. An empty pad is an error.
func (p *signaturePad) PNG() ([]byte, error) {
	if p.Empty() {
		return nil, errSignatureEmpty
	}
	img := rasteriseStrokes(p.strokes, signaturePNGWidth, signaturePNGHeight, signatureStroke*signaturePNGHeight)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, fmt.Errorf("encode signature: %w", err)
	}
	return b.Bytes(), nil
}

// rasteriseStrokes draws normalised strokes as round-capped lines of width lw on a
// white w×h image. Each pixel's ink coverage is its distance to the nearest segment
// against the half width (±half a pixel of smoothing): enough anti-aliasing for a
// signature, and work proportional to the ink.
func rasteriseStrokes(strokes [][]fyne.Position, w, h int, lw float32) *image.NRGBA {
	cov := make([]float32, w*h)
	r := float64(lw) / 2
	seg := func(ax, ay, bx, by float64) {
		x0 := int(math.Floor(min(ax, bx) - r - 1))
		x1 := int(math.Ceil(max(ax, bx) + r + 1))
		y0 := int(math.Floor(min(ay, by) - r - 1))
		y1 := int(math.Ceil(max(ay, by) + r + 1))
		x0, y0 = max(x0, 0), max(y0, 0)
		x1, y1 = min(x1, w-1), min(y1, h-1)
		dx, dy := bx-ax, by-ay
		ll := dx*dx + dy*dy
		for y := y0; y <= y1; y++ {
			for x := x0; x <= x1; x++ {
				px, py := float64(x)+0.5, float64(y)+0.5
				t := 0.0
				if ll > 0 {
					t = min(max(((px-ax)*dx+(py-ay)*dy)/ll, 0), 1)
				}
				qx, qy := ax+t*dx-px, ay+t*dy-py
				c := float32(min(max(r+0.5-math.Sqrt(qx*qx+qy*qy), 0), 1))
				if i := y*w + x; c > cov[i] {
					cov[i] = c
				}
			}
		}
	}
	sx, sy := float64(w), float64(h)
	line := func(a, b fyne.Position) {
		seg(float64(a.X)*sx, float64(a.Y)*sy, float64(b.X)*sx, float64(b.Y)*sy)
	}
	for _, s := range strokes {
		if len(s) == 1 {
			line(s[0], s[0])
		}
		for i := 1; i < len(s); i++ {
			line(s[i-1], s[i])
		}
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	ink := signatureInk
	for i, c := range cov {
		o := i * 4
		img.Pix[o+0] = blend(0xff, ink.R, c)
		img.Pix[o+1] = blend(0xff, ink.G, c)
		img.Pix[o+2] = blend(0xff, ink.B, c)
		img.Pix[o+3] = 0xff
	}
	return img
}

func blend(bg, fg uint8, c float32) uint8 {
	return uint8(float32(bg)*(1-c) + float32(fg)*c + 0.5)
}

// SVG returns the signature as an SVG document of the PNG's size: one path, a
// subpath per stroke ("M x y L …"; a dot is a zero-length subpath, drawn by the round
// cap). Coordinates have one decimal.
func (p *signaturePad) SVG() []byte {
	var b bytes.Buffer
	lw := strconv.FormatFloat(float64(signatureStroke*signaturePNGHeight), 'f', 1, 32)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`,
		signaturePNGWidth, signaturePNGHeight, signaturePNGWidth, signaturePNGHeight)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`)
	fmt.Fprintf(&b, `<path fill="none" stroke="#%02x%02x%02x" stroke-width="%s" stroke-linecap="round" stroke-linejoin="round" d="`,
		signatureInk.R, signatureInk.G, signatureInk.B, lw)
	num := func(v float32, scale int) string {
		return strconv.FormatFloat(float64(v)*float64(scale), 'f', 1, 64)
	}
	for i, s := range p.strokes {
		if i > 0 {
			b.WriteByte(' ')
		}
		for j, pt := range s {
			cmd := "L"
			if j == 0 {
				cmd = "M"
			} else {
				b.WriteByte(' ')
			}
			b.WriteString(cmd + num(pt.X, signaturePNGWidth) + " " + num(pt.Y, signaturePNGHeight))
		}
		if len(s) == 1 {
			b.WriteString(" l0 0")
		}
	}
	b.WriteString(`"/></svg>`)
	return b.Bytes()
}
