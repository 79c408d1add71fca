// Package eval measures how well Atalaya finds and quantifies gas sources,
// on simulated surveys whose truth is known: it simulates scenarios
// (internal/sim), runs detection on every pass exactly as `atalaya detect`
// does (internal/granule), and scores what was found against the truth
// cubes in the operational measures of DESIGN.md:
//
//   - probability of detection of sources at a false-alarm rate per km²
//     surveyed, and the false alarms per km² actually raised;
//   - a detection-level ROC (Pd against false alarms per km², the saved
//     z-score maps re-segmented at each threshold) and a pixel-level ROC
//     and AUC;
//   - the ppm·m retrieval's relative bias and RMSE, the emission-rate
//     error of detected sources (internal/plume quantification, with
//     U_eff fitted to simulated plumes of known rate) and the localisation
//     error of the estimated origin;
//   - the minimum detectable emission rate (kg/h) of one pass and of n
//     passes combined by inverse-variance weighting.
//
// Definitions (the report states them too). A pixel holds gas g when its
// true column of g is at least OnGasSigma times the 1σ of the pixel's g
// retrieval. A detection is a connected component of the z-score map
// (plume.Segment with the granule's hysteresis thresholds); it is on gas
// when its peak pixel holds its gas, and then it belongs to the source whose
// plume axis passes nearest its peak. A source is detected in a pass when a
// detection of one of its (tested) gases belongs to it. A false alarm is a
// detection whose peak holds no gas at all (no tested gas at OnGasSigma, no
// untested gas of the scene above untestedFloorPPMm); a detection on
// another gas than its own is counted apart as cross-gas. Areas are the
// surveyed area of each pass (its pixels times the pixel area).
//
// Units: ppm·m for columns, kg/h for rates, m for distances, false alarms
// per km². Scores are float32 as the detectors write them; every statistic
// is accumulated in float64. Scenes are deterministic from their seeds, so
// a report is reproducible bit for bit on one machine.
package eval
