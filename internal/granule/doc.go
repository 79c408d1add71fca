// Package granule runs one imaging-spectrometer cube through detection: it
// reads the cube in blocks of lines (memory bounded by the block size, so a
// cube larger than RAM streams), estimates the background, scores every pixel
// with each requested detector and gas, writes score and retrieval cubes,
// sets thresholds for the requested false-alarm rate per km², and turns the
// pixels above them into detections (GeoJSON).
//
// # Passes over the cube
//
//  1. Band screen on a subsample of lines: bad-band list and noisy bands.
//  2. Background statistics, subsampled (detect.Accumulator).
//  3. With two passes (the default): matched-filter z-scores only, to mark
//     plume pixels (z > ExcludeZ), which are left out when the statistics are
//     estimated again (pass 2 again), so a large plume does not bias its own
//     retrieval low or inflate σ_c.
//  4. Scoring: every detector, every gas; score cubes written as they come,
//     a deterministic subsample of scores kept for the false-alarm fit.
//  5. Detections: each score map read back (one band) and segmented.
//
// # Targets
//
// For each gas the library's absorption coefficient k (natural log, per
// ppm·m) is resampled to the cube's bands through Gaussian responses. All
// the gases asked for are retrieved together (detect.JointMatchedFilter), so
// the acetone and ammonia of one laboratory do not read into each other's
// columns. In the thermal infrared (band centres beyond 3 µm) the target is
// t = τ·(B(T_p) − μ)⊙k (detect.ThermalTarget) with T_p the plume (air)
// temperature: from Config.PlumeTempK, else from the cube header's
// "atalaya air temperature k", else an error, because ppm·m cannot be
// retrieved without it. τ is Config.Transmittance (default 1). Each pixel's
// retrieval then follows its own thermal contrast, and strong pixels are
// solved with Beer–Lambert (detect.NewThermalJointMatchedFilter). In the
// reflective range the target is −μ⊙k.
//
// # False alarms
//
// The requested rate (false detections per km² surveyed) is shared equally
// among the detection tests made (one per gas for the primary gas detector,
// plus RX), a Bonferroni split, so the whole run keeps the rate. Each test's
// threshold comes from the generalized-Pareto tail of its own background
// scores (detect.FitTail). A detection is a connected set of pixels above a
// low threshold (100 times the per-pixel probability) that holds at least
// one pixel above the high threshold, so its count per km² is bounded by the
// per-pixel probability times the pixels per km².
package granule
