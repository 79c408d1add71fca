package sniff

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// ProcessOptions tune Process. Zero values take the defaults in brackets.
type ProcessOptions struct {
	// SmoothS is the standard deviation, s, of the Gaussian smoother that
	// regularises the lag correction [max(τ/2, 2Δt)]. See Process for the
	// trade-off.
	SmoothS float64
	// BaselineWindowS is the length of the running window of the baseline,
	// s [300: long enough that plume crossings, which can fill a third of a
	// survey of short lines across a plume, leave most of each window
	// clear; a PID drifts by ~0.1 ppm an hour], and BaselineQuantile the low quantile taken in it [0.2].
	BaselineWindowS  float64
	BaselineQuantile float64
	// DetectK is the threshold of a crossing in noise standard deviations of
	// the corrected signal [5: with about one independent value per SmoothS
	// the one-sided Gaussian tail beyond 5σ, 2.9·10⁻⁷, makes about 10⁻³
	// false crossings per hour at SmoothS = 1 s], and MinDurationS the
	// shortest crossing, s [SmoothS].
	DetectK      float64
	MinDurationS float64
}

// Processed is a channel after baseline removal and lag correction, with
// the plume crossings found in it.
type Processed struct {
	Series *Series
	// DT is the median sampling interval, s.
	DT float64
	// Conc is the reading with its baseline removed and its lag corrected,
	// ppm in the channel's units, one per sample; NaN at dropouts.
	Conc []float64
	// Baseline is the removed baseline, ppm, one per sample.
	Baseline []float64
	// NoisePPM is the white noise of one raw sample (the instrument's, or
	// estimated), SigmaPPM the noise of one value of Conc, and Gain their
	// ratio: the noise gain of smoothing and lag correction together.
	NoisePPM, SigmaPPM, Gain float64
	// SmoothS is the smoother's standard deviation used, s.
	SmoothS   float64
	Crossings []Crossing
}

// Crossing is one passage of the sensor through a plume: a run of the
// corrected signal above DetectK·SigmaPPM lasting at least MinDurationS,
// extended to where it falls back below one SigmaPPM.
type Crossing struct {
	Start, End float64 // s since the series' start
	// PeakT, PeakEast, PeakNorth, PeakLat, PeakLon locate the maximum.
	PeakT               float64
	PeakEast, PeakNorth float64
	PeakLat, PeakLon    float64
	PeakPPM             float64
	// CentroidEast, CentroidNorth: concentration-weighted mean position, m.
	CentroidEast, CentroidNorth float64
	// IntegralPPMs is ∫c dt over the crossing (ppm·s), IntegralPPMm ∫c ds
	// along the track (ppm·m); SNR is the peak over SigmaPPM.
	IntegralPPMs, IntegralPPMm float64
	SNR                        float64
}

// Process removes the baseline of a channel, corrects its first-order lag
// and finds the plume crossings.
//
// Baseline: the BaselineQuantile of the raw readings in a running window of
// min(BaselineWindowS, 60 s), evaluated every tenth of a window and interpolated, plus
// the bias of that quantile for Gaussian noise (−Φ⁻¹(q)·σ). A plume lifts it
// only if it fills more than 1−q of a window.
//
// Lag: a first-order sensor of time constant τ reports y with
// y_k = y_{k−1} + (1−a)(x_k − y_{k−1}), a = e^{−Δt/τ}, so the inlet
// concentration is x_k = (y_k − a·y_{k−1})/(1−a), the discrete form of
// x = y + τ·dy/dt. That inverse multiplies white noise by about
// √(1+a²)/(1−a) (10.5 for τ = 2 s at 5 Hz), so y is first smoothed with a
// Gaussian of SmoothS. The result is x seen through that Gaussian, with
// noise gain² = Σ h_k², h = (g_k − a·g_{k−1})/(1−a), which is reported; for a
// continuous record gain² ≈ Δt/(2√π σ_s)·(1 + τ²/(2σ_s²)): a wider smoother
// buys lower noise with time resolution (σ_s·speed metres along the track,
// which the estimator adds to the plume width). σ_s = τ/2 keeps the gain
// near one at 5 Hz.
func Process(s *Series, o ProcessOptions) (*Processed, error) {
	n := len(s.Samples)
	if n < 8 {
		return nil, fmt.Errorf("%w: series %q has %d samples, need at least 8", ErrInput, s.Channel, n)
	}
	dts := make([]float64, 0, n-1)
	for k := 1; k < n; k++ {
		d := s.Samples[k].T - s.Samples[k-1].T
		if d < 0 || math.IsNaN(d) {
			return nil, fmt.Errorf("%w: series %q: sample %d goes back in time", ErrInput, s.Channel, k)
		}
		dts = append(dts, d)
	}
	dt := median(dts)
	if !(dt > 0) {
		return nil, fmt.Errorf("%w: series %q: median sampling interval %g s", ErrInput, s.Channel, dt)
	}
	ins := s.Instrument
	tau := ins.TimeConstantS
	if o.SmoothS == 0 {
		o.SmoothS = math.Max(tau/2, 2*dt)
	}
	if o.BaselineWindowS == 0 {
		o.BaselineWindowS = 300
	}
	if o.BaselineQuantile == 0 {
		o.BaselineQuantile = 0.2
	}
	if o.DetectK == 0 {
		o.DetectK = 5
	}
	if o.MinDurationS == 0 {
		o.MinDurationS = o.SmoothS
	}
	for _, v := range []struct {
		name string
		v    float64
	}{{"smoothing", o.SmoothS}, {"baseline window", o.BaselineWindowS}, {"detection threshold", o.DetectK}, {"minimum duration", o.MinDurationS}} {
		if !(v.v > 0) || math.IsInf(v.v, 0) {
			return nil, fmt.Errorf("%w: %s %g must be positive", ErrInput, v.name, v.v)
		}
	}
	if !(o.BaselineQuantile > 0 && o.BaselineQuantile < 0.5) {
		return nil, fmt.Errorf("%w: baseline quantile %g must be in (0, 0.5)", ErrInput, o.BaselineQuantile)
	}

	// Raw readings with dropouts filled linearly (they stay NaN in Conc).
	y := make([]float64, n)
	valid := make([]bool, n)
	nValid := 0
	for k, p := range s.Samples {
		y[k] = p.PPM
		valid[k] = !math.IsNaN(p.PPM) && !math.IsInf(p.PPM, 0)
		if valid[k] {
			nValid++
		}
	}
	if nValid < 8 {
		return nil, fmt.Errorf("%w: series %q has %d valid readings", ErrInput, s.Channel, nValid)
	}
	fillGaps(y, valid)

	sigma := ins.NoisePPM
	res := ins.ResolutionPPM
	if sigma == 0 {
		sigma, res = estimateNoise(y, valid)
	}
	// Rounding to a step q adds q²/12 of variance to the white noise.
	sigma = math.Sqrt(sigma*sigma + res*res/12)
	if !(sigma > 0) {
		sigma = 1e-6 // a noiseless, unquantised channel (tests)
	}

	p := &Processed{Series: s, DT: dt, NoisePPM: sigma, SmoothS: o.SmoothS}
	p.Baseline = runningBaseline(s, y, valid, o.BaselineWindowS, o.BaselineQuantile, sigma, 3*tau+3*o.SmoothS+1)
	r := make([]float64, n)
	for k := range y {
		r[k] = y[k] - p.Baseline[k]
	}
	g := gaussKernel(o.SmoothS / dt)
	sm := convolve(r, g)
	a := 0.0
	if tau > 0 {
		a = math.Exp(-dt / tau)
	}
	p.Conc = make([]float64, n)
	for k := range sm {
		prev := sm[max(k-1, 0)]
		p.Conc[k] = (sm[k] - a*prev) / (1 - a)
	}
	// Noise gain of the combined filter h = (g − a·shift(g))/(1−a).
	var g2 float64
	for k := 0; k <= len(g); k++ {
		var cur, prev float64
		if k < len(g) {
			cur = g[k]
		}
		if k > 0 {
			prev = g[k-1]
		}
		h := (cur - a*prev) / (1 - a)
		g2 += h * h
	}
	p.Gain = math.Sqrt(g2)
	p.SigmaPPM = sigma * p.Gain
	// Dropouts stay unknown (the filled values only keep the filters
	// running).
	for k := range p.Conc {
		if !valid[k] {
			p.Conc[k] = math.NaN()
		}
	}
	p.Crossings = findCrossings(p, o.DetectK, o.MinDurationS)
	return p, nil
}

// fillGaps replaces invalid values by linear interpolation between valid
// neighbours (constant beyond the ends).
func fillGaps(y []float64, valid []bool) {
	last := -1
	for k := range y {
		if !valid[k] {
			continue
		}
		if last < 0 {
			for j := 0; j < k; j++ {
				y[j] = y[k]
			}
		} else if k-last > 1 {
			for j := last + 1; j < k; j++ {
				w := float64(j-last) / float64(k-last)
				y[j] = (1-w)*y[last] + w*y[k]
			}
		}
		last = k
	}
	for j := last + 1; j < len(y); j++ {
		y[j] = y[last]
	}
}

// estimateNoise estimates the white noise of a channel from its first
// differences (MAD/0.6745/√2, robust to the few fast plume edges) and its
// quantisation step from the smallest non-zero difference.
func estimateNoise(y []float64, valid []bool) (sigma, step float64) {
	var d []float64
	step = math.Inf(1)
	for k := 1; k < len(y); k++ {
		if valid[k] && valid[k-1] {
			v := math.Abs(y[k] - y[k-1])
			d = append(d, v)
			if v > 1e-12 && v < step {
				step = v
			}
		}
	}
	if math.IsInf(step, 1) {
		step = 0
	}
	if len(d) == 0 {
		return 0, step
	}
	return median(d) / 0.6745 / math.Sqrt2, step
}

// runningBaseline estimates the baseline in two passes. First the q-quantile
// of y in windows of min(w, 60) seconds centred every w/10 s, corrected for the
// quantile's offset under Gaussian noise of σ (−Φ⁻¹(q)·σ); a plume lifts it
// only if it fills more than 1−q of a window. Quantised readings make that
// quantile coarse (a step of 0.1 ppm against 0.05 ppm of noise biases it by
// up to a step), so, second, the samples more than 3σ above it are masked
// together with pad seconds either side (the lag's tail and the smoother)
// — three times, each against the last baseline —
// and the baseline is a straight line fitted to the unmasked readings of
// each window, taken at its centre (the mean when the clear readings do not
// reach both quarters at the ends of the window's span in the record): noise and rounding average out, and a drift does
// not bias it at the record's ends. Windows with fewer than ten unmasked
// readings keep the quantile. Values between window centres are linear.
func runningBaseline(s *Series, y []float64, valid []bool, w, q, sigma, pad float64) []float64 {
	n := len(y)
	t0, t1 := s.Samples[0].T, s.Samples[n-1].T
	step := w / 10
	nc := int(math.Ceil((t1-t0)/step)) + 1
	ct := make([]float64, nc)
	for c := range ct {
		ct[c] = t0 + float64(c)*step
	}
	offset := -normQuantile(q) * sigma
	buf := make([]float64, 0, n)
	windows := func(w float64, f func(c, lo, hi int) float64) []float64 {
		cv := make([]float64, nc)
		lo, hi := 0, 0
		for c, t := range ct {
			for lo < n && s.Samples[lo].T < t-w/2 {
				lo++
			}
			for hi < n && s.Samples[hi].T <= t+w/2 {
				hi++
			}
			cv[c] = f(c, lo, hi)
		}
		ok := make([]bool, nc)
		for c := range cv {
			ok[c] = !math.IsNaN(cv[c])
		}
		if slices.Contains(ok, true) {
			fillGaps(cv, ok)
		}
		return cv
	}
	// The quantile pass only draws the first mask: a window of at most a
	// minute keeps a drift from biasing it much.
	c1 := windows(math.Min(w, 60), func(_, lo, hi int) float64 {
		buf = buf[:0]
		for k := lo; k < hi; k++ {
			if valid[k] {
				buf = append(buf, y[k])
			}
		}
		if len(buf) == 0 {
			return math.NaN()
		}
		sort.Float64s(buf)
		return quantileSorted(buf, q) + offset
	})
	b := interpAt(s, ct, c1)
	mask := make([]bool, n)
	// Three rounds: a mask made against a biased baseline (a quantile cut
	// short by the record's end under a drift) is redrawn against the
	// fitted one.
	for range 3 {
		clear(mask)
		for k := range y {
			if !valid[k] || y[k]-b[k] <= 3*sigma {
				continue
			}
			for j := k; j >= 0 && s.Samples[k].T-s.Samples[j].T <= pad; j-- {
				mask[j] = true
			}
			for j := k; j < n && s.Samples[j].T-s.Samples[k].T <= pad; j++ {
				mask[j] = true
			}
		}
		c2 := windows(w, func(c, lo, hi int) float64 {
			// Least-squares line through the unmasked readings, at the
			// centre: unbiased for a linear drift even where the window is cut
			// by the record's ends.
			var sw, st, sy, stt, sty float64
			// The span of the window inside the record, and whether
			// clear readings fall in its first and last quarters.
			a, b := math.Max(ct[c]-w/2, t0), math.Min(ct[c]+w/2, t1)
			var early, late bool
			for k := lo; k < hi; k++ {
				if valid[k] && !mask[k] {
					dt := s.Samples[k].T - ct[c]
					sw++
					st += dt
					sy += y[k]
					stt += dt * dt
					sty += dt * y[k]
					tk := s.Samples[k].T
					early = early || tk <= a+(b-a)/4
					late = late || tk >= b-(b-a)/4
				}
			}
			if sw < 10 {
				return c1[c]
			}
			det := sw*stt - st*st
			// A line only when the clear readings reach both ends of
			// the span, else it would extrapolate.
			if det <= 1e-12*sw*stt || !early || !late {
				return sy / sw
			}
			return (stt*sy - st*sty) / det
		})
		b = interpAt(s, ct, c2)
	}
	return b
}

// interpAt interpolates values at times ct linearly to the samples' times.
func interpAt(s *Series, ct, cv []float64) []float64 {
	nc := len(ct)
	out := make([]float64, len(s.Samples))
	c := 0
	for k, p := range s.Samples {
		if nc == 1 {
			out[k] = cv[0]
			continue
		}
		for c < nc-2 && ct[c+1] < p.T {
			c++
		}
		w := math.Min(math.Max((p.T-ct[c])/(ct[c+1]-ct[c]), 0), 1)
		out[k] = (1-w)*cv[c] + w*cv[c+1]
	}
	return out
}

// gaussKernel is a normalised Gaussian of standard deviation s samples,
// truncated at ±4s.
func gaussKernel(s float64) []float64 {
	if s < 0.3 {
		return []float64{1}
	}
	h := int(math.Ceil(4 * s))
	g := make([]float64, 2*h+1)
	var sum float64
	for k := range g {
		x := float64(k - h)
		g[k] = math.Exp(-x * x / (2 * s * s))
		sum += g[k]
	}
	for k := range g {
		g[k] /= sum
	}
	return g
}

// convolve is y convolved with a centred odd kernel, the ends reflected.
func convolve(y, g []float64) []float64 {
	n, h := len(y), len(g)/2
	out := make([]float64, n)
	for k := range y {
		var s float64
		for j, w := range g {
			i := k + j - h
			if i < 0 {
				i = -i
			}
			if i >= n {
				i = 2*(n-1) - i
			}
			i = min(max(i, 0), n-1)
			s += w * y[i]
		}
		out[k] = s
	}
	return out
}

func findCrossings(p *Processed, k, minDur float64) []Crossing {
	s := p.Series
	hi, lo := k*p.SigmaPPM, p.SigmaPPM
	var out []Crossing
	n := len(p.Conc)
	above := func(i float64) bool { return i > hi }
	for i := 0; i < n; {
		if !above(p.Conc[i]) {
			i++
			continue
		}
		// Extend the run above the high threshold down to the low one.
		a, b := i, i
		for b+1 < n && above(p.Conc[b+1]) {
			b++
		}
		for a > 0 && p.Conc[a-1] > lo {
			a--
		}
		for b+1 < n && p.Conc[b+1] > lo {
			b++
		}
		i = b + 1
		if s.Samples[b].T-s.Samples[a].T+p.DT < minDur {
			continue
		}
		c := Crossing{Start: s.Samples[a].T, End: s.Samples[b].T, PeakPPM: math.Inf(-1)}
		var we, wn, ws float64
		for j := a; j <= b; j++ {
			v := p.Conc[j]
			if math.IsNaN(v) {
				continue
			}
			q := s.Samples[j]
			if v > c.PeakPPM {
				c.PeakPPM, c.PeakT, c.PeakEast, c.PeakNorth, c.PeakLat, c.PeakLon = v, q.T, q.East, q.North, q.Lat, q.Lon
			}
			d := p.DT
			ds := 0.0
			if j > 0 {
				d = q.T - s.Samples[j-1].T
				ds = math.Hypot(q.East-s.Samples[j-1].East, q.North-s.Samples[j-1].North)
			}
			c.IntegralPPMs += v * d
			c.IntegralPPMm += v * ds
			if v > 0 {
				we += v * q.East
				wn += v * q.North
				ws += v
			}
		}
		if ws > 0 {
			c.CentroidEast, c.CentroidNorth = we/ws, wn/ws
		}
		c.SNR = c.PeakPPM / p.SigmaPPM
		out = append(out, c)
	}
	return out
}

func median(v []float64) float64 {
	c := slices.Clone(v)
	sort.Float64s(c)
	return quantileSorted(c, 0.5)
}

// quantileSorted is the q-quantile of sorted values, linearly interpolated.
func quantileSorted(v []float64, q float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	x := q * float64(len(v)-1)
	i := int(math.Floor(x))
	if i >= len(v)-1 {
		return v[len(v)-1]
	}
	w := x - float64(i)
	return (1-w)*v[i] + w*v[i+1]
}

// normQuantile is Φ⁻¹(p), the standard normal quantile.
func normQuantile(p float64) float64 {
	return -math.Sqrt2 * math.Erfcinv(2*p)
}
