// Package server is Atalaya's HTTP API (prefix /api/v1), its live feed of
// Server-Sent Events, its operational endpoints (/healthz, /readyz,
// /metrics) and the web UI's files. docs/openapi.yaml is the API's
// contract and docs/server.md how to run it.
//
// # Authorization
//
// Every route is one entry of a route table ([Route]) that declares its
// rule: public, any authenticated principal, or the access.Actions of
// which the principal must hold one ([access.Principal.Can]); site-scoped
// routes (/sites/{id}/…) also require the site to be visible
// ([access.Visible]: the principal's agency owns it or it was released to
// it), and answer 404 otherwise, as for a site that does not exist. The
// handlers are reachable only through the guard that enforces the rule; a
// route without a rule makes New panic, and the tests walk the table.
// Cookie-authenticated unsafe requests need the session's X-CSRF-Token;
// bearer tokens do not. Every site read and every change is appended to
// the audit log ([Auditor]), refusals included.
//
// internal/feed's handlers — the GeoJSON, KML and KMZ exports, OGC API –
// Features below /api/v1/ogc, the PDF evidence report and partners'
// ground truth — are routes of the same table: the guard authorizes and
// audits them and passes the principal through feed.HandlerConfig.
//
// # Invariants
//
//   - A JSON body is one value of at most Config.MaxBody bytes with no
//     unknown field; anything else is refused before the store is touched.
//   - A decision names the site version it was made on (If-Match); a stale
//     one is refused with 412 and changes nothing. The site update, the
//     decision, the releases and the outbox alert commit in one
//     transaction; its events are published only after the commit.
//   - An upload never sits in memory: it is streamed to a spool file,
//     fsynced before its offset is reported, and ingested through
//     internal/pipeline only when complete.
//   - Event ids increase monotonically; the hub keeps the latest
//     Config.EventRing events, so a client resuming with Last-Event-ID
//     within that window misses none it may see, and is told "reset"
//     otherwise. A client that falls Config.EventBuffer events behind is
//     dropped (told "dropped") and never slows the others.
//
// # Units
//
// Times in JSON are RFC 3339 UTC; coordinates decimal degrees (WGS 84);
// bbox is minLon,minLat,maxLon,maxLat; sizes are bytes.
package server
