package sites

import (
	"fmt"
	"math"

	"github.com/atalaya-project/atalaya/internal/sim"
	"github.com/atalaya-project/atalaya/internal/spectra"
)

// SourceConfig makes a grid a source grid: each pass's measurement of a
// cell is the emission rate (kg/h) of a point source in that cell, fitted
// to the pass's retrieval by a wind-aligned matched spatial filter, instead
// of the cell's mean column. See the package documentation ("Source
// statistic") for the model.
type SourceConfig struct {
	// LengthM is how far downwind of the cell the template reaches, m
	// (default 15: a small source's near field, where its column is
	// highest; 25 and 40 m did no better on the simulated surveys of
	// docs/evidence.md and cost 2-4 times as much).
	LengthM float64
	// DirSigmaDeg is the 1σ error of a pass's wind direction, degrees,
	// marginalised into the template (default 10: the error assumed for
	// weather-model or flight-log winds in docs/evaluation.md).
	DirSigmaDeg float64
	// ThroughZ is the through-plume gate's z-score (default 2): a pass's
	// measurement of a cell is left out when the pass holds gas at this
	// z or more both in a band upwind of the cell and in the mirrored
	// band downwind — the cell lies inside a plume passing through, where
	// puffs, not a source, make the filter's response (see through.go).
	// +Inf turns the gate off.
	ThroughZ float64
	// Library gives each gas's molar mass, to express the rate in kg/h
	// (default: spectra.Default()).
	Library *spectra.Library
}

// Source statistic defaults for a pass whose wind leaves them out.
const (
	// defaultAirTempK and defaultPressurePa convert ppm·m to kg/m²
	// when a pass's wind does not say (the ICAO standard atmosphere at
	// sea level; they scale the rate, never z).
	defaultAirTempK   = 288.15
	defaultPressurePa = spectra.StandardAtmospherePa
	// nearFieldM floors the downwind distance at which the Briggs width
	// is evaluated: the fits are for x of tens of metres and more, and
	// within a metre of a point source the width is the source's own size.
	nearFieldM = 1.0
	// subPositions is the number of source positions per cell side
	// averaged into the template (a source anywhere in its cell).
	subPositions = 5
	// templateFloor drops template pixels whose weight is below this
	// fraction of the largest (they add nothing and cost time).
	templateFloor = 1e-3
)

func (c *SourceConfig) defaults() error {
	if c.LengthM == 0 {
		c.LengthM = 15
	}
	if c.DirSigmaDeg == 0 {
		c.DirSigmaDeg = 10
	}
	if c.ThroughZ == 0 {
		c.ThroughZ = 2
	}
	switch {
	case !(c.LengthM >= 2 && c.LengthM <= 1000):
		return fmt.Errorf("%w: source template length %g m, want 2-1000", ErrConfig, c.LengthM)
	case !(c.DirSigmaDeg >= 0 && c.DirSigmaDeg <= 90):
		return fmt.Errorf("%w: wind direction error %g°, want 0-90", ErrConfig, c.DirSigmaDeg)
	case !(c.ThroughZ > 0):
		return fmt.Errorf("%w: through-plume gate z %g, want > 0 (+Inf: off)", ErrConfig, c.ThroughZ)
	}
	if c.Library == nil {
		lib, err := spectra.Default()
		if err != nil {
			return err
		}
		c.Library = lib
	}
	return nil
}

// passAffine is the local affine map of a pass's pixel offsets to ground
// offsets (m) at its centre: (e, n) = [a b; c d]·(x, y).
func passAffine(p Pass, toGrid func(x, y float64) (float64, float64)) (a, b, c, d float64, err error) {
	cx, cy := float64(p.W)/2, float64(p.H)/2
	e0, n0 := toGrid(cx, cy)
	ex, nx := toGrid(cx+1, cy)
	ey, ny := toGrid(cx, cy+1)
	a, b, c, d = ex-e0, ey-e0, nx-n0, ny-n0
	if !(math.Abs(a*d-b*c) > 0) {
		return 0, 0, 0, 0, fmt.Errorf("%w: pass %s: degenerate georeference", ErrConfig, p.ID)
	}
	return a, b, c, d, nil
}

// srcOff is one pixel of a source template: its offset from the pixel
// under the cell centre, the filter weight t and the expected column of
// one kg/h, s (ppm·m).
type srcOff struct {
	dx, dy int
	t, s   float64
}

// sourceTemplate is the matched spatial filter of one pass for one gas.
type sourceTemplate struct {
	offs []srcOff
	// full is Σt² over the whole template (unit pixel weights): a cell
	// whose valid pixels hold less than half of it is left out.
	full float64
}

// templatePhases is the number of sub-pixel positions per axis of a cell's
// centre that templates are made for: a cell's centre need not be its
// pixel's, and with pixels as large as cells or larger the near field's
// steep column would be misplaced by up to half a pixel.
const templatePhases = 5

// phaseOf quantises a cell centre's offset from its pixel's centre
// (pixels, in [−0.5, 0.5)) to one of templatePhases values, and its index.
func phaseOf(f float64) (float64, int) {
	k := min(templatePhases-1, max(0, int(math.Floor((f+0.5)*templatePhases))))
	return (float64(k)+0.5)/templatePhases - 0.5, k
}

// newSourceTemplate builds the template of a pass: the expected column of
// a 1 kg/h source in the cell, marginalised over the source's position in
// the cell (subPositions² positions) and over the wind direction's error
// (its variance added to the plume's, x·σ_θ across the wind), as seen by
// pixels of the pass (their size added in quadrature). With differential
// on, the filter is that column less its mirror image upwind of the cell:
// antisymmetric along the wind, it cancels whatever is symmetric about
// the cell (a uniform offset, a gradient across the wind, most ground
// clutter) and makes the null distribution of the statistic symmetric, so
// its upper tail is the mirror of its lower one.
func (g *Grid) newSourceTemplate(p Pass, toGrid func(x, y float64) (float64, float64), molarMass, phx, phy float64) (*sourceTemplate, error) {
	sc := g.cfg.Source
	w := p.Wind
	u := w.SpeedMS
	tk, pa := w.AirTempK, w.PressurePa
	if tk == 0 {
		tk = defaultAirTempK
	}
	if pa == 0 {
		pa = defaultPressurePa
	}
	if _, _, err := sim.Sigmas(w.Stability, 1); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	// ppm·m per kg/m², and kg/s per kg/h.
	conv := spectra.KgPerM2ToPPMm(1, molarMass, spectra.Conditions{PressurePa: pa, TemperatureK: tk}) / 3600
	a, b, c, d, err := passAffine(p, toGrid)
	if err != nil {
		return nil, err
	}
	pxM := math.Sqrt(math.Abs(a*d - b*c))
	// Downwind unit vector (east, north).
	sn, cs := math.Sincos(w.FromDeg * math.Pi / 180)
	de, dn := -sn, -cs
	sth := sc.DirSigmaDeg * math.Pi / 180
	cell := g.cfg.CellM
	L := sc.LengthM
	sig := func(x float64) float64 {
		// Briggs' widths, as the simulator's ensemble-mean plume has them.
		sy, _, _ := sim.Sigmas(w.Stability, math.Max(x, nearFieldM))
		return math.Sqrt(sy*sy + x*x*sth*sth + pxM*pxM/12)
	}
	// Mean column (ppm·m per kg/h) at ground offset (e, n) from the cell
	// centre, averaged over source positions in the cell.
	col := func(e, n float64) float64 {
		var sum float64
		for i := range subPositions {
			for j := range subPositions {
				se := (float64(i)+0.5)/subPositions*cell - cell/2
				sn := (float64(j)+0.5)/subPositions*cell - cell/2
				re, rn := e-se, n-sn
				x := re*de + rn*dn
				if x <= 0 || x > L {
					continue
				}
				y := -re*dn + rn*de
				s := sig(x)
				sum += math.Exp(-y*y/(2*s*s)) / (math.Sqrt(2*math.Pi) * s * u)
			}
		}
		return conv * sum / (subPositions * subPositions)
	}
	// The template's extent in ground metres, then in pixels.
	reach := L + cell
	across := 3*sig(L) + cell
	R := math.Hypot(reach, across)
	det := a*d - b*c
	// Pixel offsets whose ground offset lies within R.
	rx := int(math.Ceil(R*math.Hypot(d, b)/math.Abs(det))) + 1
	ry := int(math.Ceil(R*math.Hypot(c, a)/math.Abs(det))) + 1
	diff := *g.cfg.Differential
	var offs []srcOff
	maxT := 0.0
	for oy := -ry; oy <= ry; oy++ {
		for ox := -rx; ox <= rx; ox++ {
			// The pixel's centre relative to the cell's centre, which sits
			// (phx, phy) pixels from the centre of the pixel under it.
			fx, fy := float64(ox)-phx, float64(oy)-phy
			e, n := a*fx+b*fy, c*fx+d*fy
			if math.Hypot(e, n) > R {
				continue
			}
			s := col(e, n)
			t := s
			if diff {
				t -= col(-e, -n) // the point reflected through the cell centre
			}
			if t == 0 {
				continue
			}
			offs = append(offs, srcOff{dx: ox, dy: oy, t: t, s: s})
			maxT = math.Max(maxT, math.Abs(t))
		}
	}
	tp := &sourceTemplate{}
	for _, o := range offs {
		if math.Abs(o.t) >= templateFloor*maxT {
			tp.offs = append(tp.offs, o)
			tp.full += o.t * o.t
		}
	}
	if len(tp.offs) == 0 {
		return nil, fmt.Errorf("%w: pass %s: empty source template", ErrConfig, p.ID)
	}
	return tp, nil
}

// sourceMeas fits, for every cell whose centre lies in the pass, the
// emission rate of a point source in the cell to the pass's retrieval:
// with filter t, expected column s of 1 kg/h and pixel weights w = 1/σ²,
// Q̂ = Σwtĉ / Σwts and var Q̂ = Σwt² / (Σwts)² (the matched filter's
// estimate; unbiased when the plume is the template). It returns the
// measurements (Σw and Σw·ĉ of the cell's one "pixel", Q̂ and its weight)
// and the template's pixel count, the "full cell" of the inflation
// measurement, and the number of cells the through-plume gate left out.
func (g *Grid) sourceMeas(p Pass, toGrid func(x, y float64) (float64, float64)) ([]cellMeas, float64, int, error) {
	if p.Wind == nil || !(p.Wind.SpeedMS > 0) || math.IsInf(p.Wind.SpeedMS, 0) || math.IsNaN(p.Wind.FromDeg) || math.IsInf(p.Wind.FromDeg, 0) {
		return nil, 0, 0, fmt.Errorf("%w: pass %s: a source grid needs the pass's wind direction and speed", ErrConfig, p.ID)
	}
	e, err := g.cfg.Source.Library.Get(p.Gas)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%w: pass %s: %v", ErrConfig, p.ID, err)
	}
	if !(e.MolarMass > 0) {
		return nil, 0, 0, fmt.Errorf("%w: pass %s: gas %s has no molar mass in the library", ErrConfig, p.ID, p.Gas)
	}
	// Templates by the phase of the cell's centre in its pixel, made when
	// first needed; the centre phase's is made now, for its errors and the
	// inflation's full count.
	var tps [templatePhases * templatePhases]*sourceTemplate
	template := func(fx, fy float64) (*sourceTemplate, error) {
		px, kx := phaseOf(fx)
		py, ky := phaseOf(fy)
		if t := tps[ky*templatePhases+kx]; t != nil {
			return t, nil
		}
		t, err := g.newSourceTemplate(p, toGrid, e.MolarMass, px, py)
		tps[ky*templatePhases+kx] = t
		return t, err
	}
	tp0, err := template(0, 0)
	if err != nil {
		return nil, 0, 0, err
	}
	// Pixel weights and weighted columns; invalid pixels weigh 0.
	n := p.W * p.H
	wt := make([]float64, n)
	wc := make([]float64, n)
	for k := range n {
		cv, sv := float64(p.C[k]), float64(p.Sigma[k])
		if math.IsNaN(cv) || math.IsInf(cv, 0) || !(sv > 0) || math.IsInf(sv, 0) {
			continue
		}
		wt[k] = 1 / (sv * sv)
		wc[k] = wt[k] * cv
	}
	gate, err := g.newThroughGate(p, toGrid, wt, wc)
	if err != nil {
		return nil, 0, 0, err
	}
	cell := g.cfg.CellM
	minI, minJ, maxI, maxJ := g.cellRange(p, toGrid)
	var out []cellMeas
	gated := 0
	for j := minJ; j <= maxJ; j++ {
		for i := minI; i <= maxI; i++ {
			x, y := g.pixelOf(p.Geo, (float64(i)+0.5)*cell, (float64(j)+0.5)*cell)
			if x < 0 || y < 0 || x >= float64(p.W) || y >= float64(p.H) {
				continue
			}
			x0, y0 := int(math.Floor(x)), int(math.Floor(y))
			if wt[y0*p.W+x0] == 0 {
				continue // the cell itself must be measured
			}
			if gate.gated(x0, y0) {
				gated++
				continue
			}
			tp, err := template(x-float64(x0)-0.5, y-float64(y0)-0.5)
			if err != nil {
				return nil, 0, 0, err
			}
			var s1, s2, s3, cover float64
			valid := 0
			for _, o := range tp.offs {
				xx, yy := x0+o.dx, y0+o.dy
				if xx < 0 || yy < 0 || xx >= p.W || yy >= p.H {
					continue
				}
				k := yy*p.W + xx
				w := wt[k]
				if w == 0 {
					continue
				}
				s1 += o.t * wc[k]
				s2 += o.t * o.t * w
				s3 += o.t * o.s * w
				cover += o.t * o.t
				valid++
			}
			if cover < tp.full/2 || !(s3 > 0) || !(s2 > 0) {
				continue
			}
			// Q̂ = s1/s3 with weight 1/var = s3²/s2.
			sw := s3 * s3 / s2
			out = append(out, cellMeas{i: i, j: j, sw: sw, sc: sw * s1 / s3, n: valid})
		}
	}
	return out, float64(len(tp0.offs)), gated, nil
}
