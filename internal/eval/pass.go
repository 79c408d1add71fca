package eval

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/detect"
	"github.com/atalaya-project/atalaya/internal/granule"
	"github.com/atalaya-project/atalaya/internal/plume"
	"github.com/atalaya-project/atalaya/internal/sim"
	"github.com/atalaya-project/atalaya/internal/spectra"
)

// OnGasSigma is how many 1σ of a pixel's retrieval its true column must
// reach for the pixel to count as holding the gas: below 1σ a detection
// there is the noise's doing, not the gas's.
const OnGasSigma = 1.0

// untestedFloorPPMm is the true column of a gas that is not tested above
// which a pixel is not counted as gas-free: the retrieval noise of the
// library's gases at the presets' contrast is 30-100 ppm·m, so 10 ppm·m is
// well below anything that could raise a detection.
const untestedFloorPPMm = 10

// groupGapPx is the gap (pixels) across which the components of one gas
// are merged into one plume for quantification: the puffs of an
// intermittent plume lie a puff length apart (10 m coherence in the
// simulator's turbulence, sim.DefaultTurbulence) and fall apart at the
// detection threshold.
const groupGapPx = 5

// pass is one simulated pass after detection: the maps of every tested gas
// and the truth, ready to be scored at any threshold.
type pass struct {
	scenario, name string
	scene          *sim.Scene
	w, h           int
	areaKm2        float64
	pixArea        float64
	cond           spectra.Conditions
	active         []int // indices of the scene's sources emitting during the pass
	gases          []*gasMaps
	// noGas marks pixels that hold no gas at all (no tested gas at
	// OnGasSigma, no untested gas above untestedFloorPPMm).
	noGas []bool
	// owner is the index of the source whose plume axis passes nearest
	// each pixel (-1 with no sources).
	owner []int16
	res   *granule.Result
}

// gasMaps is one tested gas in one pass.
type gasMaps struct {
	gas         string
	molar       float64
	z, ppmm, sd []float32
	truth       []float32 // nil when the scene has none of this gas
	test        granule.Test
	tail        *detect.Tail
	asym        float64
}

// onGas reports whether pixel p holds gas g.
func (g *gasMaps) onGas(p int) bool {
	return g.truth != nil && float64(g.truth[p]) >= OnGasSigma*float64(g.sd[p])
}

// runPass simulates one pass into dir, runs detection and loads the maps.
// The radiance cube is removed afterwards unless keep.
func (e *evaluator) runPass(ctx context.Context, dir, scenario, name string, sc *sim.Scene, gases []string, far float64) (*pass, error) {
	o, err := sim.WriteScene(dir, sc, e.cfg.Library, nil)
	if err != nil {
		return nil, fmt.Errorf("simulate %s/%s: %w", scenario, name, err)
	}
	res, err := granule.Process(ctx, granule.Config{
		Cube: o.Radiance, OutDir: filepath.Join(dir, "detect"), Methods: []string{granule.MethodMF},
		Gases: append([]string(nil), gases...), FARPerKm2: far, Library: e.cfg.Library, Log: e.granuleLog,
	})
	if err != nil {
		return nil, fmt.Errorf("detect %s/%s: %w", scenario, name, err)
	}
	if !e.cfg.Keep {
		for _, f := range []string{o.Radiance, cubeData(o.Radiance)} {
			if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
				return nil, err
			}
		}
	}
	p := &pass{scenario: scenario, name: name, scene: sc, w: sc.Samples, h: sc.Lines, res: res,
		areaKm2: res.AreaKm2, pixArea: res.PixelSizeM[0] * res.PixelSizeM[1]}
	p.cond = spectra.Conditions{PressurePa: sc.Weather.PressurePa, TemperatureK: sc.Weather.AirTempK}
	if p.cond.PressurePa == 0 {
		p.cond.PressurePa = spectra.StandardAtmospherePa
	}
	for i, s := range sc.Sources {
		y := int(math.Max(0, math.Min(float64(sc.Lines-1), -s.North/sc.GSD)))
		if s.ActiveAt(sc.LineTime(y)) {
			p.active = append(p.active, i)
		}
	}
	truth, err := cube.ReadFile(o.Truth)
	if err != nil {
		return nil, err
	}
	names := sc.Gases()
	band := map[string]int{}
	for i, g := range names {
		band[g] = i
	}
	det := filepath.Join(dir, "detect")
	// The granule's residual gate: pixels whose anomaly the gases do not
	// explain are no evidence either way (granule.Unexplained).
	residual, err := readBand(filepath.Join(det, "residual.hdr"))
	if err != nil {
		return nil, err
	}
	limit, err := granule.ResidualLimit(residual)
	if err != nil {
		return nil, err
	}
	for _, g := range gases {
		gm := &gasMaps{gas: g}
		ent, err := e.cfg.Library.Get(g)
		if err != nil {
			return nil, err
		}
		gm.molar = ent.MolarMass
		for _, t := range res.Tests {
			if t.Gas == g {
				gm.test = t
			}
		}
		if gm.z, err = readBand(filepath.Join(det, "mf-"+g+".hdr")); err != nil {
			return nil, err
		}
		if gm.ppmm, err = readBand(filepath.Join(det, "ppmm-"+g+".hdr")); err != nil {
			return nil, err
		}
		if gm.sd, err = readBand(filepath.Join(det, "ppmm-sigma-"+g+".hdr")); err != nil {
			return nil, err
		}
		if b, ok := band[g]; ok {
			gm.truth = truth.Band(b, nil)
		}
		for i, z := range gm.z {
			if granule.Unexplained(z, residual[i], limit) {
				gm.z[i] = float32(math.NaN())
				gm.ppmm[i] = float32(math.NaN())
			}
		}
		if gm.tail, gm.asym, err = granule.MatchedFilterTail(gm.z); err != nil {
			return nil, fmt.Errorf("%s/%s %s: %w", scenario, name, g, err)
		}
		p.gases = append(p.gases, gm)
	}
	n := p.w * p.h
	p.noGas = make([]bool, n)
	tested := map[string]bool{}
	for _, g := range gases {
		tested[g] = true
	}
	for i := range p.noGas {
		free := true
		for _, g := range p.gases {
			if g.onGas(i) {
				free = false
				break
			}
		}
		for _, g := range names {
			if free && !tested[g] && truth.At(i%p.w, i/p.w)[band[g]] > untestedFloorPPMm {
				free = false
			}
		}
		p.noGas[i] = free
	}
	p.owner = make([]int16, n)
	for i := range p.owner {
		p.owner[i] = int16(sc.NearestSource(i%p.w, i/p.w))
	}
	if !e.cfg.Keep {
		// The score cubes are in memory now; the folder is scratch.
		if err := os.RemoveAll(dir); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// warnOnly passes on records of level Warn and above: the granule's
// informational lines, once per pass, would bury an evaluation's log.
type warnOnly struct{ slog.Handler }

func (h warnOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

func (h warnOnly) WithAttrs(a []slog.Attr) slog.Handler { return warnOnly{h.Handler.WithAttrs(a)} }
func (h warnOnly) WithGroup(n string) slog.Handler      { return warnOnly{h.Handler.WithGroup(n)} }

// cubeData returns the data file next to an ENVI header (.img, as
// sim.WriteScene names it).
func cubeData(hdr string) string { return hdr[:len(hdr)-len(filepath.Ext(hdr))] + ".img" }

// thresholds returns the granule's hysteresis thresholds for a per-pixel
// false-alarm probability (granule: low at 100× the probability, capped
// at 1%).
func (g *gasMaps) thresholds(pix float64) (high, low float32) {
	hi, lo := granule.Thresholds(g.tail, g.asym, pix)
	if lo > hi {
		lo = hi
	}
	return float32(hi), float32(lo)
}

// det is one detection scored against the truth.
type det struct {
	gas    int // index into pass.gases
	comp   plume.Component
	onGas  bool
	noGas  bool
	source int // owner when on gas, else -1
}

// segment finds the detections of every gas at per-pixel false-alarm
// probability pix (nil: the granule's own thresholds).
func (p *pass) segment(pix *float64) []det {
	var out []det
	for gi, g := range p.gases {
		hi, lo := float32(g.test.Threshold), float32(g.test.LowThresh)
		if pix != nil {
			hi, lo = g.thresholds(*pix)
		}
		for _, c := range plume.Segment(g.z, p.w, p.h, hi, lo) {
			d := det{gas: gi, comp: c, source: -1}
			d.onGas = g.onGas(c.Peak)
			d.noGas = p.noGas[c.Peak]
			if d.onGas {
				d.source = int(p.owner[c.Peak])
			}
			out = append(out, d)
		}
	}
	return out
}

func readBand(path string) ([]float32, error) {
	c, err := cube.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return c.Pix, nil
}
