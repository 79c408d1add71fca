package detect

import (
	"errors"
	"image"
	"math"
	"testing"

	"github.com/atalaya-project/atalaya/internal/cube"
)

// detectorCase builds one detector of a background.
type detectorCase struct {
	name string
	mk   func(bg *Background, t []float64) (Detector, error)
}

var detectors = []detectorCase{
	{"RX", func(bg *Background, t []float64) (Detector, error) { return NewRX(bg), nil }},
	{"MF", func(bg *Background, t []float64) (Detector, error) { return NewMatchedFilter(bg, t) }},
	{"ACE", func(bg *Background, t []float64) (Detector, error) { return NewACE(bg, t) }},
	{"CEM", func(bg *Background, t []float64) (Detector, error) { return NewCEM(bg, t) }},
}

// runDetectorSuite is the test body every detector and every Labeler goes
// through: empty blocks, masking, determinism, sub-cubes, shape panics.
func runDetectorSuite(t *testing.T, lab func(c *cube.Cube) Labeler) {
	const W, H, B = 40, 30, 16
	sc := newScene(7, B, 100, 1)
	c := sc.cube(W, H, func(x, y int) float64 {
		if x == 20 && y == 15 {
			return 8
		}
		return 0
	})
	mask := MaskOptions{HasIgnore: true, IgnoreValue: -9999, Saturation: 60000}
	bg := globalBackground(t, c, StatsOptions{Mask: mask, Labeler: lab(c)})
	// Masked pixels: NaN in band 3, ignore value in band 0, saturated band 5.
	bad := cube.New(c.Rect, B)
	copy(bad.Pix, c.Pix)
	bad.At(1, 0)[3] = float32(math.NaN())
	bad.At(2, 0)[0] = -9999
	bad.At(3, 0)[5] = 70000
	bad.At(4, 0)[6] = float32(math.Inf(-1))
	for _, dc := range detectors {
		t.Run(dc.name, func(t *testing.T) {
			d, err := dc.mk(bg, sc.t)
			if err != nil {
				t.Fatal(err)
			}
			// Empty block.
			if m := d.Score(nil, cube.New(image.Rect(5, 5, 5, 9), B)); m.Total() != 0 {
				t.Errorf("empty block: counts %v", m)
			}
			// Masks.
			N := c.Pixels()
			s := make([]float32, N)
			m := d.Score(s, bad)
			want := MaskCounts{NoData: 1, NotFinite: 2, Saturated: 1}
			if m != want {
				t.Errorf("mask counts %v, want %v", m, want)
			}
			for i, v := range s {
				masked := i >= 1 && i <= 4
				if masked != math.IsNaN(float64(v)) {
					t.Errorf("pixel %d: score %g (masked %v)", i, v, masked)
				}
			}
			// Deterministic, and a sub-cube (non-contiguous rows) scores as
			// the same pixels of the whole.
			s1, s2 := make([]float32, N), make([]float32, N)
			d.Score(s1, c)
			d.Score(s2, c)
			for i := range s1 {
				if math.Float32bits(s1[i]) != math.Float32bits(s2[i]) || math.IsNaN(float64(s1[i])) {
					t.Fatalf("pixel %d: %g then %g", i, s1[i], s2[i])
				}
			}
			r := image.Rect(3, 7, 29, 22)
			sub := c.SubCube(r)
			ss := make([]float32, sub.Pixels())
			d.Score(ss, sub)
			for i, v := range ss {
				x, y := r.Min.X+i%r.Dx(), r.Min.Y+i/r.Dx()
				if w := s1[y*W+x]; v != w {
					t.Fatalf("sub-cube pixel (%d,%d): %g, whole cube %g", x, y, v, w)
				}
			}
			// Programmer errors panic.
			mustPanic(t, "short dst", func() { d.Score(make([]float32, N-1), c) })
			mustPanic(t, "wrong bands", func() { d.Score(make([]float32, 4), cube.New(image.Rect(0, 0, 2, 2), B+1)) })
		})
	}
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: no panic", what)
		}
	}()
	f()
}

func TestDetectorsGlobal(t *testing.T) {
	runDetectorSuite(t, func(*cube.Cube) Labeler { return nil })
}

func TestDetectorsColumns(t *testing.T) {
	runDetectorSuite(t, func(c *cube.Cube) Labeler { return Columns{Samples: c.Rect.Dx(), Width: 8} })
}

func TestDetectorsClusters(t *testing.T) {
	runDetectorSuite(t, func(c *cube.Cube) Labeler {
		cl, err := FitClusters(c, ClusterOptions{K: 3, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		return cl
	})
}

// TestPerColumnStats: a pushbroom cube whose columns differ in gain and
// offset. In-sample, the mean RX of N pixels against their own unshrunk
// statistics is exactly K(N−1)/N (tr(S⁻¹·S)·(N−1)/N), so per-column RX must
// give it in every column, while global RX stripes.
func TestPerColumnStats(t *testing.T) {
	const W, H, B = 6, 300, 12
	sc := newScene(3, B, 1e3, 1)
	c := sc.cube(W, H, nil)
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			p := c.At(x, y)
			for b := range p {
				p[b] = p[b]*float32(1+0.1*float64(x)) + float32(50*x)
			}
		}
	}
	bg := globalBackground(t, c, StatsOptions{Shrink: ShrinkNone, Labeler: Columns{Samples: W, Width: 1}})
	if len(bg.Stats) != W {
		t.Fatalf("%d stats, want %d", len(bg.Stats), W)
	}
	s := make([]float32, c.Pixels())
	NewRX(bg).Score(s, c)
	gs := make([]float32, c.Pixels())
	NewRX(globalBackground(t, c, StatsOptions{Shrink: ShrinkNone})).Score(gs, c)
	want := float64(B) * (H - 1) / H
	for x := 0; x < W; x++ {
		var m, g float64
		for y := 0; y < H; y++ {
			m += float64(s[y*W+x])
			g += float64(gs[y*W+x])
		}
		m /= H
		g /= H
		t.Logf("column %d: mean RX per-column %.5f, global %.2f (K(N−1)/N = %.5f)", x, m, g, want)
		// float32 scores summed in float64: 1e-5 relative.
		if math.Abs(m-want) > 1e-5*want {
			t.Errorf("column %d: mean per-column RX %.6f, want %.6f", x, m, want)
		}
	}
	// Few pixels per column: 10 lines × 12 bands. Unshrunk fails with
	// ErrStats, Ledoit–Wolf stays invertible.
	few := c.SubCube(image.Rect(0, 0, W, 10))
	acc := NewAccumulator(B, StatsOptions{Shrink: ShrinkNone, Labeler: Columns{Samples: W, Width: 1}})
	acc.Add(few, nil)
	if _, err := acc.Finish(); !errors.Is(err, ErrStats) {
		t.Errorf("unshrunk with 10 pixels × 12 bands: err %v, want ErrStats", err)
	}
	acc = NewAccumulator(B, StatsOptions{Labeler: Columns{Samples: W, Width: 1}})
	acc.Add(few, nil)
	bg, err := acc.Finish()
	if err != nil {
		t.Fatalf("Ledoit–Wolf with 10 pixels × 12 bands: %v", err)
	}
	t.Logf("10 pixels × 12 bands: Ledoit–Wolf ρ %.3f", bg.Stats[0].Shrinkage)
}

// TestLedoitWolfDirect checks the streaming shrinkage weight (shifted sums,
// fourth moments by expansion) against the formula evaluated directly on
// centred data.
func TestLedoitWolfDirect(t *testing.T) {
	const N, B = 300, 10
	sc := newScene(5, B, 1e3, 1)
	c := sc.cube(N, 1, nil)
	acc := NewAccumulator(B, StatsOptions{})
	// Two blocks, to exercise the streaming.
	acc.Add(c.SubCube(image.Rect(0, 0, 100, 1)), nil)
	acc.Add(c.SubCube(image.Rect(100, 0, N, 1)), nil)
	bg, err := acc.Finish()
	if err != nil {
		t.Fatal(err)
	}
	mean := make([]float64, B)
	for i := 0; i < N; i++ {
		for b, v := range c.At(i, 0) {
			mean[b] += float64(v) / N
		}
	}
	S := make([]float64, B*B)
	X := make([][]float64, N)
	for i := range X {
		X[i] = make([]float64, B)
		for b, v := range c.At(i, 0) {
			X[i][b] = float64(v) - mean[b]
		}
		for a := 0; a < B; a++ {
			for b := 0; b < B; b++ {
				S[a*B+b] += X[i][a] * X[i][b] / N
			}
		}
	}
	var tr float64
	for a := 0; a < B; a++ {
		tr += S[a*B+a]
	}
	m := tr / B
	var d2, b2 float64
	for a := 0; a < B; a++ {
		for b := 0; b < B; b++ {
			v := S[a*B+b]
			if a == b {
				v -= m
			}
			d2 += v * v
		}
	}
	for _, x := range X {
		for a := 0; a < B; a++ {
			for b := 0; b < B; b++ {
				v := x[a]*x[b] - S[a*B+b]
				b2 += v * v
			}
		}
	}
	b2 /= N * N
	want := math.Min(b2, d2) / d2
	got := bg.Stats[0].Shrinkage
	t.Logf("ρ streaming %.10f, direct %.10f", got, want)
	if math.Abs(got-want) > 1e-8*want {
		t.Errorf("ρ = %.12f, want %.12f", got, want)
	}
	for b := range mean {
		if math.Abs(bg.Stats[0].Mean[b]-mean[b]) > 1e-9*math.Abs(mean[b]) {
			t.Errorf("mean[%d] = %g, want %g", b, bg.Stats[0].Mean[b], mean[b])
		}
	}
}

// TestBandScreen: a band with 20× the noise of its neighbours is dropped, a
// header bad band is dropped, the rest are kept, and the detectors run on
// the kept bands only.
func TestBandScreen(t *testing.T) {
	const W, H, B = 50, 40, 24
	sc := newScene(9, B, 10, 1)
	c := sc.cube(W, H, nil)
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			c.At(x, y)[10] += float32(20 * sc.rng.NormFloat64() * 3)
		}
	}
	bbl := make([]bool, B)
	for i := range bbl {
		bbl[i] = i != 3
	}
	m := MaskOptions{BBL: bbl, NoiseFactor: DefaultNoiseFactor}
	bs := NewBandScreen(B, m)
	bs.Add(c)
	keep, rep := bs.Bands()
	t.Logf("noise %.3g; dropped %+v", bs.Noise(), rep.Dropped)
	if len(rep.Dropped) != 2 || rep.Dropped[0].Band != 3 || rep.Dropped[1].Band != 10 {
		t.Fatalf("dropped %+v, want bands 3 (header) and 10 (noise)", rep.Dropped)
	}
	if len(keep) != B-2 {
		t.Fatalf("kept %v", keep)
	}
	acc := NewAccumulator(B, StatsOptions{Bands: keep, Mask: m})
	acc.Add(c, nil)
	bg, err := acc.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if len(bg.Report.Dropped) != 2 {
		t.Errorf("background report %v", bg.Report)
	}
	s := make([]float32, c.Pixels())
	NewRX(bg).Score(s, c)
	var mean float64
	for _, v := range s {
		mean += float64(v) / float64(len(s))
	}
	// Shrunk in-sample RX: a little below K(N−1)/N = 21.99.
	if mean < 20 || mean > float64(B-2) {
		t.Errorf("mean RX %.3f over %d kept bands", mean, B-2)
	}
}

// TestMaskedPixelsLeftOutOfStats: statistics of a block with masked pixels
// equal those of the block without them.
func TestMaskedPixelsLeftOutOfStats(t *testing.T) {
	const B = 8
	sc := newScene(11, B, 10, 1)
	c := sc.cube(30, 10, nil)
	clean := cube.New(image.Rect(0, 0, 30*10-2, 1), B)
	j := 0
	for i := 0; i < c.Pixels(); i++ {
		if i == 5 || i == 77 {
			continue
		}
		copy(clean.Pix[j*B:], c.Pix[i*B:i*B+B])
		j++
	}
	c.Pix[5*B+2] = float32(math.NaN())
	c.Pix[77*B] = 65535
	o := StatsOptions{Shrink: ShrinkNone, Mask: MaskOptions{Saturation: 65535}}
	a, b := globalBackground(t, c, o), globalBackground(t, clean, o)
	if a.Report.Masked != (MaskCounts{NotFinite: 1, Saturated: 1}) {
		t.Errorf("report %v", a.Report)
	}
	for i := range a.Stats[0].Mean {
		if math.Abs(a.Stats[0].Mean[i]-b.Stats[0].Mean[i]) > 1e-9 {
			t.Fatalf("mean differs in band %d", i)
		}
	}
	if a.Stats[0].Count != b.Stats[0].Count {
		t.Errorf("count %d vs %d", a.Stats[0].Count, b.Stats[0].Count)
	}
}
