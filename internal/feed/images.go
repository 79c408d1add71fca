package feed

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"slices"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/planar"

	"github.com/atalaya-project/atalaya/internal/store"
)

// PlumeImageSize is the side of a plume image, pixels.
const PlumeImageSize = 256

// PlumePNG draws one pass's detections around a site as a PNG, north up,
// on a local equirectangular projection centred on the site: each
// detection's plume outline (OutlineJSON: a GeoJSON Polygon or
// MultiPolygon) filled with a colour from yellow to red by its peak ppm·m
// (relative to the strongest), its position as a dot, the site as a cross
// with its 1σ circle, and a 50 m scale bar (bottom left). It returns the
// PNG and the width it shows, in metres.
func PlumePNG(lat, lon, uncertaintyM float64, ds []store.Detection) ([]byte, float64, error) {
	const mPerDegLat = math.Pi / 180 * store.EarthRadiusM
	mPerDegLon := mPerDegLat * math.Cos(lat*math.Pi/180)
	toXY := func(p orb.Point) (float64, float64) { return (p[0] - lon) * mPerDegLon, (p[1] - lat) * mPerDegLat }
	type shape struct {
		mp   orb.MultiPolygon
		peak float64
		x, y float64
	}
	half := math.Max(60, 3*uncertaintyM)
	var shapes []shape
	maxPeak := 0.0
	for _, d := range ds {
		sh := shape{peak: d.PeakPPMM}
		sh.x, sh.y = toXY(orb.Point{d.Lon, d.Lat})
		half = math.Max(half, 1.2*math.Max(math.Abs(sh.x), math.Abs(sh.y)))
		if d.OutlineJSON != "" {
			g, err := geojson.UnmarshalGeometry([]byte(d.OutlineJSON))
			if err == nil {
				switch geom := g.Geometry().(type) {
				case orb.Polygon:
					sh.mp = orb.MultiPolygon{geom}
				case orb.MultiPolygon:
					sh.mp = geom
				}
			}
		}
		// Project the outline to metres.
		for _, poly := range sh.mp {
			for _, ring := range poly {
				for k, p := range ring {
					x, y := toXY(p)
					ring[k] = orb.Point{x, y}
					half = math.Max(half, 1.1*math.Max(math.Abs(x), math.Abs(y)))
				}
			}
		}
		maxPeak = math.Max(maxPeak, d.PeakPPMM)
		shapes = append(shapes, sh)
	}
	half = math.Min(half, 5000) // a plume is not kilometres across
	const n = PlumeImageSize
	scale := float64(n) / (2 * half) // px per metre
	img := image.NewRGBA(image.Rect(0, 0, n, n))
	for i := range img.Pix {
		img.Pix[i] = 255 // white, opaque
	}
	px := func(x, y float64) (int, int) {
		return int(math.Round(float64(n)/2 + x*scale)), int(math.Round(float64(n)/2 - y*scale))
	}
	// Weakest first, so the strongest is on top.
	slices.SortFunc(shapes, func(a, b shape) int { return cmpFloat(a.peak, b.peak) })
	for _, sh := range shapes {
		f := 1.0
		if maxPeak > 0 {
			f = sh.peak / maxPeak
		}
		c := color.RGBA{R: 255, G: uint8(220 * (1 - f)), B: 0, A: 255}
		if len(sh.mp) > 0 {
			b := sh.mp.Bound()
			x0, y1 := px(b.Min[0], b.Min[1])
			x1, y0 := px(b.Max[0], b.Max[1])
			for py := max(0, y0); py <= min(n-1, y1); py++ {
				for pxx := max(0, x0); pxx <= min(n-1, x1); pxx++ {
					x := (float64(pxx) - float64(n)/2) / scale
					y := (float64(n)/2 - float64(py)) / scale
					if planar.MultiPolygonContains(sh.mp, orb.Point{x, y}) {
						img.SetRGBA(pxx, py, c)
					}
				}
			}
		}
		cx, cy := px(sh.x, sh.y)
		for dy := -2; dy <= 2; dy++ {
			for dx := -2; dx <= 2; dx++ {
				if dx*dx+dy*dy <= 4 {
					img.SetRGBA(cx+dx, cy+dy, color.RGBA{R: 120, A: 255})
				}
			}
		}
	}
	// The site: a cross and its 1σ circle.
	blue := color.RGBA{B: 200, A: 255}
	cx, cy := px(0, 0)
	for k := -6; k <= 6; k++ {
		img.SetRGBA(cx+k, cy, blue)
		img.SetRGBA(cx, cy+k, blue)
	}
	if r := uncertaintyM * scale; r >= 2 {
		for a := 0.0; a < 2*math.Pi; a += 1 / r {
			img.SetRGBA(cx+int(math.Round(r*math.Cos(a))), cy+int(math.Round(r*math.Sin(a))), blue)
		}
	}
	// Scale bar: 50 m.
	bar := int(math.Round(50 * scale))
	for k := 0; k <= bar && 8+k < n; k++ {
		for w := 0; w < 3; w++ {
			img.SetRGBA(8+k, n-10+w, color.RGBA{A: 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, 0, fmt.Errorf("plume image: %w", err)
	}
	return b.Bytes(), 2 * half, nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// DetectionImages is the ImagesFunc of the store: one plume image
// (PlumePNG) per pass (granule) that detected the site.
func DetectionImages(st store.SiteReader) ImagesFunc {
	return func(ctx context.Context, siteID string) ([]Image, error) {
		h, err := st.SiteHistory(ctx, siteID)
		if err != nil {
			return nil, err
		}
		return passImages(h.Site, h.Detections)
	}
}

func passImages(s store.Site, ds []store.Detection) ([]Image, error) {
	byGranule := map[string][]store.Detection{}
	var order []string
	for _, d := range ds {
		if _, ok := byGranule[d.GranuleID]; !ok {
			order = append(order, d.GranuleID)
		}
		byGranule[d.GranuleID] = append(byGranule[d.GranuleID], d)
	}
	var out []Image
	for _, g := range order {
		b, _, err := PlumePNG(s.Lat, s.Lon, s.UncertaintyM, byGranule[g])
		if err != nil {
			return nil, err
		}
		out = append(out, Image{Name: "plume-" + g + ".png", PNG: b})
	}
	return out, nil
}
