package sites

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/atalaya-project/atalaya/internal/spectra"
)

// poissonCI is the exact (Garwood 1936) two-sided interval of a Poisson
// mean from k events at confidence 1−alpha: [χ²(α/2; 2k)/2,
// χ²(1−α/2; 2k+2)/2].
func poissonCI(k int, alpha float64) (lo, hi float64) {
	if k > 0 {
		lo = distuv.ChiSquared{K: float64(2 * k)}.Quantile(alpha/2) / 2
	}
	hi = distuv.ChiSquared{K: float64(2*k + 2)}.Quantile(1-alpha/2) / 2
	return lo, hi
}

// poissonUpperP is P(N ≥ k) for N ~ Poisson(mu): the p-value of k events
// or more when the rate is at its setting.
func poissonUpperP(k int, mu float64) float64 {
	if k <= 0 {
		return 1
	}
	// 1 − P(N ≤ k−1).
	term, cdf := math.Exp(-mu), 0.0
	for i := 0; i < k; i++ {
		if i > 0 {
			term *= mu / float64(i)
		}
		cdf += term
	}
	return math.Max(0, 1-cdf)
}

// evidenceEval is docs/evidence.md's data.
type evidenceEval struct {
	Gases     []string  `json:"gases"`
	FARs      []float64 `json:"far_per_km2"`
	CellM     float64   `json:"cell_m"`
	LengthM   float64   `json:"template_length_m"`
	Fentanyl  []surveyEval
	Null      []surveyEval
	NullTotal []nullTotal `json:"null_total"`
}

type surveyEval struct {
	Preset string       `json:"preset"`
	Scale  float64      `json:"scale"`
	Seed   int          `json:"seed"`
	Passes []passResult `json:"passes"`
}

type nullTotal struct {
	FARPerKm2   float64 `json:"far_per_km2"`
	FalseAlarms int     `json:"false_alarms"`
	AreaKm2     float64 `json:"area_km2"`
	RatePerKm2  float64 `json:"rate_per_km2"`
	CI95        [2]float64
	PAtSetting  float64 `json:"p_at_setting"`
	// Single: the same on every pass alone.
	SingleFalseAlarms int     `json:"single_false_alarms"`
	SingleAreaKm2     float64 `json:"single_area_km2"`
}

func envInts(k string, def []int) []int {
	v := os.Getenv(k)
	if v == "" {
		return def
	}
	var out []int
	if v == "none" {
		return out
	}
	for _, f := range strings.Split(v, ",") {
		if a, b, ok := strings.Cut(f, "-"); ok {
			x, _ := strconv.Atoi(a)
			y, _ := strconv.Atoi(b)
			for i := x; i <= y; i++ {
				out = append(out, i)
			}
			continue
		}
		x, _ := strconv.Atoi(f)
		out = append(out, x)
	}
	return out
}

// TestEvaluateEvidence simulates repetitions of the fentanyl preset (at
// its rate and at scaled rates) and of the gas-free and confuser presets,
// accumulates each on a source grid, and writes docs/evidence.md's data
// and plots:
//
//	ATALAYA_EVIDENCE_EVAL=/tmp/evidence ATALAYA_EVIDENCE_FIGS=docs/evidence \
//	  go test -run TestEvaluateEvidence -v -timeout 2h ./internal/sites/
//
// ATALAYA_EVIDENCE_SEEDS (fentanyl, default 0-5), _NULL_SEEDS (clean and
// confusers, default 0-15), _NULL_PRESETS (default clean,confusers),
// _SCALES (default 1,3.33,6.67), _PASSES and _NULL_PASSES (the presets'
// passes flown again up to that many; default the presets' own) choose
// the runs.
func TestEvaluateEvidence(t *testing.T) {
	dir := os.Getenv("ATALAYA_EVIDENCE_EVAL")
	if dir == "" {
		t.Skip("set ATALAYA_EVIDENCE_EVAL to a scratch directory to run the evaluation")
	}
	lib, err := spectra.Default()
	if err != nil {
		t.Fatal(err)
	}
	fars := []float64{0.1, 1}
	cfg := sourceGridConfig(lib)
	ev := evidenceEval{Gases: surveyGases, FARs: fars}
	scales := []float64{1, 3.33, 6.67}
	if v := os.Getenv("ATALAYA_EVIDENCE_SCALES"); v != "" {
		scales = nil
		for _, f := range strings.Split(v, ",") {
			x, _ := strconv.ParseFloat(f, 64)
			scales = append(scales, x)
		}
	}
	for _, k := range envInts("ATALAYA_EVIDENCE_SEEDS", []int{0, 1, 2, 3, 4, 5}) {
		for _, sc := range scales {
			sv := simulateSurvey(t, dir, "fentanyl", k, envInts("ATALAYA_EVIDENCE_PASSES", []int{0})[0], sc, surveyGases, fars[0], lib)
			prs := runSurveyGrid(t, sv, cfg, surveyGases, fars, fars[0])
			ev.Fentanyl = append(ev.Fentanyl, surveyEval{"fentanyl", sc, k, prs})
			var zs, z1, inf string
			for _, p := range prs {
				zs += fmt.Sprintf(" %.1f", p.LabZ["fentanyl-lab"])
				z1 += fmt.Sprintf(" %.1f", p.LabZSingle["fentanyl-lab"])
				inf += fmt.Sprintf(" %.2f/%.2f", p.Inflation["dichloromethane"], p.Thresholds[0]["dichloromethane"])
			}
			t.Logf("  inflation/threshold per pass:%s", inf)
			last := prs[len(prs)-1]
			t.Logf("fentanyl ×%g seed %d: z%s (single%s); rate %.2f±%.2f kg/h; thr %.2f; found %v; FA %v", sc, k, zs, z1, last.LabRate["fentanyl-lab"], last.LabSigma["fentanyl-lab"], last.Thresholds[0]["dichloromethane"], last.Found, last.FalseAlarms)
		}
	}
	nullPresets := []string{"clean", "confusers"}
	if v := os.Getenv("ATALAYA_EVIDENCE_NULL_PRESETS"); v != "" {
		nullPresets = strings.Split(v, ",")
	}
	for _, preset := range nullPresets {
		for _, k := range envInts("ATALAYA_EVIDENCE_NULL_SEEDS", []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}) {
			sv := simulateSurvey(t, dir, preset, k, envInts("ATALAYA_EVIDENCE_NULL_PASSES", []int{0})[0], 1, surveyGases, fars[0], lib)
			prs := runSurveyGrid(t, sv, cfg, surveyGases, fars, fars[0])
			ev.Null = append(ev.Null, surveyEval{preset, 1, k, prs})
			last := prs[len(prs)-1]
			t.Logf("%s seed %d: false alarms %v on %.3f km² (single passes %v), found %v", preset, k, last.FalseAlarms, last.AreaKm2, last.FalseAlarmsSingle, last.Found)
		}
	}
	ev.NullTotal = nullTotals(ev.Null, fars)
	for _, nt := range ev.NullTotal {
		t.Logf("FAR set %g/km²: %d false alarms on %.2f km² = %.3f/km² (95%% %.3f–%.3f), P(≥ that | setting) %.3f; single passes %d on %.2f km²",
			nt.FARPerKm2, nt.FalseAlarms, nt.AreaKm2, nt.RatePerKm2, nt.CI95[0], nt.CI95[1], nt.PAtSetting, nt.SingleFalseAlarms, nt.SingleAreaKm2)
	}
	g, _ := NewGrid(cfg, NewMemTileStore())
	ev.CellM, ev.LengthM = g.Config().CellM, g.Config().Source.LengthM
	b, err := json.MarshalIndent(ev, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "evidence.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if figs := os.Getenv("ATALAYA_EVIDENCE_FIGS"); figs != "" {
		if err := os.WriteFile(filepath.Join(figs, "evidence.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, sc := range scales {
			if err := writeZPlot(filepath.Join(figs, fmt.Sprintf("fentanyl-x%g-z.svg", sc)), ev.Fentanyl, sc); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// writeZPlot draws, for the fentanyl runs at one scale, the mean combined
// and single-pass z at the laboratory's cell against n, √n times the mean
// single-pass z, and the median thresholds at 0.1 and 1 per km².
func writeZPlot(path string, runs []surveyEval, scale float64) error {
	var xs []float64
	ser := map[string][]float64{}
	var zbar float64
	nz := 0
	for n := 1; ; n++ {
		var comb, single, thr0, thr1 []float64
		for _, r := range runs {
			if r.Scale != scale || len(r.Passes) < n {
				continue
			}
			p := r.Passes[n-1]
			comb = append(comb, p.LabZ["fentanyl-lab"])
			single = append(single, p.LabZSingle["fentanyl-lab"])
			thr0 = append(thr0, p.Thresholds[0]["dichloromethane"])
			thr1 = append(thr1, p.Thresholds[1]["dichloromethane"])
		}
		if len(comb) == 0 {
			break
		}
		xs = append(xs, float64(n))
		ser["combined z (mean)"] = append(ser["combined z (mean)"], mean(comb))
		ser["this pass alone (mean)"] = append(ser["this pass alone (mean)"], mean(single))
		ser["threshold 0.1/km²"] = append(ser["threshold 0.1/km²"], median(thr0))
		ser["threshold 1/km²"] = append(ser["threshold 1/km²"], median(thr1))
		for _, z := range single {
			zbar += z
			nz++
		}
	}
	if len(xs) < 2 {
		return fmt.Errorf("no runs at scale %g", scale)
	}
	zbar /= float64(nz)
	for _, x := range xs {
		ser["√n · mean single"] = append(ser["√n · mean single"], math.Sqrt(x)*zbar)
	}
	title := fmt.Sprintf("fentanyl ×%g (%.2g kg/h CH₂Cl₂): source z at the lab's cell", scale, 0.3*scale)
	svg := svgLines(title, "z", xs, ser, []string{"combined z (mean)", "this pass alone (mean)", "√n · mean single", "threshold 0.1/km²", "threshold 1/km²"})
	return os.WriteFile(path, []byte(svg), 0o644)
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func median(v []float64) float64 {
	w := slices.Clone(v)
	slices.Sort(w)
	return w[len(w)/2]
}

// nullTotals adds up the false alarms of gas-free and confuser surveys
// after all their passes (and of each pass alone), per false-alarm rate
// set, with the Garwood 95% interval and the probability of as many at
// the set rate. Rates with no gas-free area are left out.
func nullTotals(null []surveyEval, fars []float64) []nullTotal {
	var out []nullTotal
	for fi, far := range fars {
		nt := nullTotal{FARPerKm2: far}
		for _, s := range null {
			last := s.Passes[len(s.Passes)-1]
			nt.FalseAlarms += last.FalseAlarms[fi]
			nt.AreaKm2 += last.AreaKm2
			for _, p := range s.Passes {
				nt.SingleFalseAlarms += p.FalseAlarmsSingle[fi]
				nt.SingleAreaKm2 += p.AreaKm2Single
			}
		}
		if nt.AreaKm2 == 0 {
			continue
		}
		lo, hi := poissonCI(nt.FalseAlarms, 0.05)
		nt.RatePerKm2 = float64(nt.FalseAlarms) / nt.AreaKm2
		nt.CI95 = [2]float64{lo / nt.AreaKm2, hi / nt.AreaKm2}
		nt.PAtSetting = poissonUpperP(nt.FalseAlarms, far*nt.AreaKm2)
		out = append(out, nt)
	}
	return out
}
