package eval

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/atalaya-project/atalaya/internal/sim"
)

// tiny shrinks a preset to a w×h m area with its sources moved inside it.
func tiny(t *testing.T, name string, w, h float64, passes int) *sim.Scenario {
	t.Helper()
	s, err := sim.Preset(name)
	if err != nil {
		t.Fatal(err)
	}
	s.Area.WidthM, s.Area.HeightM = w, h
	for i := range s.Sources {
		s.Sources[i].East, s.Sources[i].North = 30+float64(i)*40, -h/2
	}
	s.Flights = s.Flights[:min(passes, len(s.Flights))]
	s.PointSensors = nil
	return s
}

// TestEvalTiny runs the scenario evaluation on small scenes: a strong
// source (the meth preset's 20 kg/h of acetone and 8 of ammonia) must be
// found in every pass, its rate and origin estimated, and a scene without
// gas must raise about the requested false alarms.
func TestEvalTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates and detects ~60 small scenes")
	}
	out := t.TempDir()
	meth := tiny(t, "meth", 120, 80, 1)
	clean := tiny(t, "clean", 120, 80, 2)
	cfg := Config{
		Scenarios: []*sim.Scenario{meth, clean},
		Seeds:     2,
		FARPerKm2: 1,
		// Rates are scored with a U_eff given here; its fit has its own test.
		WindSigmaMS: 0.5, WindDirSigmaDeg: 10,
		WorkDir: filepath.Join(out, "work"), OutDir: out,
		SkipMDL: true,
	}
	cfg.UEff.A, cfg.UEff.B, cfg.UEff.N = 0.5, 0.5, 1
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]ScenarioReport{}
	for _, s := range rep.Scenarios {
		byName[s.Name] = s
		t.Logf("%s: %d passes, %.4f km², Pd %d/%d, %d detections, %d false alarms (%.3g/km²), %d cross-gas",
			s.Name, s.Passes, s.AreaKm2, s.Detected, s.SourcePasses, s.Detections, s.FalseAlarms, s.FARPerKm2, s.CrossGas)
	}
	if m := byName["meth"]; m.SourcePasses != 2 || m.Pd != 1 {
		t.Errorf("meth: Pd %d/%d, want the strong source in both seeds", m.Detected, m.SourcePasses)
	}
	// Requested 1/km² over 4 × 0.01 km²: 0.04 expected; allow a few
	// (Poisson: P(N > 2) for a mean of 0.04 is 10⁻⁵).
	if c := byName["clean"]; c.FalseAlarms > 2 {
		t.Errorf("clean: %d false alarms on %.3f km² at 1/km² requested", c.FalseAlarms, c.AreaKm2)
	}
	if len(rep.Rates) == 0 || len(rep.Localisation) == 0 {
		t.Fatalf("no rate or origin estimates: %+v %+v", rep.Rates, rep.Localisation)
	}
	for _, r := range rep.Rates {
		t.Logf("rate %s %s: %.3g ± %.2g kg/h, true %.3g (%+.0f%%)", r.Source, r.Gas, r.EstKgH, r.SigmaKgH, r.TrueKgH, 100*r.RelErr)
		if r.EstKgH < r.TrueKgH/5 || r.EstKgH > 5*r.TrueKgH {
			t.Errorf("rate of %s %s %.3g kg/h, true %.3g: off by more than 5×", r.Source, r.Gas, r.EstKgH, r.TrueKgH)
		}
	}
	for _, l := range rep.Localisation {
		if l.ErrorM > 15 {
			t.Errorf("origin of %s %.1f m off, want ≤ 15 m", l.Source, l.ErrorM)
		}
	}
	for _, s := range rep.Retrieval {
		if s.Gas == "all" && s.MinSNR == 10 && (s.Pixels == 0 || math.Abs(float64(s.RelBias)) > 0.3) {
			t.Errorf("retrieval at SNR ≥ 10: %+v", s)
		}
	}
	for _, p := range rep.PixelROC {
		if p.K >= 3 && p.AUC < 0.95 {
			t.Errorf("pixel AUC at %gσ = %.3f, want ≥ 0.95", p.K, float64(p.AUC))
		}
	}
	// The ROC is monotone: a laxer threshold never detects less.
	for i := 1; i < len(rep.DetectionROC); i++ {
		if rep.DetectionROC[i].Detected < rep.DetectionROC[i-1].Detected {
			t.Errorf("ROC not monotone at %g/km²", rep.DetectionROC[i].NominalFARPerKm2)
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	for _, p := range rep.Plots {
		if fi, err := os.Stat(filepath.Join(out, p)); err != nil || fi.Size() < 500 {
			t.Errorf("plot %s: %v", p, err)
		}
	}
}

// TestMDLTiny runs the minimum-detectable-rate experiment on a small
// scene: nine passes combined must detect a fainter source than one. It
// simulates and detects 72 scenes, so it is left out under the race
// detector (eval itself runs one goroutine; TestEvalTiny exercises the
// detection's concurrency under -race).
func TestMDLTiny(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("simulates and detects 72 small scenes")
	}
	cfg := Config{
		FARPerKm2: 1, SkipScenarios: true, WorkDir: t.TempDir(),
		MDL: MDLConfig{WidthM: 100, HeightM: 60, SourceEastM: 20, RatesKgH: []float64{0.3, 1, 3, 10}, Seeds: 2, Passes: []int{1, 9},
			Gases: []string{"dichloromethane"}},
	}
	cfg.UEff.N = 1
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := rep.MDL[0].Curves
	single, one, nine := c[0], c[1], c[2]
	t.Logf("MDL50: single %v, 1 pass %v, 9 passes %v kg/h", fmtF(single.MDL50KgH), fmtF(one.MDL50KgH), fmtF(nine.MDL50KgH))
	if !(float64(nine.MDL50KgH) < float64(one.MDL50KgH)) {
		t.Errorf("MDL50 after 9 passes %v, after 1 %v: want lower", nine.MDL50KgH, one.MDL50KgH)
	}
	// One pass combined is the granule's own z-score with one gas tested:
	// the same detections.
	if one.MDL50KgH != single.MDL50KgH {
		t.Errorf("MDL50 of one pass combined %v, of the granule %v: want equal", one.MDL50KgH, single.MDL50KgH)
	}
	for _, cv := range c {
		if cv.FalseAlarms > 3 {
			t.Errorf("%s: %d false alarms on %.3f km² at 1/km²", cv.Label, cv.FalseAlarms, cv.AreaKm2)
		}
	}
}

func TestProbitFit(t *testing.T) {
	rates := []float64{0.1, 0.3, 1, 3, 10}
	trials := []int{100, 100, 100, 100, 100}
	// Pd = Φ((ln Q − ln 1)/0.5): 0, 0.8%, 50%, 98.6%, 100%.
	det := []int{0, 1, 50, 99, 100}
	mu, s := probitFit(rates, trials, det)
	if math.Abs(mu) > 0.1 || math.Abs(s-0.5) > 0.15 {
		t.Errorf("μ %.3f s %.3f, want 0 and 0.5", mu, s)
	}
	if mu, _ := probitFit(rates, trials, []int{0, 0, 0, 0, 0}); !math.IsNaN(mu) {
		t.Errorf("nothing detected: μ %g, want NaN", mu)
	}
}
