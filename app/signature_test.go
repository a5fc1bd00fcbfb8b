package app

import (
	"bytes"
	"encoding/xml"
	"image"
	"image/png"
	"io"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
)

// padWindow shows a pad alone in an unpadded 600×200 test window.
func padWindow(t *testing.T) (*signaturePad, fyne.Window) {
	t.Helper()
	test.NewTempApp(t)
	p := newSignaturePad()
	w := test.NewWindow(p)
	w.SetPadded(false)
	w.Resize(fyne.NewSize(600, 200))
	t.Cleanup(w.Close)
	return p, w
}

// padDraw draws a stroke through pts (widget coordinates) as a pointer would.
func padDraw(p *signaturePad, pts ...fyne.Position) {
	for i := 1; i < len(pts); i++ {
		p.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: pts[i]}, Dragged: fyne.NewDelta(pts[i].X-pts[i-1].X, pts[i].Y-pts[i-1].Y)})
	}
	p.DragEnd()
}

func padLum(img image.Image, x, y int) uint32 {
	r, g, b, _ := img.At(x, y).RGBA()
	return (299*r + 587*g + 114*b) / 1000 >> 8
}

func TestSignaturePadStrokesPNGAndClear(t *testing.T) {
	p, w := padWindow(t)
	changes := 0
	p.OnChanged = func() { changes++ }
	if !p.Empty() {
		t.Fatal("new pad not empty")
	}
	// One drag as the test driver sends it: start = position − delta.
	test.Drag(w.Canvas(), fyne.NewPos(300, 100), 200, 0)
	padDraw(p, fyne.NewPos(300, 40), fyne.NewPos(350, 80), fyne.NewPos(400, 160))
	test.TapAt(p, fyne.NewPos(540, 60))

	got := p.Strokes()
	want := [][]fyne.Position{
		{{X: 100.0 / 600, Y: 0.5}, {X: 0.5, Y: 0.5}},
		{{X: 0.5, Y: 0.2}, {X: 350.0 / 600, Y: 0.4}, {X: 400.0 / 600, Y: 0.8}},
		{{X: 0.9, Y: 0.3}},
	}
	if len(got) != len(want) {
		t.Fatalf("strokes = %v", got)
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("stroke %d = %v, want %v", i, got[i], want[i])
		}
		for j := range want[i] {
			d := got[i][j].Subtract(want[i][j])
			if d.X*d.X+d.Y*d.Y > 1e-8 {
				t.Errorf("stroke %d point %d = %v, want %v", i, j, got[i][j], want[i][j])
			}
		}
	}
	if changes != 3 {
		t.Errorf("OnChanged called %d times, want 3", changes)
	}

	b, err := p.PNG()
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("PNG does not decode: %v", err)
	}
	if s := img.Bounds().Size(); s.X != signaturePNGWidth || s.Y != signaturePNGHeight {
		t.Fatalf("PNG size %v", s)
	}
	for _, pt := range []image.Point{{200, 100}, {300, 40}, {540, 60}} {
		if l := padLum(img, pt.X, pt.Y); l > 100 {
			t.Errorf("no ink at %v (luminance %d)", pt, l)
		}
	}
	for _, pt := range []image.Point{{200, 20}, {10, 190}, {580, 180}} {
		if l := padLum(img, pt.X, pt.Y); l < 250 {
			t.Errorf("ink at %v where nothing was drawn (luminance %d)", pt, l)
		}
	}
	test.AssertImageMatches(t, "capture/signature.png", img)

	svg := p.SVG()
	dec := xml.NewDecoder(bytes.NewReader(svg))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("SVG is not XML: %v\n%s", err, svg)
		}
	}
	if !strings.Contains(string(svg), `d="M100.0 100.0 L300.0 100.0 M300.0 40.0 L350.0 80.0 L400.0 160.0 M540.0 60.0 l0 0"`) {
		t.Errorf("SVG path: %s", svg)
	}

	p.Clear()
	if !p.Empty() || len(p.Strokes()) != 0 || changes != 4 {
		t.Errorf("after Clear: empty %v, strokes %v, changes %d", p.Empty(), p.Strokes(), changes)
	}
	if _, err := p.PNG(); err == nil {
		t.Error("PNG of an empty pad gave no error")
	}
}

// TestSignaturePadRenders: the pad with a known stroke (golden image), objects added
// per point and not rebuilt, positions following a resize, the hint while empty.
func TestSignaturePadRenders(t *testing.T) {
	p, w := padWindow(t)
	r := test.WidgetRenderer(p).(*padRenderer)
	if !r.hint.Visible() || r.hint.Text != "Hier unterschreiben" {
		t.Errorf("empty pad hint %q visible %v", r.hint.Text, r.hint.Visible())
	}
	padDraw(p, fyne.NewPos(60, 140), fyne.NewPos(120, 60), fyne.NewPos(180, 140), fyne.NewPos(240, 60),
		fyne.NewPos(300, 140), fyne.NewPos(420, 100), fyne.NewPos(540, 120))
	test.TapAt(p, fyne.NewPos(500, 50))
	if r.hint.Visible() {
		t.Error("hint still shown after signing")
	}
	test.AssertRendersToImage(t, "capture/signature_pad.png", w.Canvas())

	objs := r.Objects()
	if n := len(objs) - padFixedObjects; n != 7 {
		t.Fatalf("%d segment objects for 6 segments and a dot", n)
	}
	first := objs[padFixedObjects]
	padDraw(p, fyne.NewPos(100, 100), fyne.NewPos(110, 110))
	if objs2 := r.Objects(); len(objs2) != len(objs)+1 || objs2[padFixedObjects] != first {
		t.Errorf("one more point rebuilt the objects: %d → %d", len(objs), len(objs2))
	}

	w.Resize(fyne.NewSize(300, 100))
	l := r.Objects()[padFixedObjects].(*canvas.Line)
	near := func(a, b fyne.Position) bool { d := a.Subtract(b); return d.X*d.X+d.Y*d.Y < 1e-6 }
	if !near(l.Position1, fyne.NewPos(30, 70)) || !near(l.Position2, fyne.NewPos(60, 30)) {
		t.Errorf("after resize the first segment runs %v–%v", l.Position1, l.Position2)
	}
	if s := p.Strokes(); !near(s[0][0], fyne.NewPos(0.1, 0.7)) {
		t.Errorf("strokes changed with the size: %v", s[0][0])
	}
}

// TestSignaturePadKeyboard: focusable, Delete and Backspace clear; a restore does not
// count as a change.
func TestSignaturePadKeyboard(t *testing.T) {
	p, w := padWindow(t)
	w.Canvas().Focus(p)
	if !p.focused {
		t.Fatal("pad does not take focus")
	}
	padDraw(p, fyne.NewPos(10, 10), fyne.NewPos(100, 100))
	saved := p.Strokes()
	p.TypedRune('x')
	escaped := false
	p.OnEscape = func() { escaped = true }
	p.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if p.Empty() || !escaped {
		t.Fatalf("typing and Escape: empty %v, escaped %v", p.Empty(), escaped)
	}
	for _, k := range []fyne.KeyName{fyne.KeyDelete, fyne.KeyBackspace} {
		changed := false
		p.OnChanged = func() { changed = true }
		p.setStrokes(saved)
		if changed || p.Empty() {
			t.Fatalf("setStrokes: changed %v, empty %v", changed, p.Empty())
		}
		p.TypedKey(&fyne.KeyEvent{Name: k})
		if !p.Empty() || !changed {
			t.Errorf("%s: empty %v, changed %v", k, p.Empty(), changed)
		}
	}
}
