package sniff

import (
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/stat/distuv"
)

var (
	reportDir   = flag.String("sniff.report", "", "run the evaluation and write its table and plots to this folder (docs/sniff)")
	reportSeeds = flag.Int("sniff.report.seeds", 8, "flights with a source per class and wind in the evaluation")
	reportClean = flag.Int("sniff.report.clean", 4, "clean-air flights per class and wind in the evaluation")
)

type evalRow struct {
	wind                 float64
	class                string
	errs, ratios         []float64
	pNone, bfNone, qNone []float64
	crossings, inside, n int
	claims               int // clean-air flights that claimed a source
	secs                 []float64
}

// evalClasses and evalWinds span the evaluation.
var (
	evalClasses = []string{"A", "B", "C", "D", "E", "F"}
	evalWinds   = []float64{1.5, 3, 6}
)

// TestEvaluationReport runs the evaluation of docs/source-estimation.md:
// winds 1.5, 3 and 6 m/s × classes A-F × -sniff.report.seeds seeds with a
// 5 kg/h source, and -sniff.report.clean clean-air flights of each. Only
// with -sniff.report:
//
//	go test ./internal/sniff -run EvaluationReport -sniff.report ../../docs/sniff -timeout 60m -v
func TestEvaluationReport(t *testing.T) {
	if *reportDir == "" {
		t.Skip("set -sniff.report to run the evaluation")
	}
	seeds := uint64(*reportSeeds)
	var rows []*evalRow
	for _, class := range evalClasses {
		for _, wind := range evalWinds {
			r := &evalRow{wind: wind, class: class}
			for seed := uint64(1); seed <= seeds; seed++ {
				t0 := time.Now()
				p, post, truth := run(t, evalCase{WindMS: wind, Class: class, Seed: seed, RateKgH: 5}, Options{})
				r.secs = append(r.secs, time.Since(t0).Seconds())
				r.errs = append(r.errs, math.Hypot(post.Mean.East-truth.East, post.Mean.North-truth.North))
				r.ratios = append(r.ratios, post.RateKgH/truth.RateKgH)
				r.crossings += len(p.Crossings)
				if post.InHPD(Point{truth.East, truth.North}) {
					r.inside++
				}
				r.n++
				if class == "D" && wind == 3 && seed == 1 {
					if err := posteriorPNG(filepath.Join(*reportDir, "posterior-D3.png"), p, post, truth); err != nil {
						t.Fatal(err)
					}
				}
				if class == "F" && wind == 3 && seed == 1 {
					if err := posteriorPNG(filepath.Join(*reportDir, "posterior-F3.png"), p, post, truth); err != nil {
						t.Fatal(err)
					}
				}
			}
			for seed := uint64(101); seed < 101+uint64(*reportClean); seed++ {
				_, post, _ := run(t, evalCase{WindMS: wind, Class: class, Seed: seed}, Options{})
				r.pNone = append(r.pNone, post.ProbSource)
				r.bfNone = append(r.bfNone, post.LogBayesFactor)
				r.qNone = append(r.qNone, post.RateHiKgH)
				if post.Claim {
					r.claims++
				}
			}
			t.Logf("%s %.1f m/s: median error %.1f m, p90 %.1f m, Q ratio %.2f, in 95%% %d/%d, clean-air P max %.2f, ln BF max %.2f, claims %d/%d",
				class, wind, quantile(r.errs, 0.5), quantile(r.errs, 0.9), quantile(r.ratios, 0.5), r.inside, r.n,
				quantile(r.pNone, 1), quantile(r.bfNone, 1), r.claims, len(r.bfNone))
			rows = append(rows, r)
		}
	}
	if err := writeTable(filepath.Join(*reportDir, "evaluation.md"), rows); err != nil {
		t.Fatal(err)
	}
	if err := errorSVG(filepath.Join(*reportDir, "error-vs-wind.svg"), rows); err != nil {
		t.Fatal(err)
	}
}

// clopperPearson is the exact (Clopper & Pearson 1934, Biometrika 26) 95 %
// interval of a binomial proportion, k successes in n.
func clopperPearson(k, n int) (lo, hi float64) {
	lo, hi = 0, 1
	if k > 0 {
		lo = distuv.Beta{Alpha: float64(k), Beta: float64(n - k + 1)}.Quantile(0.025)
	}
	if k < n {
		hi = distuv.Beta{Alpha: float64(k + 1), Beta: float64(n - k)}.Quantile(0.975)
	}
	return lo, hi
}

func quantile(v []float64, q float64) float64 {
	c := append([]float64(nil), v...)
	sort.Float64s(c)
	return quantileSorted(c, q)
}

func writeTable(path string, rows []*evalRow) error {
	var b strings.Builder
	b.WriteString("| class | wind (m/s) | runs | crossings/run | median error (m) | p90 error (m) | Q/Q_true median | Q/Q_true p10–p90 | truth in 95 % set | s/run |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	var all, allQ []float64
	for _, r := range rows {
		all = append(all, r.errs...)
		allQ = append(allQ, r.ratios...)
		fmt.Fprintf(&b, "| %s | %.1f | %d | %.1f | %.1f | %.1f | %.2f | %.2f–%.2f | %d/%d | %.1f |\n",
			r.class, r.wind, r.n, float64(r.crossings)/float64(r.n), quantile(r.errs, 0.5), quantile(r.errs, 0.9),
			quantile(r.ratios, 0.5), quantile(r.ratios, 0.1), quantile(r.ratios, 0.9), r.inside, r.n, quantile(r.secs, 0.5))
	}
	fmt.Fprintf(&b, "| all | | %d | | %.1f | %.1f | %.2f | %.2f–%.2f | | |\n", len(all), quantile(all, 0.5), quantile(all, 0.9),
		quantile(allQ, 0.5), quantile(allQ, 0.1), quantile(allQ, 0.9))

	b.WriteString("\nPer class (all winds): coverage of the 95 % set with its exact 95 % binomial interval; clean air: flights, the largest P(source) and ln BF, the median 97.5 % rate bound, and flights that claimed a source (ln BF > 3, Options.ClaimLogBF).\n\n")
	b.WriteString("| class | runs | median error (m) | p90 error (m) | Q/Q_true median | truth in 95 % set | coverage (95 % CI) | clean-air flights | P(source) max | ln BF max | rate bound median (kg/h) | false claims |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	var totIn, totN, totClaims, totClean int
	for _, class := range evalClasses {
		var errs, ratios, pn, bf, qn []float64
		var in, n, claims int
		for _, r := range rows {
			if r.class != class {
				continue
			}
			errs = append(errs, r.errs...)
			ratios = append(ratios, r.ratios...)
			pn = append(pn, r.pNone...)
			bf = append(bf, r.bfNone...)
			qn = append(qn, r.qNone...)
			in += r.inside
			n += r.n
			claims += r.claims
		}
		if n == 0 {
			continue
		}
		totIn, totN, totClaims, totClean = totIn+in, totN+n, totClaims+claims, totClean+len(bf)
		lo, hi := clopperPearson(in, n)
		fmt.Fprintf(&b, "| %s | %d | %.1f | %.1f | %.2f | %d/%d | %.0f %% (%.0f–%.0f %%) | %d | %.2f | %.2f | %.0f | %d/%d |\n",
			class, n, quantile(errs, 0.5), quantile(errs, 0.9), quantile(ratios, 0.5), in, n,
			100*float64(in)/float64(n), 100*lo, 100*hi, len(bf), quantile(pn, 1), quantile(bf, 1), quantile(qn, 0.5), claims, len(bf))
	}
	lo, hi := clopperPearson(totIn, totN)
	fmt.Fprintf(&b, "| all | %d | | | | %d/%d | %.0f %% (%.0f–%.0f %%) | %d | | | | %d/%d |\n",
		totN, totIn, totN, 100*float64(totIn)/float64(totN), 100*lo, 100*hi, totClean, totClaims, totClean)
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// errorSVG plots the median (solid) and 90th percentile (dashed)
// localisation error against wind speed, one colour per class.
func errorSVG(path string, rows []*evalRow) error {
	const w, h, l, r, top, bot = 560, 360, 60, 110, 20, 50
	ymax := 10.0
	for _, row := range rows {
		ymax = math.Max(ymax, quantile(row.errs, 0.9))
	}
	ymax = math.Ceil(ymax/10) * 10
	xs := func(v float64) float64 { return l + (v-1)/(6.5-1)*(w-l-r) }
	ys := func(v float64) float64 { return h - bot - v/ymax*(h-top-bot) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/><line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n",
		l, h-bot, w-r, h-bot, l, top, l, h-bot)
	for v := 0.0; v <= ymax; v += ymax / 5 {
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%.0f</text><line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n",
			l-6, ys(v)+4, v, l, w-r, ys(v), ys(v))
	}
	for _, v := range []float64{1.5, 3, 6} {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%.1f</text>`+"\n", xs(v), h-bot+16, v)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">wind speed (m/s)</text>`+"\n", (l+w-r)/2, h-12)
	fmt.Fprintf(&b, `<text transform="translate(16 %d) rotate(-90)" text-anchor="middle">localisation error (m)</text>`+"\n", (top+h-bot)/2)
	colours := map[string]string{"A": "#e7298a", "B": "#d95f02", "C": "#e6ab02", "D": "#1b9e77", "E": "#66a61e", "F": "#7570b3"}
	for i, class := range evalClasses {
		var med, p90 []string
		for _, row := range rows {
			if row.class == class {
				med = append(med, fmt.Sprintf("%.1f,%.1f", xs(row.wind), ys(quantile(row.errs, 0.5))))
				p90 = append(p90, fmt.Sprintf("%.1f,%.1f", xs(row.wind), ys(quantile(row.errs, 0.9))))
			}
		}
		c := colours[class]
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(med, " "), c)
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.5" stroke-dasharray="5 4"/>`+"\n", strings.Join(p90, " "), c)
		y := top + 20 + 20*i
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"/><text x="%d" y="%d">class %s</text>`+"\n",
			w-r+10, w-r+35, y, y, c, w-r+40, y+4, class)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d">— median</text><text x="%d" y="%d">- - 90th pct.</text>`+"\n", w-r+10, top+150, w-r+10, top+166)
	b.WriteString("</svg>\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// posteriorPNG draws the posterior density (log scale, white to dark red,
// over four decades below the mode), the 95 % region (blue), the track
// (grey, black where a crossing was found) and the true source (green).
func posteriorPNG(path string, p *Processed, post *Posterior, truth evalTruth) error {
	// Frame: the fine cells and the truth, padded.
	minE, minN, maxE, maxN := truth.East, truth.North, truth.East, truth.North
	for _, c := range post.Cells {
		if c.Prob > 1e-6 {
			minE, maxE = math.Min(minE, c.East-c.Size), math.Max(maxE, c.East+c.Size)
			minN, maxN = math.Min(minN, c.North-c.Size), math.Max(maxN, c.North+c.Size)
		}
	}
	s := p.Series
	for _, q := range s.Samples {
		minE, maxE = math.Min(minE, q.East), math.Max(maxE, q.East)
		minN, maxN = math.Min(minN, q.North), math.Max(maxN, q.North)
	}
	const px = 2.0 // pixels per metre
	pad := 10.0
	minE, minN, maxE, maxN = minE-pad, minN-pad, maxE+pad, maxN+pad
	W, H := int((maxE-minE)*px), int((maxN-minN)*px)
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	at := func(e, n float64) (int, int) { return int((e - minE) * px), int((maxN - n) * px) }
	var top float64
	for _, c := range post.Cells {
		top = math.Max(top, c.Prob/(c.Size*c.Size))
	}
	for _, c := range post.Cells {
		d := c.Prob / (c.Size * c.Size) / top
		if d < 1e-4 {
			continue
		}
		v := 1 + math.Log10(d)/4 // 0 at 10⁻⁴, 1 at the mode
		col := color.RGBA{255, uint8(255 * (1 - v)), uint8(255 * (1 - v)), 255}
		col.R = uint8(255 - 100*v)
		x0, y0 := at(c.East-c.Size/2, c.North+c.Size/2)
		x1, y1 := at(c.East+c.Size/2, c.North-c.Size/2)
		for y := max(y0, 0); y < min(y1, H); y++ {
			for x := max(x0, 0); x < min(x1, W); x++ {
				img.Set(x, y, col)
			}
		}
	}
	dot := func(e, n float64, r int, col color.Color) {
		x, y := at(e, n)
		for dy := -r; dy <= r; dy++ {
			for dx := -r; dx <= r; dx++ {
				if dx*dx+dy*dy <= r*r {
					img.Set(x+dx, y+dy, col)
				}
			}
		}
	}
	for k, q := range s.Samples {
		col := color.RGBA{150, 150, 150, 255}
		for _, c := range p.Crossings {
			if q.T >= c.Start && q.T <= c.End {
				col = color.RGBA{0, 0, 0, 255}
			}
		}
		_ = k
		dot(q.East, q.North, 1, col)
	}
	reg := post.Region
	for i := range reg {
		a, b := reg[i], reg[(i+1)%len(reg)]
		n := int(math.Hypot(b.East-a.East, b.North-a.North)*px*2) + 1
		for k := 0; k <= n; k++ {
			f := float64(k) / float64(n)
			dot(a.East+f*(b.East-a.East), a.North+f*(b.North-a.North), 0, color.RGBA{0, 70, 200, 255})
		}
	}
	dot(truth.East, truth.North, 4, color.RGBA{0, 160, 0, 255})
	dot(post.Mean.East, post.Mean.North, 2, color.RGBA{0, 70, 200, 255})
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
