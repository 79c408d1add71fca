package plume

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/atalaya-project/atalaya/internal/spectra"
)

// ErrQuantify is wrapped by errors about a plume that cannot be quantified.
var ErrQuantify = errors.New("plume: quantify")

// Wind is the wind during a pass: its speed at plume height, where it blows
// from (degrees clockwise from north, the meteorological convention) and
// the 1σ uncertainty of the speed.
type Wind struct {
	SpeedMS     float64
	FromDeg     float64
	SigmaMS     float64
	SigmaDirDeg float64
}

// UEff is the effective wind speed of the integrated-mass-enhancement
// method, U_eff = A + B·U (m/s) for a wind speed U at plume height: the
// speed at which the mass seen in the image is carried out of it, which is
// lower than the wind because the mask misses the plume's faint edges and
// the plume's mass near the ground moves slower (Varon et al. 2018, "Quantifying
// methane point sources from fine-scale satellite observations of atmospheric
// methane plumes", AMT 11, 5673, §2.3 and Fig. 4). A and B depend on the
// sensor's pixel size and noise and on how the mask is drawn, so they are
// fitted to simulated plumes of known rate with FitUEff, not taken from a
// paper about another instrument.
type UEff struct {
	A float64 `json:"a_ms"`
	B float64 `json:"b"`
	// RelRMS is the relative scatter of the fitted U_eff about the line,
	// which the rate's uncertainty includes.
	RelRMS float64 `json:"rel_rms"`
	// N is the number of plumes fitted.
	N int `json:"n"`
}

// DefaultUEff is the fit of `atalaya eval` to 24 simulated acetone plumes
// (1.5-6 m/s, 8 and 25 kg/h, class D) at 1 m pixels and 0.01 W/(m²·sr·µm)
// NESR, masked by the granule's thresholds at 0.1 false alarms/km²
// (docs/evaluation.md, "U_eff"). Other sensors and masks should be fitted
// again.
var DefaultUEff = UEff{A: -0.19, B: 0.64, RelRMS: 0.40, N: 24}

// At returns U_eff for a wind speed U (m/s), never below 0.1 m/s.
func (u UEff) At(speed float64) float64 { return math.Max(0.1, u.A+u.B*speed) }

// Column is what Quantify reads about one plume in one granule.
type Column struct {
	W, H int
	// Pixels are the indices y*W+x of the plume's pixels.
	Pixels []int
	// PPMm and Sigma are the retrieved concentration-pathlength and its 1σ
	// per pixel (ppm·m), W·H each.
	PPMm, Sigma []float32
	// PixelSizeM is the side of a (square) pixel, m.
	PixelSizeM float64
	// MolarMass of the gas, g/mol, and the conditions converting ppm·m to
	// kg/m² (air temperature and pressure of the pass).
	MolarMass float64
	Cond      spectra.Conditions
}

// Quantity is what a plume holds and where it comes from.
type Quantity struct {
	Pixels int     `json:"pixels"`
	AreaM2 float64 `json:"area_m2"`
	// IMEkg is the integrated mass enhancement Σ ΔΩ_i·A_i (kg), and
	// SigmaIMEkg its 1σ from the pixels' retrieval noise (independent).
	IMEkg      float64 `json:"ime_kg"`
	SigmaIMEkg float64 `json:"sigma_ime_kg"`
	// LengthM is the plume length scale L = √area (Varon et al. 2018, eq. 5).
	LengthM float64 `json:"length_m"`
	// UEffMS is the effective wind speed used.
	UEffMS float64 `json:"ueff_ms"`
	// RateKgH is Q = U_eff·IME/L in kg/h and SigmaRateKgH its 1σ: the wind
	// speed's error through U_eff, the IME's noise and the scatter of the
	// U_eff calibration, added in quadrature (relative).
	RateKgH      float64 `json:"rate_kg_h"`
	SigmaRateKgH float64 `json:"sigma_rate_kg_h"`
	// Origin is the estimated source position in pixel coordinates (pixel
	// centres at +0.5) and SigmaOriginM its 1σ radius in metres.
	OriginX      float64 `json:"origin_x"`
	OriginY      float64 `json:"origin_y"`
	SigmaOriginM float64 `json:"sigma_origin_m"`
}

// Origin estimation: the source is at the upwind end of its plume. Pixels
// whose retrieval reaches originPeakFraction of the plume's peak are the
// plume's body (noise-only pixels at its edge cannot move the estimate);
// the origin is at the most upwind of them along the wind, and at the mean
// crosswind position of the originUpwindFraction furthest upwind (at least
// originMinPixels). The fractions are stated choices, checked
// against simulated plumes in origin tests and docs/evaluation.md.
const (
	originPeakFraction   = 0.25
	originUpwindFraction = 0.05
	originMinPixels      = 3
)

// Quantify computes the integrated mass enhancement, the emission rate and
// the origin of a plume under a wind, with U_eff from ueff.
func Quantify(c Column, wind Wind, ueff UEff) (Quantity, error) {
	var q Quantity
	switch {
	case len(c.Pixels) == 0:
		return q, fmt.Errorf("%w: no pixels", ErrQuantify)
	case len(c.PPMm) != c.W*c.H || len(c.Sigma) != c.W*c.H:
		return q, fmt.Errorf("%w: maps of %d and %d values for %d×%d pixels", ErrQuantify, len(c.PPMm), len(c.Sigma), c.W, c.H)
	case !(c.PixelSizeM > 0):
		return q, fmt.Errorf("%w: pixel size %g m", ErrQuantify, c.PixelSizeM)
	case !(c.MolarMass > 0):
		return q, fmt.Errorf("%w: molar mass %g g/mol", ErrQuantify, c.MolarMass)
	case !(c.Cond.PressurePa > 0 && c.Cond.TemperatureK > 0):
		return q, fmt.Errorf("%w: conditions %g Pa, %g K", ErrQuantify, c.Cond.PressurePa, c.Cond.TemperatureK)
	case !(wind.SpeedMS > 0):
		return q, fmt.Errorf("%w: wind speed %g m/s", ErrQuantify, wind.SpeedMS)
	}
	pixA := c.PixelSizeM * c.PixelSizeM
	kg := spectra.PPMmToKgPerM2(1, c.MolarMass, c.Cond) * pixA // kg per ppm·m in one pixel
	var sum, varSum float64
	n := 0
	for _, p := range c.Pixels {
		v, s := float64(c.PPMm[p]), float64(c.Sigma[p])
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		n++
		sum += v
		if s > 0 && !math.IsInf(s, 0) {
			varSum += s * s
		}
	}
	if n == 0 {
		return q, fmt.Errorf("%w: no finite retrieval in %d pixels", ErrQuantify, len(c.Pixels))
	}
	q.Pixels = n
	q.AreaM2 = float64(n) * pixA
	q.IMEkg = sum * kg
	q.SigmaIMEkg = math.Sqrt(varSum) * kg
	q.LengthM = math.Sqrt(q.AreaM2)
	q.UEffMS = ueff.At(wind.SpeedMS)
	rate := q.UEffMS * q.IMEkg / q.LengthM // kg/s
	q.RateKgH = rate * 3600
	rel2 := sq(ueff.RelRMS)
	if q.IMEkg > 0 {
		rel2 += sq(q.SigmaIMEkg / q.IMEkg)
	}
	rel2 += sq(ueff.B * wind.SigmaMS / q.UEffMS)
	q.SigmaRateKgH = math.Abs(q.RateKgH) * math.Sqrt(rel2)
	q.OriginX, q.OriginY, q.SigmaOriginM = origin(c, wind)
	return q, nil
}

func sq(x float64) float64 { return x * x }

// origin returns the upwind end of the plume (pixel coordinates) and its 1σ
// radius in metres: the spread of the pixels averaged, the pixel's own
// extent (side/√12 per axis), and the wind direction's error swinging the
// estimate about the plume's centroid.
func origin(c Column, wind Wind) (x, y, sigmaM float64) {
	// Downwind unit vector in image coordinates (x east, y south).
	h := (wind.FromDeg + 180) * math.Pi / 180
	dx, dy := math.Sin(h), -math.Cos(h)
	peak := math.Inf(-1)
	for _, p := range c.Pixels {
		if v := float64(c.PPMm[p]); v > peak {
			peak = v
		}
	}
	type px struct{ s, x, y float64 }
	var body []px
	var cx, cy float64
	for _, p := range c.Pixels {
		v := float64(c.PPMm[p])
		if !(v >= originPeakFraction*peak) {
			continue
		}
		xx, yy := float64(p%c.W)+0.5, float64(p/c.W)+0.5
		body = append(body, px{xx*dx + yy*dy, xx, yy})
		cx += xx
		cy += yy
	}
	if len(body) == 0 { // a plume of NaN retrievals: its plain centre
		for _, p := range c.Pixels {
			body = append(body, px{0, float64(p%c.W) + 0.5, float64(p/c.W) + 0.5})
		}
	}
	cx /= float64(len(body))
	cy /= float64(len(body))
	slices.SortFunc(body, func(a, b px) int {
		switch {
		case a.s < b.s:
			return -1
		case a.s > b.s:
			return 1
		}
		return 0
	})
	// Along the wind: the most upwind body pixel (the source lies within
	// it); across: the mean of the k most upwind, which averages the noise
	// of a narrow plume's first pixels.
	k := min(len(body), max(originMinPixels, int(math.Ceil(originUpwindFraction*float64(len(body))))))
	var sc, scc float64
	for _, b := range body[:k] {
		c := -b.x*dy + b.y*dx // crosswind coordinate
		sc += c
		scc += c * c
	}
	fk := float64(k)
	// The first pixel with gas lies downwind of the source by 0-1 pixel.
	along, cross := body[0].s-0.5, sc/fk
	spread := math.Max(0, scc/fk-cross*cross) // pixels², crosswind
	x = along*dx - cross*dy
	y = along*dy + cross*dx
	dir := wind.SigmaDirDeg * math.Pi / 180 * math.Hypot(x-cx, y-cy)
	sigmaPx := math.Sqrt(spread + 2.0/12 + dir*dir)
	return x, y, sigmaPx * c.PixelSizeM
}

// Calibration is one simulated plume of known emission rate, for FitUEff.
type Calibration struct {
	WindMS  float64 `json:"wind_ms"`
	RateKgH float64 `json:"rate_kg_h"`
	IMEkg   float64 `json:"ime_kg"`
	LengthM float64 `json:"length_m"`
}

// UEffOf returns the effective wind speed that makes the plume's rate right:
// Q·L/IME (m/s).
func (c Calibration) UEffOf() float64 { return c.RateKgH / 3600 * c.LengthM / c.IMEkg }

// FitUEff fits U_eff = A + B·U by ordinary least squares to plumes of known
// rate (Varon et al. 2018 fit the same relation to large-eddy simulations).
// Plumes with no positive IME are left out. It needs at least three plumes
// at two or more wind speeds.
func FitUEff(cal []Calibration) (UEff, error) {
	var us, ue []float64
	for _, c := range cal {
		if c.IMEkg > 0 && c.LengthM > 0 && c.RateKgH > 0 && c.WindMS > 0 {
			us = append(us, c.WindMS)
			ue = append(ue, c.UEffOf())
		}
	}
	n := float64(len(us))
	if len(us) < 3 {
		return UEff{}, fmt.Errorf("%w: %d usable calibration plumes, want ≥ 3", ErrQuantify, len(us))
	}
	var mu, me float64
	for i := range us {
		mu += us[i]
		me += ue[i]
	}
	mu /= n
	me /= n
	var suu, sue float64
	for i := range us {
		suu += (us[i] - mu) * (us[i] - mu)
		sue += (us[i] - mu) * (ue[i] - me)
	}
	if suu == 0 {
		return UEff{}, fmt.Errorf("%w: all calibration plumes at one wind speed (%g m/s)", ErrQuantify, mu)
	}
	f := UEff{B: sue / suu, N: len(us)}
	f.A = me - f.B*mu
	var r2 float64
	for i := range us {
		r2 += sq((ue[i] - f.At(us[i])) / f.At(us[i]))
	}
	f.RelRMS = math.Sqrt(r2 / n)
	return f, nil
}

// Group merges components whose pixels come within gap pixels of each
// other (Chebyshev distance), as the puffs of one intermittent plume
// fall apart into separate components at the detection threshold. It
// returns the pixel indices of each group, ascending, groups in the order
// of their strongest component. gap 0 returns the components as they are.
func Group(comps []Component, w, h, gap int) [][]int {
	parent := make([]int, len(comps))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	if gap > 0 && len(comps) > 1 {
		label := make([]int32, w*h) // component+1 of each pixel
		for i, c := range comps {
			for _, p := range c.Pixels {
				label[p] = int32(i + 1)
			}
		}
		for i, c := range comps {
			for _, p := range c.Pixels {
				x, y := p%w, p/w
				for yy := max(0, y-gap); yy <= min(h-1, y+gap); yy++ {
					for xx := max(0, x-gap); xx <= min(w-1, x+gap); xx++ {
						if l := int(label[yy*w+xx]) - 1; l >= 0 && l != i {
							if a, b := find(i), find(l); a != b {
								parent[max(a, b)] = min(a, b)
							}
						}
					}
				}
			}
		}
	}
	idx := map[int]int{}
	var out [][]int
	for i, c := range comps {
		r := find(i)
		k, ok := idx[r]
		if !ok {
			k = len(out)
			idx[r] = k
			out = append(out, nil)
		}
		out[k] = append(out[k], c.Pixels...)
	}
	for _, g := range out {
		slices.Sort(g)
	}
	return out
}
