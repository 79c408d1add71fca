package sites

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"strings"

	"github.com/atalaya-project/atalaya/internal/sim"
)

// writeZMap draws a gas's combined z over a scenario's area, one pixel per
// cell scaled 4×: blue below zero, red above, saturating at ±6; the
// sources as green crosses, the grid's detections of that gas as white
// boxes.
func writeZMap(path string, g *Grid, gas string, s *sim.Scenario, res *GridResult) error {
	ctx := context.Background()
	cell := g.cfg.CellM
	i0, j1 := g.CellAt(s.Area.EastingM, s.Area.NorthingM)
	w, h := int(math.Ceil(s.Area.WidthM/cell)), int(math.Ceil(s.Area.HeightM/cell))
	const k = 4
	img := image.NewRGBA(image.Rect(0, 0, w*k, h*k))
	for r := range h {
		for c := range w {
			ev, ok, err := g.Evidence(ctx, gas, i0+int64(c), j1-int64(r))
			if err != nil {
				return err
			}
			col := color.RGBA{40, 40, 40, 255}
			if ok && !math.IsNaN(ev.Z) {
				v := math.Max(-1, math.Min(1, ev.Z/6))
				if v >= 0 {
					col = color.RGBA{uint8(255 * v), 0, 0, 255}
				} else {
					col = color.RGBA{0, 0, uint8(-255 * v), 255}
				}
			}
			for y := range k {
				for x := range k {
					img.Set(c*k+x, r*k+y, col)
				}
			}
		}
	}
	for _, so := range s.Sources {
		cx, cy := int(so.East/cell*k), int(-so.North/cell*k)
		for d := -6; d <= 6; d++ {
			img.Set(cx+d, cy, color.RGBA{0, 255, 0, 255})
			img.Set(cx, cy+d, color.RGBA{0, 255, 0, 255})
		}
	}
	for _, d := range res.Detections {
		if d.Gas != gas {
			continue
		}
		for _, ij := range d.CellsIJ {
			c, r := int(ij[0]-i0), int(j1-ij[1])
			for x := range k {
				img.Set(c*k+x, r*k, color.White)
				img.Set(c*k+x, r*k+k-1, color.White)
				img.Set(c*k, r*k+x, color.White)
				img.Set(c*k+k-1, r*k+x, color.White)
			}
		}
	}
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

// svgLines draws series against n as a small SVG line chart.
func svgLines(title, ylabel string, xs []float64, series map[string][]float64, order []string) string {
	const W, H, L, B, T, R = 560.0, 320.0, 50.0, 40.0, 30.0, 150.0
	ymin, ymax := 0.0, 1.0
	for _, ys := range series {
		for _, y := range ys {
			if !math.IsNaN(y) {
				ymin, ymax = math.Min(ymin, y), math.Max(ymax, y)
			}
		}
	}
	ymax = math.Ceil(ymax + 0.5)
	ymin = math.Floor(ymin)
	xmax := xs[len(xs)-1]
	px := func(x float64) float64 { return L + (x-1)/(xmax-1)*(W-L-R) }
	py := func(y float64) float64 { return H - B - (y-ymin)/(ymax-ymin)*(H-B-T) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" font-family="sans-serif" font-size="11">`+"\n", W, H)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="%g" y="18" font-size="13">%s</text>`+"\n", L, title)
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="black"/><line x1="%g" y1="%g" x2="%g" y2="%g" stroke="black"/>`+"\n", L, H-B, W-R, H-B, L, T, L, H-B)
	step := math.Max(1, math.Pow(10, math.Floor(math.Log10((ymax-ymin)/4))))
	for y := ymin; y <= ymax; y += step {
		fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="end">%g</text><line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#ddd"/>`+"\n", L-5, py(y)+4, y, L, py(y), W-R, py(y))
	}
	for _, x := range xs {
		fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">%g</text>`+"\n", px(x), H-B+15, x)
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">passes n</text><text x="12" y="%g" transform="rotate(-90 12 %g)" text-anchor="middle">%s</text>`+"\n", (L+W-R)/2, H-8, (T+H-B)/2, (T+H-B)/2, ylabel)
	colors := []string{"#d62728", "#1f77b4", "#2ca02c", "#7f7f7f", "#9467bd"}
	for k, name := range order {
		ys := series[name]
		var pts []string
		for i, y := range ys {
			if !math.IsNaN(y) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(xs[i]), py(y)))
			}
		}
		c := colors[k%len(colors)]
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", c, strings.Join(pts, " "))
		fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="2"/><text x="%g" y="%g">%s</text>`+"\n", W-R+10, T+10+float64(k)*16, W-R+28, T+10+float64(k)*16, c, W-R+32, T+14+float64(k)*16, name)
	}
	b.WriteString("</svg>\n")
	return b.String()
}
