package sites

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/atalaya-project/atalaya/internal/granule"
	"github.com/atalaya-project/atalaya/internal/sim"
	"github.com/atalaya-project/atalaya/internal/spectra"
)

// seedStride separates the repetitions of a preset (as internal/eval's):
// repetition k adds k·seedStride to the preset's seed (new ground, noise
// and turbulence).
const seedStride = 7919

// Wind errors given to the grid: the truth perturbed by N(0, 10°) in
// direction and N(0, 0.5 m/s) in speed, as docs/evaluation.md perturbs it
// for emission rates (a weather model's or the flight log's wind).
const (
	windDirErrDeg  = 10
	windSpeedErrMS = 0.5
)

// surveyPass is one simulated and detected pass of a preset repetition.
type surveyPass struct {
	gp   GranulePass
	dets []granule.Detection // the granule's single-pass detections
}

// survey is one repetition of a preset: its scenario (with the
// repetition's seed) and its passes.
type survey struct {
	s      *sim.Scenario
	rep    int
	passes []surveyPass
}

// simulateSurvey simulates repetition rep of a preset pass by pass into
// dir/<preset>-<rep>/pass-<i>, runs the granule's matched filter for the
// gases at far per km², and deletes the radiance (the retrieval maps stay:
// a second run reads them). maxPasses > 0 keeps only the first passes.
// scale multiplies every source's emission rates (1: the preset's).
func simulateSurvey(t testing.TB, dir, preset string, rep, maxPasses int, scale float64, gases []string, far float64, lib *spectra.Library) *survey {
	t.Helper()
	ctx := context.Background()
	s, err := sim.Preset(preset)
	if err != nil {
		t.Fatal(err)
	}
	s.Seed += uint64(rep) * seedStride
	name := fmt.Sprintf("%s-%d", preset, rep)
	if scale != 1 {
		name = fmt.Sprintf("%s-x%g-%d", preset, scale, rep)
		for k := range s.Sources {
			r := map[string]float64{}
			for g, q := range s.Sources[k].Rates {
				r[g] = q * scale
			}
			s.Sources[k].Rates = r
		}
	}
	if maxPasses > 0 && len(s.Flights) > maxPasses {
		s.Flights = s.Flights[:maxPasses]
	}
	if maxPasses > len(s.Flights) {
		name += fmt.Sprintf("-n%d", maxPasses)
		s.Repeat(maxPasses)
	}
	sv := &survey{s: s, rep: rep}
	rng := rand.New(rand.NewPCG(s.Seed, 0x5eed))
	for i, fl := range s.Flights {
		pdir := filepath.Join(dir, name, fl.Name)
		ddir := filepath.Join(pdir, "detect")
		w := fl.Weather
		given := &Wind{
			FromDeg:   math.Mod(w.WindFromDeg+windDirErrDeg*rng.NormFloat64()+360, 360),
			SpeedMS:   math.Max(0.5, w.WindSpeed+windSpeedErrMS*rng.NormFloat64()),
			Stability: w.Stability, AirTempK: w.AirTempK, PressurePa: w.PressurePa,
		}
		gp := GranulePass{Dir: ddir, ID: fl.Name, Time: fl.Start, Gases: gases, Wind: given}
		res, err := loadOrDetect(ctx, pdir, ddir, s.Scene(i), gases, far, lib)
		if err != nil {
			t.Fatal(err)
		}
		sv.passes = append(sv.passes, surveyPass{gp: gp, dets: res.Detections})
	}
	return sv
}

// loadOrDetect simulates and detects one pass unless a finished run is in
// ddir (its summary written last).
func loadOrDetect(ctx context.Context, pdir, ddir string, sc *sim.Scene, gases []string, far float64, lib *spectra.Library) (*granule.Result, error) {
	rad := filepath.Join(pdir, "radiance.hdr")
	done := filepath.Join(pdir, fmt.Sprintf("detections-%g.json", far))
	if b, err := os.ReadFile(done); err == nil {
		var res granule.Result
		if err := json.Unmarshal(b, &res.Detections); err == nil {
			return &res, nil
		}
	}
	if _, err := sim.WriteScene(pdir, sc, lib, nil); err != nil {
		return nil, err
	}
	res, err := granule.Process(ctx, granule.Config{Cube: rad, OutDir: ddir, Methods: []string{"mf"}, Gases: gases, FARPerKm2: far, Library: lib})
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(res.Detections)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(done, b, 0o644); err != nil {
		return nil, err
	}
	// The radiance and truth cubes are 120 MB a pass; the maps stay.
	for _, f := range []string{"radiance.hdr", "radiance.img", "truth.hdr", "truth.img"} {
		os.Remove(filepath.Join(pdir, f))
	}
	return res, nil
}

// sourceGridConfig is the source grid the evaluation and the tests use.
func sourceGridConfig(lib *spectra.Library) GridConfig {
	cfg := GridConfig{Zone: 18, North: true, Source: &SourceConfig{Library: lib}}
	if v, err := strconv.ParseFloat(os.Getenv("ATALAYA_EVIDENCE_CELL"), 64); err == nil {
		cfg.CellM = v
	}
	return cfg
}

// srcInfo is a simulated source on the grid.
type srcInfo struct {
	name  string
	e, n  float64
	gases map[string]float64
	// winds are the true directions (from, degrees) of the passes.
	winds []float64
}

func (sv *survey) sources() []srcInfo {
	var out []srcInfo
	var winds []float64
	for _, fl := range sv.s.Flights {
		winds = append(winds, fl.Weather.WindFromDeg)
	}
	for _, so := range sv.s.Sources {
		out = append(out, srcInfo{so.Name, sv.s.Area.EastingM + so.East, sv.s.Area.NorthingM + so.North, so.Rates, winds})
	}
	return out
}

// nearSource names the source within r m of (e, n), or "".
func nearSource(srcs []srcInfo, e, n, r float64) string {
	for _, so := range srcs {
		if math.Hypot(e-so.e, n-so.n) <= r {
			return so.name
		}
	}
	return ""
}

// Real gas away from a source: a detection within plumeAxisM of a source's
// plume axis under one of the passes' true winds, up to plumeReachM
// downwind, is on that source's gas (mislocated, not false).
const (
	plumeAxisM  = 30
	plumeReachM = 400
)

// gasFreeFraction is the fraction of the survey's area farther than
// excludeM from every source and off every plume axis: the ground its
// false alarms are counted on.
func (sv *survey) gasFreeFraction() float64 {
	srcs := sv.sources()
	a := sv.s.Area
	var in, all int
	for y := 2.5; y < a.HeightM; y += 5 {
		for x := 2.5; x < a.WidthM; x += 5 {
			e, n := a.EastingM+x, a.NorthingM-y
			all++
			if nearSource(srcs, e, n, excludeM) == "" && !onPlume(srcs, e, n) {
				in++
			}
		}
	}
	return float64(in) / float64(all)
}

func onPlume(srcs []srcInfo, e, n float64) bool {
	for _, so := range srcs {
		for _, from := range so.winds {
			s, c := math.Sincos(from * math.Pi / 180)
			de, dn := -s, -c
			x := (e-so.e)*de + (n-so.n)*dn
			y := -(e-so.e)*dn + (n-so.n)*de
			if x >= 0 && x <= plumeReachM && math.Abs(y) <= plumeAxisM {
				return true
			}
		}
	}
	return false
}

// Distances that decide what a grid detection is: within foundM of a
// source it finds it; beyond excludeM of every source it is a false alarm;
// in between (the far plume of a real source, real gas) neither.
const (
	foundM   = 20
	excludeM = 150
)

// gridOutcome is a Detect run scored against the truth.
type gridOutcome struct {
	found       map[string]bool
	falseAlarms int
	// mislocated counts detections of real gas placed where there is no
	// source: within excludeM of a source or on its plume, farther than
	// foundM from it (or of a gas it does not emit); mislocatedNew those
	// of them not NearKnown, which fusion would make a site of.
	mislocated, mislocatedNew int
	areaKm2                   float64
	thresholds                map[string]float64
}

func scoreDetect(res *GridResult, srcs []srcInfo) gridOutcome {
	o := gridOutcome{found: map[string]bool{}, thresholds: map[string]float64{}}
	for _, ts := range res.Tests {
		o.thresholds[ts.Gas] = ts.Threshold
		o.areaKm2 = math.Max(o.areaKm2, ts.AreaKm2)
	}
	for _, d := range res.Detections {
		mis := func() {
			o.mislocated++
			if !d.NearKnown {
				o.mislocatedNew++
			}
		}
		if name := nearSource(srcs, d.East, d.North, excludeM); name != "" {
			if near := nearSource(srcs, d.East, d.North, foundM); near != "" {
				if _, emits := srcRates(srcs, near)[d.Gas]; emits {
					o.found[near] = true
					continue
				}
			}
			mis()
			continue
		}
		if onPlume(srcs, d.East, d.North) {
			mis()
			continue
		}
		o.falseAlarms++
	}
	return o
}

func srcRates(srcs []srcInfo, name string) map[string]float64 {
	for _, s := range srcs {
		if s.name == name {
			return s.gases
		}
	}
	return nil
}

// passResult is what one more pass did.
type passResult struct {
	N int `json:"n"`
	// LabZ and LabRate are, per source, the combined z of its main gas at
	// its own cell (no search) and the combined rate ± 1σ (kg/h); Single
	// the same for this pass alone.
	LabZ, LabZSingle           map[string]float64
	LabRate, LabSigma          map[string]float64
	LabRateSingle, LabSigmaSgl map[string]float64
	// AreaKm2 is the gas-free area the false alarms are counted on
	// (gasFreeFraction of the grid's). At each false-alarm rate asked (index of the rates): sources found
	// after n passes and by this pass alone, and false alarms after n.
	Found, FoundSingle []map[string]bool
	FalseAlarms        []int
	FalseAlarmsSingle  []int
	// Mislocated and MislocatedNew count, per rate, detections of real
	// gas away from its source (scoreDetect) after n passes.
	Mislocated, MislocatedNew []int `json:",omitempty"`
	Thresholds                []map[string]float64
	GranuleFound              map[string]bool
	GranuleFalse              int
	AreaKm2, AreaKm2Single    float64
	Inflation                 map[string]float64
	MedianSigma               map[string]float64
}

// knownPlumes are a granule's detections as Detect's known plumes: their
// origins, or centroids when they have none.
func knownPlumes(ds []granule.Detection) []KnownPlume {
	var out []KnownPlume
	for _, d := range ds {
		k := KnownPlume{Gas: d.Gas, Lat: d.Lat, Lon: d.Lon}
		if d.OriginLat != 0 || d.OriginLon != 0 {
			k.Lat, k.Lon = d.OriginLat, d.OriginLon
		}
		out = append(out, k)
	}
	return out
}

// runSurveyGrid adds the survey's passes to a source grid one by one and
// scores Detect after each at every rate in fars (per km², all gases), and
// each pass alone on a fresh grid.
func runSurveyGrid(t testing.TB, sv *survey, cfg GridConfig, gases []string, fars []float64, granuleFAR float64) []passResult {
	t.Helper()
	ctx := context.Background()
	g, err := NewGrid(cfg, NewMemTileStore())
	if err != nil {
		t.Fatal(err)
	}
	srcs := sv.sources()
	free := sv.gasFreeFraction()
	var out []passResult
	var known []KnownPlume
	for i, sp := range sv.passes {
		single := knownPlumes(sp.dets)
		known = append(known, single...)
		pr := passResult{N: i + 1, LabZ: map[string]float64{}, LabZSingle: map[string]float64{}, LabRate: map[string]float64{}, LabSigma: map[string]float64{},
			LabRateSingle: map[string]float64{}, LabSigmaSgl: map[string]float64{}, GranuleFound: map[string]bool{},
			Inflation: map[string]float64{}, MedianSigma: map[string]float64{}}
		for _, d := range sp.dets {
			e, n := latLonToGrid(g, d.Lat, d.Lon)
			if name := nearSource(srcs, e, n, excludeM); name != "" {
				if nearSource(srcs, e, n, foundM+30) == name {
					pr.GranuleFound[name] = true
				}
				continue
			}
			if onPlume(srcs, e, n) {
				continue
			}
			pr.GranuleFalse++
		}
		reps, err := g.AddGranule(ctx, sp.gp)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range reps {
			pr.Inflation[r.Gas] = r.Inflation
			pr.MedianSigma[r.Gas] = r.MedianSigma
		}
		one, err := NewGrid(cfg, NewMemTileStore())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := one.AddGranule(ctx, sp.gp); err != nil {
			t.Fatal(err)
		}
		for _, so := range srcs {
			gas := mainGas(so.gases)
			i, j := g.CellAt(so.e, so.n)
			if ev, ok, _ := g.Evidence(ctx, gas, i, j); ok {
				pr.LabZ[so.name], pr.LabRate[so.name], pr.LabSigma[so.name] = ev.Z, ev.RateKgH, ev.SigmaKgH
			}
			if ev, ok, _ := one.Evidence(ctx, gas, i, j); ok {
				pr.LabZSingle[so.name], pr.LabRateSingle[so.name], pr.LabSigmaSgl[so.name] = ev.Z, ev.RateKgH, ev.SigmaKgH
			}
		}
		for _, far := range fars {
			res, err := g.Detect(ctx, DetectConfig{FARPerKm2: far, Gases: gases, Plumes: known})
			if err != nil {
				t.Fatal(err)
			}
			o := scoreDetect(res, srcs)
			res1, err := one.Detect(ctx, DetectConfig{FARPerKm2: far, Gases: gases, Plumes: single})
			if err != nil {
				t.Fatal(err)
			}
			o1 := scoreDetect(res1, srcs)
			pr.Found = append(pr.Found, o.found)
			pr.FoundSingle = append(pr.FoundSingle, o1.found)
			pr.FalseAlarms = append(pr.FalseAlarms, o.falseAlarms)
			pr.Mislocated = append(pr.Mislocated, o.mislocated)
			pr.MislocatedNew = append(pr.MislocatedNew, o.mislocatedNew)
			pr.FalseAlarmsSingle = append(pr.FalseAlarmsSingle, o1.falseAlarms)
			pr.Thresholds = append(pr.Thresholds, o.thresholds)
			pr.AreaKm2, pr.AreaKm2Single = o.areaKm2*free, o1.areaKm2*free
		}
		out = append(out, pr)
	}
	return out
}
