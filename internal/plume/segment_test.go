package plume

import (
	"math"
	"testing"
)

func TestSegmentHysteresis(t *testing.T) {
	// 0 . . . . . 0
	// A plume of three pixels whose core (9) passes high, with a faint
	// tail (3) that only passes low; an isolated 3 elsewhere must not count,
	// and a NaN pixel must break nothing.
	const w, h = 7, 4
	s := make([]float32, w*h)
	set := func(x, y int, v float32) { s[y*w+x] = v }
	set(1, 1, 9)
	set(2, 2, 3) // diagonal neighbour: 8-connected
	set(3, 2, 3)
	set(6, 0, 3)
	set(5, 3, float32(math.NaN()))
	comps := Segment(s, w, h, 5, 2)
	if len(comps) != 1 {
		t.Fatalf("got %d components, want 1", len(comps))
	}
	c := comps[0]
	want := []int{1*w + 1, 2*w + 2, 2*w + 3}
	if len(c.Pixels) != len(want) {
		t.Fatalf("pixels %v, want %v", c.Pixels, want)
	}
	for i := range want {
		if c.Pixels[i] != want[i] {
			t.Fatalf("pixels %v, want %v", c.Pixels, want)
		}
	}
	if c.Peak != 1*w+1 || c.PeakScore != 9 {
		t.Errorf("peak %d (%g), want %d (9)", c.Peak, c.PeakScore, 1*w+1)
	}
	if c.MinX != 1 || c.MinY != 1 || c.MaxX != 4 || c.MaxY != 3 {
		t.Errorf("bounds %d,%d-%d,%d, want 1,1-4,3", c.MinX, c.MinY, c.MaxX, c.MaxY)
	}
}

func TestSegmentOrderAndHull(t *testing.T) {
	const w, h = 10, 10
	s := make([]float32, w*h)
	// A 3×2 block with peak 6, and a single pixel with peak 8.
	for y := 2; y < 4; y++ {
		for x := 2; x < 5; x++ {
			s[y*w+x] = 6
		}
	}
	s[8*w+8] = 8
	comps := Segment(s, w, h, 5, 5)
	if len(comps) != 2 || comps[0].PeakScore != 8 || comps[1].PeakScore != 6 {
		t.Fatalf("components %+v: want two, strongest first", comps)
	}
	hull := comps[1].Hull(w)
	// The hull of a 3×2 block of unit squares is its bounding rectangle.
	area := 0.0
	for i := 0; i+1 < len(hull); i++ {
		area += hull[i].X*hull[i+1].Y - hull[i+1].X*hull[i].Y
	}
	if math.Abs(math.Abs(area/2)-6) > 1e-12 || len(hull) != 5 || hull[0] != hull[4] {
		t.Errorf("hull %v: area %g, want a closed rectangle of area 6", hull, math.Abs(area/2))
	}
	c := comps[1].Centroid(w, nil)
	if c.X != 3.5 || c.Y != 3 {
		t.Errorf("centroid %v, want (3.5, 3)", c)
	}
}
