package eval

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"time"

	"github.com/atalaya-project/atalaya/internal/granule"
	"github.com/atalaya-project/atalaya/internal/plume"
	"github.com/atalaya-project/atalaya/internal/sim"
)

// MDLConfig sets up the minimum-detectable-rate experiment: one source of
// one gas on a small scene under fixed conditions, at each rate of a log
// ladder, with several seeds, flown MaxPasses times over the same ground.
type MDLConfig struct {
	// Gases are the gases of the experiment, each run on its own (default
	// dichloromethane, the fentanyl preset's solvent, and acetone, the
	// methamphetamine preset's).
	Gases []string
	// Gas is the one being run.
	Gas string
	// Base is the scenario whose sensor, ground and area origin the small
	// scene takes (default: the "meth" preset).
	Base *sim.Scenario
	// WidthM, HeightM is the scene; the source is SourceEastM from the
	// left edge, halfway down.
	WidthM, HeightM float64
	SourceEastM     float64
	Weather         sim.Weather
	RatesKgH        []float64
	Seeds           int
	// Passes are the numbers of passes combined (default 1, 3, 9); the
	// largest is flown for every seed and rate, and the passes are cut
	// into disjoint blocks of each size.
	Passes []int
	// Seed of the first repetition (the scenario seed).
	Seed  uint64
	Quick bool
}

func (m *MDLConfig) defaults() error {
	if len(m.Gases) == 0 {
		m.Gases = []string{"dichloromethane", "acetone"}
	}
	m.Gas = m.Gases[0]
	if m.Base == nil {
		b, err := sim.Preset("meth")
		if err != nil {
			return err
		}
		m.Base = b
	}
	if m.WidthM == 0 {
		m.WidthM, m.HeightM = 200, 120
	}
	if m.SourceEastM == 0 {
		m.SourceEastM = 30
	}
	if m.Weather.WindSpeed == 0 {
		// The presets' first-pass weather: a light afternoon breeze over
		// the Colombian lowlands.
		m.Weather = sim.Weather{WindSpeed: 3, WindFromDeg: 270, Stability: "D", AirTempK: 300, PressurePa: 95000}
	}
	if len(m.RatesKgH) == 0 {
		if m.Quick {
			m.RatesKgH = []float64{0.1, 0.3, 1, 3, 10}
		} else {
			m.RatesKgH = []float64{0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 50}
		}
	}
	if m.Seeds <= 0 {
		m.Seeds = 6
		if m.Quick {
			m.Seeds = 2
		}
	}
	if len(m.Passes) == 0 {
		m.Passes = []int{1, 3, 9}
	}
	slices.Sort(m.Passes)
	if m.Passes[0] < 1 {
		return fmt.Errorf("%w: passes %v", ErrConfig, m.Passes)
	}
	if m.Seed == 0 {
		m.Seed = 500
	}
	return nil
}

// scenario returns the small scene with one source of rate q, flown n
// times (same ground, own noise and turbulence each pass).
func (m *MDLConfig) scenario(name string, seed uint64, q float64, w sim.Weather, n int) *sim.Scenario {
	s := *m.Base
	s.Name = name
	s.Seed = seed
	s.Area.WidthM, s.Area.HeightM = m.WidthM, m.HeightM
	s.Sources = []sim.Source{{Name: "source", East: m.SourceEastM, North: -m.HeightM / 2, HeightM: 2, Rates: map[string]float64{m.Gas: q}}}
	s.PointSensors = nil
	start := time.Date(2026, 3, 10, 15, 30, 0, 0, time.UTC)
	alt := m.Base.Flights[0].AltitudeM
	s.Flights = nil
	for i := range n {
		s.Flights = append(s.Flights, sim.ScenarioPass{Name: fmt.Sprintf("pass-%d", i+1), Start: start.AddDate(0, 0, i),
			AltitudeM: alt, SpeedMS: 10, Weather: w})
	}
	return &s
}

// MDLReport is the minimum detectable emission rate.
type MDLReport struct {
	Gas       string      `json:"gas"`
	Weather   sim.Weather `json:"weather"`
	SceneM    [2]float64  `json:"scene_m"`
	FARPerKm2 float64     `json:"far_per_km2"`
	RatesKgH  []float64   `json:"rates_kg_h"`
	Seeds     int         `json:"seeds"`
	// Curves: the single-pass granule detection, then n passes combined.
	Curves []MDLCurve `json:"curves"`
	// SqrtNRatio is MDL50(1)/MDL50(n) for each combined n, against √n.
	SqrtN []SqrtN `json:"sqrt_n"`
}

// MDLCurve is Pd against rate for one way of detecting.
type MDLCurve struct {
	Label  string `json:"label"`
	Passes int    `json:"passes"`
	// Trials and Detected per rate.
	Trials   []int `json:"trials"`
	Detected []int `json:"detected"`
	Pd       []F   `json:"pd"`
	// Probit fit Pd = Φ((ln Q − μ)/s): MDL50 = e^μ, MDL90 = e^(μ+1.2816 s).
	MDL50KgH F `json:"mdl50_kg_h"`
	MDL90KgH F `json:"mdl90_kg_h"`
	Mu       F `json:"probit_mu"`
	S        F `json:"probit_s"`
	// False alarms on the MDL scenes (gas-free peaks) per km².
	FalseAlarms int     `json:"false_alarms"`
	AreaKm2     float64 `json:"area_km2"`
	FARPerKm2   float64 `json:"false_alarms_per_km2"`
}

// SqrtN compares the n-pass MDL with the 1/√n expectation.
type SqrtN struct {
	Passes   int `json:"passes"`
	Ratio50  F   `json:"mdl50_1_over_n"`
	Expected F   `json:"sqrt_n"`
}

func (e *evaluator) mdl(ctx context.Context, gas string) (*MDLReport, error) {
	m := e.cfg.MDL
	m.Gas = gas
	maxN := m.Passes[len(m.Passes)-1]
	rep := &MDLReport{Gas: m.Gas, Weather: m.Weather, SceneM: [2]float64{m.WidthM, m.HeightM}, FARPerKm2: e.cfg.FARPerKm2,
		RatesKgH: m.RatesKgH, Seeds: m.Seeds}
	single := newCurve("single pass (granule)", 1, len(m.RatesKgH))
	combined := make([]*MDLCurve, len(m.Passes))
	for i, n := range m.Passes {
		combined[i] = newCurve(fmt.Sprintf("%d passes combined", n), n, len(m.RatesKgH))
	}
	bar := e.cfg.NewBar("mdl "+gas, int64(len(m.RatesKgH)*m.Seeds*maxN))
	defer bar.Done()
	for ri, q := range m.RatesKgH {
		for k := range m.Seeds {
			// Common random numbers: seed k has the same ground, noise and
			// turbulence at every rate, so Pd(Q) is compared like for like.
			s := m.scenario("mdl", m.Seed+uint64(k)*seedStride, q, m.Weather, maxN)
			var passes []*pass
			for i := range maxN {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				dir := filepath.Join(e.cfg.WorkDir, "mdl", fmt.Sprintf("%s-q%g-s%d-p%d", gas, q, k, i))
				p, err := e.runPass(ctx, dir, "mdl", s.Flights[i].Name, s.Scene(i), []string{m.Gas}, e.cfg.FARPerKm2)
				if err != nil {
					return nil, err
				}
				dets := p.segment(nil)
				det, _ := p.score(dets)
				single.add(ri, det[0])
				for _, d := range dets {
					if d.noGas {
						single.FalseAlarms++
					}
				}
				single.AreaKm2 += p.areaKm2
				// Keep only what combining needs.
				g := p.gases[0]
				passes = append(passes, &pass{w: p.w, h: p.h, pixArea: p.pixArea, areaKm2: p.areaKm2, scene: p.scene,
					gases: []*gasMaps{{gas: g.gas, ppmm: g.ppmm, sd: g.sd, truth: g.truth}}})
				bar.Add(1)
			}
			for ci, n := range m.Passes {
				for b := 0; b+n <= maxN; b += n {
					det, fa, err := combinedDetect(passes[b:b+n], e.cfg.FARPerKm2)
					if err != nil {
						return nil, fmt.Errorf("mdl %g kg/h seed %d passes %d-%d: %w", q, k, b+1, b+n, err)
					}
					combined[ci].add(ri, det)
					combined[ci].FalseAlarms += fa
					combined[ci].AreaKm2 += passes[0].areaKm2
				}
			}
		}
	}
	for _, c := range append([]*MDLCurve{single}, combined...) {
		c.finish(m.RatesKgH)
		rep.Curves = append(rep.Curves, *c)
	}
	for _, c := range combined {
		r := F(math.NaN())
		if combined[0].Passes == 1 {
			r = combined[0].MDL50KgH / c.MDL50KgH
		}
		rep.SqrtN = append(rep.SqrtN, SqrtN{Passes: c.Passes, Ratio50: r, Expected: F(math.Sqrt(float64(c.Passes)))})
	}
	return rep, nil
}

func newCurve(label string, n, rates int) *MDLCurve {
	return &MDLCurve{Label: label, Passes: n, Trials: make([]int, rates), Detected: make([]int, rates)}
}

func (c *MDLCurve) add(rate int, detected bool) {
	c.Trials[rate]++
	if detected {
		c.Detected[rate]++
	}
}

func (c *MDLCurve) finish(rates []float64) {
	c.Pd = make([]F, len(rates))
	for i := range rates {
		c.Pd[i] = ratio(c.Detected[i], c.Trials[i])
	}
	mu, s := probitFit(rates, c.Trials, c.Detected)
	c.Mu, c.S = F(mu), F(s)
	c.MDL50KgH = F(math.Exp(mu))
	c.MDL90KgH = F(math.Exp(mu + 1.2815515655446004*s))
	c.FARPerKm2 = float64(c.FalseAlarms) / c.AreaKm2
}

// probitFit fits Pd(Q) = Φ((ln Q − μ)/s) by maximum likelihood on a grid
// (μ over the ladder's log range widened by one decade each side, s from
// 0.05 to 3). It returns NaN when nothing or everything was detected: the
// MDL then lies outside the ladder.
func probitFit(rates []float64, trials, detected []int) (mu, s float64) {
	var nd, nt int
	for i := range rates {
		nd += detected[i]
		nt += trials[i]
	}
	if nd == 0 || nd == nt {
		return math.NaN(), math.NaN()
	}
	lo := math.Log(slices.Min(rates)) - math.Ln10
	hi := math.Log(slices.Max(rates)) + math.Ln10
	best := math.Inf(-1)
	ll := func(mu, s float64) float64 {
		l := 0.0
		for i, q := range rates {
			p := 0.5 * math.Erfc(-(math.Log(q)-mu)/(s*math.Sqrt2))
			p = math.Min(1-1e-12, math.Max(1e-12, p))
			l += float64(detected[i])*math.Log(p) + float64(trials[i]-detected[i])*math.Log(1-p)
		}
		return l
	}
	for i := 0; i <= 600; i++ {
		m := lo + (hi-lo)*float64(i)/600
		for j := 0; j <= 120; j++ {
			ss := 0.05 * math.Pow(60, float64(j)/120) // 0.05 to 3, log-spaced
			if v := ll(m, ss); v > best {
				best, mu, s = v, m, ss
			}
		}
	}
	return mu, s
}

// combinedDetect combines passes over the same ground by inverse-variance
// weighting per pixel (ĉ = Σ c_i/σ_i² / Σ 1/σ_i², σ = (Σ 1/σ_i²)^−½),
// thresholds the combined z-score at the false-alarm rate with the tail
// fitted as the granule fits it (the mirrored negative tail), and reports
// whether a detection's peak holds gas (the mean true column ≥ OnGasSigma
// combined σ) and how many detections hold none.
func combinedDetect(ps []*pass, far float64) (bool, int, error) {
	p0 := ps[0]
	n := p0.w * p0.h
	num := make([]float64, n)
	den := make([]float64, n)
	tr := make([]float64, n)
	for _, p := range ps {
		g := p.gases[0]
		for i := range n {
			s := float64(g.sd[i])
			c := float64(g.ppmm[i])
			if !(s > 0) || c != c {
				continue // masked, or an anomaly the gas does not explain
			}
			num[i] += c / (s * s)
			den[i] += 1 / (s * s)
			if g.truth != nil {
				tr[i] += float64(g.truth[i])
			}
		}
	}
	gm := &gasMaps{z: make([]float32, n), sd: make([]float32, n), truth: make([]float32, n)}
	for i := range n {
		if den[i] == 0 {
			gm.z[i] = float32(math.NaN())
			continue
		}
		gm.z[i] = float32(num[i] / math.Sqrt(den[i]))
		gm.sd[i] = float32(1 / math.Sqrt(den[i]))
		gm.truth[i] = float32(tr[i] / float64(len(ps)))
	}
	var err error
	if gm.tail, gm.asym, err = granule.MatchedFilterTail(gm.z); err != nil {
		return false, 0, err
	}
	hi, lo := gm.thresholds(far * p0.pixArea / 1e6)
	detected, fa := false, 0
	for _, c := range plume.Segment(gm.z, p0.w, p0.h, hi, lo) {
		switch {
		case gm.onGas(c.Peak):
			detected = true
		default:
			fa++
		}
	}
	return detected, fa, nil
}

// CalibrationConfig sets up the U_eff fit: single plumes of known rate on
// the MDL's small scene (own seeds), at several wind speeds.
type CalibrationConfig struct {
	RatesKgH []float64
	WindsMS  []float64
	Seeds    int
	Seed     uint64
}

func (c *CalibrationConfig) defaults(quick bool) {
	if len(c.RatesKgH) == 0 {
		c.RatesKgH = []float64{8, 25}
		if quick {
			c.RatesKgH = []float64{20}
		}
	}
	if len(c.WindsMS) == 0 {
		c.WindsMS = []float64{1.5, 2.5, 4, 6}
		if quick {
			c.WindsMS = []float64{2, 5}
		}
	}
	if c.Seeds <= 0 {
		c.Seeds = 3
		if quick {
			c.Seeds = 2
		}
	}
	if c.Seed == 0 {
		c.Seed = 900
	}
}

// calibrate fits U_eff to plumes of known rate run through the whole
// chain: simulation, detection, grouping and IME over the detected mask.
// The scene is wider than the MDL's so plumes stay inside it.
func (e *evaluator) calibrate(ctx context.Context) (plume.UEff, []plume.Calibration, error) {
	c := e.cfg.Calibrate
	m := e.cfg.MDL
	m.WidthM, m.HeightM, m.SourceEastM = 300, 160, 40
	bar := e.cfg.NewBar("calibrate U_eff", int64(len(c.RatesKgH)*len(c.WindsMS)*c.Seeds))
	defer bar.Done()
	var cal []plume.Calibration
	for _, u := range c.WindsMS {
		w := m.Weather
		w.WindSpeed = u
		for _, q := range c.RatesKgH {
			for k := range c.Seeds {
				if err := ctx.Err(); err != nil {
					return plume.UEff{}, nil, err
				}
				s := m.scenario("calibrate", c.Seed+uint64(k)*seedStride, q, w, 1)
				dir := filepath.Join(e.cfg.WorkDir, "calibrate", fmt.Sprintf("u%g-q%g-s%d", u, q, k))
				p, err := e.runPass(ctx, dir, "calibrate", "pass-1", s.Scene(0), []string{m.Gas}, e.cfg.FARPerKm2)
				if err != nil {
					return plume.UEff{}, nil, err
				}
				bar.Add(1)
				dets := p.segment(nil)
				_, best := p.score(dets)
				if _, ok := best[[2]int{0, 0}]; !ok {
					e.cfg.Log.Warn("calibration plume not detected", "rate_kg_h", q, "wind_ms", u, "seed", k)
					continue
				}
				var comps []plume.Component
				for _, d := range dets {
					comps = append(comps, d.comp)
				}
				px := sourcePlume(dets, plume.Group(comps, p.w, p.h, groupGapPx), 0, 0)
				g := p.gases[0]
				qt, err := plume.Quantify(plume.Column{W: p.w, H: p.h, Pixels: px, PPMm: g.ppmm, Sigma: g.sd,
					PixelSizeM: p.scene.GSD, MolarMass: g.molar, Cond: p.cond}, plume.Wind{SpeedMS: u, FromDeg: w.WindFromDeg}, plume.UEff{B: 1})
				if err != nil {
					return plume.UEff{}, nil, err
				}
				cal = append(cal, plume.Calibration{WindMS: u, RateKgH: q, IMEkg: qt.IMEkg, LengthM: qt.LengthM})
			}
		}
	}
	fit, err := plume.FitUEff(cal)
	if err != nil {
		return plume.UEff{}, cal, fmt.Errorf("calibrate U_eff: %w", err)
	}
	return fit, cal, nil
}
