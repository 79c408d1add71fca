package sites

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/atalaya-project/atalaya/internal/granule"
	"github.com/atalaya-project/atalaya/internal/sim"
	"github.com/atalaya-project/atalaya/internal/spectra"
)

// surveyGases are the gases the evaluation looks for: those of the site
// profiles the long-wave library resolves at a few tens of ppm·m.
var surveyGases = []string{"dichloromethane", "toluene", "acetone", "ammonia", "2-butanone", "ethyl_acetate"}

// EvalPass is one pass of an evaluated survey.
type EvalPass struct {
	N int `json:"n"`
	// SourceZ is, per source, the highest combined z of its gases within
	// 10 m of it after n passes; SinglePassZ the same for this pass alone.
	SourceZ     map[string]float64 `json:"source_z"`
	SinglePassZ map[string]float64 `json:"single_pass_z"`
	// CellZ is the combined z of the first gas of each source at the
	// source's own cell (no search: unbiased), CellZSingle this pass's.
	CellZ       map[string]float64 `json:"cell_z"`
	CellZSingle map[string]float64 `json:"cell_z_single"`
	// Found: the source's gases have a grid detection within 30 m after n
	// passes; FoundSingle: by this pass alone, on the grid; FoundGranule: by
	// internal/granule on this pass's pixels.
	Found        map[string]bool `json:"found"`
	FoundSingle  map[string]bool `json:"found_single"`
	FoundGranule map[string]bool `json:"found_granule"`
	// FalseAlarms are grid detections farther than 60 m from every source
	// after n passes, per km² of grid.
	FalseAlarms       int                `json:"false_alarms"`
	FalseAlarmsPerKm2 float64            `json:"false_alarms_per_km2"`
	GranuleFalseAlarm int                `json:"granule_false_alarms"`
	Thresholds        map[string]float64 `json:"thresholds"`
	Inflation         map[string]float64 `json:"inflation"`
}

// EvalResult is one evaluated preset.
type EvalResult struct {
	Preset    string     `json:"preset"`
	AreaKm2   float64    `json:"area_km2"`
	FARPerKm2 float64    `json:"far_per_km2"`
	Grid      GridConfig `json:"grid"`
	Passes    []EvalPass `json:"passes"`
	Sites     []Site     `json:"sites"`
}

// TestEvaluateSimulatedSurveys simulates and detects the fentanyl, clean
// and confusers presets pass by pass, accumulates them on the evidence
// grid, and writes the figures of docs/sites.md. It takes a few minutes:
//
//	ATALAYA_SITES_EVAL=/tmp/sites-eval go test -run TestEvaluateSimulatedSurveys -v -timeout 30m ./internal/sites/
func TestEvaluateSimulatedSurveys(t *testing.T) {
	dir := os.Getenv("ATALAYA_SITES_EVAL")
	if dir == "" {
		t.Skip("set ATALAYA_SITES_EVAL to a scratch directory to run the evaluation")
	}
	cfg := GridConfig{Zone: 18, North: true, CellM: envFloat("ATALAYA_SITES_CELL", 5), LocalMeanM: envFloat("ATALAYA_SITES_LOCAL", 0), Differential: ptr(os.Getenv("ATALAYA_SITES_DIFF") != "0")}
	var all []EvalResult
	presets := []string{"fentanyl", "clean", "confusers"}
	if v := os.Getenv("ATALAYA_SITES_PRESETS"); v != "" {
		presets = strings.Split(v, ",")
	}
	for _, preset := range presets {
		r := evaluatePreset(t, dir, preset, cfg, 1)
		all = append(all, *r)
	}
	b, _ := json.MarshalIndent(all, "", "  ")
	out := filepath.Join(dir, "eval.json")
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", out)
	if figs := os.Getenv("ATALAYA_SITES_FIGS"); figs != "" && all[0].Preset == "fentanyl" {
		f := all[0]
		var xs []float64
		ser := map[string][]float64{}
		var zbar float64
		for _, p := range f.Passes {
			xs = append(xs, float64(p.N))
			ser["combined z"] = append(ser["combined z"], p.CellZ["fentanyl-lab"])
			ser["this pass alone"] = append(ser["this pass alone"], p.CellZSingle["fentanyl-lab"])
			ser["threshold"] = append(ser["threshold"], p.Thresholds["dichloromethane"])
			zbar += p.CellZSingle["fentanyl-lab"]
		}
		zbar /= float64(len(f.Passes))
		for _, x := range xs {
			ser["√n · mean single"] = append(ser["√n · mean single"], math.Sqrt(x)*zbar)
		}
		svg := svgLines("fentanyl preset: dichloromethane z at the laboratory's cell", "z", xs, ser, []string{"combined z", "this pass alone", "√n · mean single", "threshold"})
		if err := os.WriteFile(filepath.Join(figs, "fentanyl-z.svg"), []byte(svg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func envFloat(k string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(k), 64); err == nil {
		return v
	}
	return def
}

func evaluatePreset(t *testing.T, dir, preset string, cfg GridConfig, far float64) *EvalResult {
	ctx := context.Background()
	lib, err := spectra.Default()
	if err != nil {
		t.Fatal(err)
	}
	s, err := sim.Preset(preset)
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGrid(cfg, NewMemTileStore())
	if err != nil {
		t.Fatal(err)
	}
	res := &EvalResult{Preset: preset, FARPerKm2: far, Grid: g.Config()}
	type src struct {
		name  string
		e, n  float64
		gases map[string]bool
	}
	var srcs []src
	for _, so := range s.Sources {
		gs := map[string]bool{}
		for gas := range so.Rates {
			gs[gas] = true
		}
		srcs = append(srcs, src{so.Name, s.Area.EastingM + so.East, s.Area.NorthingM + so.North, gs})
	}
	near := func(e, n float64, r float64) string {
		for _, so := range srcs {
			if math.Hypot(e-so.e, n-so.n) <= r {
				return so.name
			}
		}
		return ""
	}
	// Highest combined z of a source's gases within 10 m.
	srcZ := func(gr *Grid) map[string]float64 {
		out := map[string]float64{}
		for _, so := range srcs {
			best := math.Inf(-1)
			i0, j0 := gr.CellAt(so.e, so.n)
			k := int64(math.Ceil(10 / gr.cfg.CellM))
			for gas := range so.gases {
				for j := j0 - k; j <= j0+k; j++ {
					for i := i0 - k; i <= i0+k; i++ {
						ce, cn := gr.CellCentre(i, j)
						if math.Hypot(ce-so.e, cn-so.n) > 10+gr.cfg.CellM {
							continue
						}
						if ev, ok, _ := gr.Evidence(ctx, gas, i, j); ok {
							best = math.Max(best, ev.Z)
						}
					}
				}
			}
			out[so.name] = best
		}
		return out
	}
	// The combined z of each source's main gas at its own cell.
	cellZ := func(gr *Grid) map[string]float64 {
		out := map[string]float64{}
		for k, so := range srcs {
			i, j := gr.CellAt(so.e, so.n)
			if ev, ok, _ := gr.Evidence(ctx, mainGas(s.Sources[k].Rates), i, j); ok {
				out[so.name] = ev.Z
			}
		}
		return out
	}
	found := func(dets []GridDetection) (map[string]bool, int) {
		f := map[string]bool{}
		fa := 0
		for _, d := range dets {
			if name := near(d.East, d.North, 60); name != "" {
				if near(d.East, d.North, 30) == name {
					f[name] = true
				}
				continue
			}
			fa++
		}
		return f, fa
	}
	var last *GridResult
	var imaging []Detection
	for i, fl := range s.Flights {
		sc := s.Scene(i)
		pdir := filepath.Join(dir, preset, fl.Name)
		rad := filepath.Join(pdir, "radiance.hdr")
		if _, err := os.Stat(rad); err != nil {
			if _, err := sim.WriteScene(pdir, sc, lib, nil); err != nil {
				t.Fatal(err)
			}
		}
		ddir := filepath.Join(pdir, "detect")
		gres, err := granule.Process(ctx, granule.Config{Cube: rad, OutDir: ddir, Methods: []string{"mf"}, Gases: surveyGases, FARPerKm2: far, Library: lib})
		if err != nil {
			t.Fatal(err)
		}
		ep := EvalPass{N: i + 1, FoundGranule: map[string]bool{}, Thresholds: map[string]float64{}, Inflation: map[string]float64{}}
		for _, d := range gres.Detections {
			imaging = append(imaging, FromGranule(d, fl.Name, fl.Start))
			// granule reports lat/lon; measure in the grid's zone.
			e, n := latLonToGrid(g, d.Lat, d.Lon)
			if name := near(e, n, 60); name != "" {
				ep.FoundGranule[name] = true
			} else {
				ep.GranuleFalseAlarm++
			}
		}
		wind := &Wind{FromDeg: fl.Weather.WindFromDeg, SpeedMS: fl.Weather.WindSpeed}
		gp := GranulePass{Dir: ddir, ID: fl.Name, Time: fl.Start, Gases: surveyGases, Wind: wind}
		reps, err := g.AddGranule(ctx, gp)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range reps {
			ep.Inflation[r.Gas] = r.Inflation
		}
		last, err = g.Detect(ctx, DetectConfig{FARPerKm2: far, Gases: surveyGases})
		if err != nil {
			t.Fatal(err)
		}
		for _, ts := range last.Tests {
			ep.Thresholds[ts.Gas] = ts.Threshold
			res.AreaKm2 = ts.AreaKm2
		}
		ep.SourceZ = srcZ(g)
		ep.CellZ = cellZ(g)
		ep.Found, ep.FalseAlarms = found(last.Detections)
		ep.FalseAlarmsPerKm2 = float64(ep.FalseAlarms) / res.AreaKm2
		// This pass alone on a fresh grid.
		one, _ := NewGrid(cfg, NewMemTileStore())
		if _, err := one.AddGranule(ctx, gp); err != nil {
			t.Fatal(err)
		}
		r1, err := one.Detect(ctx, DetectConfig{FARPerKm2: far, Gases: surveyGases})
		if err != nil {
			t.Fatal(err)
		}
		ep.SinglePassZ = srcZ(one)
		ep.CellZSingle = cellZ(one)
		ep.FoundSingle, _ = found(r1.Detections)
		res.Passes = append(res.Passes, ep)
		t.Logf("%s n=%d: source z %v (single pass %v), found %v (single %v, granule %v); grid false alarms %d (%.1f/km²), granule %d; thresholds %v",
			preset, ep.N, fmtMap(ep.CellZ)+" best within 10 m "+fmtMap(ep.SourceZ), fmtMap(ep.CellZSingle)+" best "+fmtMap(ep.SinglePassZ), ep.Found, ep.FoundSingle, ep.FoundGranule, ep.FalseAlarms, ep.FalseAlarmsPerKm2, ep.GranuleFalseAlarm, fmtMap(ep.Thresholds))
	}
	for _, d := range last.Detections {
		t.Logf("  %s grid detection %s z=%.1f at (%.0f, %.0f) m from the area's corner, %d cells, passes %d seen %d", preset, d.Gas, d.PeakZ, d.East-s.Area.EastingM, d.North-s.Area.NorthingM, d.Cells, d.Passes, d.Seen)
	}
	// Sites from the grid's detections.
	cat, err := NewCatalog(CatalogConfig{Zone: cfg.Zone, North: cfg.North})
	if err != nil {
		t.Fatal(err)
	}
	lastTime := s.Flights[len(s.Flights)-1].Start
	// Single-pass detections in time order, then the grid's.
	for _, d := range imaging {
		cat.Add(d)
	}
	for _, d := range last.Detections {
		cat.Add(FromGrid(d, lastTime))
	}
	if err := cat.UpdateFromGrid(ctx, g, last, surveyGases); err != nil {
		t.Fatal(err)
	}
	res.Sites = cat.Sites()
	if figs := os.Getenv("ATALAYA_SITES_FIGS"); figs != "" && len(srcs) > 0 {
		if err := writeZMap(filepath.Join(figs, preset+"-"+mainGas(s.Sources[0].Rates)+"-z.png"), g, mainGas(s.Sources[0].Rates), s, last); err != nil {
			t.Fatal(err)
		}
	}
	for _, st := range res.Sites {
		e, n := latLonToGrid(g, st.Lat, st.Lon)
		var gz string
		for _, gas := range surveyGases {
			if ge := st.Gases[gas]; ge != nil {
				gz += fmt.Sprintf(" %s:%.1f", gas, ge.Z)
			}
		}
		kinds := map[Kind]int{}
		for _, d := range st.Detections {
			kinds[d.Kind]++
		}
		t.Logf("  %s %s (%v) at (%.0f, %.0f) near %q: type %s (%.2f), lab %.2f, log BF %.1f, p %.2f, seen %d/%d; z%s", preset, st.ID, kinds, e-s.Area.EastingM, n-s.Area.NorthingM, near(e, n, 60), st.Type(), st.Types[0].Probability, st.LabProbability, st.LogBF, st.Probability, st.PassesSeen, st.PassesSurveyed, gz)
	}
	return res
}

func latLonToGrid(g *Grid, lat, lon float64) (float64, float64) {
	return cubeLatLonToUTM(lat, lon, g.cfg.Zone, g.cfg.North)
}

func fmtMap(m map[string]float64) string {
	s := "{"
	for k, v := range m {
		s += fmt.Sprintf("%s:%.2f ", k, v)
	}
	return s + "}"
}

func ptr[T any](v T) *T { return &v }

// mainGas is a source's largest emission.
func mainGas(rates map[string]float64) string {
	best, q := "", -1.0
	for g, r := range rates {
		if r > q || (r == q && g < best) {
			best, q = g, r
		}
	}
	return best
}
