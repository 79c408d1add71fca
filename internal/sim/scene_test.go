package sim

import (
	"image"
	"math"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/spectra"
)

func defaultLibrary(t testing.TB) *spectra.Library {
	t.Helper()
	lib, err := spectra.Default()
	if err != nil {
		t.Fatal(err)
	}
	return lib
}

// The crosswind integral of the vertical column of a Gaussian plume is Q/u
// at every downwind distance (mass conservation: what the source emits per
// second crosses each plane downwind at the wind speed), for the mean plume
// and, with the pixel's widening, for any pixel size.
func TestPlumeColumnIntegratesToQOverU(t *testing.T) {
	lib := defaultLibrary(t)
	e, err := lib.Get("ammonia")
	if err != nil {
		t.Fatal(err)
	}
	const q, u = 5.0, 2.5 // kg/h, m/s
	w := Weather{WindSpeed: u, WindFromDeg: 200, Stability: "C", AirTempK: 295, PressurePa: 95000}
	f, err := NewField(w, Turbulence{}, []Source{{Name: "s", Rates: map[string]float64{"ammonia": q}}}, lib, DefaultStart, 1)
	if err != nil {
		t.Fatal(err)
	}
	cond := spectra.Conditions{PressurePa: w.PressurePa, TemperatureK: w.AirTempK}
	for _, x := range []float64{20, 100, 700} {
		for _, pixel := range []float64{1e-6, 0.5, 3} {
			const step = 0.05
			sum := 0.0
			col := []float64{0}
			for y := -500.0; y <= 500; y += step {
				east, north := f.at(x, y)
				f.MeanColumnPPMm(east, north, pixel, col)
				sum += spectra.PPMmToKgPerM2(col[0], e.MolarMass, cond) * step
			}
			want := q / 3600 / u // kg/m
			if rel := math.Abs(sum-want) / want; rel > 1e-6 {
				t.Errorf("x = %g m, pixel %g m: crosswind integral %g kg/m, want Q/u = %g (rel. error %.2g)", x, pixel, sum, want, rel)
			}
		}
	}
}

// Upwind of the source there is no gas; downwind there is.
func TestPlumeNothingUpwind(t *testing.T) {
	w := Weather{WindSpeed: 3, WindFromDeg: 270, Stability: "D", AirTempK: 300}
	f, err := NewField(w, Turbulence{}, []Source{{Name: "s", East: 100, North: -100, Rates: map[string]float64{"acetone": 10}}}, defaultLibrary(t), DefaultStart, 1)
	if err != nil {
		t.Fatal(err)
	}
	col := []float64{0}
	f.MeanColumnPPMm(50, -100, 1, col) // 50 m west of a source with wind from the west
	if col[0] != 0 {
		t.Errorf("column upwind = %g, want 0", col[0])
	}
	f.MeanColumnPPMm(150, -100, 1, col) // 50 m east: downwind
	if !(col[0] > 0) {
		t.Errorf("column downwind = %g, want > 0", col[0])
	}
}

// A source that stops emitting leaves clean air behind the last puff: gas
// released before the stop is still downwind, but not near the source.
func TestScheduledSourceStops(t *testing.T) {
	stop := DefaultStart.Add(-30 * time.Second)
	src := Source{Name: "s", Rates: map[string]float64{"acetone": 10},
		Schedule: []Interval{{From: DefaultStart.Add(-time.Hour), To: stop}}}
	w := Weather{WindSpeed: 2, WindFromDeg: 270, Stability: "D", AirTempK: 300}
	f, err := NewField(w, Turbulence{}, []Source{src}, defaultLibrary(t), DefaultStart, 1)
	if err != nil {
		t.Fatal(err)
	}
	col := []float64{0}
	// 30 s after the stop at 2 m/s the last gas is 60 m downwind.
	if err := f.ColumnPPMm(DefaultStart, 40, 0, 1, col); err != nil || col[0] != 0 {
		t.Errorf("40 m downwind after the stop: %g ppm·m (%v), want 0", col[0], err)
	}
	if err := f.ColumnPPMm(DefaultStart, 80, 0, 1, col); err != nil || !(col[0] > 0) {
		t.Errorf("80 m downwind, released before the stop: %g ppm·m (%v), want > 0", col[0], err)
	}
	if !src.ActiveAt(stop.Add(-time.Second)) || src.ActiveAt(stop) {
		t.Error("ActiveAt: the interval is [from, to)")
	}
}

func TestBriggsSigmaY(t *testing.T) {
	// Seinfeld & Pandis table 18.3, class D: σy = 0.08x(1+0.0001x)^-1/2;
	// at 1 km: 80/√1.1 = 76.28 m.
	s, err := briggsSigmaY("d", 1000)
	if err != nil || math.Abs(s-76.2770) > 1e-3 {
		t.Errorf("σy(D, 1 km) = %g, %v; want 76.277", s, err)
	}
	if _, err := briggsSigmaY("G", 10); err == nil {
		t.Error("class G accepted")
	}
}

func smallScene(seed uint64) *Scene {
	sc := DemoScene(seed)
	sc.Samples, sc.Lines = 60, 40
	sc.Sensor.Bands = 32
	sc.Sensor.BadBands = []int{5}
	sc.Sources = []Source{{Name: "a", East: 10, North: -20, Rates: map[string]float64{"ammonia": 5}}}
	return sc
}

// The scene does not depend on how it is cut into blocks, and the same seed
// renders the same scene.
func TestRenderDeterministicAcrossBlockSizes(t *testing.T) {
	lib := defaultLibrary(t)
	render := func(block int) (*cube.Cube, *cube.Cube) {
		sc := smallScene(7)
		rad := cube.New(image.Rect(0, 0, sc.Samples, sc.Lines), sc.Sensor.Bands)
		tru := cube.New(image.Rect(0, 0, sc.Samples, sc.Lines), 1)
		err := sc.Render(lib, block, func(r, tr *cube.Cube) error {
			copy(rad.SubCube(r.Rect).Pix, r.Pix)
			copy(tru.SubCube(tr.Rect).Pix, tr.Pix)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return rad, tru
	}
	a, ta := render(40)
	b, tb := render(7)
	for i := range a.Pix {
		if a.Pix[i] != b.Pix[i] {
			t.Fatalf("radiance differs at %d: %g vs %g", i, a.Pix[i], b.Pix[i])
		}
	}
	for i := range ta.Pix {
		if ta.Pix[i] != tb.Pix[i] {
			t.Fatalf("truth differs at %d", i)
		}
	}
}

// In the optically thin limit the radiance change a plume causes is
// τ_a·(B(T_p) − L_g)·k·c (DESIGN.md): check the renderer against it on a
// noise-free scene, pixel by pixel, by rendering with and without the gas.
func TestRenderThinPlumeLimit(t *testing.T) {
	lib := defaultLibrary(t)
	sc := smallScene(3)
	sc.Sensor.NESR = 0
	sc.Sensor.BadBands = nil
	sc.Sources[0].Rates["ammonia"] = 0.05 // thin: k·c ≪ 1
	with := renderAll(t, lib, sc)
	clean := *sc
	clean.Sources = []Source{{Name: "a", East: 10, North: -20, Rates: map[string]float64{"ammonia": 0}}}
	sc.Turbulence, clean.Turbulence = &Turbulence{}, &Turbulence{}
	without := renderAll(t, lib, &clean)
	centres, fwhm := sc.Sensor.Wavelengths()
	e, _ := lib.Get("ammonia")
	k, err := e.Resample(centres, fwhm)
	if err != nil {
		t.Fatal(err)
	}
	atm := newAtmosphere(centres, sc.Weather.AirTempK)
	checked := 0
	for y := 0; y < sc.Lines; y++ {
		for x := 0; x < sc.Samples; x++ {
			c := float64(with.truth.At(x, y)[0])
			if c < 0.01 {
				continue
			}
			lw, l0 := with.rad.At(x, y), without.rad.At(x, y)
			for b := range centres {
				// Invert L0 = τ·L_g + L_path for the ground-leaving radiance.
				lg := (float64(l0[b]) - atm.path[b]) / atm.tau[b]
				want := atm.tau[b] * (spectra.PlanckWavelength(centres[b], sc.Weather.AirTempK) - lg) * k[b] * c
				got := float64(lw[b]) - float64(l0[b])
				// Second-order term of e^{-kc}, plus float32 rounding of L (~1e-6 relative).
				tol := math.Abs(want)*k[b]*c + 2e-5*float64(l0[b])
				if math.Abs(got-want) > tol {
					t.Fatalf("pixel (%d,%d) band %d: ΔL = %g, thin-plume limit %g (tol %g)", x, y, b, got, want, tol)
				}
			}
			checked++
		}
	}
	if checked < 20 {
		t.Fatalf("only %d plume pixels checked", checked)
	}
}

type rendered struct{ rad, truth *cube.Cube }

func renderAll(t *testing.T, lib *spectra.Library, sc *Scene) rendered {
	t.Helper()
	h := sc.Header()
	out := rendered{cube.New(image.Rect(0, 0, h.Samples, h.Lines), h.Bands), cube.New(image.Rect(0, 0, h.Samples, h.Lines), 1)}
	err := sc.Render(lib, 16, func(r, tr *cube.Cube) error {
		copy(out.rad.SubCube(r.Rect).Pix, r.Pix)
		copy(out.truth.SubCube(tr.Rect).Pix, tr.Pix)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The tabulated Planck radiance is within 10⁻⁶ of the exact one (the
// sensor noise is 10⁻³ of the signal).
func TestPlanckTable(t *testing.T) {
	centres, _ := Sensor{Bands: 64, MinUM: 7, MaxUM: 14, FWHMFactor: 1}.Wavelengths()
	p := newPlanckTable(centres, 270, 340)
	dst := make([]float64, len(centres))
	worst := 0.0
	for tk := 265.0; tk < 345; tk += 0.0137 {
		p.fill(tk, dst)
		for b, lam := range centres {
			want := spectra.PlanckWavelength(lam, tk)
			worst = math.Max(worst, math.Abs(dst[b]-want)/want)
		}
	}
	if worst > 1e-6 {
		t.Errorf("worst relative error %.3g, want ≤ 1e-6", worst)
	}
}
