// Package sites turns detections into candidate sites: it accumulates every
// pass's gas retrieval on a geographic evidence grid, thresholds the
// combined evidence at a fixed false-alarm rate per km², associates
// detections of several passes, sensors and gases into sites, guesses each
// site's type from its gas profile, and calibrates the probability that a
// site is real from analysts' decisions.
//
// # Evidence grid
//
// One grid per survey region: square cells of CellM metres (default 5 m) in
// one UTM zone and hemisphere (the grid's, whatever the zone of a pass), cell
// (i, j) covering easting [i·CellM, (i+1)·CellM) and northing [j·CellM,
// (j+1)·CellM). Cells are grouped in square tiles of TileCells² cells (default
// 256², 1.28 km at 5 m), one tile per gas, and a tile exists only once a pass
// has covered it (the grid is sparse). Tiles are persisted behind the small
// TileStore interface (MemTileStore here; the database elsewhere).
//
// A pass adds, per cell, one measurement of the cell's mean
// concentration-pathlength ĉ (ppm·m) with its 1σ: the pixels whose centres
// fall in the cell are combined by inverse variance, and that σ is inflated
// by the pass's measured ratio of the spread of the cell z-scores to the
// spread independent pixels would give (spatially correlated pixels are not
// independent measurements). Pixels coarser than a cell are sampled at the
// cell centres instead. When the pass's wind is known, a cell's measurement
// is its source footprint instead: the pixels downwind of it, where a source
// in the cell puts its plume, less the same rectangle upwind (Differential,
// the default), which cancels ground clutter that extends across the cell. A cell keeps Σw·ĉ, Σw and Σw² (w = 1/σ², times a
// forgetting factor λ ≤ 1 if a half-life is set), the number of passes that
// covered it and saw it (single-pass cell z ≥ SeenZ), and the times of the
// last pass and the last sighting. The combined estimate is ĉ = Σλwĉ/Σλw
// with variance Σλ²w/(Σλw)² (1/Σw without forgetting), so z = ĉ/σ stays
// N(0,1) on background whatever the number of passes, while a persistent
// source's z grows as √n.
//
// # Source statistic
//
// A grid with GridConfig.Source set is a source grid: a pass's measurement
// of cell k is the emission rate Q̂ (kg/h) of a point source in the cell,
// fitted to the pass's retrieval by a matched spatial filter. The
// template s is the ensemble-mean column of 1 kg/h (Q/(√(2π)·u·σ)·
// e^{−y²/2σ²} along the pass's downwind axis, x from 0 to LengthM, σ² the
// Briggs open-country σ_y² of the pass's stability class plus the wind
// direction error x²σ_θ² plus the pixel's size²/12), averaged over source
// positions in the cell; the filter t is s less its point reflection
// through the cell centre (Differential), so it is zero-mean and
// antisymmetric. With pixel weights w = 1/σ²,
// Q̂ = Σwtĉ/Σwts and var Q̂ = Σwt²/(Σwts)². The template is per pass
// because the wind is; the rates of passes with different winds are in
// the same unit and combine by inverse variance like any cell measurement
// (Σw·Q̂, Σw, Σw² per cell), so a persistent source's z grows as √n from
// its per-pass plume-integrated SNR, not one cell's. The per-pass σ is
// inflated by the measured spread of the pass's z, as for cell means.
//
// A source grid's null is symmetric by construction: the filter is
// antisymmetric, so anything on the ground (whose statistics do not
// change under a point reflection) raises z on one side and lowers it on
// the other as often, and the upper tail of the combined z mirrors the
// lower. Detect fits it from the lower tail as for cell grids. Real gas has
// the same two lobes, so a strong plume also deepens the lower tail and
// raises the threshold of its gas: conservative, and measured in
// docs/evidence.md. Sign-flipping passes (a permutation null) would not do:
// ground clutter repeats in every pass and keeps its sign, which flipping
// destroys, so it would understate the tail.
//
// A cell inside another source's plume is no place to look for a source:
// the puffs and bends of the plume passing through make the filter's
// response there, and passes flown in the same wind sector add them up
// into a "source" down the plume. The through-plume gate
// (SourceConfig.ThroughZ, through.go) leaves out a pass's measurement of a
// cell when the pass holds gas both in a band upwind of the cell beyond
// the template's reach and in the mirrored band downwind. The gate is
// invariant under the point reflection that flips the filter's sign, so
// the null stays symmetric. Its price: a second source of the same gas
// standing in a stronger one's plume is measured only by passes whose
// wind does not line them up.
//
// # Units and precision
//
// Concentration-pathlength in ppm·m, distances in metres, positions WGS-84
// degrees or UTM metres (grid zone), times UTC. Pass maps are float32 (as
// written by internal/granule); cell sums are float64.
//
// # Invariants
//
// A pass (its ID) is added to a tile at most once (ErrDuplicatePass): adding
// a granule is idempotent. Detections flow in, sites flow out; nothing here
// reaches into another package's storage.
package sites
