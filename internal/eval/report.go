package eval

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/atalaya-project/atalaya/internal/plume"
)

// F is a float64 that is written to JSON as null when it is NaN or
// infinite (no data), which encoding/json refuses otherwise.
type F float64

// MarshalJSON implements json.Marshaler.
func (f F) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON implements json.Unmarshaler: null is NaN.
func (f *F) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = F(math.NaN())
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	*f = F(v)
	return err
}

// ReadReport reads a report.json written by Run.
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// WriteFiles writes report.json and the plots into dir.
func (r *Report) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := r.writePlots(dir); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "report.json"), append(b, '\n'), 0o644)
}

// Report is what an evaluation found. Its JSON form is report.json.
type Report struct {
	Started      time.Time          `json:"started"`
	Seconds      float64            `json:"seconds"`
	StageSeconds map[string]float64 `json:"stage_seconds"`
	Machine      Machine            `json:"machine"`
	Settings     Settings           `json:"settings"`
	Definitions  map[string]string  `json:"definitions"`
	UEff         UEffReport         `json:"ueff"`
	// Summary holds the headline figures.
	Summary          Summary           `json:"summary"`
	Scenarios        []ScenarioReport  `json:"scenarios"`
	DetectionROC     []ROCPoint        `json:"detection_roc"`
	PixelROC         []PixelROC        `json:"pixel_roc"`
	Retrieval        []RetrievalStat   `json:"retrieval"`
	RetrievalScatter [][2]float32      `json:"retrieval_scatter"` // (true, retrieved) ppm·m, a sample
	RateSummary      ErrorSummary      `json:"rate_error"`
	Rates            []RateResult      `json:"rates"`
	LocSummary       ErrorSummary      `json:"localisation_error"`
	Localisation     []LocResult       `json:"localisation"`
	MDL              []*MDLReport      `json:"mdl,omitempty"`
	Plots            map[string]string `json:"plots,omitempty"`
}

// Machine is where the evaluation ran.
type Machine struct {
	CPUs   int    `json:"cpus"`
	GOOS   string `json:"goos"`
	GOARCH string `json:"goarch"`
	Go     string `json:"go"`
	Host   string `json:"host"`
}

// Settings echo the configuration.
type Settings struct {
	Scenarios       []string `json:"scenarios"`
	Seeds           int      `json:"seeds"`
	Gases           []string `json:"gases"`
	FARPerKm2       float64  `json:"far_per_km2"`
	WindSigmaMS     float64  `json:"wind_sigma_ms"`
	WindDirSigmaDeg float64  `json:"wind_dir_sigma_deg"`
	Quick           bool     `json:"quick"`
}

// UEffReport is the effective wind speed used, and the plumes it was
// fitted to.
type UEffReport struct {
	Fit    plume.UEff          `json:"fit"`
	Fitted bool                `json:"fitted"`
	Plumes []plume.Calibration `json:"plumes,omitempty"`
}

// Summary is the headline of a report.
type Summary struct {
	FARPerKm2 float64 `json:"far_per_km2_requested"`
	// Pd over every active source and pass of every scenario, as
	// simulated (faint sources included).
	SourcePasses int `json:"source_passes"`
	Detected     int `json:"detected"`
	Pd           F   `json:"pd"`
	// False alarms per km² over all passes, and on the gas-free scenario
	// "clean" and the "confusers" scenario alone.
	FalseAlarms       int                `json:"false_alarms"`
	AreaKm2           float64            `json:"area_km2"`
	FalseAlarmsPerKm2 float64            `json:"false_alarms_per_km2"`
	ScenarioFAR       map[string]float64 `json:"false_alarms_per_km2_by_scenario"`
	ScenarioPd        map[string]F       `json:"pd_by_scenario"`
}

// ScenarioReport scores one scenario at the operating point.
type ScenarioReport struct {
	Name         string  `json:"name"`
	Seeds        int     `json:"seeds"`
	Passes       int     `json:"passes"`
	AreaKm2      float64 `json:"area_km2"`
	SourcePasses int     `json:"source_passes"`
	Detected     int     `json:"detected"`
	Pd           F       `json:"pd"`
	Detections   int     `json:"detections"`
	FalseAlarms  int     `json:"false_alarms"`
	CrossGas     int     `json:"cross_gas_detections"`
	FARPerKm2    float64 `json:"false_alarms_per_km2"`
}

func (s *ScenarioReport) finish() {
	s.Pd = ratio(s.Detected, s.SourcePasses)
	s.FARPerKm2 = float64(s.FalseAlarms) / s.AreaKm2
}

func ratio(a, b int) F {
	if b == 0 {
		return F(math.NaN())
	}
	return F(float64(a) / float64(b))
}

// ROCPoint is the detection-level ROC at one threshold.
type ROCPoint struct {
	NominalFARPerKm2 float64 `json:"nominal_far_per_km2"`
	SourcePasses     int     `json:"source_passes"`
	Detected         int     `json:"detected"`
	Pd               F       `json:"pd"`
	FalseAlarms      int     `json:"false_alarms"`
	AreaKm2          float64 `json:"area_km2"`
	FARPerKm2        float64 `json:"false_alarms_per_km2"`
}

func (r *ROCPoint) finish() {
	r.Pd = ratio(r.Detected, r.SourcePasses)
	r.FARPerKm2 = float64(r.FalseAlarms) / r.AreaKm2
}

// PixelROC is the pixel-level ROC of the matched-filter z-score: pixels
// whose true column is at least K·σ of their retrieval against pixels with
// no gas.
type PixelROC struct {
	K         float64      `json:"k_sigma"`
	Positives int          `json:"positives"`
	Negatives int          `json:"negatives"`
	AUC       F            `json:"auc"`
	Curve     [][2]float64 `json:"curve"` // (false-positive rate, true-positive rate)
}

// RetrievalStat is the relative error (retrieved − true)/true of the ppm·m
// retrieval over pixels whose true SNR (true column / 1σ) is at least
// MinSNR.
type RetrievalStat struct {
	Gas     string  `json:"gas"` // "all" pools the gases
	MinSNR  float64 `json:"min_snr"`
	Pixels  int     `json:"pixels"`
	RelBias F       `json:"rel_bias"`
	RelRMSE F       `json:"rel_rmse"`
}

// RateResult is one detected source's emission-rate estimate for one gas.
type RateResult struct {
	Scenario   string  `json:"scenario"`
	Seed       uint64  `json:"seed"`
	Pass       string  `json:"pass"`
	Source     string  `json:"source"`
	Gas        string  `json:"gas"`
	TrueKgH    float64 `json:"true_kg_h"`
	EstKgH     float64 `json:"est_kg_h"`
	SigmaKgH   float64 `json:"sigma_kg_h"`
	RelErr     float64 `json:"rel_err"`
	WindMS     float64 `json:"wind_used_ms"`
	TrueWindMS float64 `json:"wind_true_ms"`
	Pixels     int     `json:"pixels"`
	IMEkg      float64 `json:"ime_kg"`
}

// LocResult is one detected source's origin error.
type LocResult struct {
	Scenario string  `json:"scenario"`
	Seed     uint64  `json:"seed"`
	Pass     string  `json:"pass"`
	Source   string  `json:"source"`
	ErrorM   float64 `json:"error_m"`
	SigmaM   float64 `json:"sigma_m"`
}

// ErrorSummary summarises errors: for rates relative (est/true − 1), for
// localisation in metres.
type ErrorSummary struct {
	N      int     `json:"n"`
	Mean   float64 `json:"mean"`
	Median float64 `json:"median"`
	RMS    float64 `json:"rms"`
	// MedianAbs and P90Abs are of the absolute errors.
	MedianAbs float64 `json:"median_abs"`
	P90Abs    float64 `json:"p90_abs"`
	// Within1Sigma is the share of estimates within their stated 1σ.
	Within1Sigma float64 `json:"within_1sigma"`
}

func summarise(v, sigma []float64) ErrorSummary {
	s := ErrorSummary{N: len(v)}
	if len(v) == 0 {
		return s
	}
	abs := make([]float64, len(v))
	var sum, sq float64
	in := 0
	for i, x := range v {
		sum += x
		sq += x * x
		abs[i] = math.Abs(x)
		if abs[i] <= sigma[i] {
			in++
		}
	}
	s.Mean = sum / float64(len(v))
	s.RMS = math.Sqrt(sq / float64(len(v)))
	s.Median = quantile(v, 0.5)
	s.MedianAbs = quantile(abs, 0.5)
	s.P90Abs = quantile(abs, 0.9)
	s.Within1Sigma = float64(in) / float64(len(v))
	return s
}

func summariseRates(r []RateResult) ErrorSummary {
	v := make([]float64, len(r))
	sg := make([]float64, len(r))
	for i, x := range r {
		v[i] = x.RelErr
		sg[i] = x.SigmaKgH / x.TrueKgH
	}
	return summarise(v, sg)
}

func summariseLocs(l []LocResult) ErrorSummary {
	v := make([]float64, len(l))
	sg := make([]float64, len(l))
	for i, x := range l {
		v[i] = x.ErrorM
		// The error is a distance in the plane: compare it with the 1σ
		// radius scaled to hold 39% (the 2-D normal's 1σ circle).
		sg[i] = x.SigmaM
	}
	return summarise(v, sg)
}

// quantile is the linear-interpolation quantile (Hyndman & Fan type 7).
func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	h := q * float64(len(s)-1)
	i := int(math.Floor(h))
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[i] + (h-float64(i))*(s[i+1]-s[i])
}

func newReport(cfg Config) *Report {
	r := &Report{Started: time.Now().UTC(), StageSeconds: map[string]float64{}, Machine: machine()}
	for _, s := range cfg.Scenarios {
		r.Settings.Scenarios = append(r.Settings.Scenarios, s.Name)
	}
	r.Settings.Seeds = cfg.Seeds
	r.Settings.Gases = cfg.Gases
	r.Settings.FARPerKm2 = cfg.FARPerKm2
	r.Settings.WindSigmaMS = cfg.WindSigmaMS
	r.Settings.WindDirSigmaDeg = cfg.WindDirSigmaDeg
	r.Settings.Quick = cfg.MDL.Quick
	r.Definitions = map[string]string{
		"pixel_holds_gas": "true column ≥ 1σ of the pixel's retrieval of that gas (untested gases: ≥ 10 ppm·m)",
		"detection":       "connected component (8-neighbourhood) of the matched-filter z-score above the granule's hysteresis thresholds for the requested false alarms per km², shared among the tested gases",
		"source_detected": "a detection of one of the source's tested gases has its peak on a pixel holding that gas, nearer the source's plume axis than any other source's; sources not emitting during the pass are not counted",
		"false_alarm":     "a detection whose peak pixel holds no gas at all",
		"cross_gas":       "a detection whose peak holds some gas but not the detection's own",
		"retrieval_error": "(retrieved − true)/true per pixel, over pixels whose true column / 1σ ≥ min_snr",
		"rate_error":      "estimated/true − 1 per detected source and gas; the plume is the group of the gas's components within 5 px of the source's strongest detection; the wind given is the truth perturbed by its stated 1σ",
		"localisation":    "distance from the origin estimate (upwind end of the strongest plume) to the true source, m",
		"mdl":             "emission rate with 50% (90%) probability of detection, from a probit fit of detected/not detected against log rate",
	}
	return r
}

// summarise fills the headline from the scenarios.
func (r *Report) summarise() {
	s := &r.Summary
	s.FARPerKm2 = r.Settings.FARPerKm2
	s.ScenarioFAR = map[string]float64{}
	s.ScenarioPd = map[string]F{}
	for _, sc := range r.Scenarios {
		s.SourcePasses += sc.SourcePasses
		s.Detected += sc.Detected
		s.FalseAlarms += sc.FalseAlarms
		s.AreaKm2 += sc.AreaKm2
		s.ScenarioFAR[sc.Name] = sc.FARPerKm2
		if sc.SourcePasses > 0 {
			s.ScenarioPd[sc.Name] = sc.Pd
		}
	}
	s.Pd = ratio(s.Detected, s.SourcePasses)
	s.FalseAlarmsPerKm2 = float64(s.FalseAlarms) / s.AreaKm2
}

// pixelROC accumulates z-score histograms of gas-free pixels and of pixels
// with gas at each K.
type pixelROC struct {
	ks  []float64
	pos [][]int64
	neg []int64
}

// Histogram of z-scores: bins of width zBin from zMin; scores outside are
// clamped into the end bins.
const (
	zMin   = -50.0
	zBin   = 0.05
	zBins  = 10000
	curveN = 120 // points kept of each ROC curve
)

func newPixelROC() *pixelROC {
	ks := []float64{1, 3, 10}
	r := &pixelROC{ks: ks, neg: make([]int64, zBins)}
	for range ks {
		r.pos = append(r.pos, make([]int64, zBins))
	}
	return r
}

func zIndex(z float32) int {
	return max(0, min(zBins-1, int(math.Floor((float64(z)-zMin)/zBin))))
}

func (r *pixelROC) add(p *pass) {
	for _, g := range p.gases {
		for i, z := range g.z {
			if z != z {
				continue
			}
			b := zIndex(z)
			if p.noGas[i] {
				r.neg[b]++
				continue
			}
			if g.truth == nil {
				continue
			}
			snr := float64(g.truth[i]) / float64(g.sd[i])
			for k, kk := range r.ks {
				if snr >= kk {
					r.pos[k][b]++
				}
			}
		}
	}
}

func (r *pixelROC) finish() []PixelROC {
	var out []PixelROC
	var nN int64
	for _, c := range r.neg {
		nN += c
	}
	for k, kk := range r.ks {
		pr := PixelROC{K: kk, Negatives: int(nN)}
		var nP int64
		for _, c := range r.pos[k] {
			nP += c
		}
		pr.Positives = int(nP)
		if nP == 0 || nN == 0 {
			pr.AUC = F(math.NaN())
			out = append(out, pr)
			continue
		}
		// AUC: P(score of a positive > a negative's), ties within a bin
		// counted half.
		var below, auc float64
		for b := range zBins {
			auc += float64(r.pos[k][b]) * (below + float64(r.neg[b])/2)
			below += float64(r.neg[b])
		}
		pr.AUC = F(auc / (float64(nP) * float64(nN)))
		// The curve, threshold descending; points spaced in log FPR.
		var tp, fp float64
		last := -1.0
		for b := zBins - 1; b >= 0; b-- {
			tp += float64(r.pos[k][b])
			fp += float64(r.neg[b])
			fpr, tpr := fp/float64(nN), tp/float64(nP)
			if fp > 0 && (last < 0 || math.Log10(fpr)-math.Log10(last) > 7.0/curveN || b == 0) {
				pr.Curve = append(pr.Curve, [2]float64{fpr, tpr})
				last = fpr
			}
		}
		out = append(out, pr)
	}
	return out
}

// retrievalAcc accumulates relative retrieval errors by gas and SNR, and a
// reservoir sample of (true, retrieved) pairs.
type retrievalAcc struct {
	snr   []float64
	acc   map[string][]moments
	rng   *rand.Rand
	seen  int
	pairs [][2]float32
}

type moments struct {
	n         int
	sum, sum2 float64
}

// scatterN is the number of (true, retrieved) pairs kept for the scatter
// plot.
const scatterN = 4000

func newRetrievalAcc() *retrievalAcc {
	return &retrievalAcc{snr: []float64{3, 10}, acc: map[string][]moments{}, rng: rand.New(rand.NewPCG(1, 2))}
}

func (r *retrievalAcc) add(p *pass) {
	for _, g := range p.gases {
		if g.truth == nil {
			continue
		}
		m := r.acc[g.gas]
		if m == nil {
			m = make([]moments, len(r.snr))
			r.acc[g.gas] = m
		}
		for i, t := range g.truth {
			sd := float64(g.sd[i])
			c := float64(g.ppmm[i])
			if !(sd > 0) || c != c {
				continue
			}
			snr := float64(t) / sd
			if snr >= 1 {
				// Reservoir sampling (Vitter's algorithm R).
				r.seen++
				if len(r.pairs) < scatterN {
					r.pairs = append(r.pairs, [2]float32{t, g.ppmm[i]})
				} else if j := r.rng.IntN(r.seen); j < scatterN {
					r.pairs[j] = [2]float32{t, g.ppmm[i]}
				}
			}
			e := (c - float64(t)) / float64(t)
			for k, s := range r.snr {
				if snr >= s {
					m[k].n++
					m[k].sum += e
					m[k].sum2 += e * e
				}
			}
		}
	}
}

func (r *retrievalAcc) finish() ([]RetrievalStat, [][2]float32) {
	var out []RetrievalStat
	all := make([]moments, len(r.snr))
	gases := slices.Sorted(func(yield func(string) bool) {
		for g := range r.acc {
			if !yield(g) {
				return
			}
		}
	})
	stat := func(g string, s float64, m moments) RetrievalStat {
		st := RetrievalStat{Gas: g, MinSNR: s, Pixels: m.n, RelBias: F(math.NaN()), RelRMSE: F(math.NaN())}
		if m.n > 0 {
			st.RelBias = F(m.sum / float64(m.n))
			st.RelRMSE = F(math.Sqrt(m.sum2 / float64(m.n)))
		}
		return st
	}
	for k, s := range r.snr {
		for _, g := range gases {
			m := r.acc[g][k]
			all[k].n += m.n
			all[k].sum += m.sum
			all[k].sum2 += m.sum2
		}
		out = append(out, stat("all", s, all[k]))
		for _, g := range gases {
			out = append(out, stat(g, s, r.acc[g][k]))
		}
	}
	return out, r.pairs
}
