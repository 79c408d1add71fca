package coverage

import (
	"fmt"
	"math"
	"strings"

	"github.com/paulmach/orb"

	"github.com/atalaya-project/atalaya/internal/cube"
)

// Raster is a pass's footprint as a georeferenced grid of per-pixel 1σ
// emission noise: the ground it imaged (its valid pixels) and how sensitive
// it was there.
type Raster struct {
	Georef        *cube.Georef
	Width, Height int
	// SigmaKgH is the 1σ emission noise of each pixel (kg/h), row-major;
	// NaN, ±Inf or ≤ 0 where the pixel was not imaged or is invalid.
	SigmaKgH []float32
}

// NewRaster turns a georeferenced map of the 1σ column noise (ppm·m), such
// as a granule's ppmm-sigma-<gas> output, into emission noise under plume m.
// The pixel size is the geometric mean of the pixel's two sides.
func NewRaster(g *cube.Georef, width, height int, sigmaPPMm []float32, m Plume) (*Raster, error) {
	if g == nil || width <= 0 || height <= 0 || len(sigmaPPMm) != width*height {
		return nil, fmt.Errorf("%w: raster %d×%d with %d values", ErrInput, width, height, len(sigmaPPMm))
	}
	dx, dy := g.PixelSizeMeters()
	k, err := m.KgHPerPPMm(math.Sqrt(dx * dy))
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(sigmaPPMm))
	for i, s := range sigmaPPMm {
		out[i] = float32(float64(s) * k) // NaN and ≤ 0 stay invalid
	}
	return &Raster{Georef: g, Width: width, Height: height, SigmaKgH: out}, nil
}

// outline returns the raster's edge as a lon/lat polygon, every edge cut
// into pieces of at most 64 pixels so that grid-straight edges are followed.
func (r *Raster) outline() orb.Polygon {
	var ring orb.Ring
	w, h := float64(r.Width), float64(r.Height)
	corners := [][2]float64{{0, 0}, {w, 0}, {w, h}, {0, h}}
	for k, a := range corners {
		b := corners[(k+1)%4]
		n := max(1, int(math.Ceil(math.Max(math.Abs(b[0]-a[0]), math.Abs(b[1]-a[1]))/64)))
		for q := range n {
			t := float64(q) / float64(n)
			lat, lon := r.Georef.LatLon(a[0]+t*(b[0]-a[0]), a[1]+t*(b[1]-a[1]))
			ring = append(ring, orb.Point{lon, lat})
		}
	}
	return orb.Polygon{append(ring, ring[0])}
}

// pixel returns the continuous pixel coordinates of a direction.
func (r *Raster) pixel(v interface{ lonLat() (float64, float64) }) (x, y float64) {
	lon, lat := v.lonLat()
	mi := r.Georef.MapInfo
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(mi.Projection)), "geographic") {
		return r.Georef.Pixel(lon, lat)
	}
	e, n := cube.LatLonToUTM(lat, lon, mi.Zone, mi.North)
	return r.Georef.Pixel(e, n)
}

// anchorStep is the number of cells between exact pixel positions along a
// row; positions in between are interpolated linearly. Over 32 level-20 cells
// (≤ 430 m) the curvature of the cell → UTM → pixel map is below a
// millimetre.
const anchorStep = 32

// AddRaster records a pass over the cells whose centres fall on a valid
// pixel of r; each cell takes the noise of the pixel under its centre. It
// returns the number of cells updated.
func (ix *Index) AddRaster(p Pass, r *Raster) (int, error) {
	if r == nil || r.Georef == nil || r.Width <= 0 || r.Height <= 0 || len(r.SigmaKgH) != r.Width*r.Height {
		return 0, fmt.Errorf("%w: pass %s: malformed raster", ErrInput, p.Granule)
	}
	sp, err := toSphere(r.outline())
	if err != nil {
		return 0, fmt.Errorf("pass %s: raster footprint: %w", p.Granule, err)
	}
	pi, err := ix.addPass(p)
	if err != nil {
		return 0, err
	}
	var xs, ys []float64
	return ix.update(pi, sp, func(f, j, i0 int, out []float32) {
		n := len(out)
		// Exact positions at i0, i0+anchorStep, … and the last cell.
		xs, ys = xs[:0], ys[:0]
		for a := 0; ; a += anchorStep {
			a = min(a, n-1)
			x, y := r.pixel(dir(ix.g.centre(f, i0+a, j)))
			xs, ys = append(xs, x), append(ys, y)
			if a == n-1 {
				break
			}
		}
		for k := range out {
			a := k / anchorStep
			var x, y float64
			if a+1 < len(xs) {
				span := float64(min(anchorStep, n-1-a*anchorStep))
				t := float64(k-a*anchorStep) / span
				x, y = xs[a]+t*(xs[a+1]-xs[a]), ys[a]+t*(ys[a+1]-ys[a])
			} else {
				x, y = xs[a], ys[a]
			}
			px, py := int(math.Floor(x)), int(math.Floor(y))
			if px < 0 || py < 0 || px >= r.Width || py >= r.Height {
				out[k] = float32(math.NaN())
				continue
			}
			out[k] = r.SigmaKgH[py*r.Width+px]
		}
	}), nil
}
