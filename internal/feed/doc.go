// Package feed delivers released sites to partner agencies: the alert
// dispatcher over the store's outbox, the sinks it delivers to (signed
// webhooks, NATS JetStream subjects per agency, and any other [Sink] such as
// Cursor-on-Target), the GeoJSON, KML/KMZ and OGC API – Features exports, and
// the per-site evidence report as PDF.
//
// # Invariants
//
//   - An alert is written to the store's outbox in the transaction that
//     changed its site ([Enqueue]). The dispatcher copies it into one
//     delivery row per sink that may see it (releasability, [Audience]) and
//     deletes the outbox row in the same transaction; a delivery row is
//     deleted only after its sink accepted it. Delivery is at least once;
//     an alert's id is stable and travels with it (webhook header
//     X-Atalaya-Alert-Id, JetStream Nats-Msg-Id, CoT uid) so a receiver can
//     drop repeats.
//   - Each sink has its own queue: a sink that is down or slow delays only
//     itself. Within one sink, the alerts of one site are delivered in the
//     order they were enqueued (one in flight per sink and site); alerts of
//     different sites may interleave.
//   - A failed delivery is retried with exponential backoff and full jitter;
//     after MaxAttempts it becomes a dead letter, kept until an
//     administrator replays it (`atalaya feed dead-letters`). A dead letter
//     no longer holds back its site's later alerts.
//   - Nothing leaves through this package that the receiving agency may not
//     see: every sink and export filters by the agency's visibility of the
//     site (its owner, or an agency it was released to).
//
// # Units
//
// Times are UTC; durations are time.Duration; coordinates are WGS 84
// degrees (longitude first in GeoJSON and KML, as those formats require).
// docs/feeds.md describes the payloads, headers, subjects and endpoints.
package feed
