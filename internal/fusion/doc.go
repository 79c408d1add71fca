// Package fusion commits a processed granule with everything that follows
// from it, in one store transaction: its detections and done mark, its
// retrieval added to the evidence grid (internal/sites, tiles kept in the
// store with optimistic versions), the grid's detections near the pass,
// the association of all of them with candidate sites (restored from the
// store, so that association is the same whichever worker runs it), and an
// alert in the outbox for every site made or changed.
//
// Exactly once: the transaction first checks that the granule is not done;
// a crash anywhere leaves nothing; and a transaction that loses a race for
// a tile or a site (ErrConflict: several workers on PostgreSQL fusing
// overlapping granules) is retried from the start with fresh reads. On
// SQLite, write transactions are serialised by the database.
//
// What makes sites: the matched filter's detections (one per plume and
// gas, with a retrieval), the evidence grid's, and point-sensor source
// estimates. ACE and CEM score the same plumes again and RX finds
// anomalies of no gas: those are stored with the granule and not fused.
//
// The pass's time and wind come from the cube's header (cube.PassMeta).
// A pass with a wind goes to the source grid (1 m cells; each cell's
// measurement is the emission rate of a source there, fitted along the
// pass's wind, so passes with different winds add up — the grid that finds
// sources no single pass finds, docs/evidence.md); a pass without one to
// the cell grid (5 m cells of the pixels' own columns). Their tiles are
// kept apart ("src/" keys). The source grid is told where single passes
// found plumes (this granule's imaging detections and those of the sites
// around it) so that their lobes stay out of its null, and its detections
// near them are left to those plumes' sites.
package fusion
