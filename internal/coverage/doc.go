// Package coverage owns where the ground has been surveyed, when, by what
// and how sensitively; the priority of a revisit; and survey planning.
//
// # Cells
//
// The ground is divided into S2 cells (github.com/golang/geo/s2) of one level,
// DefaultLevel = 20 (about 8.8 m on a side on average). An Index keeps, per
// cell: the number of passes, the latest pass, the smallest single-pass
// minimum detectable emission rate (MDL) and the sum of the passes' inverse
// emission-noise variances, from which the accumulated MDL of a persistent
// source follows. Cells are held in tiles, dense arrays over an aligned
// square of cells (an S2 cell of TileLevel, default 13), allocated when a pass
// first touches them: 14 bytes a surveyed-tile cell, nothing for the ground
// never surveyed.
//
// A footprint (a lon/lat polygon with holes, or a georeferenced raster of
// per-pixel noise) covers the cells whose centres lie inside it. Footprints
// are rasterised row by row on each cube face in S2's own (u, v) coordinates,
// where great-circle edges are straight lines, so no cell is visited twice
// and the cost is proportional to the cells covered.
//
// # Units
//
// Emission rates are kg/h; column noise σ_c is ppm·m (1σ of the retrieved
// concentration-pathlength); wind m/s; pixel sizes, altitudes, distances m;
// areas m² (Record) or km² (Stats); angles degrees; times UTC. Cell state is
// float32 (sums of at most 65535 terms of similar size: relative error below
// 10⁻⁴); everything else is float64.
//
// # Invariants
//
//   - A cell never surveyed has Passes == 0 and +Inf MDLs.
//   - AccMDL ≤ BestMDL·Threshold/threshold of the best pass; with equal
//     thresholds, AccMDL ≤ BestMDL, and n identical passes give BestMDL/√n.
//   - Memory grows with the surveyed area, not the number of passes.
//
// docs/coverage.md describes the cells, the MDL model, the combination of
// passes, the revisit priority and the plan format.
package coverage
