package eval

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"strconv"
)

// A small SVG plotter: axes (linear or log10), lines, points, bars and a
// legend. Plots are written by hand rather than with a plotting library:
// five kinds of figure do not justify a dependency, and SVG diffs in review.

type series struct {
	name   string
	color  string
	xs, ys []float64
	line   bool
	points bool
	dash   bool
}

type figure struct {
	title, xlabel, ylabel string
	xlog, ylog            bool
	xmin, xmax            float64
	ymin, ymax            float64
	series                []series
	bars                  []bar    // histogram
	notes                 []string // lines of text under the legend
	// legendBottomRight puts the legend in the lower right corner, where
	// rising curves leave room (default: upper left).
	legendBottomRight bool
}

type bar struct{ x0, x1, y float64 }

const (
	svgW, svgH = 640, 420
	padL, padR = 70, 20
	padT, padB = 40, 55
)

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"}

func (f *figure) tx(x float64) float64 {
	a, b, v := f.xmin, f.xmax, x
	if f.xlog {
		a, b, v = math.Log10(a), math.Log10(b), math.Log10(x)
	}
	return padL + (v-a)/(b-a)*(svgW-padL-padR)
}

func (f *figure) ty(y float64) float64 {
	a, b, v := f.ymin, f.ymax, y
	if f.ylog {
		a, b, v = math.Log10(a), math.Log10(b), math.Log10(y)
	}
	return svgH - padB - (v-a)/(b-a)*(svgH-padT-padB)
}

func ticks(lo, hi float64, log bool) []float64 {
	var out []float64
	if log {
		for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
			v := math.Pow(10, e)
			if v >= lo*(1-1e-9) && v <= hi*(1+1e-9) {
				out = append(out, v)
			}
		}
		return out
	}
	span := hi - lo
	step := math.Pow(10, math.Floor(math.Log10(span/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		if span/(step*m) <= 6 {
			step *= m
			break
		}
	}
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		out = append(out, v)
	}
	return out
}

func label(v float64) string {
	if v != 0 && (math.Abs(v) < 1e-3 || math.Abs(v) >= 1e5) {
		return strconv.FormatFloat(v, 'g', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

func (f *figure) ok(x, y float64) bool {
	if math.IsNaN(x) || math.IsNaN(y) || math.IsInf(x, 0) || math.IsInf(y, 0) {
		return false
	}
	if (f.xlog && x <= 0) || (f.ylog && y <= 0) {
		return false
	}
	return x >= f.xmin && x <= f.xmax && y >= f.ymin && y <= f.ymax
}

func (f *figure) svg() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", svgW, svgH, svgW, svgH)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", svgW, svgH)
	fmt.Fprintf(&b, `<text x="%d" y="22" text-anchor="middle" font-size="14">%s</text>`+"\n", svgW/2, html.EscapeString(f.title))
	x0, x1 := f.tx(f.xmin), f.tx(f.xmax)
	y0, y1 := f.ty(f.ymin), f.ty(f.ymax)
	for _, t := range ticks(f.xmin, f.xmax, f.xlog) {
		x := f.tx(t)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x, y0, x, y1)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x, y0+16, label(t))
	}
	for _, t := range ticks(f.ymin, f.ymax, f.ylog) {
		y := f.ty(t)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x0, y, x1, y)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", x0-5, y+4, label(t))
	}
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="black"/>`+"\n", x0, y1, x1-x0, y0-y1)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", (x0+x1)/2, svgH-15, html.EscapeString(f.xlabel))
	fmt.Fprintf(&b, `<text x="18" y="%.1f" text-anchor="middle" transform="rotate(-90 18 %.1f)">%s</text>`+"\n", (y0+y1)/2, (y0+y1)/2, html.EscapeString(f.ylabel))
	for _, br := range f.bars {
		if br.y <= 0 {
			continue
		}
		xa, xb := f.tx(math.Max(br.x0, f.xmin)), f.tx(math.Min(br.x1, f.xmax))
		yt := f.ty(math.Min(br.y, f.ymax))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" stroke="white"/>`+"\n", xa, yt, xb-xa, y0-yt, palette[0])
	}
	for i, s := range f.series {
		c := s.color
		if c == "" {
			c = palette[i%len(palette)]
		}
		if s.line {
			var pts bytes.Buffer
			for j := range s.xs {
				if f.ok(s.xs[j], s.ys[j]) {
					fmt.Fprintf(&pts, "%.1f,%.1f ", f.tx(s.xs[j]), f.ty(s.ys[j]))
				}
			}
			dash := ""
			if s.dash {
				dash = ` stroke-dasharray="6 4"`
			}
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", pts.String(), c, dash)
		}
		if s.points {
			r := 3.0
			if len(s.xs) > 500 {
				r = 1.2
			}
			for j := range s.xs {
				if f.ok(s.xs[j], s.ys[j]) {
					fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="%.1f" fill="%s" fill-opacity="0.6"/>`+"\n", f.tx(s.xs[j]), f.ty(s.ys[j]), r, c)
				}
			}
		}
	}
	lines := len(f.notes)
	for _, s := range f.series {
		if s.name != "" {
			lines++
		}
	}
	lx, ly := x0+10, y1+16
	if f.legendBottomRight {
		lx, ly = x1-340, y0-10-16*float64(lines-1)
	}
	if lines > 0 {
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="336" height="%d" fill="white" fill-opacity="0.85"/>`+"\n", lx-4, ly-13, 16*lines+2)
	}
	for i, s := range f.series {
		if s.name == "" {
			continue
		}
		c := s.color
		if c == "" {
			c = palette[i%len(palette)]
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="12" height="4" fill="%s"/>`+"\n", lx, ly-6, c)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", lx+18, ly, html.EscapeString(s.name))
		ly += 16
	}
	for _, n := range f.notes {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#444">%s</text>`+"\n", lx, ly, html.EscapeString(n))
		ly += 16
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

func (f *figure) write(path string) error {
	return os.WriteFile(path, f.svg(), 0o644)
}

// writePlots draws the report's figures into dir and records their names.
func (r *Report) writePlots(dir string) error {
	r.Plots = map[string]string{}
	put := func(key, name string, f *figure) error {
		if err := f.write(filepath.Join(dir, name)); err != nil {
			return err
		}
		r.Plots[key] = name
		return nil
	}
	if len(r.DetectionROC) > 0 {
		f := &figure{title: "Detection ROC: sources detected vs false alarms", xlabel: "false alarms per km² (measured)",
			ylabel: "probability of detection (source-passes)", xlog: true, xmin: 1e-2, xmax: 1e4, ymin: 0, ymax: 1.02, legendBottomRight: true}
		var xs, ys, nx, ny []float64
		for _, p := range r.DetectionROC {
			x := math.Max(p.FARPerKm2, 1.5e-2) // zero false alarms drawn at the left edge
			xs = append(xs, x)
			ys = append(ys, float64(p.Pd))
			nx = append(nx, p.NominalFARPerKm2)
			ny = append(ny, float64(p.Pd))
		}
		f.series = append(f.series, series{name: "Pd vs measured false alarms/km²", xs: xs, ys: ys, line: true, points: true},
			series{name: "Pd vs requested false alarms/km²", xs: nx, ys: ny, line: true, dash: true})
		f.notes = append(f.notes, fmt.Sprintf("at %.3g/km² requested: %.3g/km² measured, Pd %.2f",
			r.Summary.FARPerKm2, r.Summary.FalseAlarmsPerKm2, float64(r.Summary.Pd)))
		if err := put("detection_roc", "roc-detection.svg", f); err != nil {
			return err
		}
	}
	if len(r.PixelROC) > 0 {
		f := &figure{title: "Pixel ROC of the matched-filter z-score", xlabel: "false-positive rate (gas-free pixels)",
			ylabel: "true-positive rate", xlog: true, xmin: 1e-7, xmax: 1, ymin: 0, ymax: 1.02, legendBottomRight: true}
		for _, p := range r.PixelROC {
			var xs, ys []float64
			for _, c := range p.Curve {
				xs = append(xs, c[0])
				ys = append(ys, c[1])
			}
			f.series = append(f.series, series{name: fmt.Sprintf("true column ≥ %gσ: AUC %.4f (%d px)", p.K, float64(p.AUC), p.Positives), xs: xs, ys: ys, line: true})
		}
		if err := put("pixel_roc", "roc-pixel.svg", f); err != nil {
			return err
		}
	}
	if len(r.RetrievalScatter) > 0 {
		var xs, ys []float64
		hi := 100.0
		for _, p := range r.RetrievalScatter {
			xs = append(xs, float64(p[0]))
			ys = append(ys, float64(p[1]))
			hi = math.Max(hi, float64(p[0]))
		}
		hi = math.Pow(10, math.Ceil(math.Log10(hi*1.2)))
		f := &figure{title: "Retrieved vs true column (pixels with true SNR ≥ 1, a sample)", xlabel: "true ppm·m",
			ylabel: "retrieved ppm·m (≤ 0 not drawn)", xlog: true, ylog: true, xmin: 10, xmax: hi, ymin: 10, ymax: hi}
		f.series = append(f.series, series{name: "pixels", xs: xs, ys: ys, points: true},
			series{name: "1:1", xs: []float64{10, hi}, ys: []float64{10, hi}, line: true, dash: true, color: "#000"})
		for _, s := range r.Retrieval {
			if s.Gas == "all" {
				f.notes = append(f.notes, fmt.Sprintf("SNR ≥ %g: bias %+.1f%%, RMSE %.1f%% (%d px)", s.MinSNR, 100*float64(s.RelBias), 100*float64(s.RelRMSE), s.Pixels))
			}
		}
		if err := put("retrieval", "retrieval.svg", f); err != nil {
			return err
		}
	}
	if len(r.Rates) > 0 {
		f := &figure{title: "Emission rate: estimated vs true", xlabel: "true kg/h", ylabel: "estimated kg/h",
			xlog: true, ylog: true, xmin: 0.05, xmax: 100, ymin: 0.05, ymax: 100}
		var xs, ys []float64
		for _, p := range r.Rates {
			xs = append(xs, p.TrueKgH)
			ys = append(ys, p.EstKgH)
		}
		f.series = append(f.series, series{name: "detected source, gas, pass", xs: xs, ys: ys, points: true},
			series{name: "1:1", xs: []float64{0.05, 100}, ys: []float64{0.05, 100}, line: true, dash: true, color: "#000"})
		f.notes = append(f.notes, fmt.Sprintf("median error %+.0f%%, median |error| %.0f%%, within 1σ %.0f%% (n %d)",
			100*r.RateSummary.Median, 100*r.RateSummary.MedianAbs, 100*r.RateSummary.Within1Sigma, r.RateSummary.N))
		if err := put("rates", "rates.svg", f); err != nil {
			return err
		}
	}
	if len(r.Localisation) > 0 {
		hi := 5.0
		for _, l := range r.Localisation {
			hi = math.Max(hi, l.ErrorM)
		}
		hi = math.Ceil(hi/5) * 5
		width := hi / 20
		counts := make([]float64, 20)
		for _, l := range r.Localisation {
			counts[min(19, int(l.ErrorM/width))]++
		}
		f := &figure{title: "Localisation error of detected sources", xlabel: "origin estimate to true source, m",
			ylabel: "source-passes", xmin: 0, xmax: hi, ymin: 0}
		for i, c := range counts {
			f.bars = append(f.bars, bar{float64(i) * width, float64(i+1) * width, c})
			f.ymax = math.Max(f.ymax, c)
		}
		f.ymax = math.Ceil(f.ymax*1.15) + 1
		f.notes = append(f.notes, fmt.Sprintf("median %.1f m, 90th percentile %.1f m (n %d)", r.LocSummary.MedianAbs, r.LocSummary.P90Abs, r.LocSummary.N))
		if err := put("localisation", "localisation.svg", f); err != nil {
			return err
		}
	}
	for _, m := range r.MDL {
		f := &figure{title: fmt.Sprintf("Pd vs emission rate: %s, %g m/s, class %s", m.Gas, m.Weather.WindSpeed, m.Weather.Stability),
			xlabel: "emission rate, kg/h", ylabel: "probability of detection", xlog: true,
			xmin: m.RatesKgH[0], xmax: m.RatesKgH[len(m.RatesKgH)-1], ymin: 0, ymax: 1.02, legendBottomRight: true}
		for i, c := range m.Curves {
			var ys []float64
			for _, p := range c.Pd {
				ys = append(ys, float64(p))
			}
			col := palette[i%len(palette)]
			f.series = append(f.series, series{name: fmt.Sprintf("%s: MDL50 %s, MDL90 %s kg/h", c.Label, fmtF(c.MDL50KgH), fmtF(c.MDL90KgH)),
				color: col, xs: m.RatesKgH, ys: ys, points: true})
			dash := i == 0 // the granule's single pass lies under the one-pass combination
			if !math.IsNaN(float64(c.Mu)) {
				var fx, fy []float64
				for k := 0; k <= 100; k++ {
					q := m.RatesKgH[0] * math.Pow(m.RatesKgH[len(m.RatesKgH)-1]/m.RatesKgH[0], float64(k)/100)
					fx = append(fx, q)
					fy = append(fy, 0.5*math.Erfc(-(math.Log(q)-float64(c.Mu))/(float64(c.S)*math.Sqrt2)))
				}
				f.series = append(f.series, series{color: col, xs: fx, ys: fy, line: true, dash: dash})
			}
		}
		if err := put("mdl_"+m.Gas, "pd-vs-rate-"+m.Gas+".svg", f); err != nil {
			return err
		}
	}
	return nil
}

func fmtF(v F) string {
	if math.IsNaN(float64(v)) {
		return "n/a"
	}
	return strconv.FormatFloat(float64(v), 'g', 3, 64)
}
