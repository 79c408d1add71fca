package sites

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/cube"
)

// georef returns a north-up UTM 18N georeference with 1 m pixels whose
// upper-left corner is at (e0, n0).
func georef(t testing.TB, e0, n0, px float64, w, h int) *cube.Georef {
	t.Helper()
	hd := &cube.Header{Samples: w, Lines: h, Bands: 1, MapInfo: &cube.MapInfo{
		Projection: "UTM", RefX: 1, RefY: 1, Easting: e0, Northing: n0, PixelX: px, PixelY: px,
		Zone: 18, North: true, Datum: "WGS-84", Units: "Meters",
	}}
	g, err := hd.Georef()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// noisePass is a pass of independent N(0, σ²) retrieval noise (σ varying
// per pixel between 4 and 8 ppm·m), plus add(x, y) ppm·m.
func noisePass(rng *rand.Rand, id string, day int, w, h int, geo *cube.Georef, add func(x, y int) float64) Pass {
	p := Pass{ID: id, Time: time.Date(2026, 3, 10+day, 15, 30, 0, 0, time.UTC), Gas: "dichloromethane", W: w, H: h,
		C: make([]float32, w*h), Sigma: make([]float32, w*h), Geo: geo}
	for y := range h {
		for x := range w {
			s := 4 + 4*rng.Float64()
			c := s * rng.NormFloat64()
			if add != nil {
				c += add(x, y)
			}
			p.C[y*w+x], p.Sigma[y*w+x] = float32(c), float32(s)
		}
	}
	return p
}

func newGrid(t testing.TB, cfg GridConfig) *Grid {
	t.Helper()
	if cfg.Zone == 0 {
		cfg.Zone, cfg.North = 18, true
	}
	g, err := NewGrid(cfg, NewMemTileStore())
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func allZ(t testing.TB, g *Grid, gas string) []float64 {
	t.Helper()
	m, err := g.loadMosaic(context.Background(), gas)
	if err != nil {
		t.Fatal(err)
	}
	var z []float64
	for _, v := range m.z {
		if !math.IsNaN(float64(v)) {
			z = append(z, float64(v))
		}
	}
	return z
}

func meanSD(v []float64) (float64, float64) {
	var s, s2 float64
	for _, x := range v {
		s += x
	}
	m := s / float64(len(v))
	for _, x := range v {
		s2 += (x - m) * (x - m)
	}
	return m, math.Sqrt(s2 / float64(len(v)-1))
}

// Background cells stay N(0, 1) whatever the number of passes, while a
// faint persistent signal's z grows as √n: the inverse-variance
// combination of independent passes.
func TestGridCombinesAsInverseVariance(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	const w, h = 400, 300
	geo := georef(t, 512000, 250000, 1, w, h)
	g := newGrid(t, GridConfig{CellM: 5})
	// A 10×10 m patch of 2 ppm·m: per 5 m cell (25 pixels of σ≈6) a single
	// pass's cell z is about 2/6·5 ≈ 1.6.
	src := func(x, y int) float64 {
		if x >= 200 && x < 210 && y >= 100 && y < 110 {
			return 2
		}
		return 0
	}
	si, sj := g.CellAt(512202.5, 250000-102.5)
	var z1 float64
	for n := 1; n <= 9; n++ {
		rep, err := g.AddPass(ctx, noisePass(rng, "p"+string(rune('0'+n)), n, w, h, geo, src))
		if err != nil {
			t.Fatal(err)
		}
		if rep.Cells != 80*60 || rep.PixelsPerCell != 25 {
			t.Fatalf("pass %d: %d cells of %g pixels, want 4800 of 25", n, rep.Cells, rep.PixelsPerCell)
		}
		if rep.Inflation > 1.05 {
			t.Errorf("pass %d: inflation %g for independent pixels, want ≈1", n, rep.Inflation)
		}
		// The source cells' mean z over the 4 cells.
		var zs float64
		for dj := int64(-1); dj <= 0; dj++ {
			for di := int64(0); di <= 1; di++ {
				ev, ok, err := g.Evidence(ctx, "dichloromethane", si+di, sj+dj)
				if err != nil || !ok || ev.Passes != n {
					t.Fatalf("evidence: %+v %v %v", ev, ok, err)
				}
				zs += ev.Z / 4
			}
		}
		if n == 1 {
			z1 = zs
		}
		if n == 1 || n == 4 || n == 9 {
			m, sd := meanSD(allZ(t, g, "dichloromethane"))
			t.Logf("n=%d: source z %.2f (√n·z₁ = %.2f); all cells: mean %.3f sd %.3f", n, zs, math.Sqrt(float64(n))*z1, m, sd)
			if math.Abs(sd-1) > 0.05 || math.Abs(m) > 0.05 {
				t.Errorf("n=%d: background z mean %.3f sd %.3f, want N(0,1)", n, m, sd)
			}
		}
		if n == 9 && (zs < 3.5 || zs > 6.5) {
			t.Errorf("source z after 9 passes %.2f, want ≈ 3·1.6 = 4.9", zs)
		}
	}
	// The same pass again is refused.
	_, err := g.AddPass(ctx, noisePass(rng, "p1", 1, w, h, geo, nil))
	if !errors.Is(err, ErrDuplicatePass) {
		t.Errorf("second add of pass p1: %v, want ErrDuplicatePass", err)
	}
}

// Spatially correlated pixels (noise smoothed over 3×3) are not 9
// independent measurements: the inflation factor restores N(0, 1) cells.
func TestGridInflatesForCorrelatedPixels(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	const w, h = 400, 300
	geo := georef(t, 512000, 250000, 1, w, h)
	g := newGrid(t, GridConfig{CellM: 5})
	for n := range 3 {
		p := noisePass(rng, "c"+string(rune('0'+n)), n, w, h, geo, nil)
		sm := make([]float32, len(p.C))
		for y := 1; y < h-1; y++ {
			for x := 1; x < w-1; x++ {
				var s float32
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						s += p.C[(y+dy)*w+x+dx] / p.Sigma[(y+dy)*w+x+dx]
					}
				}
				sm[y*w+x] = s / 3 * 6 // unit variance per pixel, times σ = 6
			}
		}
		for i := range p.Sigma {
			p.Sigma[i] = 6
		}
		p.C = sm
		rep, err := g.AddPass(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("pass %d: inflation %.2f", n, rep.Inflation)
		if rep.Inflation < 2 {
			t.Errorf("inflation %.2f for 3×3-smoothed pixels in 5×5 cells, want √(37²/9/25) = 2.47", rep.Inflation)
		}
	}
	if m, sd := meanSD(allZ(t, g, "dichloromethane")); math.Abs(sd-1) > 0.1 {
		t.Errorf("combined z of correlated passes: mean %.3f sd %.3f, want sd ≈ 1", m, sd)
	}
}

// Passes in another UTM zone land where they belong; coarse pixels are
// sampled; a half-life fades old passes.
func TestGridGeometryAndForgetting(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	// A pass in zone 17 over ground in zone 18's frame: reprojected.
	lat, lon := cube.UTMToLatLon(18, true, 512000, 250000)
	e17, n17 := cube.LatLonToUTM(lat, lon, 17, true)
	hd := &cube.Header{Samples: 100, Lines: 100, Bands: 1, MapInfo: &cube.MapInfo{
		Projection: "UTM", RefX: 1, RefY: 1, Easting: e17, Northing: n17, PixelX: 10, PixelY: 10, Zone: 17, North: true, Datum: "WGS-84"}}
	geo, err := hd.Georef()
	if err != nil {
		t.Fatal(err)
	}
	g := newGrid(t, GridConfig{CellM: 5, HalfLife: 24 * time.Hour})
	p := noisePass(rng, "z17", 0, 100, 100, geo, nil)
	p.C[0] = 1e4 // a bright pixel at the upper-left corner
	rep, err := g.AddPass(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if rep.PixelsPerCell != 0 || rep.Cells < 3500 {
		t.Errorf("10 m pixels on 5 m cells: %d cells, %g pixels per cell; want sampled, ≈4000 cells", rep.Cells, rep.PixelsPerCell)
	}
	i, j := g.CellAt(512002, 249998)
	ev, ok, _ := g.Evidence(ctx, "dichloromethane", i, j)
	if !ok || ev.PPMm < 1e3 {
		t.Errorf("bright pixel not at its place after reprojection: %+v", ev)
	}
	// Forgetting: a second pass one half-life later weighs twice the first.
	p2 := noisePass(rng, "later", 1, 100, 100, geo, nil)
	for k := range p2.C {
		p2.C[k], p2.Sigma[k] = 0, p.Sigma[k]
	}
	if _, err := g.AddPass(ctx, p2); err != nil {
		t.Fatal(err)
	}
	ev2, _, _ := g.Evidence(ctx, "dichloromethane", i, j)
	// ĉ = (½·c₁ + 1·0)/(½ + 1) = c₁/3.
	if r := ev2.PPMm / ev.PPMm; math.Abs(r-1.0/3) > 1e-6 {
		t.Errorf("after one half-life ĉ fell to %.4f of its value, want 1/3", r)
	}
	// σ² = (¼ + 1)/(½+1)² σ₁² → σ = √(1.25)/1.5 σ₁.
	if r := ev2.SigmaPPMm / ev.SigmaPPMm; math.Abs(r-math.Sqrt(1.25)/1.5) > 1e-6 {
		t.Errorf("σ ratio %.4f, want %.4f", r, math.Sqrt(1.25)/1.5)
	}
}

// With the wind known, a cell's footprint reaches downwind: a plume line
// starting in a cell and running east puts its evidence in that cell. The
// differential footprint (downwind less upwind) cancels clutter that
// extends across the cell, at √2 in noise.
func TestGridFootprint(t *testing.T) {
	ctx := context.Background()
	const w, h = 200, 100
	geo := georef(t, 512000, 250000, 1, w, h)
	scene := func(x, y int) float64 {
		v := 2.0 // a uniform clutter offset over the whole ground, ⅓σ
		if y == 52 && x >= 100 && x < 115 {
			v += 20 // z ≈ 3.3 per pixel: Σz ≈ 50 over a footprint of ≈ 90 pixels
		}
		return v
	}
	for _, diff := range []bool{false, true} {
		g := newGrid(t, GridConfig{CellM: 5, PlumeLengthM: 15, PlumeWidthM: 3, Differential: &diff})
		p := noisePass(rand.New(rand.NewPCG(7, 8)), "f", 0, w, h, geo, scene)
		p.Wind = &Wind{FromDeg: 270}
		if _, err := g.AddPass(ctx, p); err != nil {
			t.Fatal(err)
		}
		i, j := g.CellAt(512101, 250000-52.5)
		ev, _, _ := g.Evidence(ctx, "dichloromethane", i, j)
		far, _, _ := g.Evidence(ctx, "dichloromethane", i-8, j+8)
		t.Logf("differential %v: source cell z %.2f, a cell 40 m away z %.2f", diff, ev.Z, far.Z)
		if ev.Z < 3 {
			t.Errorf("differential %v: source cell z %.2f, want > 3", diff, ev.Z)
		}
		if clutter := far.Z; diff && math.Abs(clutter) > 3 || !diff && clutter < 2 {
			t.Errorf("differential %v: uniform clutter gives z %.2f away from the plume", diff, clutter)
		}
	}
}

func TestTileEncoding(t *testing.T) {
	tl := NewTile(TileKey{Gas: "toluene", TX: -3, TY: 7}, 8)
	tl.SumWC[5], tl.SumW[5], tl.SumW2[5], tl.Passes[5], tl.Seen[5], tl.LastPass[5] = 1.5, 2, 2, 3, 1, 1773000000
	tl.History = []PassRecord{{ID: "p1", Time: time.Unix(1773000000, 0).UTC(), Inflation: 1.1}}
	b, err := tl.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Tile
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if got.Key != tl.Key || got.SumWC[5] != 1.5 || got.Passes[5] != 3 || len(got.History) != 1 || !got.History[0].Time.Equal(tl.History[0].Time) {
		t.Errorf("round trip: %+v", got.Key)
	}
	for _, bad := range [][]byte{nil, b[:10], b[:len(b)-1], append(append([]byte{}, b...), 0)} {
		if err := new(Tile).UnmarshalBinary(bad); !errors.Is(err, ErrTileFormat) {
			t.Errorf("%d bytes: %v, want ErrTileFormat", len(bad), err)
		}
	}
}

func FuzzTileDecode(f *testing.F) {
	tl := NewTile(TileKey{Gas: "x", TX: 1, TY: 2}, 8)
	b, _ := tl.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		var tl Tile
		if err := tl.UnmarshalBinary(data); err == nil {
			if _, err := tl.MarshalBinary(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func nil2(n int) *rand.Rand { return rand.New(rand.NewPCG(uint64(n), 99)) }
