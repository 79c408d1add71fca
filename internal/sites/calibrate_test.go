package sites

import (
	"math"
	"math/rand/v2"
	"testing"
)

// decisions draws n analyst decisions for sites whose log Bayes factor is
// spread over [-4, 12], confirmed with the true probability σ(α + β·x).
func decisions(rng *rand.Rand, n int, alpha, beta float64) []Decision {
	ds := make([]Decision, n)
	for i := range ds {
		x := -4 + 16*rng.Float64()
		ds[i] = Decision{LogBF: x, Confirmed: rng.Float64() < sigmoid(alpha+beta*x)}
	}
	return ds
}

// ece is the expected calibration error of p against the true curve,
// averaged over the same spread of evidence.
func ece(p func(float64) float64, alpha, beta float64) float64 {
	s := 0.0
	const k = 400
	for i := range k {
		x := -4 + 16*(float64(i)+0.5)/k
		s += math.Abs(p(x) - sigmoid(alpha+beta*x))
	}
	return s / k
}

// Platt scaling with a prior: with few decisions it stays near the prior;
// with many it recovers the true calibration (the evidence model here is
// over-confident: true β = 0.5, α = −3).
func TestCalibratorPlatt(t *testing.T) {
	const alpha, beta = -3.0, 0.5
	for _, tc := range []struct {
		n        int
		maxShift float64 // from the prior (a, b), when n is small
		tolA     float64
		tolB     float64
	}{
		{n: 5, maxShift: 1.5},
		{n: 2000, tolA: 0.35, tolB: 0.06},
	} {
		rng := rand.New(rand.NewPCG(uint64(tc.n), 1))
		c := NewCalibrator(CalibratorConfig{IsotonicMin: -1})
		a0, b0, _, _ := c.Params()
		if err := c.Fit(decisions(rng, tc.n, alpha, beta)); err != nil {
			t.Fatal(err)
		}
		a, b, n, iso := c.Params()
		e := ece(c.Probability, alpha, beta)
		e0 := ece(func(x float64) float64 { return sigmoid(a0 + b0*x) }, alpha, beta)
		t.Logf("n=%d: a %.2f b %.2f (prior %.2f %.2f; true %.2f %.2f); calibration error %.3f (prior's %.3f), isotonic %v", n, a, b, a0, b0, alpha, beta, e, e0, iso)
		if tc.maxShift > 0 && math.Hypot(a-a0, b-b0) > tc.maxShift {
			t.Errorf("n=%d: moved (%.2f, %.2f) from the prior (%.2f, %.2f)", tc.n, a, b, a0, b0)
		}
		if tc.tolA > 0 && (math.Abs(a-alpha) > tc.tolA || math.Abs(b-beta) > tc.tolB) {
			t.Errorf("n=%d: fitted (%.2f, %.2f), want (%.2f, %.2f)", tc.n, a, b, alpha, beta)
		}
		if tc.n >= 2000 && e > 0.02 {
			t.Errorf("n=%d: calibration error %.3f, want < 0.02", tc.n, e)
		}
	}
}

// With enough decisions isotonic regression takes over, and follows a
// calibration that is not logistic (a step at x = 4).
func TestCalibratorIsotonic(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	truth := func(x float64) float64 {
		if x < 4 {
			return 0.1
		}
		return 0.8
	}
	ds := make([]Decision, 3000)
	for i := range ds {
		x := -4 + 16*rng.Float64()
		ds[i] = Decision{LogBF: x, Confirmed: rng.Float64() < truth(x)}
	}
	c := NewCalibrator(CalibratorConfig{})
	if err := c.Fit(ds); err != nil {
		t.Fatal(err)
	}
	if _, _, _, iso := c.Params(); !iso {
		t.Fatal("isotonic regression not used with 3000 decisions")
	}
	prev := 0.0
	var e float64
	for i := range 160 {
		x := -4 + 16*(float64(i)+0.5)/160
		p := c.Probability(x)
		if p < prev-1e-12 {
			t.Fatalf("not monotone at %g: %g after %g", x, p, prev)
		}
		prev = p
		if math.Abs(x-4) > 1 {
			e += math.Abs(p-truth(x)) / 160
		}
	}
	t.Logf("isotonic: mean error %.3f away from the step", e)
	if e > 0.04 {
		t.Errorf("isotonic mean error %.3f away from the step, want < 0.04", e)
	}
}
