package sites

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/sim"
	"github.com/atalaya-project/atalaya/internal/spectra"
)

// TestSourceGridRecoversRate renders the simulator's ensemble-mean plume
// (internal/sim, Briggs σ_y, its own unit conversion) of sources of known
// rate, adds N(0, σ²) retrieval noise, and checks that a source grid's
// per-pass rate at each source's cell is unbiased over in-cell positions
// and passes, that its stated σ is its spread, and that background cells'
// z is N(0, 1).
func TestSourceGridRecoversRate(t *testing.T) {
	lib, err := spectra.Default()
	if err != nil {
		t.Fatal(err)
	}
	const w, h = 240, 160
	const e0, n0 = 512000.0, 250000.0
	geo := georef(t, e0, n0, 1, w, h)
	rng := rand.New(rand.NewPCG(7, 8))
	const q = 0.5 // kg/h: a few σ per pass, so the noise, not the in-cell position, dominates the error
	// Sources 60 m apart, each at a random position in its 5 m cell.
	var srcs []sim.Source
	for _, at := range [][2]float64{{40, -40}, {100, -40}, {160, -40}, {40, -110}, {100, -110}, {160, -110}} {
		srcs = append(srcs, sim.Source{Name: "s", East: at[0] + 5*rng.Float64(), North: at[1] - 5*rng.Float64(), Rates: map[string]float64{"dichloromethane": q}})
	}
	var ratios, zs []float64
	winds := []sim.Weather{
		{WindSpeed: 3, WindFromDeg: 270, Stability: "D", AirTempK: 300, PressurePa: 95000},
		{WindSpeed: 2, WindFromDeg: 240, Stability: "C", AirTempK: 302, PressurePa: 95000},
		{WindSpeed: 4, WindFromDeg: 300, Stability: "D", AirTempK: 298, PressurePa: 95000},
	}
	for pi, wx := range winds {
		f, err := sim.NewField(wx, sim.Turbulence{}, srcs, lib, time.Time{}, 1)
		if err != nil {
			t.Fatal(err)
		}
		col := make([]float64, 1)
		p := noisePass(rng, "p", pi, w, h, geo, func(x, y int) float64 {
			f.MeanColumnPPMm(float64(x)+0.5, -(float64(y) + 0.5), 1, col)
			return col[0]
		})
		p.Wind = &Wind{FromDeg: wx.WindFromDeg, SpeedMS: wx.WindSpeed, Stability: wx.Stability, AirTempK: wx.AirTempK, PressurePa: wx.PressurePa}
		// The sources stand in each other's plumes for some of the winds;
		// the through-plume gate would leave those cells out (tested in
		// TestThroughPlumeGate). Here the filter's rate is under test.
		g := newGrid(t, GridConfig{Source: &SourceConfig{Library: lib, DirSigmaDeg: 1e-3, ThroughZ: math.Inf(1)}})
		rep, err := g.AddPass(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range srcs {
			i, j := g.CellAt(e0+s.East, n0+s.North)
			ev, ok, err := g.Evidence(context.Background(), "dichloromethane", i, j)
			if err != nil || !ok {
				t.Fatalf("source cell: %v %v", ok, err)
			}
			ratios = append(ratios, ev.RateKgH/q)
			zs = append(zs, (ev.RateKgH-q)/ev.SigmaKgH)
		}
		t.Logf("pass %d: inflation %.2f, median σ %.3f kg/h", pi, rep.Inflation, rep.MedianSigma)
	}
	// Background: a pass of noise alone. The filter's σ is exact for
	// independent pixels, so the inflation is 1 and z is N(0, 1).
	g := newGrid(t, GridConfig{Source: &SourceConfig{Library: lib}})
	p := noisePass(rng, "noise", 0, w, h, geo, nil)
	p.Wind = &Wind{FromDeg: 250, SpeedMS: 3}
	rep, err := g.AddPass(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	bg := allZ(t, g, "dichloromethane")
	if rep.Inflation > 1.1 {
		t.Errorf("white noise: inflation %.2f, want 1", rep.Inflation)
	}
	mr, sr := meanSD(ratios)
	mz, sz := meanSD(zs)
	mb, sb := meanSD(bg)
	t.Logf("rate/true %.3f ± %.3f (%d source-passes); (rate−true)/σ mean %.2f sd %.2f; background z mean %.3f sd %.3f (%d cells)", mr, sr, len(ratios), mz, sz, mb, sb, len(bg))
	// The estimate is unbiased over in-cell positions: the mean of 18
	// ratios is within 3 standard errors of 1.
	if math.Abs(mr-1) > 3*sr/math.Sqrt(float64(len(ratios))) {
		t.Errorf("mean rate/true %.3f ± %.3f, want 1", mr, sr/math.Sqrt(float64(len(ratios))))
	}
	// Its σ is its spread (noise only; in-cell position adds a little).
	if sz < 0.8 || sz > 1.6 || math.Abs(mz) > 1 {
		t.Errorf("(rate−true)/σ: mean %.2f sd %.2f, want about N(0, 1)", mz, sz)
	}
	if math.Abs(mb) > 0.1 || math.Abs(sb-1) > 0.1 {
		t.Errorf("background z mean %.3f sd %.3f, want N(0, 1)", mb, sb)
	}
}

// TestSourceGridNeedsWind: a source grid refuses a pass without wind and
// an unknown stability class, naming what is wrong.
func TestSourceGridNeedsWind(t *testing.T) {
	geo := georef(t, 512000, 250000, 1, 40, 40)
	rng := rand.New(rand.NewPCG(1, 2))
	g := newGrid(t, GridConfig{Source: &SourceConfig{}})
	p := noisePass(rng, "p", 0, 40, 40, geo, nil)
	if _, err := g.AddPass(context.Background(), p); !errors.Is(err, ErrConfig) {
		t.Errorf("no wind: %v, want ErrConfig", err)
	}
	p.Wind = &Wind{FromDeg: 270, SpeedMS: 3, Stability: "Q"}
	if _, err := g.AddPass(context.Background(), p); !errors.Is(err, ErrConfig) {
		t.Errorf("stability Q: %v, want ErrConfig", err)
	}
	if _, err := NewGrid(GridConfig{Zone: 18, Source: &SourceConfig{LengthM: -1}}, NewMemTileStore()); !errors.Is(err, ErrConfig) {
		t.Errorf("length −1: %v, want ErrConfig", err)
	}
}

// TestSourceGridToSites: a source grid's detection becomes a site whose
// gas evidence carries the rate (kg/h) and a finite Bayes factor, and the
// catalog's sites encode as JSON (no NaN from the ppm·m fields a source
// grid does not fill).
func TestSourceGridToSites(t *testing.T) {
	lib, err := spectra.Default()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const w, h = 240, 160
	const e0, n0 = 512000.0, 250000.0
	geo := georef(t, e0, n0, 1, w, h)
	rng := rand.New(rand.NewPCG(9, 10))
	src := []sim.Source{{Name: "lab", East: 82.5, North: -82.5, Rates: map[string]float64{"dichloromethane": 3}}}
	g := newGrid(t, GridConfig{Source: &SourceConfig{Library: lib}})
	for pi, from := range []float64{250, 270, 290, 260} {
		wx := sim.Weather{WindSpeed: 3, WindFromDeg: from, Stability: "D", AirTempK: 300, PressurePa: 95000}
		f, err := sim.NewField(wx, sim.Turbulence{}, src, lib, time.Time{}, 1)
		if err != nil {
			t.Fatal(err)
		}
		col := make([]float64, 1)
		p := noisePass(rng, fmt.Sprint("p", pi), pi, w, h, geo, func(x, y int) float64 {
			f.MeanColumnPPMm(float64(x)+0.5, -(float64(y) + 0.5), 1, col)
			return col[0]
		})
		p.Wind = &Wind{FromDeg: from, SpeedMS: 3, Stability: "D", AirTempK: 300, PressurePa: 95000}
		if _, err := g.AddPass(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	res, err := g.Detect(ctx, DetectConfig{FARPerKm2: 1, Gases: []string{"dichloromethane"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Detections) == 0 {
		t.Fatalf("no detection of a 3 kg/h source over four passes (threshold %.2f)", res.Tests[0].Threshold)
	}
	d := res.Detections[0]
	t.Logf("detection at (%.0f, %.0f) m: z %.1f, rate %.2f ± %.2f kg/h", d.East-e0, d.North-n0, d.PeakZ, d.RateKgH, d.SigmaKgH)
	if math.Hypot(d.East-(e0+82.5), d.North-(n0-82.5)) > 10 {
		t.Errorf("detection %.1f m from the source, want ≤ 10", math.Hypot(d.East-(e0+82.5), d.North-(n0-82.5)))
	}
	cat, err := NewCatalog(CatalogConfig{Zone: 18, North: true})
	if err != nil {
		t.Fatal(err)
	}
	cat.Add(FromGrid(d, time.Date(2026, 3, 13, 15, 30, 0, 0, time.UTC)))
	if err := cat.UpdateFromGrid(ctx, g, res, []string{"dichloromethane"}); err != nil {
		t.Fatal(err)
	}
	sites := cat.Sites()
	if len(sites) != 1 {
		t.Fatalf("%d sites, want 1", len(sites))
	}
	ge := sites[0].Gases["dichloromethane"]
	if ge == nil || !(ge.EmissionKgH > 0) || math.IsNaN(ge.LogBF) || math.IsInf(ge.LogBF, 0) {
		t.Fatalf("gas evidence %+v, want a rate and a finite log Bayes factor", ge)
	}
	if _, err := json.Marshal(sites); err != nil {
		t.Errorf("sites do not encode: %v\n%+v", err, sites[0])
	}
}

// TestKnownPlumesLeaveTheNull: a source's plume (the simulator's
// ensemble-mean column over three passes with different winds, plus
// noise) digs a negative lobe downwind in a source grid, and the
// mirrored-tail null fitted to it raises the threshold for the whole grid.
// Told where single passes found the plume and how far it reached, Detect
// leaves that neighbourhood out of the null's fit: the threshold comes
// back to the noise-only grid's, and the source is found and marked
// NearKnown.
func TestKnownPlumesLeaveTheNull(t *testing.T) {
	lib, err := spectra.Default()
	if err != nil {
		t.Fatal(err)
	}
	const w, h = 500, 300
	const e0, n0 = 512000.0, 250000.0
	geo := georef(t, e0, n0, 1, w, h)
	src := sim.Source{Name: "lab", East: 100.5, North: -150.5, Rates: map[string]float64{"dichloromethane": 3}}
	winds := []sim.Weather{
		{WindSpeed: 3, WindFromDeg: 270, Stability: "D", AirTempK: 300, PressurePa: 95000},
		{WindSpeed: 2.5, WindFromDeg: 250, Stability: "C", AirTempK: 302, PressurePa: 95000},
		{WindSpeed: 3.5, WindFromDeg: 290, Stability: "D", AirTempK: 298, PressurePa: 95000},
	}
	run := func(withSource bool) *Grid {
		rng := rand.New(rand.NewPCG(11, 12))
		g := newGrid(t, GridConfig{Source: &SourceConfig{Library: lib}})
		for pi, wx := range winds {
			f, err := sim.NewField(wx, sim.Turbulence{}, []sim.Source{src}, lib, time.Time{}, 1)
			if err != nil {
				t.Fatal(err)
			}
			col := make([]float64, 1)
			var add func(x, y int) float64
			if withSource {
				add = func(x, y int) float64 {
					f.MeanColumnPPMm(float64(x)+0.5, -(float64(y) + 0.5), 1, col)
					return col[0]
				}
			}
			p := noisePass(rng, fmt.Sprint("p", pi), pi, w, h, geo, add)
			// The wind as a weather model gives it: 15° off.
			p.Wind = &Wind{FromDeg: wx.WindFromDeg + 15, SpeedMS: wx.WindSpeed, Stability: wx.Stability, AirTempK: wx.AirTempK, PressurePa: wx.PressurePa}
			if _, err := g.AddPass(context.Background(), p); err != nil {
				t.Fatal(err)
			}
		}
		return g
	}
	detect := func(g *Grid, known []KnownPlume) *GridResult {
		r, err := g.Detect(context.Background(), DetectConfig{FARPerKm2: 1, Gases: []string{"dichloromethane"}, Plumes: known})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	clean := detect(run(false), nil)
	g := run(true)
	blind := detect(g, nil)
	lat, lon := cube.UTMToLatLon(18, true, e0+src.East, n0+src.North)
	// The single passes' plumes: a wedge from the source over the
	// passes' downwind directions (70-110°, ±10°) to the grid's edge;
	// another gas's plume changes nothing.
	outline := [][2]float64{{lon, lat}}
	for b := 60.0; b <= 120; b += 5 {
		s, c := math.Sincos(b * math.Pi / 180)
		la, lo := cube.UTMToLatLon(18, true, e0+src.East+420*s, n0+src.North+420*c)
		outline = append(outline, [2]float64{lo, la})
	}
	outline = append(outline, outline[0])
	told := detect(g, []KnownPlume{{Gas: "dichloromethane", Lat: lat, Lon: lon, Outline: outline}, {Gas: "toluene", Lat: lat, Lon: lon}})
	i, j := g.CellAt(e0+src.East, n0+src.North)
	ev, _, err := g.Evidence(context.Background(), "dichloromethane", i, j)
	if err != nil {
		t.Fatal(err)
	}
	t0, t1, tc := blind.Tests[0].Threshold, told.Tests[0].Threshold, clean.Tests[0].Threshold
	t.Logf("source cell z %.1f; thresholds: noise only %.2f, with the plume %.2f, told of the plume %.2f", ev.Z, tc, t0, t1)
	if !(t0 > 1.5*tc) {
		t.Fatalf("the plume's lobe raised the threshold to %.2f only (noise %.2f): the test no longer shows the lobe", t0, tc)
	}
	if math.Abs(t1-tc) > 0.15*tc {
		t.Errorf("told of the plume, threshold %.2f; noise-only grid %.2f", t1, tc)
	}
	if len(clean.Detections) != 0 {
		t.Errorf("noise-only grid: %d detections", len(clean.Detections))
	}
	found := false
	for _, d := range told.Detections {
		de, dn := d.East-(e0+src.East), d.North-(n0+src.North)
		if !d.NearKnown {
			t.Errorf("detection at (%.0f, %.0f) m from the source, z %.1f, not marked near the known plume", de, dn, d.PeakZ)
		}
		found = found || math.Hypot(de, dn) < 10
	}
	if !found {
		t.Errorf("the source (z %.1f) not found at threshold %.2f: %+v", ev.Z, t1, told.Detections)
	}
}

// TestKnownPlumesBadOutlines: outlines that are no plume — kilometres
// long however thin, not numbers, or too short to be a ring — are
// ignored (a hostile or corrupt record cannot make Detect walk a huge
// box), a gas with no grid is left alone, and known plumes covering
// most of the ground leave the null fitted to all of it.
func TestKnownPlumesBadOutlines(t *testing.T) {
	lib, err := spectra.Default()
	if err != nil {
		t.Fatal(err)
	}
	geo := georef(t, 512000, 250000, 1, 120, 100)
	g := newGrid(t, GridConfig{Source: &SourceConfig{Library: lib}})
	p := noisePass(rand.New(rand.NewPCG(3, 4)), "p", 0, 120, 100, geo, nil)
	p.Wind = &Wind{FromDeg: 270, SpeedMS: 3, Stability: "D"}
	if _, err := g.AddPass(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	lat, lon := cube.UTMToLatLon(18, true, 512060, 249950)
	thin := [][2]float64{{lon - 5, lat}, {lon + 5, lat}, {lon + 5, lat + 1e-9}, {lon - 5, lat}}
	nan := [][2]float64{{math.NaN(), lat}, {lon, math.NaN()}, {lon, lat}, {math.NaN(), lat}}
	known := []KnownPlume{
		{Gas: "dichloromethane", Lat: lat, Lon: lon, Outline: thin},
		{Gas: "dichloromethane", Lat: lat, Lon: lon, Outline: nan},
		{Gas: "dichloromethane", Lat: math.NaN(), Lon: lon},
		{Gas: "dichloromethane", Lat: lat, Lon: lon, Outline: thin[:2]}, // too short: the point's disc
		{Gas: "toluene", Lat: lat, Lon: lon},
	}
	m, err := g.loadMosaic(context.Background(), "dichloromethane")
	if err != nil {
		t.Fatal(err)
	}
	lobes := g.knownLobes(m, "dichloromethane", known)
	n := 0
	for _, l := range lobes {
		if l {
			n++
		}
	}
	// Only the too-short outline's point counts: a 100 m disc clipped to
	// the 120 × 100 m pass.
	if n == 0 || n >= len(lobes) {
		t.Errorf("%d of %d cells marked; want the one point's disc, clipped", n, len(lobes))
	}
	if _, err := g.Detect(context.Background(), DetectConfig{FARPerKm2: 1, Gases: []string{"dichloromethane"}, Plumes: known}); err != nil {
		t.Fatal(err)
	}
}
