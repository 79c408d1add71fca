package detect

import (
	"math"
	"testing"
)

// relErr returns |got − want| / max(|want|, floor).
func relErr(got, want float32, floor float64) float64 {
	return math.Abs(float64(got)-float64(want)) / math.Max(math.Abs(float64(want)), floor)
}

// TestSpectralPythonGolden compares RX, the matched filter and ACE with
// Spectral Python 0.22.4 (testdata/spy_golden.py) on the three real scenes,
// with SPy's statistics (global, N−1, no shrinkage).
//
// Tolerance 1e-4 relative, per pixel. Relative to what, where the reference
// is near zero: RX > 0 is compared to itself; the matched filter is compared
// as a z-score ĉ/σ_c relative to max(|z|, 1), i.e. to 1e-4 of its own noise
// on background pixels; ACE = cos²θ ∈ [0, 1] relative to max(ACE, 1/K),
// 1/K being ACE's mean on an isotropic background of K bands.
func TestSpectralPythonGolden(t *testing.T) {
	const tol = 1e-4
	for _, sc := range scenes {
		rs := loadRealScene(t, sc.name)
		c := rs.c
		g := readGolden(t, sc.name)
		if g.B != c.Bands || g.R*g.C != c.Pixels() {
			t.Fatalf("%s: golden %d×%d×%d does not match cube %v×%d", sc.name, g.R, g.C, g.B, c.Rect, c.Bands)
		}
		bg := rs.bg
		st := bg.Stats[0]
		s := make([]float64, c.Bands)
		for i := range s {
			s[i] = g.target[i] - st.Mean[i]
		}
		N := c.Pixels()
		rx := rs.rx
		mf, err := NewMatchedFilter(bg, s)
		if err != nil {
			t.Fatal(err)
		}
		ch := make([]float32, N)
		mf.Retrieve(ch, nil, nil, c)
		ace, err := NewACE(bg, s)
		if err != nil {
			t.Fatal(err)
		}
		ac := make([]float32, N)
		ace.Score(ac, c)
		sigma := mf.Sigma(0)
		var eRX, eMF, eACE float64
		for i := 0; i < N; i++ {
			eRX = math.Max(eRX, relErr(rx[i], g.rx[i], 0))
			eMF = math.Max(eMF, relErr(float32(float64(ch[i])/sigma), float32(float64(g.mf[i])/sigma), 1))
			eACE = math.Max(eACE, relErr(ac[i], g.ace[i], 1/float64(c.Bands)))
		}
		t.Logf("%s: max relative error vs Spectral Python: RX %.2e, MF %.2e, ACE %.2e (σ_c %.3g)", sc.name, eRX, eMF, eACE, sigma)
		if eRX > tol || eMF > tol || eACE > tol {
			t.Errorf("%s: disagreement with Spectral Python above %g", sc.name, tol)
		}
	}
}
