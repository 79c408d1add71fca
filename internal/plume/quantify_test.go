package plume

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/atalaya-project/atalaya/internal/spectra"
)

// gaussianPlume renders the ensemble-mean vertical column of a continuous
// point source (DESIGN.md, "Physics": Q/(√(2π)·u·σ_y)·exp(−y²/2σ_y²), with
// the Briggs rural class-D σ_y = 0.08x/√(1+0.0001x)) in ppm·m on a w×h
// grid of 1 m pixels, the source at pixel (sx, sy), the wind from fromDeg,
// plus white retrieval noise of sigma ppm·m. It returns the retrieval, its
// σ map and the z-score.
func gaussianPlume(w, h int, sx, sy, qKgH, u, fromDeg, sigma float64, molar float64, cond spectra.Conditions, seed uint64) (ppmm, sig, z []float32) {
	rng := rand.New(rand.NewPCG(seed, 7))
	hd := (fromDeg + 180) * math.Pi / 180
	de, dn := math.Sin(hd), math.Cos(hd)
	perPPMm := spectra.PPMmToKgPerM2(1, molar, cond)
	ppmm = make([]float32, w*h)
	sig = make([]float32, w*h)
	z = make([]float32, w*h)
	for y := range h {
		for x := range w {
			e, n := float64(x)+0.5-sx, -(float64(y) + 0.5 - sy)
			along := e*de + n*dn
			cross := -e*dn + n*de
			c := 0.0
			if along > 0 {
				xe := math.Max(along, 1)
				sy := 0.08 * xe / math.Sqrt(1+0.0001*xe)
				sy = math.Sqrt(sy*sy + 1.0/12) // the pixel's width
				c = qKgH / 3600 / (math.Sqrt(2*math.Pi) * u * sy) * math.Exp(-cross*cross/(2*sy*sy)) / perPPMm
			}
			i := y*w + x
			ppmm[i] = float32(c + sigma*rng.NormFloat64())
			sig[i] = float32(sigma)
			z[i] = ppmm[i] / sig[i]
		}
	}
	return ppmm, sig, z
}

var testCond = spectra.Conditions{PressurePa: 95000, TemperatureK: 300}

const acetoneMolar = 58.08

// detectPlume segments a z map as granule does (high 6, low 3: the
// thresholds of ~0.1 false alarms/km² at 1 m pixels and a 100× laxer low)
// and returns the pixels of the group holding the strongest component.
func detectPlume(t *testing.T, z []float32, w, h int) []int {
	t.Helper()
	comps := Segment(z, w, h, 6, 3)
	if len(comps) == 0 {
		t.Fatal("no plume found")
	}
	return Group(comps, w, h, 5)[0]
}

// TestQuantifyGaussianPlume calibrates U_eff on analytic plumes of known
// rate at three wind speeds, then recovers the rate and origin of plumes
// it was not fitted to.
func TestQuantifyGaussianPlume(t *testing.T) {
	const w, h = 160, 100
	const sigma = 30 // ppm·m, the simulator's acetone retrieval noise at 8 K contrast
	var cal []Calibration
	seed := uint64(1)
	for _, u := range []float64{1.5, 3, 5} {
		for _, q := range []float64{10, 25, 60} {
			ppmm, sig, z := gaussianPlume(w, h, 20.5, 50.5, q, u, 270, sigma, acetoneMolar, testCond, seed)
			seed++
			px := detectPlume(t, z, w, h)
			qt, err := Quantify(Column{W: w, H: h, Pixels: px, PPMm: ppmm, Sigma: sig, PixelSizeM: 1, MolarMass: acetoneMolar, Cond: testCond},
				Wind{SpeedMS: u, FromDeg: 270}, UEff{A: 0, B: 1})
			if err != nil {
				t.Fatal(err)
			}
			cal = append(cal, Calibration{WindMS: u, RateKgH: q, IMEkg: qt.IMEkg, LengthM: qt.LengthM})
		}
	}
	fit, err := FitUEff(cal)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("U_eff = %.3f + %.3f·U (relative scatter %.2f, %d plumes)", fit.A, fit.B, fit.RelRMS, fit.N)
	if !(fit.B > 0) || fit.RelRMS > 0.5 {
		t.Fatalf("implausible fit %+v", fit)
	}
	for _, tc := range []struct {
		q, u, from float64
		sx, sy     float64
	}{
		{8, 4, 270, 20.5, 50.5},   // wind from the west: plume runs east
		{6, 2.5, 200, 40.5, 90.5}, // from the south-south-west: plume runs up the image
		{12, 5, 45, 140.5, 20.5},  // from the north-east: plume runs south-west
	} {
		sx, sy := tc.sx, tc.sy
		ppmm, sig, z := gaussianPlume(w, h, sx, sy, tc.q, tc.u, tc.from, sigma, acetoneMolar, testCond, seed)
		seed++
		px := detectPlume(t, z, w, h)
		qt, err := Quantify(Column{W: w, H: h, Pixels: px, PPMm: ppmm, Sigma: sig, PixelSizeM: 1, MolarMass: acetoneMolar, Cond: testCond},
			Wind{SpeedMS: tc.u, FromDeg: tc.from, SigmaMS: 0.5}, fit)
		if err != nil {
			t.Fatal(err)
		}
		rel := qt.RateKgH/tc.q - 1
		// Stated tolerance: 2.5× the calibration's relative scatter, at
		// least 30%: the fit is a line in U, while a plume's U_eff also
		// depends on its rate through the mask's size (the 3% scatter of
		// the fit is over the plumes it was fitted to).
		tol := math.Max(0.3, 2.5*fit.RelRMS)
		if math.Abs(rel) > tol {
			t.Errorf("Q %g kg/h at %g m/s: got %.3g ± %.2g kg/h (%+.0f%%), want within %.0f%%", tc.q, tc.u, qt.RateKgH, qt.SigmaRateKgH, 100*rel, 100*tol)
		}
		if !(qt.SigmaRateKgH > 0) {
			t.Errorf("σ_Q %g, want positive", qt.SigmaRateKgH)
		}
		d := math.Hypot(qt.OriginX-sx, qt.OriginY-sy)
		if d > 2 {
			t.Errorf("Q %g from %g°: origin (%.1f, %.1f) is %.1f px from the source (%g, %g), want ≤ 2", tc.q, tc.from, qt.OriginX, qt.OriginY, d, sx, sy)
		}
		t.Logf("Q %g kg/h, U %g m/s from %g°: %.3g ± %.2g kg/h, IME %.3g ± %.1g kg over %d px; origin %.1f px off (σ %.1f m)",
			tc.q, tc.u, tc.from, qt.RateKgH, qt.SigmaRateKgH, qt.IMEkg, qt.SigmaIMEkg, qt.Pixels, d, qt.SigmaOriginM)
	}
}

// TestQuantifyIME checks the mass sum and its noise against a hand
// computation, and the rate's wind error propagation.
func TestQuantifyIME(t *testing.T) {
	const w, h = 4, 3
	ppmm := make([]float32, w*h)
	sig := make([]float32, w*h)
	for i := range ppmm {
		ppmm[i] = 100
		sig[i] = 10
	}
	px := []int{0, 1, 2, 3}
	c := Column{W: w, H: h, Pixels: px, PPMm: ppmm, Sigma: sig, PixelSizeM: 2, MolarMass: acetoneMolar, Cond: testCond}
	q, err := Quantify(c, Wind{SpeedMS: 4, FromDeg: 270, SigmaMS: 1}, UEff{A: 0, B: 1})
	if err != nil {
		t.Fatal(err)
	}
	kg := spectra.PPMmToKgPerM2(1, acetoneMolar, testCond) * 4
	if want := 400 * kg; math.Abs(q.IMEkg-want) > 1e-12*want {
		t.Errorf("IME %g kg, want %g", q.IMEkg, want)
	}
	if want := 20 * kg; math.Abs(q.SigmaIMEkg-want) > 1e-12*want {
		t.Errorf("σ_IME %g kg, want %g (√4·10 ppm·m)", q.SigmaIMEkg, want)
	}
	if q.LengthM != 4 || q.AreaM2 != 16 {
		t.Errorf("L %g m over %g m², want 4 over 16", q.LengthM, q.AreaM2)
	}
	if want := 4 * q.IMEkg / 4 * 3600; math.Abs(q.RateKgH-want) > 1e-9*want {
		t.Errorf("Q %g kg/h, want %g", q.RateKgH, want)
	}
	// σ_Q/Q = √((1/4)² + (20/400)²).
	if want := q.RateKgH * math.Hypot(0.25, 0.05); math.Abs(q.SigmaRateKgH-want) > 1e-9*want {
		t.Errorf("σ_Q %g kg/h, want %g", q.SigmaRateKgH, want)
	}
	// Wind from the west: the upwind end is the left end of the row.
	if q.OriginX > 1 || math.Abs(q.OriginY-0.5) > 1e-9 {
		t.Errorf("origin (%g, %g), want the left end of row 0", q.OriginX, q.OriginY)
	}
	if _, err := Quantify(Column{W: w, H: h, PPMm: ppmm, Sigma: sig, PixelSizeM: 1, MolarMass: 1, Cond: testCond}, Wind{SpeedMS: 1}, DefaultUEff); err == nil {
		t.Error("no pixels: want an error")
	}
}

func TestFitUEffExact(t *testing.T) {
	var cal []Calibration
	for _, u := range []float64{1, 2, 4, 8} {
		ue := 0.3 + 0.6*u
		// Choose IME and L so that Q·L/IME = ue.
		cal = append(cal, Calibration{WindMS: u, RateKgH: 3600, LengthM: ue, IMEkg: 1})
	}
	f, err := FitUEff(cal)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(f.A-0.3) > 1e-12 || math.Abs(f.B-0.6) > 1e-12 || f.RelRMS > 1e-12 || f.N != 4 {
		t.Errorf("fit %+v, want a 0.3, b 0.6, no scatter", f)
	}
	if _, err := FitUEff(cal[:1]); err == nil {
		t.Error("one plume: want an error")
	}
}

func TestGroup(t *testing.T) {
	const w, h = 20, 5
	s := make([]float32, w*h)
	s[2*w+1] = 9  // A
	s[2*w+4] = 8  // B: 3 px from A
	s[2*w+15] = 7 // C: far
	comps := Segment(s, w, h, 5, 5)
	if len(comps) != 3 {
		t.Fatalf("%d components, want 3", len(comps))
	}
	g := Group(comps, w, h, 3)
	if len(g) != 2 || len(g[0]) != 2 || len(g[1]) != 1 || g[1][0] != 2*w+15 {
		t.Errorf("groups %v, want {A, B} then {C}", g)
	}
	if g := Group(comps, w, h, 2); len(g) != 3 {
		t.Errorf("gap 2: %d groups, want 3", len(g))
	}
}
