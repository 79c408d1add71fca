// Package sim makes synthetic survey data with known ground truth: long-wave
// infrared radiance cubes of ground with gas plumes, for the demo, the tests
// and the evaluation of the detectors.
//
// The radiance model is the one in DESIGN.md. For each pixel and band,
//
//	L = τ_a · [ L_g · e^{−Σ_j k_j c_j} + B(T_p) · (1 − e^{−Σ_j k_j c_j}) ] + L_path
//	L_g = ε · B(T_g) + (1 − ε) · L_down
//
// with τ_a the atmospheric transmittance between plume and sensor, L_g the
// ground-leaving radiance of a surface of emissivity ε at temperature T_g, the
// plume a single layer at air temperature T_p, k_j the natural-log absorption
// coefficient of gas j per ppm·m (from the signature library, resampled to the
// sensor's bands) and c_j its concentration-pathlength in ppm·m. Gas columns
// come from a Gaussian plume (vertical column Q/(√(2π) u σ_y) · e^{−y²/2σ_y²},
// Briggs rural σ_y per Pasquill–Gifford stability class). Sensor noise is
// Gaussian with a noise-equivalent spectral radiance per band.
//
// Units: wavelengths in µm, radiance in W/(m²·sr·µm), temperatures in K,
// distances in m, emission rates in kg/h, columns in ppm·m. Everything is
// deterministic from the seed.
package sim
