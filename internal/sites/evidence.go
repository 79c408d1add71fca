package sites

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/granule"
)

// ErrConfig is wrapped by errors about what was asked for.
var ErrConfig = errors.New("sites: bad configuration")

// GridConfig fixes a grid's geometry and how passes combine.
type GridConfig struct {
	// Zone and North select the UTM zone and hemisphere (WGS-84) the grid's
	// cells are square in; passes in other zones are reprojected.
	Zone  int
	North bool
	// CellM is the cell side, m (default 5: a few plume widths near a small
	// source at 1 m pixels, and larger than a pass's geolocation error; a
	// source grid's default is 1 m: its template places the source within
	// the cell, and a 5 m cell's average template loses half a corner
	// source's response — docs/evidence.md).
	CellM float64
	// TileCells is the tile side in cells (default 256).
	TileCells int
	// HalfLife, if positive, makes older passes count less: a pass's weight
	// halves every HalfLife before the newest pass on a cell (a transient
	// source then fades from the combination). 0: every pass counts fully.
	HalfLife time.Duration
	// PlumeLengthM and PlumeWidthM shape the source footprint used for
	// passes whose wind is known (Pass.Wind): a cell's measurement is
	// then the mean column over a rectangle from the cell's upwind edge to
	// PlumeLengthM downwind of its centre, max(PlumeWidthM, CellM) wide —
	// where a source in the cell puts its plume whatever the wind's
	// direction. Defaults 15 m and 3 m: the near field of a small source at
	// 1 m pixels (the plume of a few hundred g/h is one to three pixels wide
	// and fades into the noise within a few tens of metres; see
	// docs/sites.md). Negative PlumeLengthM turns footprints off.
	PlumeLengthM, PlumeWidthM float64
	// Differential makes a footprint measurement the downwind rectangle's
	// mean less the mean of the same rectangle upwind of the cell: a
	// source's plume lies only downwind, while ground clutter that extends
	// across the cell (a field, a roof whose emissivity mimics the gas)
	// cancels. It costs √2 in noise and removes the clutter that the same
	// ground puts into every pass.
	// nil means on (the default); point at false to turn it off.
	Differential *bool
	// LocalMeanM, if positive, removes extended clutter before a pass is
	// combined: each pixel's ĉ less the inverse-variance mean of ĉ over a
	// square of side 2·LocalMeanM+1 pixels' worth of metres around it. A
	// surface whose emissivity mimics a gas offsets the retrieval over its
	// whole extent on every pass, and would grow as √n like a source; a
	// plume's near field is a few metres wide and barely moves the mean of
	// the square. 0: off (default); the evaluation in docs/sites.md uses 20.
	LocalMeanM float64
	// Source, if set, makes this a source grid: a pass's measurement of a
	// cell is the emission rate (kg/h) of a point source in the cell, from
	// a wind-aligned matched spatial filter of the pass's retrieval (see
	// SourceConfig); PlumeLengthM and PlumeWidthM are then unused, and
	// every pass must have its wind. CellEvidence and GridDetection carry
	// the rate in RateKgH and SigmaKgH.
	Source *SourceConfig
	// SeenZ is the single-pass cell z-score at or above which a pass counts
	// as having seen gas in a cell (default 3, a one-sided p of 1.3·10⁻³ per
	// cell: a sighting for the history, not a detection).
	SeenZ float64
}

func (c *GridConfig) defaults() error {
	if c.CellM == 0 {
		c.CellM = 5
		if c.Source != nil {
			c.CellM = 1
		}
	}
	if c.TileCells == 0 {
		c.TileCells = 256
	}
	if c.SeenZ == 0 {
		c.SeenZ = 3
	}
	if c.PlumeLengthM == 0 {
		c.PlumeLengthM = 15
	}
	if c.PlumeWidthM == 0 {
		c.PlumeWidthM = 3
	}
	if c.Differential == nil {
		on := true
		c.Differential = &on
	}
	if c.Source != nil {
		sc := *c.Source
		if err := sc.defaults(); err != nil {
			return err
		}
		c.Source = &sc
	}
	switch {
	case c.Zone < 1 || c.Zone > 60:
		return fmt.Errorf("%w: zone %d, want 1-60", ErrConfig, c.Zone)
	case !(c.CellM >= 0.1 && c.CellM <= 1000):
		return fmt.Errorf("%w: cell size %g m, want 0.1-1000", ErrConfig, c.CellM)
	case c.TileCells < 8 || c.TileCells > maxTileSize:
		return fmt.Errorf("%w: tile size %d cells, want 8-%d", ErrConfig, c.TileCells, maxTileSize)
	case c.HalfLife < 0:
		return fmt.Errorf("%w: half-life %s is negative", ErrConfig, c.HalfLife)
	}
	return nil
}

// Grid is the multi-pass evidence of a survey region, one sparse tiled layer
// per gas. It is not safe for concurrent AddPass calls on the same tiles;
// callers serialise passes (a pass job per region).
type Grid struct {
	cfg   GridConfig
	store TileStore
}

// NewGrid returns a grid over the store.
func NewGrid(cfg GridConfig, store TileStore) (*Grid, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	return &Grid{cfg: cfg, store: store}, nil
}

// Config returns the grid's configuration with defaults filled in.
func (g *Grid) Config() GridConfig { return g.cfg }

// CellAreaM2 is the area of one cell, m².
func (g *Grid) CellAreaM2() float64 { return g.cfg.CellM * g.cfg.CellM }

// Pass is one pass's retrieval of one gas: the matched filter's ĉ and σ
// (ppm·m) per pixel, W×H row-major with row 0 the first line, placed on the
// ground by Geo. NaN pixels (masked) are left out.
type Pass struct {
	ID   string
	Time time.Time
	Gas  string
	W, H int
	C    []float32
	// Sigma is ĉ's 1σ per pixel.
	Sigma []float32
	Geo   *cube.Georef
	// Wind during the pass, nil if unknown (then each cell takes the
	// pixels inside it, without a source footprint).
	Wind *Wind
}

// Wind is the wind of a pass (from weather or the flight log).
type Wind struct {
	FromDeg float64 // direction it blows from, degrees clockwise from north
	SpeedMS float64 // m/s (0: unknown)
	// Stability is the Pasquill class A-F ("": D, neutral), and AirTempK
	// and PressurePa the air's (0: 288.15 K, 101325 Pa); a source grid
	// uses them for the plume's width and the rate's units.
	Stability  string
	AirTempK   float64
	PressurePa float64
}

// PassReport says what a pass added.
type PassReport struct {
	Gas   string
	Cells int // cells that received a measurement
	// PixelsPerCell is the median number of pixels combined in a cell
	// (0 when pixels are coarser than cells and were sampled).
	PixelsPerCell float64
	// Inflation is the factor the cell σ were multiplied by: the ratio of
	// the spread of the pass's cell z-scores on background to the spread
	// independent pixels would give (≥ 1).
	Inflation float64
	Tiles     int
	SeenCells int
	// Gated counts the cells a source grid left out of this pass because
	// a plume passes through them (SourceConfig.ThroughZ).
	Gated int
	// MedianSigma is the median 1σ of the pass's cell measurements after
	// inflation: ppm·m, or kg/h in a source grid (the pass's one-cell
	// detection limit is the threshold times it).
	MedianSigma float64
}

// cellMeas is one pass's measurement of one cell.
type cellMeas struct {
	i, j   int64
	sw, sc float64 // Σw, Σw·ĉ of the pass's pixels in the cell
	n      int
}

// AddPass combines one pass into the grid. Each cell gets at most one
// measurement from a pass (see the package documentation); the tiles
// touched are loaded, updated and saved.
func (g *Grid) AddPass(ctx context.Context, p Pass) (PassReport, error) {
	rep := PassReport{Gas: p.Gas}
	if p.ID == "" || p.Gas == "" || p.Geo == nil {
		return rep, fmt.Errorf("%w: a pass needs an ID, a gas and a georeference", ErrConfig)
	}
	if p.W <= 0 || p.H <= 0 || len(p.C) != p.W*p.H || len(p.Sigma) != p.W*p.H {
		return rep, fmt.Errorf("%w: pass %s: %d and %d values for %d×%d pixels", ErrConfig, p.ID, len(p.C), len(p.Sigma), p.W, p.H)
	}
	if g.cfg.LocalMeanM > 0 {
		dx, dy := p.Geo.PixelSizeMeters()
		p.C = localMeanRemoved(p.C, p.Sigma, p.W, p.H, max(1, int(math.Round(g.cfg.LocalMeanM/math.Min(dx, dy)))))
	}
	meas, perCell, gated, err := g.resample(p)
	if err != nil {
		return rep, err
	}
	rep.Gated = gated
	if len(meas) == 0 {
		return rep, nil
	}
	rep.PixelsPerCell = perCell
	rep.Inflation = inflation(meas, perCell)
	rep.Cells = len(meas)
	sigmas := make([]float64, len(meas))
	for k, m := range meas {
		sigmas[k] = rep.Inflation / math.Sqrt(m.sw)
	}
	slices.Sort(sigmas)
	rep.MedianSigma = sigmas[len(sigmas)/2]

	// Group by tile.
	T := int64(g.cfg.TileCells)
	byTile := map[TileKey][]cellMeas{}
	for _, m := range meas {
		k := TileKey{Gas: p.Gas, TX: int32(floorDiv(m.i, T)), TY: int32(floorDiv(m.j, T))}
		byTile[k] = append(byTile[k], m)
	}
	keys := make([]TileKey, 0, len(byTile))
	for k := range byTile {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b TileKey) int {
		if a.TY != b.TY {
			return int(a.TY - b.TY)
		}
		return int(a.TX - b.TX)
	})
	tiles := make([]*Tile, len(keys))
	for n, k := range keys {
		t, err := g.store.LoadTile(ctx, k)
		switch {
		case errors.Is(err, ErrNotFound):
			t = NewTile(k, g.cfg.TileCells)
		case err != nil:
			return rep, fmt.Errorf("load tile %s: %w", k, err)
		case t.Size != g.cfg.TileCells:
			return rep, fmt.Errorf("tile %s has %d cells a side, the grid %d", k, t.Size, g.cfg.TileCells)
		}
		if t.hasPass(p.ID) {
			return rep, fmt.Errorf("pass %s, tile %s: %w", p.ID, k, ErrDuplicatePass)
		}
		tiles[n] = t
	}
	f2 := rep.Inflation * rep.Inflation
	ts := p.Time.Unix()
	for n, k := range keys {
		t := tiles[n]
		for _, m := range byTile[k] {
			idx := int(m.j-int64(k.TY)*T)*t.Size + int(m.i-int64(k.TX)*T)
			w := m.sw / f2 // 1/σ² of the cell mean, inflated
			c := m.sc / m.sw
			lo, ln := 1.0, 1.0 // forgetting factors of the old sums and the new pass
			if g.cfg.HalfLife > 0 && t.Passes[idx] > 0 {
				dt := p.Time.Sub(time.Unix(t.LastPass[idx], 0)).Seconds()
				l := math.Exp2(-math.Abs(dt) / g.cfg.HalfLife.Seconds())
				if dt >= 0 {
					lo = l
				} else {
					ln = l
				}
			}
			t.SumWC[idx] = lo*t.SumWC[idx] + ln*w*c
			t.SumW[idx] = lo*t.SumW[idx] + ln*w
			t.SumW2[idx] = lo*lo*t.SumW2[idx] + ln*ln*w
			if t.Passes[idx] < math.MaxUint16 {
				t.Passes[idx]++
			}
			t.LastPass[idx] = max(t.LastPass[idx], ts)
			if c*math.Sqrt(w) >= g.cfg.SeenZ {
				rep.SeenCells++
				if t.Seen[idx] < math.MaxUint16 {
					t.Seen[idx]++
				}
				t.LastSeen[idx] = max(t.LastSeen[idx], ts)
			}
		}
		t.History = append(t.History, PassRecord{ID: p.ID, Time: p.Time.UTC(), Inflation: rep.Inflation})
		if err := g.store.SaveTile(ctx, t); err != nil {
			return rep, fmt.Errorf("save tile %s: %w", k, err)
		}
	}
	rep.Tiles = len(keys)
	return rep, nil
}

// localMeanRemoved returns c less its inverse-variance weighted mean over
// the (2r+1)² box around each pixel (clipped at the edges), from summed-area
// tables of w and w·c (float64).
func localMeanRemoved(c, sigma []float32, w, h, r int) []float32 {
	sw := make([]float64, (w+1)*(h+1))
	sc := make([]float64, (w+1)*(h+1))
	for y := range h {
		var rw, rc float64
		for x := range w {
			k := y*w + x
			cv, sv := float64(c[k]), float64(sigma[k])
			if !math.IsNaN(cv) && !math.IsInf(cv, 0) && sv > 0 && !math.IsInf(sv, 0) {
				wt := 1 / (sv * sv)
				rw += wt
				rc += wt * cv
			}
			i := (y+1)*(w+1) + x + 1
			sw[i] = sw[i-(w+1)] + rw
			sc[i] = sc[i-(w+1)] + rc
		}
	}
	box := func(t []float64, x0, y0, x1, y1 int) float64 {
		return t[y1*(w+1)+x1] - t[y0*(w+1)+x1] - t[y1*(w+1)+x0] + t[y0*(w+1)+x0]
	}
	out := make([]float32, len(c))
	for y := range h {
		y0, y1 := max(0, y-r), min(h, y+r+1)
		for x := range w {
			x0, x1 := max(0, x-r), min(w, x+r+1)
			bw := box(sw, x0, y0, x1, y1)
			k := y*w + x
			if bw > 0 {
				out[k] = c[k] - float32(box(sc, x0, y0, x1, y1)/bw)
			} else {
				out[k] = c[k]
			}
		}
	}
	return out
}

// toGrid returns a function mapping a pass's pixel coordinates to the
// grid's easting and northing: the georeference's affine transform when it
// is UTM in the grid's zone, a reprojection through latitude and longitude
// otherwise.
func (g *Grid) toGrid(geo *cube.Georef) func(x, y float64) (e, n float64) {
	mi := geo.MapInfo
	if isUTM(mi) && mi.Zone == g.cfg.Zone && mi.North == g.cfg.North {
		return geo.Map
	}
	return func(x, y float64) (float64, float64) {
		lat, lon := geo.LatLon(x, y)
		return cube.LatLonToUTM(lat, lon, g.cfg.Zone, g.cfg.North)
	}
}

// resample turns a pass into one measurement per cell. Pixels no larger
// than a cell are aggregated: each pixel goes to the cell holding its
// centre, and the pixels of a cell are combined by inverse variance (the
// cell mean). Pixels coarser than a cell are sampled: each cell whose
// centre lies in the pass takes the pixel under its centre. It returns the
// measurements and the median pixels per cell of the cells well inside the
// pass (0 when sampled).
func (g *Grid) resample(p Pass) ([]cellMeas, float64, int, error) {
	dx, dy := p.Geo.PixelSizeMeters()
	cell := g.cfg.CellM
	toGrid := g.toGrid(p.Geo)
	if g.cfg.Source != nil {
		return g.sourceMeas(p, toGrid)
	}
	if math.Max(dx, dy) > cell {
		return g.sample(p, toGrid), 0, 0, nil
	}
	if p.Wind != nil && g.cfg.PlumeLengthM > 0 {
		m, full := g.footprint(p, toGrid, math.Min(dx, dy))
		return m, full, 0, nil
	}
	acc := map[[2]int64]*cellMeas{}
	for y := 0; y < p.H; y++ {
		for x := 0; x < p.W; x++ {
			k := y*p.W + x
			c, s := float64(p.C[k]), float64(p.Sigma[k])
			if math.IsNaN(c) || math.IsInf(c, 0) || !(s > 0) || math.IsInf(s, 0) {
				continue
			}
			e, n := toGrid(float64(x)+0.5, float64(y)+0.5)
			key := [2]int64{int64(math.Floor(e / cell)), int64(math.Floor(n / cell))}
			m := acc[key]
			if m == nil {
				m = &cellMeas{i: key[0], j: key[1]}
				acc[key] = m
			}
			w := 1 / (s * s)
			m.sw += w
			m.sc += w * c
			m.n++
		}
	}
	out := make([]cellMeas, 0, len(acc))
	counts := make([]int, 0, len(acc))
	for _, m := range acc {
		out = append(out, *m)
		counts = append(counts, m.n)
	}
	slices.Sort(counts)
	// The typical full cell: the upper quartile of counts (edge cells are
	// partial, and there are few of them in a real pass).
	full := float64(counts[len(counts)*3/4])
	slices.SortFunc(out, func(a, b cellMeas) int {
		if a.j != b.j {
			return cmpInt64(a.j, b.j)
		}
		return cmpInt64(a.i, b.i)
	})
	return out, full, 0, nil
}

// footprint gives each cell the inverse-variance mean of the pixels in its
// source footprint: the rectangle from the cell's upwind edge to
// PlumeLengthM downwind of its centre, max(PlumeWidthM, CellM) across the
// wind. A source in the cell puts its near-field plume there whatever the
// wind, so persistent sources add up over passes whose winds differ.
// Footprints of neighbouring cells overlap (the cells are correlated within
// a pass, like the pixels of a smoothed image); within a footprint the
// pixels are combined once each, and the pass's inflation factor accounts
// for their spatial correlation as for plain cells.
func (g *Grid) footprint(p Pass, toGrid func(x, y float64) (float64, float64), px float64) ([]cellMeas, float64) {
	cell := g.cfg.CellM
	// Downwind unit vector (east, north): the wind blows towards from+180°.
	s, c := math.Sincos(p.Wind.FromDeg * math.Pi / 180)
	de, dn := -s, -c
	width := math.Max(g.cfg.PlumeWidthM, cell)
	// Pixel offsets of the footprint relative to the pixel under the cell
	// centre, from the pass's local affine map at its centre.
	cx, cy := float64(p.W)/2, float64(p.H)/2
	e0, n0 := toGrid(cx, cy)
	inv := func(e, n float64) (float64, float64) { // grid metres → pass pixel offsets from (cx, cy), locally
		ex, nx := toGrid(cx+1, cy)
		ey, ny := toGrid(cx, cy+1)
		a, b, cc, d := ex-e0, ey-e0, nx-n0, ny-n0
		det := a*d - b*cc
		de, dn := e-e0, n-n0
		return (d*de - b*dn) / det, (a*dn - cc*de) / det
	}
	// offsets returns the distinct pixel offsets of the rectangle from a to
	// a1 metres along the wind.
	offsets := func(a0, a1 float64) [][2]int {
		seen := map[[2]int]bool{}
		var offs [][2]int
		step := px / 2
		for a := a0; a <= a1; a += step {
			for b := -width / 2; b <= width/2; b += step {
				e, n := e0+a*de+b*dn, n0+a*dn-b*de
				x, y := inv(e, n)
				o := [2]int{int(math.Floor(cx+x)) - int(math.Floor(cx)), int(math.Floor(cy+y)) - int(math.Floor(cy))}
				if !seen[o] {
					seen[o] = true
					offs = append(offs, o)
				}
			}
		}
		return offs
	}
	down := offsets(-cell/2, g.cfg.PlumeLengthM)
	var up [][2]int
	if *g.cfg.Differential {
		up = offsets(-cell/2-g.cfg.PlumeLengthM-cell/2, -cell/2-step1(px))
	}
	minI, minJ, maxI, maxJ := g.cellRange(p, toGrid)
	var out []cellMeas
	for j := minJ; j <= maxJ; j++ {
		for i := minI; i <= maxI; i++ {
			x, y := g.pixelOf(p.Geo, (float64(i)+0.5)*cell, (float64(j)+0.5)*cell)
			if x < 0 || y < 0 || x >= float64(p.W) || y >= float64(p.H) {
				continue // the cell itself must be in the pass
			}
			x0, y0 := int(math.Floor(x)), int(math.Floor(y))
			m := p.boxMean(x0, y0, down)
			if m.n == 0 {
				continue
			}
			if up != nil {
				u := p.boxMean(x0, y0, up)
				if u.n == 0 {
					continue
				}
				// ĉ = ĉ_down − ĉ_up, var = 1/Σw_down + 1/Σw_up.
				c := m.sc/m.sw - u.sc/u.sw
				w := 1 / (1/m.sw + 1/u.sw)
				m = cellMeas{sw: w, sc: w * c, n: m.n + u.n}
			}
			m.i, m.j = i, j
			out = append(out, m)
		}
	}
	return out, float64(len(down) + len(up))
}

// step1 is one pixel's step back from the footprint, so the upwind and
// downwind rectangles share no pixel.
func step1(px float64) float64 { return px }

// boxMean sums w and w·ĉ over the valid pixels at the offsets from (x0, y0).
func (p *Pass) boxMean(x0, y0 int, offs [][2]int) cellMeas {
	var m cellMeas
	for _, o := range offs {
		xx, yy := x0+o[0], y0+o[1]
		if xx < 0 || yy < 0 || xx >= p.W || yy >= p.H {
			continue
		}
		k := yy*p.W + xx
		cv, sv := float64(p.C[k]), float64(p.Sigma[k])
		if math.IsNaN(cv) || math.IsInf(cv, 0) || !(sv > 0) || math.IsInf(sv, 0) {
			continue
		}
		w := 1 / (sv * sv)
		m.sw += w
		m.sc += w * cv
		m.n++
	}
	return m
}

func (g *Grid) sample(p Pass, toGrid func(x, y float64) (float64, float64)) []cellMeas {
	cell := g.cfg.CellM
	minI, minJ, maxI, maxJ := g.cellRange(p, toGrid)
	var out []cellMeas
	for j := minJ; j <= maxJ; j++ {
		for i := minI; i <= maxI; i++ {
			e, n := (float64(i)+0.5)*cell, (float64(j)+0.5)*cell
			x, y := g.pixelOf(p.Geo, e, n)
			xi, yi := int(math.Floor(x)), int(math.Floor(y))
			if x < 0 || y < 0 || xi >= p.W || yi >= p.H {
				continue
			}
			k := yi*p.W + xi
			c, s := float64(p.C[k]), float64(p.Sigma[k])
			if math.IsNaN(c) || math.IsInf(c, 0) || !(s > 0) || math.IsInf(s, 0) {
				continue
			}
			w := 1 / (s * s)
			out = append(out, cellMeas{i: i, j: j, sw: w, sc: w * c, n: 1})
		}
	}
	return out
}

// pixelOf is the inverse of toGrid.
func (g *Grid) pixelOf(geo *cube.Georef, e, n float64) (x, y float64) {
	mi := geo.MapInfo
	if isUTM(mi) && mi.Zone == g.cfg.Zone && mi.North == g.cfg.North {
		return geo.Pixel(e, n)
	}
	lat, lon := cube.UTMToLatLon(g.cfg.Zone, g.cfg.North, e, n)
	if isUTM(mi) {
		ee, nn := cube.LatLonToUTM(lat, lon, mi.Zone, mi.North)
		return geo.Pixel(ee, nn)
	}
	return geo.Pixel(lon, lat)
}

// cellRange is the range of cells (inclusive) the pass's corners fall in.
func (g *Grid) cellRange(p Pass, toGrid func(x, y float64) (float64, float64)) (minI, minJ, maxI, maxJ int64) {
	minI, minJ, maxI, maxJ = math.MaxInt64, math.MaxInt64, math.MinInt64, math.MinInt64
	for _, q := range [][2]float64{{0, 0}, {float64(p.W), 0}, {0, float64(p.H)}, {float64(p.W), float64(p.H)}} {
		e, n := toGrid(q[0], q[1])
		i, j := int64(math.Floor(e/g.cfg.CellM)), int64(math.Floor(n/g.cfg.CellM))
		minI, minJ, maxI, maxJ = min(minI, i), min(minJ, j), max(maxI, i), max(maxJ, j)
	}
	return minI, minJ, maxI, maxJ
}

func isUTM(mi cube.MapInfo) bool { return strings.EqualFold(strings.TrimSpace(mi.Projection), "UTM") }

// inflationMinCells is the fewest background cells the inflation factor is
// measured on; with fewer, the factor is 1 (independent pixels assumed).
const inflationMinCells = 50

// inflation measures how much wider the pass's cell z-scores are spread
// than independent pixels would make them. The cell mean of k pixels has
// variance 1/Σw only if their errors are independent; neighbouring pixels
// of a retrieval share clutter (ground texture, the background fit), so the
// cell z's spread is measured: on the negative half of the cells that hold
// at least half the full count (gas only raises z, so that half is
// background), by the median of z², whose value for N(0,1) is the median of
// χ²₁, 0.45494 (a robust scale: a few clutter outliers do not move it).
// The factor is never below 1, so a pass never counts for more than its
// pixels' own σ say.
func inflation(meas []cellMeas, full float64) float64 {
	minN := max(1, int(full/2))
	var z2 []float64
	for _, m := range meas {
		if m.n < minN {
			continue
		}
		if z := m.sc / math.Sqrt(m.sw); z < 0 {
			z2 = append(z2, z*z)
		}
	}
	if len(z2) < inflationMinCells {
		return 1
	}
	slices.Sort(z2)
	med := z2[len(z2)/2]
	if len(z2)%2 == 0 {
		med = (z2[len(z2)/2-1] + med) / 2
	}
	const medianChi2_1 = 0.454936423119572 // median of χ² with 1 degree of freedom
	return math.Max(1, math.Sqrt(med/medianChi2_1))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// CellEvidence is the combined evidence of one gas in one cell.
type CellEvidence struct {
	I, J int64 // the cell
	// PPMm is the combined ĉ and SigmaPPMm its 1σ; Z = PPMm/SigmaPPMm.
	// In a source grid (GridConfig.Source) they are NaN, and RateKgH and
	// SigmaKgH hold the combined emission rate of a source in the cell and
	// its 1σ; Z = RateKgH/SigmaKgH. Elsewhere RateKgH and SigmaKgH are NaN.
	PPMm, SigmaPPMm, Z float64
	RateKgH, SigmaKgH  float64
	Passes, Seen       int
	LastPass, LastSeen time.Time // zero: never
}

func (g *Grid) cellOf(t *Tile, idx int) CellEvidence {
	ev := g.cellSums(t, idx)
	if g.cfg.Source != nil {
		ev.RateKgH, ev.SigmaKgH = ev.PPMm, ev.SigmaPPMm
		ev.PPMm, ev.SigmaPPMm = math.NaN(), math.NaN()
	} else {
		ev.RateKgH, ev.SigmaKgH = math.NaN(), math.NaN()
	}
	return ev
}

// sigma is a cell's combined 1σ in the grid's unit (ppm·m, or kg/h in a
// source grid).
func (ev *CellEvidence) sigma() float64 {
	if math.IsNaN(ev.SigmaPPMm) {
		return ev.SigmaKgH
	}
	return ev.SigmaPPMm
}

// value is a cell's combined estimate in the grid's unit.
func (ev *CellEvidence) value() float64 {
	if math.IsNaN(ev.PPMm) {
		return ev.RateKgH
	}
	return ev.PPMm
}

func (g *Grid) cellSums(t *Tile, idx int) CellEvidence {
	ev := CellEvidence{Passes: int(t.Passes[idx]), Seen: int(t.Seen[idx])}
	if t.LastPass[idx] != 0 {
		ev.LastPass = time.Unix(t.LastPass[idx], 0).UTC()
	}
	if t.LastSeen[idx] != 0 {
		ev.LastSeen = time.Unix(t.LastSeen[idx], 0).UTC()
	}
	sw := t.SumW[idx]
	if !(sw > 0) {
		ev.PPMm, ev.SigmaPPMm, ev.Z = math.NaN(), math.NaN(), math.NaN()
		return ev
	}
	ev.PPMm = t.SumWC[idx] / sw
	ev.SigmaPPMm = math.Sqrt(t.SumW2[idx]) / sw
	ev.Z = ev.PPMm / ev.SigmaPPMm
	return ev
}

// CellAt returns the cell holding a grid easting and northing.
func (g *Grid) CellAt(e, n float64) (i, j int64) {
	return int64(math.Floor(e / g.cfg.CellM)), int64(math.Floor(n / g.cfg.CellM))
}

// CellCentre returns a cell's centre in grid easting and northing.
func (g *Grid) CellCentre(i, j int64) (e, n float64) {
	return (float64(i) + 0.5) * g.cfg.CellM, (float64(j) + 0.5) * g.cfg.CellM
}

// TileOf is the key of the tile of a gas that holds cell (i, j).
func (g *Grid) TileOf(gas string, i, j int64) TileKey {
	T := int64(g.cfg.TileCells)
	return TileKey{Gas: gas, TX: int32(floorDiv(i, T)), TY: int32(floorDiv(j, T))}
}

// Evidence returns the combined evidence of a gas in cell (i, j); ok is
// false when no pass has covered the cell.
func (g *Grid) Evidence(ctx context.Context, gas string, i, j int64) (CellEvidence, bool, error) {
	T := int64(g.cfg.TileCells)
	k := g.TileOf(gas, i, j)
	t, err := g.store.LoadTile(ctx, k)
	if errors.Is(err, ErrNotFound) {
		return CellEvidence{I: i, J: j}, false, nil
	}
	if err != nil {
		return CellEvidence{}, false, err
	}
	idx := int(j-int64(k.TY)*T)*t.Size + int(i-int64(k.TX)*T)
	ev := g.cellOf(t, idx)
	ev.I, ev.J = i, j
	return ev, ev.Passes > 0, nil
}

// GranulePass names a granule run's output (internal/granule's
// ppmm-<gas>.hdr and ppmm-sigma-<gas>.hdr in Dir) as one pass.
type GranulePass struct {
	Dir   string
	ID    string
	Time  time.Time
	Gases []string
	Wind  *Wind
}

// AddGranule adds every gas of a granule run as one pass.
func (g *Grid) AddGranule(ctx context.Context, gp GranulePass) ([]PassReport, error) {
	var reps []PassReport
	dir, id, t := gp.Dir, gp.ID, gp.Time
	// The granule's residual gate: pixels whose anomaly the gases do not
	// explain (a hot roof, a surface unlike any background) are no
	// evidence either way, here as in its detections.
	var res []float32
	var limit float32
	if _, err := os.Stat(filepath.Join(dir, "residual.hdr")); err == nil {
		r, _, _, _, err := readMap(filepath.Join(dir, "residual.hdr"))
		if err != nil {
			return reps, err
		}
		if limit, err = granule.ResidualLimit(r); err != nil {
			return reps, fmt.Errorf("%s: %w", dir, err)
		}
		res = r
	}
	for _, gas := range gp.Gases {
		c, geo, w, h, err := readMap(filepath.Join(dir, "ppmm-"+gas+".hdr"))
		if err != nil {
			return reps, err
		}
		s, _, ws, hs, err := readMap(filepath.Join(dir, "ppmm-sigma-"+gas+".hdr"))
		if err != nil {
			return reps, err
		}
		if ws != w || hs != h {
			return reps, fmt.Errorf("%s: ppm·m is %d×%d, its σ %d×%d", dir, w, h, ws, hs)
		}
		if geo == nil {
			return reps, fmt.Errorf("%s: ppmm-%s has no usable map info: %w", dir, gas, cube.ErrNoGeoref)
		}
		if res != nil {
			z, _, wz, hz, err := readMap(filepath.Join(dir, "mf-"+gas+".hdr"))
			if err != nil {
				return reps, err
			}
			if wz != w || hz != h {
				return reps, fmt.Errorf("%s: ppm·m is %d×%d, its z-score %d×%d", dir, w, h, wz, hz)
			}
			for k := range c {
				if granule.Unexplained(z[k], res[k], limit) {
					c[k] = float32(math.NaN())
				}
			}
		}
		rep, err := g.AddPass(ctx, Pass{ID: id, Time: t, Gas: gas, W: w, H: h, C: c, Sigma: s, Geo: geo, Wind: gp.Wind})
		if err != nil {
			return reps, err
		}
		reps = append(reps, rep)
	}
	return reps, nil
}

func readMap(path string) ([]float32, *cube.Georef, int, int, error) {
	f, err := cube.Open(path)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	defer f.Close()
	if f.Header.Bands != 1 {
		return nil, nil, 0, 0, fmt.Errorf("%s: %d bands, want 1: %w", path, f.Header.Bands, cube.ErrFormat)
	}
	c, err := f.ReadAll()
	if err != nil {
		return nil, nil, 0, 0, err
	}
	geo, err := f.Header.Georef()
	if err != nil && !errors.Is(err, cube.ErrNoGeoref) {
		return nil, nil, 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	return c.Pix, geo, c.Rect.Dx(), c.Rect.Dy(), nil
}
