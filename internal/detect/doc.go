// Package detect owns the detection of gas signatures in hyperspectral
// cubes: background statistics, the detectors that score pixels against
// them, and false-alarm control of the scores.
//
// # Flow
//
// A cube is processed in blocks of lines (cube.Cube values, BIP float32):
//
//  1. BandScreen (optional, on a subsample of lines) decides the bands to
//     keep: the header's bad-band list, and bands whose shift-difference
//     noise exceeds a factor times the median of their neighbours.
//  2. An Accumulator is fed blocks (optionally subsampled by Stride) and
//     Finish returns a Background: the kept bands, a Labeler mapping each
//     pixel to its background (Global, Columns for pushbroom column groups,
//     Clusters from k-means), and one Stats per label.
//  3. Detectors built on the Background (NewRX, NewMatchedFilter, NewACE,
//     NewCEM; one per gas and method) score blocks into caller-supplied
//     slices; the matched filter also retrieves ĉ and σ_c. JointMatchedFilter
//     retrieves several gases together by generalised least squares (a
//     laboratory emits several, and one gas's column must not leak into
//     another's); in the thermal infrared NewThermalJointMatchedFilter
//     follows each pixel's own thermal contrast and solves strong pixels
//     with Beer–Lambert.
//  4. Optionally a second pass: accumulate again with detected plume pixels
//     excluded (Accumulator.Add's exclude), rebuild the detectors, rescore.
//  5. FitTail on the background scores gives the threshold for a false-alarm
//     rate per km² and per-pixel p-values.
//
// # Invariants
//
// Pixel data are float32; every statistic (sums, mean, covariance, Cholesky
// factor, target constants) is accumulated and computed in float64, about a
// shift (the first pixel of each label) so that large radiances do not
// cancel. Only the whitening matrix W = L⁻ᵀ (Σ = LLᵀ), the float32 mean and
// the target vectors are rounded to float32, for the kernels. Blocks are
// centred (x − μ) in float32 (kernel.Sub per run of kept bands) while the
// kept bands are gathered, and then whitened with one kernel.SgemmSumSq per
// chunk of 256 pixels, which also gives ‖y‖² (RX, ACE); on the real
// scenes in shared/data (condition numbers 3·10⁶–4·10⁸) the float32 path
// agrees with Spectral Python's float64 to 4·10⁻⁵ relative.
//
// # Throughput
//
// Each Score splits its block into one range of whole chunks per
// GOMAXPROCS, and each worker keeps its own scratch (a kernel.Workspace
// among it), so a warm detector does not allocate per pixel. Masking is
// screened: kernel.MinMax over a run of pixels (or a pixel's candidate bands)
// clears it when no value is NaN, ±Inf, saturated or equal to the ignore
// value, and only pixels it cannot clear take the exact per-band test. With
// the Global labeler there is no labelling or grouping: clean runs of pixels
// are centred straight into the GEMM's input. BENCHMARKS.md at the
// repository root has the figures.
//
// Masked pixels (data ignore value, NaN/Inf, saturation, or a background
// without statistics) score NaN and are left out of the statistics; dropped
// bands are left out of everything. Both are counted in a MaskReport
// (Accumulator.Report, Background.Report, the MaskCounts returned by every
// Score); nothing is silently averaged in.
//
// Statistics default to Ledoit–Wolf shrinkage towards the scaled identity
// (ShrinkLedoitWolf), so a covariance from few pixels per column or cluster
// stays invertible; ShrinkNone gives Spectral Python's unshrunk N−1
// covariance, which the golden tests use.
//
// # Units
//
// Scores are in the units of their detector: RX is a squared Mahalanobis
// distance (χ²_K on a Gaussian background, K kept bands); the matched filter's
// ĉ is in the units of c of the target signature t (t per ppm·m gives
// ppm·m), σ_c likewise, and its score is the z-score ĉ/σ_c; ACE is a squared
// cosine in [0, 1]; CEM is 1 at the target.
//
// # False alarms
//
// A false-alarm rate per km² surveyed becomes a per-pixel probability
// p = FAR·a/10⁶ for pixels of a m². The background score distribution is
// empirical in its body and a generalized Pareto distribution above a high
// threshold (peaks over threshold, Pickands 1975), fitted by
// probability-weighted moments (Hosking & Wallis 1987) to the top
// AutoTailFraction of scores (about 1000 exceedances), which extrapolates to
// p below 1/N. On Gaussian z-scores the p = 10⁻⁵ threshold from 10⁶ scores is
// within 0.15 of the analytic 4.265.
package detect
