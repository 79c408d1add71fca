package sim

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/spectra"
)

var epoch = time.Date(2025, 3, 14, 15, 0, 0, 0, time.UTC)

func TestBriggsSigmaZ(t *testing.T) {
	// Seinfeld & Pandis table 18.3 at x = 1 km.
	for _, c := range []struct {
		class string
		want  float64
	}{
		{"A", 200},                 // 0.20x
		{"B", 120},                 // 0.12x
		{"C", 80 / math.Sqrt(1.2)}, // 0.08x(1+0.0002x)^-½
		{"d", 60 / math.Sqrt(2.5)}, // 0.06x(1+0.0015x)^-½
		{"E", 30 / 1.3},            // 0.03x(1+0.0003x)^-1
		{"F", 16 / 1.3},            // 0.016x(1+0.0003x)^-1
		{"", 60 / math.Sqrt(2.5)},  // empty is D, as for σ_y
	} {
		got, err := briggsSigmaZ(c.class, 1000)
		if err != nil || math.Abs(got-c.want) > 1e-9 {
			t.Errorf("σz(%q, 1 km) = %g, %v; want %g", c.class, got, err, c.want)
		}
	}
	if _, err := briggsSigmaZ("G", 10); !errors.Is(err, ErrScene) {
		t.Errorf("class G: err = %v, want ErrScene", err)
	}
}

// oneEmitter is a field of one source of q kg/h of gas at the origin, at
// height h, in the given weather, without turbulence.
func oneEmitter(t *testing.T, w Weather, gas string, q, h float64) *Field {
	t.Helper()
	f, err := NewField(w, Turbulence{}, []Source{{Name: "s", Rates: map[string]float64{gas: q}, HeightM: h}}, defaultLibrary(t), epoch, 1)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// at returns the scene coordinates of the point x downwind and y crosswind
// (to the left of the wind) of the origin.
func (f *Field) at(x, y float64) (east, north float64) {
	return x*f.downE - y*f.downN, x*f.downN + y*f.downE
}

// Mass conservation: whatever crosses a plane downwind per second is what the
// source emits, so ∫∫_{z≥0} C dy dz = Q/u at every distance, for a source at
// any height (the ground reflects what reaches it).
func TestPlume3DMassConservation(t *testing.T) {
	const q, u = 7.0, 2.5 // kg/h, m/s
	for _, class := range []string{"B", "D", "F"} {
		for _, h := range []float64{0, 3, 25} {
			w := Weather{WindSpeed: u, WindFromDeg: 250, Stability: class, AirTempK: 300, PressurePa: 100000}
			f := oneEmitter(t, w, "acetone", q, h)
			out := []float64{0}
			for _, x := range []float64{15, 300, 2000} {
				sy, sz, _ := Sigmas(class, x)
				// Midpoint rule on ±9σ: a Gaussian's midpoint sum converges
				// faster than any power of the step; σ/16 gives ~1e-12.
				dy, dz := sy/16, sz/16
				sum := 0.0
				for y := -9 * sy; y < 9*sy; y += dy {
					e, n := f.at(x, y+dy/2)
					for z := dz / 2; z < h+9*sz; z += dz {
						f.MeanKgM3(e, n, z, out)
						sum += out[0] * dy * dz
					}
				}
				want := q / 3600 / u
				if rel := math.Abs(sum-want) / want; rel > 1e-6 {
					t.Errorf("class %s, H = %g m, x = %g m: ∫∫C dy dz = %.9g kg/m, want Q/u = %.9g (rel. %.2g)", class, h, x, sum, want, rel)
				}
			}
		}
	}
}

// At H = 0 the two exponentials are equal at the ground, and the centreline
// ground-level concentration is Q/(π u σ_y σ_z).
func TestPlume3DGroundCentreline(t *testing.T) {
	const q, u = 3.0, 4.0
	for _, class := range []string{"A", "C", "E"} {
		f := oneEmitter(t, Weather{WindSpeed: u, WindFromDeg: 10, Stability: class, AirTempK: 290}, "ammonia", q, 0)
		out := []float64{0}
		for _, x := range []float64{5, 120, 900} {
			sy, sz, _ := Sigmas(class, x)
			e, n := f.at(x, 0)
			f.MeanKgM3(e, n, 0, out)
			want := q / 3600 / (math.Pi * u * sy * sz)
			if rel := math.Abs(out[0]-want) / want; rel > 1e-12 {
				t.Errorf("class %s, x = %g m: C(x,0,0) = %g kg/m³, want %g", class, x, out[0], want)
			}
		}
	}
}

// The vertical integral of the reflected plume is the column the images are
// made of, Q/(√(2π) u σ_y) e^{−y²/2σ_y²}, with no reflection term: the
// image source below ground puts into z ≥ 0 exactly the mass the real one
// puts below.
func TestPlume3DColumnMatchesScene(t *testing.T) {
	lib := defaultLibrary(t)
	e, err := lib.Get("toluene")
	if err != nil {
		t.Fatal(err)
	}
	const q = 12.0
	w := Weather{WindSpeed: 3, WindFromDeg: 135, Stability: "C", AirTempK: 305, PressurePa: 98000}
	cond := spectra.Conditions{PressurePa: w.PressurePa, TemperatureK: w.AirTempK}
	src := Source{Name: "s", East: 40, North: -60, Rates: map[string]float64{"toluene": q}}
	for _, h := range []float64{0, 10} {
		f, err := NewField(w, Turbulence{}, []Source{withHeight(src, h)}, lib, epoch, 1)
		if err != nil {
			t.Fatal(err)
		}
		out := []float64{0}
		for _, xy := range [][2]float64{{30, 0}, {30, 4}, {250, -20}, {800, 60}} {
			de, dn := f.at(xy[0], xy[1])
			east, north := src.East+de, src.North+dn
			_, sz, _ := Sigmas("C", xy[0])
			dz, sum := sz/32, 0.0
			for z := dz / 2; z < h+10*sz; z += dz {
				f.MeanKgM3(east, north, z, out)
				sum += out[0] * dz
			}
			col := []float64{0}
			// A pixel of 1 µm: the column without its pixel averaging.
			f.MeanColumnPPMm(east, north, 1e-6, col)
			want := spectra.PPMmToKgPerM2(col[0], e.MolarMass, cond)
			if rel := math.Abs(sum-want) / want; rel > 1e-9 {
				t.Errorf("H = %g m, (x, y) = %v: ∫C dz = %.10g kg/m², scene column %.10g (rel. %.2g)", h, xy, sum, want, rel)
			}
		}
	}
}

// ppm is the volume mixing ratio: n_gas/n_air = (C/M)/(P/RT).
func TestPlume3DPPM(t *testing.T) {
	w := Weather{WindSpeed: 2, WindFromDeg: 90, Stability: "D", AirTempK: 310, PressurePa: 90000}
	f := oneEmitter(t, w, "ammonia", 5, 1)
	kg, ppm := []float64{0}, []float64{0}
	e, n := f.at(50, 2)
	f.MeanKgM3(e, n, 1.5, kg)
	f.MeanPPM(e, n, 1.5, ppm)
	const r = 8.314462618 // J/(mol·K), CODATA 2018
	want := kg[0] / 0.017031 / (w.PressurePa / (r * w.AirTempK)) * 1e6
	if rel := math.Abs(ppm[0]-want) / want; rel > 1e-6 || !(ppm[0] > 0) {
		t.Errorf("ppm = %g, want %g from %g kg/m³", ppm[0], want, kg[0])
	}
	// Upwind, and below ground, there is nothing.
	e, n = f.at(-5, 0)
	f.MeanPPM(e, n, 1, ppm)
	if ppm[0] != 0 {
		t.Errorf("upwind: %g ppm", ppm[0])
	}
	e, n = f.at(50, 0)
	f.MeanPPM(e, n, -1, ppm)
	if ppm[0] != 0 {
		t.Errorf("below ground: %g ppm", ppm[0])
	}
}

func turbulentField(t *testing.T, seed uint64, turb Turbulence) *Field {
	t.Helper()
	w := Weather{WindSpeed: 3, WindFromDeg: 300, Stability: "D", AirTempK: 300, PressurePa: 101325}
	f, err := NewField(w, turb, []Source{
		{Name: "lab", East: 100, North: -100, Rates: map[string]float64{"acetone": 20, "ammonia": 8}, HeightM: 2},
	}, defaultLibrary(t), epoch, seed)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// The same seed gives the same instantaneous field whatever the order of the
// queries; another seed another field.
func TestPlume3DDeterministic(t *testing.T) {
	turb, err := DefaultTurbulence("D")
	if err != nil {
		t.Fatal(err)
	}
	times := []float64{5, -40, 600, 0.05, 123.456}
	eval := func(f *Field, order []int) []float64 {
		out := make([]float64, len(times)*2)
		for _, i := range order {
			e, n := f.at(80, 3)
			e, n = e+100, n-100
			if err := f.PPM(epoch.Add(time.Duration(times[i]*1e9)), e, n, 2, out[2*i:2*i+2]); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	a := eval(turbulentField(t, 42, turb), []int{0, 1, 2, 3, 4})
	b := eval(turbulentField(t, 42, turb), []int{4, 2, 0, 3, 1})
	c := eval(turbulentField(t, 43, turb), []int{0, 1, 2, 3, 4})
	same := true
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("value %d: %g then %g with the same seed", i, a[i], b[i])
		}
		same = same && a[i] == c[i]
	}
	if same {
		t.Error("seeds 42 and 43 give the same field")
	}
}

func TestPlume3DTimeRange(t *testing.T) {
	f := turbulentField(t, 1, Turbulence{MeanderDeg: 3, MeanderTimeS: 20})
	out := []float64{0, 0}
	err := f.PPM(epoch.Add(13*24*time.Hour), 150, -100, 2, out)
	if !errors.Is(err, ErrTimeRange) {
		t.Errorf("13 days after the epoch: err = %v, want ErrTimeRange", err)
	}
}

// The meander's centreline displacement has Taylor's variance (the check on
// the discretised direction process the mean relies on).
func TestMeanderVarianceIsTaylors(t *testing.T) {
	const u, sdeg, tc = 3.0, 5.0, 5.0
	p := newOUProcess(sdeg*math.Pi/180, tc, 9, 1)
	for _, x := range []float64{3, 100, 600} {
		// 2·10⁵ s at 1 s: about 2·10⁴ independent values for x/u ≪ T, fewer
		// (∝ T/(x/u)) far out; the standard error of a variance from n
		// independent Gaussians is √(2/n).
		var s2 float64
		const n = 200_000
		for k := range n {
			t1 := float64(k)
			a, _ := p.integral(t1)
			b, _ := p.integral(t1 - x/u)
			d := u * (a - b)
			s2 += d * d
		}
		got := s2 / n
		want := meanderVariance(sdeg*math.Pi/180, tc, u, x)
		t.Logf("x = %g m: var d = %.4g m², Taylor %.4g m²", x, got, want)
		if rel := math.Abs(got-want) / want; rel > 0.06 {
			t.Errorf("x = %g m: var of the centreline %.4g m², Taylor %.4g m² (rel. %.2g)", x, got, want, rel)
		}
	}
}

// The long-time average of the instantaneous field at a fixed point is the
// ensemble-mean Gaussian plume: the meander only moves a narrower plume about,
// and the puffs have mean one.
func TestPlume3DTimeAverageIsMean(t *testing.T) {
	if testing.Short() {
		t.Skip("long average")
	}
	// A strong meander (5°, 52 % of σ_y² at 100 m) with a short correlation
	// time so that 10⁵ s hold ~10⁴ independent looks.
	turb := Turbulence{MeanderDeg: 5, MeanderTimeS: 5, PuffSigma: 0.8, PuffLengthM: 10}
	f := turbulentField(t, 2025, turb)
	sy, sz, _ := Sigmas("D", 100)
	points := []struct {
		name string
		y, z float64
	}{
		{"centreline", 0, 2},
		{"1.5σy off axis", 1.5 * sy, 2},
		{"ground, 0.7σy", -0.7 * sy, 0},
		{"σz above", 0, 2 + sz},
	}
	const (
		dur     = 100_000 // s
		step    = 0.5     // s
		batches = 50      // batch means for the standard error
	)
	for _, p := range points {
		de, dn := f.at(100, p.y)
		e, n := 100+de, -100+dn
		mean := []float64{0, 0}
		f.MeanPPM(e, n, p.z, mean)
		out := []float64{0, 0}
		var batch [batches]float64
		per := int(dur / step / batches)
		for k := range batches * per {
			if err := f.PPM(epoch.Add(time.Duration(float64(k)*step*1e9)), e, n, p.z, out); err != nil {
				t.Fatal(err)
			}
			batch[k/per] += out[0] / float64(per) // acetone
		}
		m, v := 0.0, 0.0
		for _, b := range batch {
			m += b / batches
		}
		for _, b := range batch {
			v += (b - m) * (b - m) / (batches - 1)
		}
		se := math.Sqrt(v / batches)
		t.Logf("%s: time mean %.4g ppm, Gaussian %.4g ppm (%+.2f%%, s.e. %.2f%%)", p.name, m, mean[0], 100*(m/mean[0]-1), 100*se/mean[0])
		// 4 standard errors, and never worse than 6 %.
		if d := math.Abs(m - mean[0]); d > 4*se || d > 0.06*mean[0] {
			t.Errorf("%s: time mean %.4g ppm, Gaussian mean %.4g ppm, s.e. %.2g", p.name, m, mean[0], se)
		}
	}
}

// A field is safe for concurrent use and gives the same values as when
// queried alone (run with -race).
func TestPlume3DConcurrent(t *testing.T) {
	turb, err := DefaultTurbulence("D")
	if err != nil {
		t.Fatal(err)
	}
	a, b := turbulentField(t, 8, turb), turbulentField(t, 8, turb)
	e, n := a.at(60, 1)
	e, n = e+100, n-100
	const workers, per = 4, 200
	got := make([]float64, workers*per)
	done := make(chan struct{})
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			out := []float64{0, 0}
			for i := range per {
				k := w*per + i
				if a.PPM(epoch.Add(time.Duration(k)*370*time.Millisecond), e, n, 2, out) == nil {
					got[k] = out[0]
				}
			}
		}()
	}
	for range workers {
		<-done
	}
	out := []float64{0, 0}
	for k := len(got) - 1; k >= 0; k-- {
		if err := b.PPM(epoch.Add(time.Duration(k)*370*time.Millisecond), e, n, 2, out); err != nil {
			t.Fatal(err)
		}
		if out[0] != got[k] {
			t.Fatalf("sample %d: %g concurrently, %g alone", k, got[k], out[0])
		}
	}
}

func withHeight(s Source, h float64) Source {
	s.HeightM = h
	return s
}
