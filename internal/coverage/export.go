package coverage

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

// maxExportFeatures bounds the features of one GeoJSON export: past it, ask
// for a coarser level.
const maxExportFeatures = 200_000

// GeoJSON returns the coverage of the bounding box b aggregated to S2 cells
// of a coarser level (at most the index's): one Polygon feature per coarse
// cell with any surveyed cell, with properties
//
//	cell             S2 token of the coarse cell
//	surveyed_frac    share of the coarse cell's area (inside b) surveyed
//	passes_max       most passes over any of its cells
//	best_mdl_kgh     smallest single-pass MDL of any of its cells
//	acc_mdl_kgh      geometric mean accumulated MDL over its surveyed area
//	acc_mdl_max_kgh  largest accumulated MDL over its surveyed cells (where a source could hide best)
//	last_look        latest pass time (RFC 3339)
//	last_granule     that pass's granule
func (ix *Index) GeoJSON(b orb.Bound, level int) (*geojson.FeatureCollection, error) {
	if level < 1 || level > ix.opt.Level {
		return nil, fmt.Errorf("%w: export level %d: want 1-%d", ErrInput, level, ix.opt.Level)
	}
	shift := ix.opt.Level - level
	type agg struct {
		area, surveyed float64
		passes         int
		best, accMax   float64
		logAcc         float64 // Σ area·ln(acc MDL)
		last           uint32
	}
	aggs := map[blockKey]*agg{}
	var keys []blockKey
	full := false
	err := ix.visitRuns(Rect(b), func(f, j, i0, i1 int, t *tile, k0 int) {
		var a *agg
		for i := i0; i <= i1 && !full; i++ {
			if a == nil || i&(1<<shift-1) == 0 {
				key := blockKey{f, i >> shift, j >> shift}
				if a = aggs[key]; a == nil {
					if len(aggs) >= 4*maxExportFeatures {
						full = true
						return
					}
					a = &agg{best: math.Inf(1)}
					aggs[key] = a
					keys = append(keys, key)
				}
			}
			ca := ix.g.area(i, j)
			a.area += ca
			if t == nil {
				continue
			}
			k := k0 + i - i0
			if t.count[k] == 0 {
				continue
			}
			a.surveyed += ca
			a.passes = max(a.passes, int(t.count[k]))
			a.best = math.Min(a.best, float64(t.best[k]))
			acc := ix.opt.Threshold / math.Sqrt(float64(t.invVar[k]))
			a.accMax = math.Max(a.accMax, acc)
			a.logAcc += ca * math.Log(acc)
			if l := t.last[k]; a.last == 0 || ix.times[l-1] > ix.times[a.last-1] {
				a.last = l
			}
		}
	})
	if err != nil {
		return nil, err
	}
	if full {
		return nil, fmt.Errorf("%w: more than %d cells at level %d: ask for a coarser level", ErrInput, 4*maxExportFeatures, level)
	}
	bg := newGrid(level)
	fc := geojson.NewFeatureCollection()
	for _, key := range keys {
		a := aggs[key]
		if a.surveyed == 0 {
			continue
		}
		if len(fc.Features) >= maxExportFeatures {
			return nil, fmt.Errorf("%w: more than %d cells at level %d: ask for a coarser level", ErrInput, maxExportFeatures, level)
		}
		id := bg.cellID(key.f, key.i, key.j)
		ft := geojson.NewFeature(CellPolygon(id))
		last := ix.passes[a.last-1]
		ft.Properties = geojson.Properties{
			"cell":            id.ToToken(),
			"surveyed_frac":   round(a.surveyed/a.area, 4),
			"passes_max":      a.passes,
			"best_mdl_kgh":    round(a.best, 5),
			"acc_mdl_kgh":     round(math.Exp(a.logAcc/a.surveyed), 5),
			"acc_mdl_max_kgh": round(a.accMax, 5),
			"last_look":       last.Time.UTC().Format("2006-01-02T15:04:05Z07:00"),
			"last_granule":    last.Granule,
		}
		fc.Append(ft)
	}
	return fc, nil
}

// round keeps d significant digits.
func round(v float64, d int) float64 {
	if v == 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return v
	}
	p := math.Pow(10, float64(d)-math.Ceil(math.Log10(math.Abs(v))))
	return math.Round(v*p) / p
}

// Layer is a quantity of a cell drawn by Image.
type Layer int

// Layers.
const (
	LayerPasses  Layer = iota // number of passes
	LayerAccMDL               // accumulated MDL, kg/h (log scale)
	LayerBestMDL              // best single-pass MDL, kg/h (log scale)
)

// Image draws a layer of the bounding box b in an equirectangular image of
// w×h pixels, each pixel the cell under its centre: transparent where never
// surveyed; passes from 1 (dark) to maxPasses (bright), or MDL from lo
// (bright: sensitive) to hi kg/h (dark), log-scaled. Encode with image/png.
func (ix *Index) Image(b orb.Bound, w, h int, layer Layer, lo, hi float64) (*image.NRGBA, error) {
	if w <= 0 || h <= 0 || w*h > 1<<26 {
		return nil, fmt.Errorf("%w: image %d×%d", ErrInput, w, h)
	}
	if layer != LayerPasses && !(lo > 0 && hi > lo) {
		return nil, fmt.Errorf("%w: MDL scale %g-%g kg/h", ErrInput, lo, hi)
	}
	if layer == LayerPasses && !(hi >= 1) {
		return nil, fmt.Errorf("%w: passes scale to %g", ErrInput, hi)
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		lat := b.Max[1] - (float64(y)+0.5)/float64(h)*(b.Max[1]-b.Min[1])
		for x := range w {
			lon := b.Min[0] + (float64(x)+0.5)/float64(w)*(b.Max[0]-b.Min[0])
			f, i, j := ix.g.cellOf(lonLatToXYZ(lon, lat))
			r := ix.record(f, i, j, false)
			if r.Passes == 0 {
				continue
			}
			var v float64 // 0 dark … 1 bright
			switch layer {
			case LayerPasses:
				v = math.Min(float64(r.Passes)/hi, 1)
			case LayerAccMDL:
				v = 1 - (math.Log(r.AccMDL)-math.Log(lo))/(math.Log(hi)-math.Log(lo))
			default:
				v = 1 - (math.Log(r.BestMDL)-math.Log(lo))/(math.Log(hi)-math.Log(lo))
			}
			img.SetNRGBA(x, y, ramp(math.Min(math.Max(v, 0), 1)))
		}
	}
	return img, nil
}

// ramp is a dark-blue → green → yellow colour ramp (monotone in lightness,
// after viridis' end points and midpoint).
func ramp(v float64) color.NRGBA {
	stops := [3][3]float64{{68, 1, 84}, {33, 145, 140}, {253, 231, 37}}
	k := 0
	if v > 0.5 {
		k, v = 1, v-0.5
	}
	v *= 2
	c := func(n int) uint8 { return uint8(stops[k][n] + v*(stops[k+1][n]-stops[k][n]) + 0.5) }
	return color.NRGBA{c(0), c(1), c(2), 255}
}
