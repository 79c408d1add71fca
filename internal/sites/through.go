package sites

import (
	"math"
	"slices"
)

// The through-plume gate of a source grid. A cell inside the plume of a
// source upwind of it sees that plume's puffs and meander pass by: its
// matched filter's response (the column downwind of the cell less the
// column upwind) is the difference of two large, random columns, whose
// spread the pixels' noise does not describe. On the simulated surveys such
// cells, 90 m down a laboratory's plume, added up over passes flown in the
// same wind sector into a "source" above the threshold while the
// laboratory itself was not (docs/evidence.md). A real source has no gas
// upwind of it along the wind; a cell in a passing plume has gas both
// upwind and downwind. So a pass's measurement of a cell is left out when
// the pass's retrieval holds gas in a band upwind of the cell beyond the
// template's reach and in the mirrored band downwind, each at a z-score of
// at least SourceConfig.ThroughZ.
//
// The test is symmetric under the point reflection through the cell that
// turns the filter's response into its negative (the two bands swap), so
// the gate keeps the grid's null symmetric and the mirrored-tail threshold
// valid; on noise the two bands are independent of the filter's pixels,
// and a cell is gated with probability P(z ≥ ThroughZ)², 5·10⁻⁴ at the
// default 2.
const (
	// throughGapM separates the bands from the template's reach (m).
	throughGapM = 5
	// throughLengthM is each band's length along the wind (m).
	throughLengthM = 60
	// throughHalfM is a band's half-width where it starts (m); it widens
	// with distance by half the wind direction's error
	// (SourceConfig.DirSigmaDeg), and throughLooks bands either side of
	// the given wind's, a direction error apart, are tried as well.
	throughHalfM = 3
	throughLooks = 2
	// throughBlockM is the side of the pixel blocks the bands are summed
	// over (m): the gate is a coarse map, looked up per cell.
	throughBlockM = 4
)

// throughGate is a pass's gate as a map of pixel blocks: blocks[by*bw+bx]
// is true when the cells whose pixel lies in block (bx, by) are inside a
// passing plume.
type throughGate struct {
	blocks []bool
	b, bw  int // block side in pixels, blocks per row
}

// gated reports whether the cell whose centre lies in pixel (x, y) is
// gated.
func (tg *throughGate) gated(x, y int) bool {
	if tg == nil {
		return false
	}
	return tg.blocks[(y/tg.b)*tg.bw+x/tg.b]
}

// newThroughGate makes a pass's gate from its pixels' weights wt = 1/σ²
// and wc = w·ĉ (0 for invalid pixels); nil when the gate is off or the
// pass has no band.
func (g *Grid) newThroughGate(p Pass, toGrid func(x, y float64) (float64, float64), wt, wc []float64) (*throughGate, error) {
	sc := g.cfg.Source
	if math.IsInf(sc.ThroughZ, 1) {
		return nil, nil
	}
	a, b, c, d, err := passAffine(p, toGrid)
	if err != nil {
		return nil, err
	}
	pxM := math.Sqrt(math.Abs(a*d - b*c))
	B := max(1, int(math.Round(throughBlockM/pxM)))
	bw, bh := (p.W+B-1)/B, (p.H+B-1)/B
	sw := make([]float64, bw*bh)
	swc := make([]float64, bw*bh)
	for y := range p.H {
		for x := range p.W {
			k := y*p.W + x
			if wt[k] == 0 {
				continue
			}
			bk := (y/B)*bw + x/B
			sw[bk] += wt[k]
			swc[bk] += wc[k]
		}
	}
	// The upwind bands as block offsets, one per direction tried (the
	// wind's and throughLooks either side of it, DirSigmaDeg apart: the
	// plume passing through lies along the true wind, not the one given);
	// each downwind band is its upwind band's point reflection.
	sth := sc.DirSigmaDeg * math.Pi / 180
	tanHalf := math.Tan(sth / 2)
	x0 := sc.LengthM + g.cfg.CellM + throughGapM
	x1 := x0 + throughLengthM
	det := a*d - b*c
	rx := int(math.Ceil(x1*math.Hypot(d, b)/math.Abs(det)/float64(B))) + 1
	ry := int(math.Ceil(x1*math.Hypot(c, a)/math.Abs(det)/float64(B))) + 1
	var bands [][][2]int
	for k := -throughLooks; k <= throughLooks; k++ {
		if k != 0 && sth == 0 {
			continue
		}
		sn, cs := math.Sincos(p.Wind.FromDeg*math.Pi/180 + float64(k)*sth)
		de, dn := -sn, -cs
		var band [][2]int
		for oy := -ry; oy <= ry; oy++ {
			for ox := -rx; ox <= rx; ox++ {
				fx, fy := float64(ox*B), float64(oy*B)
				e, n := a*fx+b*fy, c*fx+d*fy
				x := -(e*de + n*dn) // distance upwind
				y := -e*dn + n*de
				if x >= x0 && x <= x1 && math.Abs(y) <= throughHalfM+x*tanHalf {
					band = append(band, [2]int{ox, oy})
				}
			}
		}
		if len(band) > 0 {
			bands = append(bands, band)
		}
	}
	if len(bands) == 0 {
		return nil, nil
	}
	// z of a band's inverse-variance mean column at a block; NaN where
	// less than half the band lies on valid pixels of the pass.
	bandZ := func(band [][2]int, bx, by, sign int) float64 {
		var s, sc float64
		n := 0
		for _, o := range band {
			x, y := bx+sign*o[0], by+sign*o[1]
			if x < 0 || y < 0 || x >= bw || y >= bh {
				continue
			}
			k := y*bw + x
			if sw[k] == 0 {
				continue
			}
			s += sw[k]
			sc += swc[k]
			n++
		}
		if 2*n < len(band) {
			return math.NaN()
		}
		return sc / math.Sqrt(s)
	}
	// The first direction's bands give the pass's centre and spread (on
	// noise every direction's are alike); the others are tested block by
	// block against the same limit, without keeping their z.
	zu := make([]float64, bw*bh)
	zv := make([]float64, bw*bh)
	var all []float64
	for by := range bh {
		for bx := range bw {
			k := by*bw + bx
			zu[k], zv[k] = bandZ(bands[0], bx, by, 1), bandZ(bands[0], bx, by, -1)
			for _, z := range []float64{zu[k], zv[k]} {
				if !math.IsNaN(z) {
					all = append(all, z)
				}
			}
		}
	}
	tg := &throughGate{blocks: make([]bool, bw*bh), b: B, bw: bw}
	if len(all) < inflationMinCells {
		return tg, nil
	}
	// Normalise by the pass's own centre and robust spread: neighbouring
	// bands overlap and the pixels are correlated, so the z of independent
	// pixels is too large by a factor the pass itself tells.
	slices.Sort(all)
	med := all[len(all)/2]
	dev := make([]float64, len(all))
	for i, z := range all {
		dev[i] = math.Abs(z - med)
	}
	slices.Sort(dev)
	spread := max(1, 1.4826*dev[len(dev)/2])
	lim := med + sc.ThroughZ*spread
	for by := range bh {
		for bx := range bw {
			k := by*bw + bx
			gated := zu[k] >= lim && zv[k] >= lim
			for _, band := range bands[1:] {
				if gated {
					break
				}
				gated = bandZ(band, bx, by, 1) >= lim && bandZ(band, bx, by, -1) >= lim
			}
			tg.blocks[k] = gated
		}
	}
	return tg, nil
}
