package detect

import (
	"math"
	"testing"

	"github.com/atalaya-project/atalaya/internal/cube"
)

// TestScreenMatchesExact checks the engine's screened masking against the
// exact per-band test in the cases the screen must not shortcut: garbage in
// header-bad bands (not candidates: must not mask), NaN in a candidate band
// that the band selection dropped (must mask), the data ignore value inside
// the data's range, saturation, ±Inf in a kept band; with kept bands in
// several runs, blocks spanning several chunks and lines, for the global
// path and the labelled one. Unmasked pixels must score as in the clean cube.
func TestScreenMatchesExact(t *testing.T) {
	const W, H, B = 97, 23, 24 // 2231 pixels: several 256-pixel chunks per worker
	sc := newScene(5, B, 100, 1)
	c := sc.cube(W, H, nil)
	bbl := make([]bool, B)
	for b := range bbl {
		bbl[b] = b != 5 && b != 6
	}
	// The ignore value is a value the data really takes in band 2 of pixel
	// (0, 0): inside [lo, hi] of every run, so the screen cannot clear runs.
	ign := c.At(0, 0)[2]
	c.At(0, 0)[2]++
	mask := MaskOptions{BBL: bbl, HasIgnore: true, IgnoreValue: float64(ign), Saturation: 60000}
	var keep []int
	for b := range B {
		if bbl[b] && b != 10 && b != 17 {
			keep = append(keep, b)
		}
	}
	bad := cube.New(c.Rect, B)
	copy(bad.Pix, c.Pix)
	for i := 0; i < W*H; i += 3 {
		bad.Pix[i*B+5] = float32(math.NaN()) // header-bad band: not a mask reason
		bad.Pix[i*B+6] = 1e30
	}
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	plant := map[[2]int]struct {
		b int
		v float32
	}{
		{1, 0}: {3, nan}, {50, 4}: {10, nan}, {96, 22}: {0, ign}, {40, 10}: {23, 70000},
		{0, 5}: {11, -inf}, {95, 5}: {12, inf}, {60, 20}: {17, ign},
	}
	for p, v := range plant {
		bad.At(p[0], p[1])[v.b] = v.v
	}
	want := MaskCounts{NotFinite: 4, NoData: 2, Saturated: 1}
	for _, lc := range []struct {
		name string
		lab  Labeler
	}{{"global", Global{}}, {"columns", Columns{Samples: W, Width: 40}}} {
		bg := globalBackground(t, c, StatsOptions{Mask: mask, Bands: keep, Labeler: lc.lab})
		for _, dc := range detectors {
			d, err := dc.mk(bg, sc.t)
			if err != nil {
				t.Fatal(err)
			}
			ref, got := make([]float32, W*H), make([]float32, W*H)
			if m := d.Score(ref, c); m.Total() != 0 {
				t.Fatalf("%s %s: clean cube masked %v", lc.name, dc.name, m)
			}
			if m := d.Score(got, bad); m != want {
				t.Errorf("%s %s: mask counts %v, want %v", lc.name, dc.name, m, want)
			}
			for i := range got {
				_, masked := plant[[2]int{i % W, i / W}]
				g := float64(got[i])
				switch {
				case masked != math.IsNaN(g):
					t.Fatalf("%s %s: pixel %d scored %g, masked %v", lc.name, dc.name, i, g, masked)
				case !masked && math.Abs(g-float64(ref[i])) > 1e-5*math.Max(1, math.Abs(float64(ref[i]))):
					t.Fatalf("%s %s: pixel %d scored %g, clean cube %g", lc.name, dc.name, i, g, ref[i])
				}
			}
		}
	}
}

// TestBandScreenCleanLines checks the screened path of BandScreen.Add (whole
// clean lines) against the per-pixel path, which a bad band in the header
// forces: the same noise in every other band, the same pair count.
func TestBandScreenCleanLines(t *testing.T) {
	const W, H, B = 57, 9, 20
	sc := newScene(11, B, 100, 1)
	c := sc.cube(W, H, nil)
	bbl := make([]bool, B)
	for b := range bbl {
		bbl[b] = b != 0
	}
	fast, slow := NewBandScreen(B, MaskOptions{}), NewBandScreen(B, MaskOptions{BBL: bbl})
	fast.Add(c)
	slow.Add(c)
	if fast.pairs != slow.pairs || fast.pairs != (W-1)*H || fast.rep.Pixels != W*H {
		t.Fatalf("pairs %d and %d, pixels %d", fast.pairs, slow.pairs, fast.rep.Pixels)
	}
	nf, ns := fast.Noise(), slow.Noise()
	for b := 1; b < B; b++ {
		if math.Abs(nf[b]-ns[b]) > 1e-5*ns[b] {
			t.Errorf("band %d: noise %g (clean lines) vs %g (per pixel)", b, nf[b], ns[b])
		}
	}
}
