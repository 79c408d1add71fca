package detect

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
)

// ErrTail is wrapped by errors of the false-alarm tail fit.
var ErrTail = errors.New("detect: tail fit")

// AutoTailFraction picks the share of the highest scores the generalized
// Pareto tail is fitted to: 1000 exceedances, but no fewer than 0.1% and no
// more than 5% of the scores. 1000 exceedances give PWM shape estimates with
// a standard error of about 0.03 (Hosking & Wallis 1987, Table 2). A higher
// threshold is worth its variance: for Gaussian z-scores, fitting the top 1%
// of 10⁶ (threshold z ≈ 2.3) gives ξ ≈ −0.11 and underestimates the
// p = 10⁻⁵ threshold by 0.1 (p realised ≈ 1.7×10⁻⁵, 8 seeds), the
// penultimate-approximation bias of the GPD for a light tail; the top 0.1%
// (z ≈ 3.1) leaves a bias below the spread.
func AutoTailFraction(n int) float64 {
	return max(1e-3, min(0.05, 1000/float64(n)))
}

// minExceedances is the fewest tail scores a fit accepts: below ~50 the PWM
// shape estimate's standard error exceeds 0.15 (Hosking & Wallis 1987).
const minExceedances = 50

// Tail is the fitted distribution of background scores: empirical in the
// body, a generalized Pareto distribution (GPD) above the threshold U
// (peaks over threshold: Pickands, "Statistical inference using extreme order
// statistics", Ann. Stat. 3, 1975), fitted by probability-weighted moments
// (Hosking & Wallis, "Parameter and quantile estimation for the generalized
// Pareto distribution", Technometrics 29, 1987). Above U,
//
//	P(S > s) = ζ·(1 + ξ(s−U)/σ)^(−1/ξ)   (ζ·exp(−(s−U)/σ) for ξ = 0),
//
// with ζ the fraction of scores above U. It extrapolates to probabilities
// below 1/N, where the empirical distribution has nothing to say.
type Tail struct {
	N     int     // finite scores fitted
	U     float64 // tail threshold
	Zeta  float64 // fraction of scores above U
	Xi    float64 // GPD shape ξ (0: exponential tail, < 0: bounded)
	Sigma float64 // GPD scale σ (score units)
	// meanExcess is the mean of the exceedances over U.
	meanExcess float64
	// sorted holds the finite scores ascending, for the empirical body.
	sorted []float32
}

// FitTail fits the tail of scores (NaN, ±Inf left out) above their
// (1−tailFraction) quantile; tailFraction 0 means AutoTailFraction.
func FitTail(scores []float32, tailFraction float64) (*Tail, error) {
	s := make([]float32, 0, len(scores))
	for _, v := range scores {
		if !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) {
			s = append(s, v)
		}
	}
	slices.Sort(s)
	N := len(s)
	if tailFraction == 0 {
		tailFraction = AutoTailFraction(N)
	}
	if !(tailFraction > 0 && tailFraction < 1) {
		return nil, fmt.Errorf("%w: tail fraction %g, want in (0, 1)", ErrTail, tailFraction)
	}
	n := int(math.Floor(tailFraction * float64(N)))
	if n < minExceedances {
		return nil, fmt.Errorf("%w: %d of %d scores in the top %g, want ≥ %d", ErrTail, n, N, tailFraction, minExceedances)
	}
	// U is the largest score below the tail; ties at U move into the body.
	first := N - n
	U := float64(s[first-1])
	for first < N && float64(s[first]) <= U {
		first++
	}
	y := s[first:]
	n = len(y)
	if n < minExceedances {
		return nil, fmt.Errorf("%w: only %d scores above the threshold %g (ties)", ErrTail, n, U)
	}
	// PWM: a₀ = mean excess, a₁ = (1/n)Σ(1−pⱼ)y₍ⱼ₎ with plotting positions
	// pⱼ = (j−0.35)/n (Hosking & Wallis 1987, eq. 4 and §3).
	var a0, a1 float64
	for j, v := range y {
		e := float64(v) - U
		a0 += e
		a1 += (1 - (float64(j+1)-0.35)/float64(n)) * e
	}
	a0 /= float64(n)
	a1 /= float64(n)
	den := a0 - 2*a1
	if !(den > 0) || !(a0 > 0) {
		return nil, fmt.Errorf("%w: degenerate tail (a₀ %g, a₁ %g)", ErrTail, a0, a1)
	}
	k := a0/den - 2 // Hosking's shape k = −ξ
	return &Tail{N: N, U: U, Zeta: float64(n) / float64(N), Xi: -k, Sigma: 2 * a0 * a1 / den, meanExcess: a0, sorted: s}, nil
}

// NotLighterThanExponential returns the tail itself when its shape ξ ≥ 0,
// and otherwise the exponential tail (ξ = 0) with the same mean excess over
// U. A bounded GPD (ξ < 0) fitted to a light tail falls off faster than the
// data far beyond the fitted range (the penultimate-approximation bias:
// for Gaussian scores it underestimates extreme quantiles), and real clutter
// rarely has the end point such a fit implies; the exponential tail errs
// towards fewer false alarms.
func (t *Tail) NotLighterThanExponential() *Tail {
	if t.Xi >= 0 {
		return t
	}
	c := *t
	c.Xi, c.Sigma = 0, t.meanExcess
	return &c
}

// Survival returns P(S > s) for a background score: the empirical fraction
// of fitted scores above s in the body (s ≤ U), the GPD above U.
func (t *Tail) Survival(s float64) float64 {
	if math.IsNaN(s) {
		return math.NaN()
	}
	if s <= t.U {
		i := sort.Search(len(t.sorted), func(i int) bool { return float64(t.sorted[i]) > s })
		return float64(len(t.sorted)-i) / float64(t.N)
	}
	z := (s - t.U) / t.Sigma
	if math.Abs(t.Xi) < 1e-9 {
		return t.Zeta * math.Exp(-z)
	}
	b := 1 + t.Xi*z
	if b <= 0 {
		return 0 // beyond the upper end point of a bounded (ξ < 0) tail
	}
	return t.Zeta * math.Pow(b, -1/t.Xi)
}

// PValues writes Survival(score) of each score into dst (NaN for NaN).
func (t *Tail) PValues(dst, scores []float32) {
	for i, s := range scores {
		dst[i] = float32(t.Survival(float64(s)))
	}
}

// Threshold returns the score s with P(S > s) = p: the empirical quantile
// for p ≥ ζ, the GPD quantile below.
func (t *Tail) Threshold(p float64) float64 {
	if !(p > 0 && p < 1) {
		return math.NaN()
	}
	if p >= t.Zeta {
		i := int(math.Ceil(float64(t.N)*(1-p))) - 1
		return float64(t.sorted[max(0, min(t.N-1, i))])
	}
	r := p / t.Zeta
	if math.Abs(t.Xi) < 1e-9 {
		return t.U - t.Sigma*math.Log(r)
	}
	return t.U + t.Sigma/t.Xi*(math.Pow(r, -t.Xi)-1)
}

// PixelProbability converts a false-alarm rate per km² surveyed into the
// false-alarm probability per pixel of area pixelArea m²: p = FAR·a/10⁶
// (a km² holds 10⁶/a pixels).
func PixelProbability(farPerKm2, pixelArea float64) float64 {
	return farPerKm2 * pixelArea / 1e6
}

// ThresholdForFAR returns the score threshold giving farPerKm2 false alarms
// per km² for pixels of pixelArea m².
func (t *Tail) ThresholdForFAR(farPerKm2, pixelArea float64) float64 {
	return t.Threshold(PixelProbability(farPerKm2, pixelArea))
}
