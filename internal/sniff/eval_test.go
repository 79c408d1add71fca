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
)

var reportDir = flag.String("sniff.report", "", "run the evaluation and write its table and plots to this folder (docs/sniff)")

type evalRow struct {
	wind                 float64
	class                string
	errs, ratios, pNone  []float64
	crossings, inside, n int
	secs                 []float64
}

// TestEvaluationReport runs the evaluation of docs/source-estimation.md:
// winds 1.5, 3 and 6 m/s × classes B, D, F × eight seeds with a 5 kg/h
// source, and two clean-air flights of each. Only with -sniff.report:
//
//	go test ./internal/sniff -run EvaluationReport -sniff.report ../../docs/sniff -timeout 30m -v
func TestEvaluationReport(t *testing.T) {
	if *reportDir == "" {
		t.Skip("set -sniff.report to run the evaluation")
	}
	const seeds = 8
	var rows []*evalRow
	for _, class := range []string{"B", "D", "F"} {
		for _, wind := range []float64{1.5, 3, 6} {
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
			}
			for seed := uint64(101); seed <= 102; seed++ {
				_, post, _ := run(t, evalCase{WindMS: wind, Class: class, Seed: seed}, Options{})
				r.pNone = append(r.pNone, post.ProbSource)
			}
			t.Logf("%s %.1f m/s: median error %.1f m, p90 %.1f m, Q ratio %.2f, in 95%% %d/%d, clean-air P %.2f",
				class, wind, quantile(r.errs, 0.5), quantile(r.errs, 0.9), quantile(r.ratios, 0.5), r.inside, r.n, quantile(r.pNone, 1))
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

func quantile(v []float64, q float64) float64 {
	c := append([]float64(nil), v...)
	sort.Float64s(c)
	return quantileSorted(c, q)
}

func writeTable(path string, rows []*evalRow) error {
	var b strings.Builder
	b.WriteString("| class | wind (m/s) | runs | crossings/run | median error (m) | p90 error (m) | Q/Q_true median | Q/Q_true p10–p90 | truth in 95 % set | P(source), clean air (max of 2) | s/run |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	var all, allQ []float64
	for _, r := range rows {
		all = append(all, r.errs...)
		allQ = append(allQ, r.ratios...)
		fmt.Fprintf(&b, "| %s | %.1f | %d | %.1f | %.1f | %.1f | %.2f | %.2f–%.2f | %d/%d | %.2f | %.1f |\n",
			r.class, r.wind, r.n, float64(r.crossings)/float64(r.n), quantile(r.errs, 0.5), quantile(r.errs, 0.9),
			quantile(r.ratios, 0.5), quantile(r.ratios, 0.1), quantile(r.ratios, 0.9), r.inside, r.n, quantile(r.pNone, 1), quantile(r.secs, 0.5))
	}
	fmt.Fprintf(&b, "| all | | %d | | %.1f | %.1f | %.2f | %.2f–%.2f | | | |\n", len(all), quantile(all, 0.5), quantile(all, 0.9),
		quantile(allQ, 0.5), quantile(allQ, 0.1), quantile(allQ, 0.9))
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
	colours := map[string]string{"B": "#d95f02", "D": "#1b9e77", "F": "#7570b3"}
	for i, class := range []string{"B", "D", "F"} {
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
	fmt.Fprintf(&b, `<text x="%d" y="%d">— median</text><text x="%d" y="%d">- - 90th pct.</text>`+"\n", w-r+10, top+90, w-r+10, top+106)
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
