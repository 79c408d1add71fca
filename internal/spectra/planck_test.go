package spectra

import (
	"math"
	"testing"
)

// The spectral radiance of a 300 K blackbody at 10 µm, worked by hand from
// the CODATA 2018 constants: c1 = 2hc² = 1.191042972e-16 W·m²/sr,
// c2 = hc/k = 1.438776877e-2 m·K; x = c2/(λT) = 4.795923; e^x − 1 =
// 120.0293; B = c1/λ⁵/(e^x − 1) = 1.191043e9/120.0293 W/(m²·sr·m) =
// 9.92403 W/(m²·sr·µm) (the "≈ 9.92" of textbook tables).
func TestPlanckReferenceValue(t *testing.T) {
	if got := PlanckWavelength(10, 300); math.Abs(got-9.924033) > 1e-5 {
		t.Errorf("B(10 µm, 300 K) = %.7g, want 9.924033", got)
	}
	// Same radiance per cm⁻¹: B_ν = B_λ · λ²/10⁴ = 9.924033·100/10⁴.
	if got := PlanckWavenumber(1000, 300); math.Abs(got-0.09924033) > 1e-7 {
		t.Errorf("B(1000 cm-1, 300 K) = %.7g, want 0.09924033", got)
	}
	if math.Abs(c2-1.438776877e-2) > 1e-11 || math.Abs(c1L-1.191042972e-16) > 1e-25 {
		t.Errorf("c2 = %g, c1L = %g", c2, c1L)
	}
}

// Stefan-Boltzmann: ∫B dλ = ∫B dν = σT⁴/π, an analytic check independent
// of any tabulated radiance. Simpson's rule on a log grid over 0.1 µm-10 cm
// (the tails beyond hold < 1e-9 of the total at these temperatures).
func TestPlanckStefanBoltzmann(t *testing.T) {
	for _, T := range []float64{200, 300, 1000} {
		want := StefanBoltzmannConstant * math.Pow(T, 4) / math.Pi
		var sl, sn float64
		const n = 20000 // even
		a, b := math.Log(0.1), math.Log(1e5)
		h := (b - a) / n
		for i := 0; i <= n; i++ {
			w := 2.0
			if i == 0 || i == n {
				w = 1
			} else if i%2 == 1 {
				w = 4
			}
			lam := math.Exp(a + float64(i)*h) // µm; dλ = λ du
			sl += w * PlanckWavelength(lam, T) * lam
			nu := 1e4 / lam // cm⁻¹; dν = ν du
			sn += w * PlanckWavenumber(nu, T) * nu
		}
		sl *= h / 3
		sn *= h / 3
		if math.Abs(sl-want) > 1e-7*want || math.Abs(sn-want) > 1e-7*want {
			t.Errorf("T=%g: ∫B dλ = %.9g, ∫B dν = %.9g, σT⁴/π = %.9g", T, sl, sn, want)
		}
	}
}

// Wien's displacement law: B_λ peaks at λT = b = 2897.771955 µm·K (CODATA
// 2018).
func TestPlanckWien(t *testing.T) {
	T := 300.0
	lo, hi := 5.0, 15.0
	for range 200 { // golden-section search for the maximum
		m1, m2 := lo+0.382*(hi-lo), lo+0.618*(hi-lo)
		if PlanckWavelength(m1, T) < PlanckWavelength(m2, T) {
			lo = m1
		} else {
			hi = m2
		}
	}
	if got := (lo + hi) / 2 * T; math.Abs(got-2897.771955) > 1e-3 {
		t.Errorf("λ_max·T = %.6f µm·K, want 2897.771955", got)
	}
}

func TestBrightnessTemperatureRoundTrip(t *testing.T) {
	for _, T := range []float64{150, 250, 288.15, 300, 350, 1200} {
		for _, lam := range []float64{3, 8, 10, 12, 13.5} {
			if got := BrightnessTemperatureWavelength(lam, PlanckWavelength(lam, T)); math.Abs(got-T) > 1e-9*T {
				t.Errorf("λ=%g T=%g: round trip %.12g", lam, T, got)
			}
			nu := 1e4 / lam
			if got := BrightnessTemperatureWavenumber(nu, PlanckWavenumber(nu, T)); math.Abs(got-T) > 1e-9*T {
				t.Errorf("ν=%g T=%g: round trip %.12g", nu, T, got)
			}
		}
	}
	for _, v := range []float64{
		PlanckWavelength(-1, 300), PlanckWavelength(10, -1), PlanckWavenumber(0, 300), PlanckWavenumber(1000, math.NaN()),
		BrightnessTemperatureWavelength(10, 0), BrightnessTemperatureWavenumber(1000, -1), BrightnessTemperatureWavenumber(math.Inf(1), 1),
	} {
		if !math.IsNaN(v) {
			t.Errorf("invalid input gave %g, want NaN", v)
		}
	}
	if PlanckWavelength(10, 0) != 0 {
		t.Error("B at 0 K is not 0")
	}
}
