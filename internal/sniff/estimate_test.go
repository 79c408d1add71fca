package sniff

import (
	"errors"
	"math"
	"sort"
	"testing"
)

// lightOptions make the estimator cheap: a shorter reach upwind and
// coarser grids. Under the race detector (about twenty times slower here)
// the class and height are fixed too: those runs exercise the concurrent
// grid, the accuracy is asserted without it.
var lightOptions = func() Options {
	if raceEnabled {
		return Options{UpwindM: 100, CellM: 25, FineM: 12.5, Stability: map[string]float64{"D": 1}, HeightsM: []float64{2}}
	}
	return Options{UpwindM: 150, CellM: 20, FineM: 4}
}()

// TestLocaliseNeutral is the acceptance test of DESIGN's "localisation error
// of a source": a 5 kg/h acetone source in neutral conditions (class D,
// 3 m/s), crossed by eight lines 25 m apart, seven seeds (a new wind
// direction and flight offset each). Observed with the defaults: median
// error 4.8 m (8.1 m with release heights of 1 and 3 m only; the
// evaluation's ten seeds: see docs/sniff); the bound is 8 m, tighter than
// the 15 m asked for. The emission rate's median ratio to the truth
// (observed 0.88) is within a factor 1.5 of one.
// Under the race detector one seed runs with lightOptions.
func TestLocaliseNeutral(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5, 6, 7}
	opts := Options{}
	if raceEnabled {
		seeds, opts = seeds[:1], lightOptions
	}
	var errs, ratios []float64
	inside := 0
	for _, seed := range seeds {
		p, post, truth := run(t, evalCase{WindMS: 3, Class: "D", Seed: seed, RateKgH: 5}, opts)
		if len(p.Crossings) < 5 {
			t.Errorf("seed %d: %d crossings, want at least 5", seed, len(p.Crossings))
		}
		e := math.Hypot(post.Mean.East-truth.East, post.Mean.North-truth.North)
		errs = append(errs, e)
		ratios = append(ratios, post.RateKgH/truth.RateKgH)
		if post.InHPD(Point{truth.East, truth.North}) {
			inside++
		}
		if post.ProbSource < 0.999 || !post.Claim {
			t.Errorf("seed %d: probability of a source %.3f, claim %v", seed, post.ProbSource, post.Claim)
		}
		t.Logf("seed %d: %d crossings, error %.1f m, Q %.2f [%.2f, %.2f] kg/h, ln BF %.0f", seed, len(p.Crossings), e,
			post.RateKgH, post.RateLoKgH, post.RateHiKgH, post.LogBayesFactor)
	}
	sort.Float64s(errs)
	sort.Float64s(ratios)
	med, rmed := errs[len(errs)/2], ratios[len(ratios)/2]
	t.Logf("median error %.1f m, median Q ratio %.2f, truth in the 95%% set %d/%d", med, rmed, inside, len(seeds))
	if med > 8 {
		t.Errorf("median localisation error %.1f m, want < 8 m", med)
	}
	if rmed < 1/1.5 || rmed > 1.5 {
		t.Errorf("median emission-rate ratio %.2f, want within a factor 1.5", rmed)
	}
}

// TestNoSource: a flight through clean air gives a low probability of a
// source and an upper bound on the rate.
func TestNoSource(t *testing.T) {
	opts := Options{}
	if raceEnabled {
		opts = lightOptions
	}
	p, post, _ := run(t, evalCase{WindMS: 3, Class: "D", Seed: 1}, opts)
	if len(p.Crossings) != 0 {
		t.Errorf("%d crossings in clean air", len(p.Crossings))
	}
	t.Logf("probability %.3f, ln BF %.2f, Q < %.2f kg/h (97.5 %%)", post.ProbSource, post.LogBayesFactor, post.RateHiKgH)
	// With a log-uniform prior on 0.1-1000 kg/h, a share of the prior is
	// sources too faint to be seen, so the Bayes factor cannot fall far
	// below that share: clean air is "no source above the bound", not
	// "no source" (observed: probability 0.13, ln BF -1.9, 97.5 % bound
	// 308 kg/h over a region reaching 300 m upwind; the evaluation's
	// clean-air flights: see docs/sniff). No claim: ln BF is far below
	// the claim threshold of 3.
	if post.ProbSource > 0.2 || post.LogBayesFactor > 0 || post.Claim {
		t.Errorf("clean air: probability of a source %.3f, ln BF %.2f, claim %v; want < 0.2, < 0, no claim", post.ProbSource, post.LogBayesFactor, post.Claim)
	}
	if post.RateHiKgH > 400 {
		t.Errorf("97.5 %% bound on the rate in clean air %.0f kg/h, want < 400", post.RateHiKgH)
	}
	d := post.Detection()
	if d.Probability != post.ProbSource || d.RateHiKgH > 1000 || d.Claim {
		t.Errorf("detection %+v", d)
	}
}

// TestDetectionGeo checks the WGS-84 side of a detection against the
// trace's own mapping, and the light settings' accuracy.
func TestDetectionGeo(t *testing.T) {
	_, post, truth := run(t, evalCase{WindMS: 3, Class: "D", Seed: 3, RateKgH: 5}, lightOptions)
	d := post.Detection()
	if e := math.Hypot(d.East-truth.East, d.North-truth.North); e > 15 && !raceEnabled {
		t.Errorf("error %.1f m with the light settings", e)
	}
	const lat0, lon0 = 4.0, -74.0
	wantLat, wantLon := lat0+d.North/111_000, lon0+d.East/(111_000*math.Cos(lat0*math.Pi/180))
	if math.Abs(d.Lat-wantLat) > 1e-8 || math.Abs(d.Lon-wantLon) > 1e-8 {
		t.Errorf("lat/lon %.8f %.8f, want %.8f %.8f", d.Lat, d.Lon, wantLat, wantLon)
	}
	if len(d.RegionLatLon) != len(d.Region) || len(d.Region) < 3 {
		t.Errorf("region of %d vertices, %d in lat/lon", len(d.Region), len(d.RegionLatLon))
	}
	// Covariance in degrees: the east variance scaled by (∂lon/∂east)².
	k := 1 / (111_000 * math.Cos(lat0*math.Pi/180))
	if got, want := d.CovDeg[1][1], d.Cov[0][0]*k*k; math.Abs(got-want) > 1e-6*want {
		t.Errorf("lon variance %g deg², want %g", got, want)
	}
	if !post.Contains(Point{d.East, d.North}) {
		t.Errorf("the mean %v is outside the credible region", Point{d.East, d.North})
	}
	var sum float64
	for _, p := range post.ClassProb {
		sum += p
	}
	if s := sum; math.Abs(s-1) > 1e-9 {
		t.Errorf("class posterior sums to %g", s)
	}
}

func TestEstimateErrors(t *testing.T) {
	s := lagSeries(1, 100, 2, 1, 0.05, 4)
	p, err := Process(s, ProcessOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g := Gas{Name: "acetone", MolarMass: 58.08}
	for _, o := range []Options{
		{},
		{Gas: g, QMinKgH: 10, QMaxKgH: 1},
		{Gas: g, Stability: map[string]float64{"G": 1}},
		{Gas: g, PriorSource: 1},
		{Gas: g, HeightsM: []float64{-1}},
		{Gas: g, HeightsM: []float64{}},
		{Gas: g, HeightMaxM: -1},
		{Gas: g, StandoffM: math.Inf(1)},
	} {
		if _, err := Estimate(p, o); !errors.Is(err, ErrInput) {
			t.Errorf("%+v: %v", o, err)
		}
	}
	for k := range s.Samples {
		s.Samples[k].WindSpeedMS = math.NaN()
	}
	if _, err := Estimate(p, Options{Gas: g}); !errors.Is(err, ErrInput) {
		t.Errorf("no wind: %v", err)
	}
}

// coverageRuns is the number of seeded flights per class in TestCoverage.
var coverageRuns = func() int {
	if raceEnabled {
		return 1
	}
	return 16
}()

// TestCoverage checks the calibration of the credible region: over seeded
// flights per stability class (winds 1.5, 3 and 6 m/s in turn, six lines,
// seeds 201 on, which the method was not developed on), the 95 % HPD set
// must hold the true source in at least 85 % of them. With 16 flights that
// is 14; a region that held the truth 62 % of the time, as class F's did
// with release heights of 1 and 3 m, passes with probability 0.02. Under
// the race detector one flight per class runs on coarse cells, checking
// only that the set holds 95 % of the mass.
func TestCoverage(t *testing.T) {
	winds := []float64{1.5, 3, 6}
	for _, class := range coverageClasses {
		in := 0
		for k := range coverageRuns {
			c := evalCase{WindMS: winds[k%len(winds)], Class: class, Seed: uint64(201 + k), RateKgH: 5, Lines: 6}
			o := coverageOptions
			if raceEnabled {
				// One flight with the class known (lightOptions fix it at
				// D) on cells too coarse for coverage: it exercises the
				// concurrent grid and checks the set's mass.
				o.Stability = map[string]float64{class: 1}
				_, post, _ := run(t, c, o)
				var mass, top float64
				for _, c := range post.Cells {
					if c.HPD {
						mass += c.Prob
						top = math.Max(top, c.Prob)
					}
				}
				if mass < 0.95 || mass > 0.95+top+1e-9 {
					t.Errorf("class %s: the 95 %% set holds %.4f of the mass (largest cell %.4f)", class, mass, top)
				}
				continue
			}
			_, post, truth := run(t, c, o)
			if post.InHPD(Point{truth.East, truth.North}) {
				in++
			} else {
				t.Logf("class %s, %.1f m/s, seed %d: truth outside the 95 %% set (error %.1f m)", class, c.WindMS, c.Seed,
					math.Hypot(post.Mean.East-truth.East, post.Mean.North-truth.North))
			}
		}
		if raceEnabled {
			continue
		}
		lo, hi := clopperPearson(in, coverageRuns)
		t.Logf("class %s: truth in the 95 %% set in %d/%d flights (95 %% interval %.2f-%.2f)", class, in, coverageRuns, lo, hi)
		if float64(in) < 0.85*float64(coverageRuns) {
			t.Errorf("class %s: truth in the 95 %% set in %d/%d flights, want at least 85 %%", class, in, coverageRuns)
		}
	}
}

// coverageClasses are the neutral to stable classes, where the method is
// calibrated (observed 15/16, 15/16, 16/16; C 15/16 too). In unstable air
// at 1.5 m/s (A, B) the 95 % set held the truth in half the evaluation's
// flights: see docs/source-estimation.md, Limits. 64 flights cost 79 s of
// CPU with C, about 60 s without.
var coverageClasses = []string{"D", "E", "F"}

// coverageOptions are lightOptions with the default 2 m fine cells: in
// stable air the posterior across the wind is a few metres wide, and 4 m
// cells, judged by their centres, miss a truth that 2 m cells hold.
var coverageOptions = func() Options {
	o := lightOptions
	if !raceEnabled {
		o.FineM = 2
	}
	return o
}()

// TestHeights: the default release heights of each class tile [0, 5 m] in
// equal steps no coarser than the class's σ_z at 50 m (Briggs: F 0.78 m,
// E 1.47 m, D 2.89 m; A-C wider than the range), at the steps' midpoints.
func TestHeights(t *testing.T) {
	o := Options{HeightMaxM: 5, StandoffM: 50}
	m := &model{classes: []string{"A", "D", "E", "F"}, lnPC: make([]float64, 4)}
	m.setHeights(o)
	for ci, want := range []int{1, 2, 4, 7} {
		hs := m.chH[m.chStart[ci]:m.chStart[ci+1]]
		_, sz, _ := briggs(m.classes[ci], 50)
		step := 5 / float64(len(hs))
		if len(hs) != want || step > math.Max(sz, 0.25) && len(hs) > 1 {
			t.Errorf("class %s: %d heights %v, want %d at most %.2f m apart", m.classes[ci], len(hs), hs, want, sz)
		}
		if math.Abs(hs[0]-step/2) > 1e-12 || math.Abs(hs[len(hs)-1]-(5-step/2)) > 1e-12 {
			t.Errorf("class %s: heights %v are not the midpoints of %g m steps", m.classes[ci], hs, step)
		}
		if math.Abs(m.binVar[ci]-step*step/12) > 1e-12 {
			t.Errorf("class %s: bin variance %g, want %g", m.classes[ci], m.binVar[ci], step*step/12)
		}
	}
	o.HeightsM = []float64{1, 3}
	m.setHeights(o)
	if m.nch() != 8 || m.binVar[3] != 0 {
		t.Errorf("given heights: %d class×heights, bin variance %g", m.nch(), m.binVar[3])
	}
}

// TestSoftplus: the tabulated ln(1 + e^{−x}) against the closed form,
// within the linear-interpolation bound: step²/8 times the largest second
// derivative, 1/4 at x = 0.
func TestSoftplus(t *testing.T) {
	for x := 0.0; x < 40; x += 0.0137 {
		if got, want := softplus(x), math.Log1p(math.Exp(-x)); math.Abs(got-want) > 1.001*softplusStep*softplusStep/32 {
			t.Fatalf("softplus(%g) = %g, want %g", x, got, want)
		}
	}
}
