package sites

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/detect"
	"github.com/atalaya-project/atalaya/internal/plume"
)

// DetectConfig sets the grid's detection tests.
type DetectConfig struct {
	// FARPerKm2 is the false-alarm rate per km² of grid for all the tests
	// together; it is split equally among the gases.
	FARPerKm2 float64
	Gases     []string
	// Plumes are where single passes found gas: the granules' own
	// detections, each already tested at its false-alarm rate. In a source
	// grid, the cells within sourceLobeM of one (of the same gas) are left
	// out of the null's fit, not out of the test: a real plume's filter
	// response has a negative lobe downwind of its source, deeper than the
	// source's own positive one, and fitting the null to it would raise
	// the threshold above the very source that made it (docs/evidence.md,
	// "Null calibration"). Cell grids ignore them.
	Plumes []KnownPlume
}

// KnownPlume is a single pass's detection of a gas: its origin (or its
// centroid when it has none) and, when known, its plume's outline (a
// polygon's outer ring of [lon, lat] points, as GeoJSON has them). The
// cells within the template's length of the outline are left out of the
// null — a lobe lies where a cell's mirrored template meets the plume —
// or, without an outline, those within sourceLobeM of the point.
type KnownPlume struct {
	Gas      string
	Lat, Lon float64
	Outline  [][2]float64
}

// GasTest is the detection test of one gas on the combined grid.
type GasTest struct {
	Gas       string  `json:"gas"`
	FARPerKm2 float64 `json:"far_per_km2"`
	// CellProb is the false-alarm probability per cell, Threshold and
	// LowThresh the hysteresis thresholds on the combined z.
	CellProb  float64 `json:"cell_probability"`
	Threshold float64 `json:"threshold"`
	LowThresh float64 `json:"low_threshold"`
	TailXi    float64 `json:"tail_xi"`
	Asymmetry float64 `json:"tail_asymmetry"`
	// Cells and AreaKm2 are the surveyed cells the test covers.
	Cells      int     `json:"cells"`
	AreaKm2    float64 `json:"area_km2"`
	Detections int     `json:"detections"`
	// MedianSigmaPPMm is the median combined 1σ over the cells, and
	// MDCppmm the minimum detectable cell-mean column at the threshold
	// (in a source grid: kg/h, the minimum detectable emission rate).
	MedianSigmaPPMm float64 `json:"median_sigma_ppmm"`
	MDCppmm         float64 `json:"min_detectable_ppmm"`
}

// GridDetection is a connected group of cells above a gas test's threshold.
type GridDetection struct {
	ID     string  `json:"id"`
	Gas    string  `json:"gas"`
	Cells  int     `json:"cells"`
	AreaM2 float64 `json:"area_m2"`
	// PeakZ is the highest combined z, PValue its probability for a
	// background cell (the fitted tail, asymmetry-corrected).
	PeakZ  float64 `json:"peak_z"`
	PValue float64 `json:"p_value"`
	PeakI  int64   `json:"peak_i"`
	PeakJ  int64   `json:"peak_j"`
	// PeakPPMm and PeakSigmaPPMm are the combined ĉ and its σ at the peak
	// (0 in a source grid, which has RateKgH and SigmaKgH instead: the
	// combined emission rate of a source in the peak cell and its 1σ; 0
	// elsewhere).
	PeakPPMm      float64 `json:"peak_ppmm"`
	PeakSigmaPPMm float64 `json:"peak_sigma_ppmm"`
	RateKgH       float64 `json:"rate_kg_h"`
	SigmaKgH      float64 `json:"sigma_kg_h"`
	// East, North (grid zone) and Lat, Lon locate the ĉ-weighted centroid;
	// SigmaM is its 1σ per axis (the cells' weighted spread and the cell
	// size).
	East   float64 `json:"east_m"`
	North  float64 `json:"north_m"`
	Lat    float64 `json:"lat"`
	Lon    float64 `json:"lon"`
	SigmaM float64 `json:"sigma_m"`
	// Passes covered the peak cell, Seen of them saw gas there.
	Passes   int       `json:"passes"`
	Seen     int       `json:"seen"`
	LastPass time.Time `json:"last_pass"`
	LastSeen time.Time `json:"last_seen,omitzero"`
	// NearKnown: in a source grid, the peak lies within sourceLobeM of a
	// known plume of the gas (DetectConfig.Plumes). The grid then confirms
	// gas a single pass already found, and cannot tell a second source
	// there from the known plume's puffs downwind: callers that make sites
	// from single passes leave these out.
	NearKnown bool `json:"near_known,omitempty"`
	// CellsIJ lists the component's cells.
	CellsIJ [][2]int64 `json:"-"`
}

// GridResult is a detection run over the grid.
type GridResult struct {
	Tests      []GasTest       `json:"tests"`
	Detections []GridDetection `json:"detections"`
	tails      map[string]gasTail
}

type gasTail struct {
	tail *detect.Tail
	asym float64
}

// CalibratedZ converts a combined z of a gas into the z-score of a
// standard normal with the same upper-tail probability under the grid's
// fitted background (mirrored tail, asymmetry-corrected): where clutter
// makes the grid's z heavy-tailed, a large z is worth less. A gas without
// a test returns z unchanged.
func (r *GridResult) CalibratedZ(gas string, z float64) float64 {
	t, ok := r.tails[gas]
	if !ok || math.IsNaN(z) {
		return z
	}
	return zFromP(math.Min(0.5, t.asym*t.tail.Survival(z)), z)
}

// zFromP returns Φ⁻¹(1 − p), or fallback when p underflows to 0 or is
// not a probability.
func zFromP(p, fallback float64) float64 {
	if !(p > 0 && p < 1) {
		return fallback
	}
	z := -math.Sqrt2 * math.Erfinv(2*p-1)
	if math.IsInf(z, 0) || math.IsNaN(z) {
		return fallback
	}
	return z
}

// lowFactor sets the hysteresis low threshold at lowFactor times the
// high threshold's false-alarm probability (capped at 1%), as
// internal/granule does: a component grows into its faint cells, while
// isolated noise above it never starts one.
const lowFactor = 100

// asymmetryCount: the tails are compared where the mirrored one holds
// this many cells (±10% Poisson), as in internal/granule.
const asymmetryCount = 100

// maxMosaicCells bounds the dense mosaic a gas is segmented on (256 Mi
// cells, 1 GiB of float32): a region larger than that must be split.
const maxMosaicCells = 1 << 28

// Detect thresholds the combined grid of every gas at its share of the
// false-alarm rate and groups the cells above it into detections.
func (g *Grid) Detect(ctx context.Context, cfg DetectConfig) (*GridResult, error) {
	if !(cfg.FARPerKm2 > 0) || math.IsInf(cfg.FARPerKm2, 0) {
		return nil, fmt.Errorf("%w: false-alarm rate %g per km², want > 0", ErrConfig, cfg.FARPerKm2)
	}
	if len(cfg.Gases) == 0 {
		return nil, fmt.Errorf("%w: no gases to test", ErrConfig)
	}
	res := &GridResult{}
	far := cfg.FARPerKm2 / float64(len(cfg.Gases))
	for _, gas := range cfg.Gases {
		t, dets, tl, err := g.detectGas(ctx, gas, far, cfg.Plumes)
		if err != nil {
			return nil, fmt.Errorf("grid test %s: %w", gas, err)
		}
		res.Tests = append(res.Tests, t)
		res.Detections = append(res.Detections, dets...)
		if tl != nil {
			if res.tails == nil {
				res.tails = map[string]gasTail{}
			}
			res.tails[gas] = *tl
		}
	}
	slices.SortStableFunc(res.Detections, func(a, b GridDetection) int {
		switch {
		case a.PValue < b.PValue:
			return -1
		case a.PValue > b.PValue:
			return 1
		}
		return 0
	})
	return res, nil
}

// mosaic is a gas's tiles laid out north-up: row 0 is the northernmost
// cell row j1−1, column 0 the westernmost cell column i0.
type mosaic struct {
	i0, j1 int64
	w, h   int
	z      []float32
	cells  []CellEvidence // by mosaic index; Passes 0 where not surveyed
}

func (m *mosaic) index(i, j int64) int { return int(m.j1-1-j)*m.w + int(i-m.i0) }
func (m *mosaic) cell(idx int) (i, j int64) {
	return m.i0 + int64(idx%m.w), m.j1 - 1 - int64(idx/m.w)
}

func (g *Grid) loadMosaic(ctx context.Context, gas string) (*mosaic, error) {
	keys, err := g.store.Tiles(ctx, gas)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, nil
	}
	T := int64(g.cfg.TileCells)
	tx0, ty0, tx1, ty1 := keys[0].TX, keys[0].TY, keys[0].TX, keys[0].TY
	for _, k := range keys {
		tx0, ty0, tx1, ty1 = min(tx0, k.TX), min(ty0, k.TY), max(tx1, k.TX), max(ty1, k.TY)
	}
	m := &mosaic{i0: int64(tx0) * T, j1: int64(ty1+1) * T, w: int(int64(tx1-tx0+1) * T), h: int(int64(ty1-ty0+1) * T)}
	if int64(m.w)*int64(m.h) > maxMosaicCells {
		return nil, fmt.Errorf("%w: %d×%d cells to segment at once; split the region", ErrConfig, m.w, m.h)
	}
	m.z = make([]float32, m.w*m.h)
	for i := range m.z {
		m.z[i] = float32(math.NaN())
	}
	m.cells = make([]CellEvidence, m.w*m.h)
	for _, k := range keys {
		t, err := g.store.LoadTile(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("load tile %s: %w", k, err)
		}
		for r := range t.Size {
			for c := range t.Size {
				idx := r*t.Size + c
				if t.Passes[idx] == 0 {
					continue
				}
				i, j := int64(k.TX)*T+int64(c), int64(k.TY)*T+int64(r)
				ev := g.cellOf(t, idx)
				ev.I, ev.J = i, j
				mi := m.index(i, j)
				m.cells[mi] = ev
				m.z[mi] = float32(ev.Z)
			}
		}
	}
	return m, nil
}

// fitMirroredTail fits the upper tail of background z from the mirrored
// lower tail, never lighter than exponential (the method of
// internal/granule's fitTail: gas only raises z, so the negative half is
// background even where gas is common).
func fitMirroredTail(z []float32) (*detect.Tail, error) {
	neg := make([]float32, len(z))
	for i, v := range z {
		neg[i] = -v
	}
	t, err := detect.FitTail(neg, 0)
	if err != nil {
		return nil, err
	}
	return t.NotLighterThanExponential(), nil
}

// asymmetry measures how many times more cells lie in the upper tail than
// in the mirrored lower one, where the mirrored tail holds asymmetryCount
// cells, leaving out the cells of components found at the symmetric
// thresholds (and a 2-cell margin): on a grid of a few thousand cells one
// real plume would otherwise fill the upper tail and raise the threshold
// for everything else. R ≥ 1.
func asymmetry(m *mosaic, tail *detect.Tail, high, low float64, n, margin int) float64 {
	skip := make([]bool, len(m.z))
	for _, c := range plume.Segment(m.z, m.w, m.h, float32(high), float32(low)) {
		markAround(skip, m.w, m.h, c.Pixels, margin)
	}
	u := float32(tail.Threshold(math.Min(0.01, asymmetryCount/float64(n))))
	up, lo := 0, 0
	for i, v := range m.z {
		if skip[i] || math.IsNaN(float64(v)) {
			continue
		}
		if v > u {
			up++
		} else if v < -u {
			lo++
		}
	}
	return max(1, float64(up)/float64(max(lo, 1)))
}

// markAround sets skip within margin cells (a square) of each pixel.
func markAround(skip []bool, w, h int, pixels []int, margin int) {
	for _, p := range pixels {
		x, y := p%w, p/w
		for dy := -margin; dy <= margin; dy++ {
			for dx := -margin; dx <= margin; dx++ {
				if xx, yy := x+dx, y+dy; xx >= 0 && yy >= 0 && xx < w && yy < h {
					skip[yy*w+xx] = true
				}
			}
		}
	}
}

// knownLobes marks, in a source grid, the mosaic cells near a known plume
// of gas (nil when there are none): within the template's length (and a
// cell) of its outline, or within sourceLobeM of its point.
func (g *Grid) knownLobes(m *mosaic, gas string, known []KnownPlume) []bool {
	if g.cfg.Source == nil {
		return nil
	}
	var lobes []bool
	mark := func(ci, cj int64, r int) {
		for dj := -r; dj <= r; dj++ {
			for di := -r; di <= r; di++ {
				if di*di+dj*dj > r*r {
					continue
				}
				i, j := ci+int64(di), cj+int64(dj)
				if i < m.i0 || i >= m.i0+int64(m.w) || j < m.j1-int64(m.h) || j >= m.j1 {
					continue
				}
				if lobes == nil {
					lobes = make([]bool, len(m.z))
				}
				lobes[m.index(i, j)] = true
			}
		}
	}
	for _, k := range known {
		if k.Gas != gas || math.IsNaN(k.Lat) || math.IsNaN(k.Lon) {
			continue
		}
		if len(k.Outline) < 3 {
			e, n := cube.LatLonToUTM(k.Lat, k.Lon, g.cfg.Zone, g.cfg.North)
			ci, cj := g.CellAt(e, n)
			mark(ci, cj, int(math.Ceil(sourceLobeM/g.cfg.CellM)))
			continue
		}
		// The outline in grid metres, its cells, each widened by the
		// template's reach.
		ring := make([][2]float64, len(k.Outline))
		e0, n0, e1, n1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
		for q, p := range k.Outline {
			e, n := cube.LatLonToUTM(p[1], p[0], g.cfg.Zone, g.cfg.North)
			ring[q] = [2]float64{e, n}
			e0, n0, e1, n1 = math.Min(e0, e), math.Min(n0, n), math.Max(e1, e), math.Max(n1, n)
		}
		if !(e1-e0 <= maxLobeM && n1-n0 <= maxLobeM) {
			continue // not a plume (or not a place): a plume's outline is bounded
		}
		r := int(math.Ceil((g.cfg.Source.LengthM + g.cfg.CellM) / g.cfg.CellM))
		i0, j0 := g.CellAt(e0, n0)
		i1, j1 := g.CellAt(e1, n1)
		for j := j0; j <= j1; j++ {
			for i := i0; i <= i1; i++ {
				if ce, cn := g.CellCentre(i, j); inRing(ring, ce, cn) {
					mark(i, j, r)
				}
			}
		}
	}
	return lobes
}

// inRing reports whether (x, y) lies inside the closed ring (even-odd).
func inRing(ring [][2]float64, x, y float64) bool {
	in := false
	for a, b := 0, len(ring)-1; a < len(ring); b, a = a, a+1 {
		pa, pb := ring[a], ring[b]
		if (pa[1] > y) != (pb[1] > y) && x < (pb[0]-pa[0])*(y-pa[1])/(pb[1]-pa[1])+pa[0] {
			in = !in
		}
	}
	return in
}

// minNullCells is the fewest cells a source grid's null is fitted to after
// the known plumes' neighbourhoods are left out (a quarter of the ground
// at least, too).
const minNullCells = 2000

// sourceSigmaFloorM is the least 1σ a source grid's detection claims for
// its position, m (docs/evidence.md).
const sourceSigmaFloorM = 10

// sourceLobeM is how far around a source grid's component its lobes are
// taken to reach (m): as far as a plume of a few kg/h stays visible on
// the simulated surveys (docs/evidence.md). maxLobeM bounds a known
// plume's stated reach.
const (
	sourceLobeM = 100
	maxLobeM    = 2000
)

func (g *Grid) detectGas(ctx context.Context, gas string, far float64, known []KnownPlume) (GasTest, []GridDetection, *gasTail, error) {
	gt := GasTest{Gas: gas, FARPerKm2: far}
	m, err := g.loadMosaic(ctx, gas)
	if err != nil || m == nil {
		return gt, nil, nil, err
	}
	lobes := g.knownLobes(m, gas, known)
	var z, zNull []float32
	var sig []float64
	for i, v := range m.z {
		if !math.IsNaN(float64(v)) {
			z = append(z, v)
			sig = append(sig, m.cells[i].sigma())
			if lobes == nil || !lobes[i] {
				zNull = append(zNull, v)
			}
		}
	}
	gt.Cells = len(z)
	gt.AreaKm2 = float64(len(z)) * g.CellAreaM2() / 1e6
	slices.Sort(sig)
	gt.MedianSigmaPPMm = sig[len(sig)/2]
	gt.CellProb = detect.PixelProbability(far, g.CellAreaM2())
	// The asymmetry is measured away from the components found: 2 cells
	// around them, or in a source grid as far as a plume's lobes reach
	// (sourceLobeM). A source grid's tail is the plain mirrored one: its
	// filter is antisymmetric, so the null is symmetric (see the package
	// documentation); a real plume's negative lobe makes it conservative.
	margin := 2
	if g.cfg.Source != nil {
		margin = int(math.Ceil(sourceLobeM / g.cfg.CellM))
	}
	if len(zNull) < len(z)/4 || len(zNull) < minNullCells {
		// Known plumes cover most of the ground: fit the null to all of
		// it (conservative: their lobes raise the threshold) rather than
		// to a remnant.
		zNull = z
	}
	tail, err := fitMirroredTail(zNull)
	if err != nil {
		return gt, nil, nil, err
	}
	asym := asymmetry(m, tail, tail.Threshold(gt.CellProb), tail.Threshold(math.Min(0.01, gt.CellProb*lowFactor)), len(z), margin)
	gt.TailXi, gt.Asymmetry = tail.Xi, asym
	gt.Threshold = tail.Threshold(gt.CellProb / asym)
	gt.LowThresh = tail.Threshold(math.Min(0.01, gt.CellProb*lowFactor/asym))
	gt.MDCppmm = gt.Threshold * gt.MedianSigmaPPMm
	comps := plume.Segment(m.z, m.w, m.h, float32(gt.Threshold), float32(gt.LowThresh))
	dets := make([]GridDetection, 0, len(comps))
	for n, c := range comps {
		d := g.gridDetection(m, gas, n, &c, tail, asym)
		d.NearKnown = lobes != nil && lobes[m.index(d.PeakI, d.PeakJ)]
		dets = append(dets, d)
	}
	gt.Detections = len(dets)
	return gt, dets, &gasTail{tail, asym}, nil
}

func (g *Grid) gridDetection(m *mosaic, gas string, n int, c *plume.Component, tail *detect.Tail, asym float64) GridDetection {
	peak := m.cells[c.Peak]
	d := GridDetection{
		ID: fmt.Sprintf("grid-%s-%d", gas, n+1), Gas: gas,
		Cells: len(c.Pixels), AreaM2: float64(len(c.Pixels)) * g.CellAreaM2(),
		PeakZ: float64(c.PeakScore), PValue: math.Min(1, asym*tail.Survival(float64(c.PeakScore))),
		PeakI: peak.I, PeakJ: peak.J, PeakPPMm: peak.PPMm, PeakSigmaPPMm: peak.SigmaPPMm,
		RateKgH: peak.RateKgH, SigmaKgH: peak.SigmaKgH,
		Passes: peak.Passes, Seen: peak.Seen, LastPass: peak.LastPass, LastSeen: peak.LastSeen,
	}
	// JSON has no NaN: the unit the grid does not use is 0.
	for _, f := range []*float64{&d.PeakPPMm, &d.PeakSigmaPPMm, &d.RateKgH, &d.SigmaKgH} {
		if math.IsNaN(*f) {
			*f = 0
		}
	}
	// ĉ-weighted centroid and spread of the cells with positive ĉ. In a
	// source grid each cell is a hypothesis "the source is here", and the
	// matched filter's profile likelihood of it is exp(z²/2): the cells
	// weigh exp((z² − z_peak²)/2), the source's position's posterior on a
	// flat prior (the ĉ-weighted centroid of a component stretched along a
	// plume would lie downwind of its source).
	weight := func(p int) float64 { return m.cells[p].value() }
	if g.cfg.Source != nil {
		zp := float64(c.PeakScore)
		weight = func(p int) float64 {
			z := float64(m.z[p])
			return math.Exp((z*z - zp*zp) / 2)
		}
	}
	var sw, se, sn float64
	for _, p := range c.Pixels {
		i, j := m.cell(p)
		d.CellsIJ = append(d.CellsIJ, [2]int64{i, j})
		w := weight(p)
		if !(w > 0) {
			continue
		}
		e, nn := g.CellCentre(i, j)
		sw += w
		se += w * e
		sn += w * nn
	}
	if sw == 0 {
		d.East, d.North = g.CellCentre(peak.I, peak.J)
	} else {
		d.East, d.North = se/sw, sn/sw
	}
	var v float64
	if sw > 0 {
		for _, p := range c.Pixels {
			w := weight(p)
			if !(w > 0) {
				continue
			}
			i, j := m.cell(p)
			e, nn := g.CellCentre(i, j)
			v += w * ((e-d.East)*(e-d.East) + (nn-d.North)*(nn-d.North)) / 2
		}
		v /= sw
	}
	// A uniform position within a cell has variance cell²/12 per axis.
	d.SigmaM = math.Sqrt(v + g.CellAreaM2()/12)
	if g.cfg.Source != nil {
		// The likelihood's spread leaves out the model's errors (the
		// wind's direction, meander): on the evaluation's surveys the
		// peak fell up to 17 m from the source.
		d.SigmaM = math.Max(d.SigmaM, sourceSigmaFloorM)
	}
	d.Lat, d.Lon = cube.UTMToLatLon(g.cfg.Zone, g.cfg.North, d.East, d.North)
	return d
}
