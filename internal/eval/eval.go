package eval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/atalaya-project/atalaya/internal/granule"
	"github.com/atalaya-project/atalaya/internal/plume"
	"github.com/atalaya-project/atalaya/internal/sim"
	"github.com/atalaya-project/atalaya/internal/spectra"
)

// ErrConfig is wrapped by errors about what was asked for.
var ErrConfig = errors.New("eval: bad configuration")

// Config says what to evaluate.
type Config struct {
	// Scenarios are simulated and scored, each Seeds times: seed k > 0
	// adds k·seedStride to the scenario's seed (new ground, noise and
	// turbulence), seed 0 is the scenario as given.
	Scenarios []*sim.Scenario
	Seeds     int
	// Gases are the gases tested in every pass (default: every gas any
	// scenario emits), so that a scene without gas is tested as the others.
	Gases []string
	// FARPerKm2 is the false-alarm rate per km² of each pass, shared among
	// its gases as `atalaya detect` shares it.
	FARPerKm2 float64
	// WindSigmaMS and WindDirSigmaDeg are the 1σ errors of the wind given
	// to quantification: the true wind is perturbed by them (an anemometer
	// or a forecast is not the truth) and they enter σ_Q.
	WindSigmaMS     float64
	WindDirSigmaDeg float64
	// UEff, when N is 0, is fitted by Calibrate before the scenarios.
	UEff      plume.UEff
	Calibrate CalibrationConfig
	MDL       MDLConfig
	// SkipMDL and SkipScenarios leave parts out (tests, quick looks).
	SkipMDL       bool
	SkipScenarios bool
	// WorkDir holds the simulated cubes while they are scored; Keep leaves
	// them there.
	WorkDir string
	Keep    bool
	// OutDir receives report.json and the plots (none if empty).
	OutDir  string
	Library *spectra.Library
	Log     *slog.Logger
	NewBar  func(label string, total int64) granule.Bar
}

// seedStride separates the seeds of a scenario's repetitions.
const seedStride = 7919

func (c *Config) defaults() error {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.NewBar == nil {
		c.NewBar = func(string, int64) granule.Bar { return nopBar{} }
	}
	if c.Library == nil {
		lib, err := spectra.Default()
		if err != nil {
			return err
		}
		c.Library = lib
	}
	if c.Seeds <= 0 {
		c.Seeds = 1
	}
	if !(c.FARPerKm2 > 0) || math.IsInf(c.FARPerKm2, 0) {
		return fmt.Errorf("%w: false-alarm rate %g per km² must be positive", ErrConfig, c.FARPerKm2)
	}
	if c.WindSigmaMS < 0 || c.WindDirSigmaDeg < 0 {
		return fmt.Errorf("%w: wind errors %g m/s, %g° must not be negative", ErrConfig, c.WindSigmaMS, c.WindDirSigmaDeg)
	}
	if c.WorkDir == "" {
		return fmt.Errorf("%w: no work directory", ErrConfig)
	}
	if len(c.Gases) == 0 {
		seen := map[string]bool{}
		for _, s := range c.Scenarios {
			for _, src := range s.Sources {
				for g := range src.Rates {
					if !seen[g] {
						seen[g] = true
						c.Gases = append(c.Gases, g)
					}
				}
			}
		}
		slices.Sort(c.Gases)
	}
	if len(c.Gases) == 0 && !c.SkipScenarios {
		return fmt.Errorf("%w: no gas to test: the scenarios emit none; give the gases", ErrConfig)
	}
	for _, g := range c.Gases {
		if _, err := c.Library.Get(g); err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	c.Calibrate.defaults(c.MDL.Quick)
	if err := c.MDL.defaults(); err != nil {
		return err
	}
	for _, g := range c.MDL.Gases {
		if _, err := c.Library.Get(g); err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	return nil
}

type nopBar struct{}

func (nopBar) Add(int64) {}
func (nopBar) Done()     {}

type evaluator struct {
	cfg        Config
	rep        *Report
	granuleLog *slog.Logger
}

// Run evaluates and returns the report; with an OutDir it also writes
// report.json and the plots there.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	start := time.Now()
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	e := &evaluator{cfg: cfg, rep: newReport(cfg), granuleLog: slog.New(warnOnly{cfg.Log.Handler()})}
	if err := os.MkdirAll(cfg.WorkDir, 0o755); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if cfg.UEff.N == 0 {
		fit, cal, err := e.calibrate(ctx)
		if err != nil {
			return nil, err
		}
		e.cfg.UEff = fit
		e.rep.UEff = UEffReport{Fit: fit, Fitted: true, Plumes: cal}
	} else {
		e.rep.UEff = UEffReport{Fit: cfg.UEff}
	}
	e.rep.StageSeconds["calibrate"] = time.Since(t0).Seconds()
	if !cfg.SkipScenarios {
		t0 = time.Now()
		if err := e.scenarios(ctx); err != nil {
			return nil, err
		}
		e.rep.StageSeconds["scenarios"] = time.Since(t0).Seconds()
	}
	if !cfg.SkipMDL {
		t0 = time.Now()
		for _, g := range cfg.MDL.Gases {
			m, err := e.mdl(ctx, g)
			if err != nil {
				return nil, err
			}
			e.rep.MDL = append(e.rep.MDL, m)
		}
		e.rep.StageSeconds["mdl"] = time.Since(t0).Seconds()
	}
	e.rep.Seconds = time.Since(start).Seconds()
	if cfg.OutDir != "" {
		if err := e.rep.WriteFiles(cfg.OutDir); err != nil {
			return nil, err
		}
	}
	return e.rep, nil
}

// rocLadder is the total false-alarm rates per km² (nominal, before
// measuring) at which the detection ROC re-segments the score maps: a
// quarter decade apart from 10⁻³ to 10³, and the configured rate.
func rocLadder(far float64) []float64 {
	var out []float64
	for k := -12; k <= 12; k++ {
		out = append(out, math.Pow(10, float64(k)/4))
	}
	out = append(out, far)
	slices.Sort(out)
	return slices.Compact(out)
}

func (e *evaluator) scenarios(ctx context.Context) error {
	total := 0
	for _, s := range e.cfg.Scenarios {
		for _, fl := range s.Flights {
			if !fl.PointOnly {
				total += e.cfg.Seeds
			}
		}
	}
	bar := e.cfg.NewBar("scenarios", int64(total))
	defer bar.Done()
	ladder := rocLadder(e.cfg.FARPerKm2)
	roc := make([]ROCPoint, len(ladder))
	for i, f := range ladder {
		roc[i].NominalFARPerKm2 = f
	}
	pix := newPixelROC()
	ret := newRetrievalAcc()
	var rates []RateResult
	var locs []LocResult
	var areaAll float64
	for _, base := range e.cfg.Scenarios {
		sr := ScenarioReport{Name: base.Name, Seeds: e.cfg.Seeds}
		for k := 0; k < e.cfg.Seeds; k++ {
			s := *base
			s.Seed = base.Seed + uint64(k)*seedStride
			for i, fl := range s.Flights {
				if err := ctx.Err(); err != nil {
					return err
				}
				if fl.PointOnly {
					continue // no image to score (point sensors are internal/sniff's evaluation)
				}
				sc := s.Scene(i)
				dir := filepath.Join(e.cfg.WorkDir, "scenarios", s.Name, fmt.Sprintf("seed-%d", s.Seed), fl.Name)
				p, err := e.runPass(ctx, dir, s.Name, fl.Name, sc, e.cfg.Gases, e.cfg.FARPerKm2)
				if err != nil {
					return err
				}
				areaAll += p.areaKm2
				sr.Passes++
				sr.AreaKm2 += p.areaKm2
				// The operating point: the granule's own thresholds.
				dets := p.segment(nil)
				src, _ := p.score(dets)
				sr.SourcePasses += len(src)
				for _, d := range src {
					if d {
						sr.Detected++
					}
				}
				for _, d := range dets {
					sr.Detections++
					switch {
					case d.noGas:
						sr.FalseAlarms++
						e.cfg.Log.Debug("false alarm", "scenario", s.Name, "seed", s.Seed, "pass", fl.Name, "gas", p.gases[d.gas].gas,
							"x", d.comp.Peak%p.w, "y", d.comp.Peak/p.w, "pixels", len(d.comp.Pixels), "z", d.comp.PeakScore)
					case !d.onGas:
						sr.CrossGas++
					}
				}
				r, l := e.quantify(p, dets)
				rates = append(rates, r...)
				locs = append(locs, l...)
				// The detection ROC.
				ng := float64(len(p.gases))
				for j, f := range ladder {
					pp := f / ng * p.pixArea / 1e6
					dd := p.segment(&pp)
					src, _ := p.score(dd)
					roc[j].SourcePasses += len(src)
					for _, d := range src {
						if d {
							roc[j].Detected++
						}
					}
					for _, d := range dd {
						if d.noGas {
							roc[j].FalseAlarms++
						}
					}
				}
				pix.add(p)
				ret.add(p)
				bar.Add(1)
				e.cfg.Log.Debug("pass scored", "scenario", s.Name, "seed", s.Seed, "pass", fl.Name, "detections", len(dets))
			}
		}
		sr.finish()
		e.rep.Scenarios = append(e.rep.Scenarios, sr)
	}
	for i := range roc {
		roc[i].AreaKm2 = areaAll
		roc[i].finish()
	}
	e.rep.DetectionROC = roc
	e.rep.PixelROC = pix.finish()
	e.rep.Retrieval, e.rep.RetrievalScatter = ret.finish()
	e.rep.Rates = rates
	e.rep.RateSummary = summariseRates(rates)
	e.rep.Localisation = locs
	e.rep.LocSummary = summariseLocs(locs)
	e.rep.summarise()
	return nil
}

// score says, for every active source with a tested gas, whether a
// detection belongs to it; and for each (source, gas) the best detection.
func (p *pass) score(dets []det) (detected map[int]bool, best map[[2]int]int) {
	detected = map[int]bool{}
	for _, i := range p.active {
		for _, g := range p.gases {
			if p.scene.Sources[i].Rates[g.gas] > 0 {
				detected[i] = false
			}
		}
	}
	best = map[[2]int]int{}
	for k, d := range dets {
		if d.source < 0 {
			continue
		}
		if _, ok := detected[d.source]; !ok {
			continue // a source not emitting now: its lingering gas does not count
		}
		detected[d.source] = true
		key := [2]int{d.source, d.gas}
		if b, ok := best[key]; !ok || dets[b].comp.PeakScore < d.comp.PeakScore {
			best[key] = k
		}
	}
	return detected, best
}

// quantify estimates the rate and origin of every detected source's plumes
// at the operating point, from the wind perturbed by its stated errors.
func (e *evaluator) quantify(p *pass, dets []det) ([]RateResult, []LocResult) {
	_, best := p.score(dets)
	rng := rand.New(rand.NewPCG(p.scene.Seed, 0x71d))
	wx := p.scene.Weather
	wind := plume.Wind{
		SpeedMS:     math.Max(0.3, wx.WindSpeed+e.cfg.WindSigmaMS*rng.NormFloat64()),
		FromDeg:     wx.WindFromDeg + e.cfg.WindDirSigmaDeg*rng.NormFloat64(),
		SigmaMS:     e.cfg.WindSigmaMS,
		SigmaDirDeg: e.cfg.WindDirSigmaDeg,
	}
	// Group every gas's components once.
	groups := map[int][][]int{}
	var rates []RateResult
	type loc struct {
		peak float32
		q    plume.Quantity
	}
	bestLoc := map[int]loc{}
	keys := make([][2]int, 0, len(best))
	for k := range best {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]int) int {
		if a[0] != b[0] {
			return a[0] - b[0]
		}
		return a[1] - b[1]
	})
	for _, key := range keys {
		d := dets[best[key]]
		g := p.gases[key[1]]
		if _, ok := groups[key[1]]; !ok {
			var comps []plume.Component
			for _, dd := range dets {
				if dd.gas == key[1] {
					comps = append(comps, dd.comp)
				}
			}
			groups[key[1]] = plume.Group(comps, p.w, p.h, groupGapPx)
		}
		px := sourcePlume(dets, groups[key[1]], key[0], key[1])
		q, err := plume.Quantify(plume.Column{W: p.w, H: p.h, Pixels: px, PPMm: g.ppmm, Sigma: g.sd,
			PixelSizeM: p.scene.GSD, MolarMass: g.molar, Cond: p.cond}, wind, e.cfg.UEff)
		if err != nil {
			e.cfg.Log.Warn("quantify", "scenario", p.scenario, "pass", p.name, "gas", g.gas, "err", err)
			continue
		}
		src := p.scene.Sources[key[0]]
		e.cfg.Log.Debug("quantified", "scenario", p.scenario, "pass", p.name, "source", src.Name, "gas", g.gas,
			"rate_kg_h", q.RateKgH, "pixels", q.Pixels, "origin_x", q.OriginX, "origin_y", q.OriginY, "peak_x", d.comp.Peak%p.w, "peak_y", d.comp.Peak/p.w)
		truth := src.Rates[g.gas]
		rates = append(rates, RateResult{Scenario: p.scenario, Seed: p.scene.Seed, Pass: p.name, Source: src.Name, Gas: g.gas,
			TrueKgH: truth, EstKgH: q.RateKgH, SigmaKgH: q.SigmaRateKgH, RelErr: q.RateKgH/truth - 1,
			WindMS: wind.SpeedMS, TrueWindMS: wx.WindSpeed, Pixels: q.Pixels, IMEkg: q.IMEkg})
		if l, ok := bestLoc[key[0]]; !ok || d.comp.PeakScore > l.peak {
			bestLoc[key[0]] = loc{d.comp.PeakScore, q}
		}
	}
	var locs []LocResult
	for _, i := range slices.Sorted(maps.Keys(bestLoc)) {
		l := bestLoc[i]
		src := p.scene.Sources[i]
		ex, ny := l.q.OriginX*p.scene.GSD, l.q.OriginY*p.scene.GSD
		locs = append(locs, LocResult{Scenario: p.scenario, Seed: p.scene.Seed, Pass: p.name, Source: src.Name,
			ErrorM: math.Hypot(ex-src.East, ny+src.North), SigmaM: l.q.SigmaOriginM})
	}
	return rates, locs
}

// sourcePlume returns the pixels of a source's plume of one gas: the union
// of the groups that hold a detection of the gas belonging to the source.
// (Which detections belong to which source is decided with the truth, as
// a site would be formed from the detections along one plume; the
// position and mass come from the retrieval alone.)
func sourcePlume(dets []det, groups [][]int, source, gas int) []int {
	use := make([]bool, len(groups))
	for _, d := range dets {
		if d.source != source || d.gas != gas {
			continue
		}
		for i, grp := range groups {
			if _, ok := slices.BinarySearch(grp, d.comp.Peak); ok {
				use[i] = true
				break
			}
		}
	}
	var px []int
	for i, grp := range groups {
		if use[i] {
			px = append(px, grp...)
		}
	}
	slices.Sort(px)
	return px
}

// machine describes where the evaluation ran.
func machine() Machine {
	host, _ := os.Hostname()
	return Machine{CPUs: runtime.NumCPU(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, Go: runtime.Version(), Host: host}
}
