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
// error 8.1 m (the evaluation's eight seeds: 10.5 m, docs/sniff); the bound
// is 12 m, tighter than the 15 m asked for. The emission rate's median ratio
// to the truth (observed 0.84) is within a factor 1.5 of one.
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
		if post.ProbSource < 0.999 {
			t.Errorf("seed %d: probability of a source %.3f", seed, post.ProbSource)
		}
		t.Logf("seed %d: %d crossings, error %.1f m, Q %.2f [%.2f, %.2f] kg/h, ln BF %.0f", seed, len(p.Crossings), e,
			post.RateKgH, post.RateLoKgH, post.RateHiKgH, post.LogBayesFactor)
	}
	sort.Float64s(errs)
	sort.Float64s(ratios)
	med, rmed := errs[len(errs)/2], ratios[len(ratios)/2]
	t.Logf("median error %.1f m, median Q ratio %.2f, truth in the 95%% set %d/%d", med, rmed, inside, len(seeds))
	if med > 12 {
		t.Errorf("median localisation error %.1f m, want < 12 m", med)
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
	// "no source" (observed: probability 0.12, 97.5 % bound 256 kg/h over
	// a region reaching 300 m upwind; the evaluation's clean-air flights
	// give 0.12-0.28).
	if post.ProbSource > 0.2 {
		t.Errorf("probability of a source in clean air %.3f, want < 0.2", post.ProbSource)
	}
	if post.RateHiKgH > 400 {
		t.Errorf("97.5 %% bound on the rate in clean air %.0f kg/h, want < 400", post.RateHiKgH)
	}
	d := post.Detection()
	if d.Probability != post.ProbSource || d.RateHiKgH > 1000 {
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
