// Package store persists Atalaya's records: granules, detections, candidate
// sites and their links, evidence-grid tiles, analyst decisions and the alert
// outbox. It is the source of truth: a granule is recorded here before its job
// is published, and jobs are reconciled from here, never from the queue.
//
// One implementation ([DB]) runs on two databases, chosen by the URL given to
// [Open]:
//
//   - "sqlite:PATH" — the embedded default: one file, WAL journal, foreign
//     keys on, synchronous=FULL (a commit is on disk before it returns), a
//     busy timeout, and write transactions that take the write lock at BEGIN
//     (BEGIN IMMEDIATE) so two writers queue instead of failing;
//   - "postgres://..." — PostgreSQL 15+ with PostGIS 3, for many workers.
//
// Both run the same SQL (one migration set, the common subset of the two
// dialects) apart from a few documented hooks: spatial indexing (an R*Tree
// virtual table in SQLite, PostGIS GiST indexes on generated geometry and
// geography columns in PostgreSQL), row locking when claiming outbox rows,
// and the binary column type. See docs/store.md for the schema.
//
// # Invariants
//
//   - Every write goes through a transaction ([DB.Begin], [DB.InTx]); a
//     transaction that returns an error, panics, or whose process dies before
//     Commit leaves nothing behind.
//   - A granule's content SHA-256 is unique: recording the same bytes twice
//     returns the first record and changes nothing.
//   - A granule's detections are written in the same transaction that marks
//     it done ([Tx.CompleteGranule]).
//   - Sites and evidence tiles carry a version; an update made from a stale
//     read fails with [ErrConflict] (optimistic concurrency).
//   - Decisions are append-only (the databases refuse UPDATE and DELETE).
//   - An alert is written to the outbox in the transaction that changed its
//     site, and deleted only after it was delivered: at-least-once delivery
//     with a stable id.
//
// # Units
//
// Latitude and longitude in decimal degrees (WGS 84, EPSG:4326); distances
// and uncertainties in metres (great-circle on a sphere of radius 6 371 008.8
// m, the IUGG mean radius PostGIS also uses for sphere distances);
// concentration-pathlength in ppm·m; mass in kg; emission rate in kg/h.
// Times are stored as microseconds since the Unix epoch (UTC), so they compare
// and sort identically in both databases and round-trip exactly at µs.
package store
