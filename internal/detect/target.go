package detect

import "fmt"

// ThermalTarget returns the long-wave infrared matched-filter signature per
// unit concentration-pathlength,
//
//	t_b = τ_b · (B_b(T_p) − μ_b) · A_b,
//
// from the atmospheric transmittance τ between plume and sensor, the Planck
// radiance B(T_p) at the plume temperature, the background mean radiance μ
// (same units as B) and the absorption coefficient A per ppm·m in natural-log
// units (NIST quantitative spectra are decadic: multiply by ln 10).
//
// Sign: a plume of optical depth kc over a surface of radiance L_b, seen
// through τ, gives L = τ·[L_b·e^(−kc) + B(T_p)·(1 − e^(−kc))] + L_path; for
// an optically thin plume e^(−kc) ≈ 1 − kc, so
// L ≈ τL_b + L_path + τ·(B(T_p) − L_b)·k·c: the change is positive (emission)
// when the plume is warmer than the scene's brightness temperature and
// negative (absorption) when colder, and vanishes at zero thermal contrast.
// Since t carries that sign, ĉ is positive for gas present either way. L_b is
// the radiance below the plume; the at-sensor mean μ stands in for it (the
// usual approximation, exact when τ ≈ 1 and L_path ≈ 0; DESIGN.md).
func ThermalTarget(tau, planckTp, mu, absorb []float64) ([]float64, error) {
	n := len(absorb)
	if len(tau) != n || len(planckTp) != n || len(mu) != n {
		return nil, fmt.Errorf("detect: thermal target: lengths τ %d, B(T_p) %d, μ %d, A %d differ", len(tau), len(planckTp), len(mu), n)
	}
	t := make([]float64, n)
	for b := range t {
		t[b] = tau[b] * (planckTp[b] - mu[b]) * absorb[b]
	}
	return t, nil
}

// ReflectiveTarget returns the reflective-band (SWIR) signature per unit
// concentration-pathlength, t = −μ ⊙ A (the mag1c form: Foote et al., "Fast
// and accurate retrieval of methane concentration from imaging spectrometer
// data using sparsity prior", IEEE TGRS 58, 2020): Beer–Lambert
// L = L_b·e^(−Ac) ≈ L_b − L_b·A·c for a thin plume, with μ for L_b and A per
// ppm·m in natural-log units.
func ReflectiveTarget(mu, absorb []float64) ([]float64, error) {
	if len(mu) != len(absorb) {
		return nil, fmt.Errorf("detect: reflective target: lengths μ %d, A %d differ", len(mu), len(absorb))
	}
	t := make([]float64, len(mu))
	for b := range t {
		t[b] = -mu[b] * absorb[b]
	}
	return t, nil
}
