package coverage

import (
	"errors"
	"fmt"
	"math"

	"github.com/atalaya-project/atalaya/internal/sim"
	"github.com/atalaya-project/atalaya/internal/spectra"
)

// ErrInput is wrapped by errors about invalid arguments: a footprint, a
// sensitivity, a plume model or planning options that cannot be used.
var ErrInput = errors.New("coverage: invalid input")

// Plume is the dispersion under which a pass's column noise is turned into a
// minimum detectable emission rate: the wind, the atmospheric stability and
// the gas.
type Plume struct {
	// WindMS is the wind speed (m/s), usually the 10 m wind of the pass.
	WindMS float64
	// Stability is the Pasquill–Gifford class A–F ("" means D).
	Stability string
	// MolarMass of the gas, g/mol.
	MolarMass float64
	// Air is the pressure and temperature of the air the plume mixes into;
	// the zero value means spectra.StandardConditions.
	Air spectra.Conditions
}

// KgHPerPPMm returns the factor k that turns the 1σ noise of a pass's
// retrieved column, σ_c (ppm·m), in pixels of pixelM metres into the 1σ noise
// of the emission rate of a source under the pixel, σ_Q = k·σ_c (kg/h).
//
// The model (docs/coverage.md, "Minimum detectable emission"): air crosses a
// pixel of size p in p/u seconds, so a source of rate Q (kg/s) leaves the
// mass Q·p/u in the pixel just downwind of it; the share f of that mass
// within the pixel's crosswind width is that of a Gaussian of width σ_y(x_c)
// (Briggs rural, as the simulator's plume) at the pixel's characteristic
// distance x_c = p, f = erf(p/(2√2 σ_y(x_c))). The pixel's mean column
// enhancement is ΔΩ = f·Q/(u·p) kg/m², or ΔΩ/κ ppm·m with κ the column mass
// of 1 ppm·m of the gas. This is the source-pixel mass balance of Jacob et
// al. (2016, ACP 16, 14371, §2.3: ΔΩ = Q/(U·W) for a pixel of size W) and
// Varon et al. (2018, AMT 11, 5673, §3.2), with the crosswind share made
// explicit. Hence σ_Q = σ_c·κ·u·p/f and k = 3600·κ·u·p/f (kg/h per ppm·m).
func (m Plume) KgHPerPPMm(pixelM float64) (float64, error) {
	if !(m.WindMS > 0) || math.IsInf(m.WindMS, 0) {
		return 0, fmt.Errorf("%w: wind speed %g m/s must be positive and finite", ErrInput, m.WindMS)
	}
	if !(m.MolarMass > 0) || math.IsInf(m.MolarMass, 0) {
		return 0, fmt.Errorf("%w: molar mass %g g/mol must be positive and finite", ErrInput, m.MolarMass)
	}
	if !(pixelM > 0) || math.IsInf(pixelM, 0) {
		return 0, fmt.Errorf("%w: pixel size %g m must be positive and finite", ErrInput, pixelM)
	}
	air := m.Air
	if air == (spectra.Conditions{}) {
		air = spectra.StandardConditions
	}
	if !(air.PressurePa > 0) || !(air.TemperatureK > 0) {
		return 0, fmt.Errorf("%w: air at %g Pa, %g K", ErrInput, air.PressurePa, air.TemperatureK)
	}
	// σ_y at one pixel downwind, and not below the simulator's 1 m near
	// field (a vent is about a metre across: internal/sim nearFieldM).
	sy, _, err := sim.Sigmas(m.Stability, math.Max(pixelM, 1))
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInput, err)
	}
	f := math.Erf(pixelM / (2 * math.Sqrt2 * sy))
	kappa := spectra.PPMmToKgPerM2(1, m.MolarMass, air)
	return 3600 * kappa * m.WindMS * pixelM / f, nil
}

// MDL returns the minimum detectable emission rate (kg/h) of one pass: the
// rate whose pixel column reaches threshold·σ_c, threshold times the 1σ
// emission noise (a source of exactly this rate is detected half the time).
func MDL(sigmaPPMm, threshold, pixelM float64, m Plume) (float64, error) {
	if !(sigmaPPMm > 0) || math.IsInf(sigmaPPMm, 0) {
		return 0, fmt.Errorf("%w: column noise %g ppm·m must be positive and finite", ErrInput, sigmaPPMm)
	}
	if !(threshold > 0) || math.IsInf(threshold, 0) {
		return 0, fmt.Errorf("%w: threshold %g must be positive and finite", ErrInput, threshold)
	}
	k, err := m.KgHPerPPMm(pixelM)
	if err != nil {
		return 0, err
	}
	return threshold * sigmaPPMm * k, nil
}

// Accumulate combines the 1σ emission noises of passes over the same ground
// as an inverse-variance weighted mean of the passes' estimates, for a
// persistent source: σ_n = (Σ 1/σ_i²)^(−1/2). It returns +Inf for no passes.
func Accumulate(sigmas ...float64) float64 {
	var w float64
	for _, s := range sigmas {
		w += 1 / (s * s)
	}
	return 1 / math.Sqrt(w)
}
