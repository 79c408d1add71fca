package spectra

import "math"

// Radiation constants derived from the CODATA 2018 exact constants.
const (
	// c1L = 2hc², first radiation constant for spectral radiance, W·m²/sr.
	c1L = 2 * PlanckConstant * SpeedOfLight * SpeedOfLight
	// c2 = hc/k, second radiation constant, m·K (1.438776877e-2).
	c2 = PlanckConstant * SpeedOfLight / BoltzmannConstant
)

// PlanckWavenumber returns the spectral radiance of a blackbody at
// temperature T (K) and wavenumber nu (cm⁻¹), in W/(m²·sr·cm⁻¹):
//
//	B(ν) = 2hc²ν³ / (exp(hcν/kT) − 1)
//
// with ν in m⁻¹ (100·nu), times 100 (per m⁻¹ → per cm⁻¹). It returns 0 for
// T = 0 and NaN for nu ≤ 0 or T < 0 or non-finite input.
func PlanckWavenumber(nu, T float64) float64 {
	if !(nu > 0) || !(T >= 0) || math.IsInf(nu, 0) || math.IsInf(T, 0) {
		return math.NaN()
	}
	if T == 0 {
		return 0
	}
	v := 100 * nu
	return 100 * c1L * v * v * v / math.Expm1(c2*v/T)
}

// PlanckWavelength returns the spectral radiance of a blackbody at
// temperature T (K) and wavelength lambda (µm), in W/(m²·sr·µm):
//
//	B(λ) = 2hc² / (λ⁵ (exp(hc/λkT) − 1))
//
// with λ in m, times 10⁻⁶ (per m → per µm). It returns 0 for T = 0 and NaN
// for lambda ≤ 0 or T < 0 or non-finite input.
func PlanckWavelength(lambda, T float64) float64 {
	if !(lambda > 0) || !(T >= 0) || math.IsInf(lambda, 0) || math.IsInf(T, 0) {
		return math.NaN()
	}
	if T == 0 {
		return 0
	}
	l := lambda * 1e-6
	return 1e-6 * c1L / (l * l * l * l * l * math.Expm1(c2/(l*T)))
}

// BrightnessTemperatureWavenumber inverts PlanckWavenumber: the temperature
// (K) of the blackbody whose radiance at nu (cm⁻¹) is L (W/(m²·sr·cm⁻¹)).
// NaN for L ≤ 0 or nu ≤ 0.
func BrightnessTemperatureWavenumber(nu, L float64) float64 {
	if !(nu > 0) || !(L > 0) || math.IsInf(nu, 0) || math.IsInf(L, 0) {
		return math.NaN()
	}
	v := 100 * nu
	return c2 * v / math.Log1p(100*c1L*v*v*v/L)
}

// BrightnessTemperatureWavelength inverts PlanckWavelength: the temperature
// (K) of the blackbody whose radiance at lambda (µm) is L (W/(m²·sr·µm)).
// NaN for L ≤ 0 or lambda ≤ 0.
func BrightnessTemperatureWavelength(lambda, L float64) float64 {
	if !(lambda > 0) || !(L > 0) || math.IsInf(lambda, 0) || math.IsInf(L, 0) {
		return math.NaN()
	}
	l := lambda * 1e-6
	return c2 / (l * math.Log1p(1e-6*c1L/(l*l*l*l*l*L)))
}
