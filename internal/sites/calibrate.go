package sites

import (
	"fmt"
	"math"
	"slices"
	"sync"
)

// Decision is an analyst's verdict on a site: the site's evidence (its log
// Bayes factor, Site.LogBF) when decided, and whether it was confirmed.
type Decision struct {
	LogBF     float64
	Confirmed bool
}

// CalibratorConfig sets the prior of the Platt fit and when isotonic
// regression takes over.
type CalibratorConfig struct {
	// PriorA and PriorB centre the Platt fit p = σ(a + b·LogBF) before any
	// decision: b = 1 and a = logit(prior share of real sites) make p the
	// Bayesian posterior if the evidence model is right. Defaults
	// logit(0.1) and 1.
	PriorA, PriorB float64
	// PriorSD is the prior standard deviation of a and b (default 1): with
	// a few decisions the fit moves little, with hundreds the data rule.
	PriorSD float64
	// IsotonicMin is the number of decisions (with at least IsotonicMin/10
	// of each outcome) from which isotonic regression is used (default
	// 500; 0 keeps the default, negative never).
	IsotonicMin int
}

// Calibrator maps a site's log Bayes factor to a calibrated probability,
// refitted from analysts' decisions. Safe for concurrent use.
type Calibrator struct {
	cfg  CalibratorConfig
	mu   sync.RWMutex
	a, b float64
	iso  *isotonic // nil until enough decisions
	n    int
}

// NewCalibrator returns a calibrator at its prior.
func NewCalibrator(cfg CalibratorConfig) *Calibrator {
	if cfg.PriorA == 0 && cfg.PriorB == 0 {
		cfg.PriorA, cfg.PriorB = math.Log(0.1/0.9), 1
	}
	if cfg.PriorSD <= 0 {
		cfg.PriorSD = 1
	}
	if cfg.IsotonicMin == 0 {
		cfg.IsotonicMin = 500
	}
	return &Calibrator{cfg: cfg, a: cfg.PriorA, b: cfg.PriorB}
}

// Params returns the Platt parameters (a, b) and the number of decisions
// they were fitted to, and whether isotonic regression is in use.
func (c *Calibrator) Params() (a, b float64, n int, isotonic bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.a, c.b, c.n, c.iso != nil
}

// Probability returns the calibrated probability that a site with this
// evidence is real.
func (c *Calibrator) Probability(logBF float64) float64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.iso != nil {
		return c.iso.at(logBF)
	}
	return sigmoid(c.a + c.b*logBF)
}

// Fit refits from all decisions so far (it replaces, not adds to, the
// previous fit).
func (c *Calibrator) Fit(ds []Decision) error {
	for i, d := range ds {
		if math.IsNaN(d.LogBF) || math.IsInf(d.LogBF, 0) {
			return fmt.Errorf("%w: decision %d: log Bayes factor %g", ErrConfig, i, d.LogBF)
		}
	}
	a, b := plattMAP(ds, c.cfg.PriorA, c.cfg.PriorB, c.cfg.PriorSD)
	var iso *isotonic
	if c.cfg.IsotonicMin > 0 && len(ds) >= c.cfg.IsotonicMin {
		pos := 0
		for _, d := range ds {
			if d.Confirmed {
				pos++
			}
		}
		if min(pos, len(ds)-pos) >= c.cfg.IsotonicMin/10 {
			iso = fitIsotonic(ds)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.a, c.b, c.iso, c.n = a, b, iso, len(ds)
	return nil
}

// softplus is log(1 + eˣ) without overflow.
func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// plattMAP fits p = σ(a + b·x) by maximum a posteriori with independent
// normal priors N(a0, s²), N(b0, s²), and Platt's target smoothing
// (targets (N₊+1)/(N₊+2) and 1/(N₋+2) instead of 1 and 0: Platt 1999,
// "Probabilistic outputs for support vector machines", §2.2), by Newton's
// method on the concave log posterior.
func plattMAP(ds []Decision, a0, b0, sd float64) (float64, float64) {
	if len(ds) == 0 {
		return a0, b0
	}
	pos := 0
	for _, d := range ds {
		if d.Confirmed {
			pos++
		}
	}
	hi := (float64(pos) + 1) / (float64(pos) + 2)
	lo := 1 / (float64(len(ds)-pos) + 2)
	lam := 1 / (sd * sd)
	target := func(d Decision) float64 {
		if d.Confirmed {
			return hi
		}
		return lo
	}
	// logPost is the log posterior up to a constant (cross-entropy against
	// the smoothed targets, plus the prior).
	logPost := func(a, b float64) float64 {
		s := -lam / 2 * ((a-a0)*(a-a0) + (b-b0)*(b-b0))
		for _, d := range ds {
			z := a + b*d.LogBF
			t := target(d)
			// log σ(z) = −log(1+e^−z), log(1−σ(z)) = −log(1+e^z)
			s -= t*softplus(-z) + (1-t)*softplus(z)
		}
		return s
	}
	a, b := a0, b0
	cur := logPost(a, b)
	for range 100 {
		ga, gb := -lam*(a-a0), -lam*(b-b0)
		haa, hab, hbb := -lam, 0.0, -lam
		for _, d := range ds {
			p := sigmoid(a + b*d.LogBF)
			r := target(d) - p
			ga += r
			gb += r * d.LogBF
			w := p * (1 - p)
			haa -= w
			hab -= w * d.LogBF
			hbb -= w * d.LogBF * d.LogBF
		}
		det := haa*hbb - hab*hab
		if !(det > 0) {
			break
		}
		// Newton step −H⁻¹g, halved until the posterior rises.
		da := -(hbb*ga - hab*gb) / det
		db := -(haa*gb - hab*ga) / det
		step := 1.0
		for ; step > 1e-6; step /= 2 {
			if v := logPost(a+step*da, b+step*db); v >= cur {
				a, b, cur = a+step*da, b+step*db, v
				break
			}
		}
		if step <= 1e-6 || math.Abs(step*da)+math.Abs(step*db) < 1e-10 {
			break
		}
	}
	return a, b
}

// isotonic is a non-decreasing step function fitted by pool-adjacent-
// violators (Zadrozny & Elkan 2002, "Transforming classifier scores into
// accurate multiclass probability estimates"), interpolated linearly
// between block centres and clamped away from 0 and 1 by the Laplace rule
// (k+1)/(n+2) within each block.
type isotonic struct {
	x, p []float64
}

func fitIsotonic(ds []Decision) *isotonic {
	s := slices.Clone(ds)
	slices.SortFunc(s, func(a, b Decision) int {
		switch {
		case a.LogBF < b.LogBF:
			return -1
		case a.LogBF > b.LogBF:
			return 1
		}
		return 0
	})
	type block struct{ sx, k, n float64 }
	var bs []block
	for _, d := range s {
		k := 0.0
		if d.Confirmed {
			k = 1
		}
		bs = append(bs, block{d.LogBF, k, 1})
		for len(bs) > 1 {
			l, r := bs[len(bs)-2], bs[len(bs)-1]
			if l.k/l.n < r.k/r.n {
				break
			}
			bs = append(bs[:len(bs)-2], block{l.sx + r.sx, l.k + r.k, l.n + r.n})
		}
	}
	iso := &isotonic{}
	for _, b := range bs {
		iso.x = append(iso.x, b.sx/b.n)
		iso.p = append(iso.p, (b.k+1)/(b.n+2))
	}
	// The Laplace rule can break monotonicity between small blocks.
	for i := 1; i < len(iso.p); i++ {
		iso.p[i] = math.Max(iso.p[i], iso.p[i-1])
	}
	return iso
}

func (f *isotonic) at(x float64) float64 {
	n := len(f.x)
	switch {
	case x <= f.x[0]:
		return f.p[0]
	case x >= f.x[n-1]:
		return f.p[n-1]
	}
	i, _ := slices.BinarySearch(f.x, x)
	x0, x1 := f.x[i-1], f.x[i]
	return f.p[i-1] + (f.p[i]-f.p[i-1])*(x-x0)/(x1-x0)
}
