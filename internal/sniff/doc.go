// Package sniff turns point-sensor traces (a PID, an electrochemical cell,
// an open-path laser carried by a drone through a plume) into located
// sources: where the source is, how strong it is, and how sure we are that
// there is one.
//
// It owns three steps, each a function over plain values:
//
//   - Series: one channel of a trace with the drone's position, height and
//     measured wind at each sample (FromTrace, ReadTraceCSV; a flight log
//     merged with a logger's readings can fill the same struct).
//   - Process: baseline removal, correction of the sensor's first-order lag,
//     and plume crossings (time, position, peak, integrals).
//   - Estimate: the Bayesian posterior over the source's position and
//     emission rate, summarised as a Detection for fusion with the imaging
//     pipeline.
//
// # Units
//
// Positions in metres east and north in the survey's local frame (the
// trace's east_m, north_m), WGS-84 degrees where the trace has latitude and
// longitude; times in seconds from the series' start; readings in ppm of the
// channel's calibration gas (a PID's isobutylene units), converted to the
// target gas by its response factor (1/CF); emission rates in kg/h; wind
// speed in m/s, directions in degrees clockwise from north (the direction
// the wind blows from). Arithmetic is float64 throughout.
//
// # Method
//
// Processing. The baseline is a low quantile in one-minute windows, then a
// line fitted to the readings off the plume in BaselineWindowS windows
// (three rounds). The lag is inverted exactly for a first-order sensor,
// x_k = (y_k − a·y_{k−1})/(1−a), a = e^{−Δt/τ}, after a Gaussian smoother of
// σ_s that keeps the noise gain near one (see Process for the trade-off).
// A crossing is a run above 5σ of the corrected signal.
//
// Source-term estimation follows the Bayesian formulation of Keats, Yee &
// Lien (2007, "Bayesian inference for source determination with
// applications to a complex urban environment", Atmos. Environ. 41: a
// posterior over source location and strength from a likelihood with
// observational and model error, which they sample by MCMC) and the
// grid-based alternative to sampling reviewed by Hutchinson, Oh & Chen
// (2017, "A review of source term estimation methods for atmospheric
// dispersion events using static or mobile sensors", Inf. Fusion 36): the
// posterior of a single continuous point source is
// evaluated on a grid of positions, with the emission rate Q marginalised
// on a log grid under a log-uniform prior, and the stability class, the
// release height and the wind direction as nuisance parameters marginalised
// on their own small grids.
//
//   - Forward model: the ensemble-mean Gaussian plume with ground
//     reflection and Briggs rural widths (DESIGN.md, the model internal/sim
//     uses), under the flight's mean measured wind, its crosswind width
//     widened by the smoother's blur (crosswind speed × σ_s).
//   - Likelihood: every retained sample counts, detections and
//     non-detections alike. A drone sees an instantaneous plume that
//     meanders and comes in puffs, so a reading scatters about the mean m
//     with a standard deviation of order m (fluctuation intensities near
//     one, e.g. Mylne & Mason 1991, Q. J. R. Meteorol. Soc. 117; the gamma distribution is a standard
//     model of concentration fluctuations, Yee & Chan 1997, Atmos. Environ.
//     31). The error model is additive + multiplicative, variance
//     V(m) = σ² + α²m², used through Wedderburn's (1974, Biometrika 61)
//     quasi-likelihood ℓ = ∫₀^m (d − t)/V(t) dt, which is Gaussian for faint
//     plumes and the gamma deviance of shape 1/α² for strong ones: its
//     estimate of Q is unbiased (a Gaussian or Student-t with a scale ∝ m
//     biases Q low by about 1.5), a missed plume costs only ln(m/σ)/α², and
//     it has a closed form (tabulated in ln(m/σ), so the inner loop has no
//     transcendental functions). σ² is the corrected signal's noise
//     variance doubled, an allowance for what the baseline leaves.
//     Samples are decimated to one per σ_s and each log-likelihood is
//     weighted by min(1, spacing/CorrelationM) for the correlation of puffs
//     along the track.
//   - Grid: coarse cells of 10 m over the flight's box extended 300 m up the
//     wind and 50 m around, with the wind direction's uncertainty folded
//     into the plume width; then 2 m cells over the coarse 99.9 % region,
//     with the direction marginalised over five offsets (±2σ, normal
//     prior). σ of the mean direction is σ_θ·√(2T/D), the standard error
//     of the mean of a series of integral time scale T (30 s) over the
//     flight's D seconds, at least 2°. The position prior is uniform over
//     the cells whose plume the flight crossed (two samples within 2σ_y of
//     the axis); elsewhere this flight can neither confirm nor exclude a
//     source.
//   - Release height: uniform on [0, 5 m], discretised per class in equal
//     steps no coarser than the class's σ_z at 50 m downwind (class F: 7
//     heights 0.71 m apart, E four, C and D two, A and B one), each height
//     standing for its bin, whose variance step²/12 widens σ_z (the
//     profile averaged over the bin, to second moment). In stable air the
//     plume is thinner than a metre near the source and a drone 1 m above
//     or below the release sees its edge: with the former heights of 1 and
//     3 m only, neither fitted a 2 m release, the height took up what the
//     distance should explain, and class F's sources came out 20-26 m
//     upwind with the truth in the 95 % set in 15 of 24 flights.
//   - Outputs: the posterior mean and covariance, the MAP cell, the 95 %
//     highest-posterior-density cells and their convex hull, the 95 %
//     ellipse, the marginal of Q (median, 95 % interval), the Bayes factor
//     against no source and the posterior probability of a source
//     (PriorSource 0.5), the posterior over classes and heights, and a
//     claim of a source when ln BF > 3 ("strong" evidence, Kass & Raftery
//     1995, J. Am. Stat. Assoc. 90); without a claim the informative
//     output is the upper bound on the rate.
//
// Limits: one source per gas (several sources explain one plume badly),
// flat ground, a steady wind over the flight, the whole channel's signal
// taken as the target gas (a PID sees every solvent). Samples are treated
// as independent given the ensemble-mean plume (weighted for puffs): in
// unstable air at low wind the meander shifts whole crossings sideways,
// and the 95 % set is too narrow across the wind (docs/source-estimation.md).
package sniff
