package spectra

import (
	"errors"
	"math"
	"testing"
)

// gridEntry builds an entry on a regular wavenumber grid [lo, hi] with
// step d and k = f(ν).
func gridEntry(lo, hi, d float64, f func(nu float64) float64) *Entry {
	e := &Entry{Name: "test", Quality: QualityUnspecified}
	for nu := lo; nu <= hi+1e-9; nu += d {
		e.Wavenumber = append(e.Wavenumber, nu)
		e.K = append(e.K, f(nu))
	}
	return e
}

// A line that is Gaussian in wavelength (centre λ0, width s) seen through a
// Gaussian response (centre λc, width σ) has the analytic band average
//
//	∫k S dλ / ∫S dλ = s/√(s²+σ²) · exp(−(λc−λ0)²/(2(s²+σ²)))
//
// The entry is tabulated on a wavenumber grid, so this also checks the
// dλ = 10⁴/ν² dν conversion: without it the result is off by ~2(λc−λ0)/λ0.
func TestResampleGaussianLine(t *testing.T) {
	const lam0, s = 10.0, 0.05 // µm
	e := gridEntry(900, 1100, 0.01, func(nu float64) float64 {
		z := (1e4/nu - lam0) / s
		return math.Exp(-0.5 * z * z)
	})
	centres := []float64{9.8, 9.9, 9.95, 10, 10.05, 10.1, 10.2}
	for _, fwhm := range []float64{0.02, 0.1, 0.3} {
		fw := make([]float64, len(centres))
		for i := range fw {
			fw[i] = fwhm
		}
		k, err := e.Resample(centres, fw)
		if err != nil {
			t.Fatal(err)
		}
		sigma := fwhm / (2 * math.Sqrt(2*math.Ln2))
		for i, lc := range centres {
			v := s*s + sigma*sigma
			want := s / math.Sqrt(v) * math.Exp(-(lc-lam0)*(lc-lam0)/(2*v))
			// Linear interpolation on a 0.01 cm⁻¹ grid of a line ~5 cm⁻¹
			// wide: error ~ (h/w)²/8 ≈ 1e-6.
			if math.Abs(k[i]-want) > 1e-5*math.Max(want, 1e-3) {
				t.Errorf("fwhm %g band %g: k = %.8g, want %.8g", fwhm, lc, k[i], want)
			}
		}
	}
}

func TestResampleConstant(t *testing.T) {
	e := gridEntry(500, 2000, 1, func(float64) float64 { return 3.5e-4 })
	// Wide, narrow (narrower than the 1 cm⁻¹ grid: 0.001 µm at 10 µm is
	// 0.1 cm⁻¹) and missing widths.
	for _, fw := range [][]float64{{0.5, 0.5, 0.5}, {0.001, 0.001, 0.001}, nil} {
		k, err := e.Resample([]float64{8, 10, 12}, fw)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range k {
			if math.Abs(v-3.5e-4) > 1e-15 {
				t.Errorf("fwhm %v band %d: %g", fw, i, v)
			}
		}
	}
}

// Bands outside the measured range are NaN and reported; a band centred on
// the edge is half covered.
func TestResampleCoverage(t *testing.T) {
	e := gridEntry(800, 1250, 0.5, func(float64) float64 { return 0 }) // 8-12.5 µm
	k, err := e.Resample([]float64{7, 10, 12.5}, []float64{0.1, 0.1, 0.1})
	if !errors.Is(err, ErrNotCovered) {
		t.Fatalf("err = %v", err)
	}
	if !math.IsNaN(k[0]) || k[1] != 0 || !math.IsNaN(k[2]) {
		t.Errorf("k = %v: want NaN, a real 0, NaN", k)
	}
	_, cov, err := e.ResampleCoverage([]float64{7, 10, 12.5}, []float64{0.1, 0.1, 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if cov[0] != 0 || math.Abs(cov[1]-1) > 1e-12 || math.Abs(cov[2]-0.5) > 1e-9 {
		t.Errorf("coverage = %v, want 0, 1, 0.5", cov)
	}
}

// Missing fwhm is the band spacing.
func TestResampleFWHMFromSpacing(t *testing.T) {
	e := gridEntry(700, 1400, 0.25, func(nu float64) float64 { return math.Sin(nu / 7) })
	c := []float64{8, 8.1, 8.3, 8.6}
	a, err := e.Resample(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.Resample(c, []float64{0.1, 0.15, 0.25, 0.3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		// Spacings computed as differences (8.1 − 8 = 0.0999…) round.
		if math.Abs(a[i]-b[i]) > 1e-12 {
			t.Errorf("band %d: %g from spacing, %g explicit", i, a[i], b[i])
		}
	}
}

func TestResampleBadInput(t *testing.T) {
	e := gridEntry(700, 1400, 1, func(float64) float64 { return 1 })
	for _, c := range []struct{ centres, fwhm []float64 }{
		{nil, nil}, {[]float64{10}, nil}, {[]float64{10, 11}, []float64{0.1}},
		{[]float64{10, -1}, nil}, {[]float64{10, 11}, []float64{0.1, -0.1}}, {[]float64{10, math.NaN()}, nil},
	} {
		if k, err := e.Resample(c.centres, c.fwhm); err == nil || k != nil {
			t.Errorf("Resample(%v, %v) = %v, %v", c.centres, c.fwhm, k, err)
		}
	}
}

func BenchmarkResample(b *testing.B) {
	lib, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	e, _ := lib.Get("acetone")
	// 128 bands over 7.6-13.2 µm, like a dispersive LWIR imager.
	c := make([]float64, 128)
	w := make([]float64, 128)
	for i := range c {
		c[i] = 7.6 + 5.6*float64(i)/127
		w[i] = 0.066
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Resample(c, w); err != nil {
			b.Fatal(err)
		}
	}
}
