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
// The pass's time and wind come from the cube's header (cube.PassMeta);
// without a wind, the grid takes each cell's own pixels.
package fusion
