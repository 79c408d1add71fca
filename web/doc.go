// Package web holds Atalaya's web map: the browser application (plain ES
// modules, HTML and CSS under static/, no bundler), its message catalogues
// (static/i18n/{es,en,pt}.json) and the npm packages it uses, vendored into
// static/vendor by build.sh from the committed package-lock.json (Leaflet,
// BSD-2-Clause; see THIRD_PARTY.md).
//
// Assets is the static tree embedded in the binary, so the map works with no
// internet and no npm: internal/server serves it at / and the API it calls at
// /api/v1 (docs/web.md). Everything the page loads comes from the same
// origin: no CDN, no web fonts, no remote tiles. The base map is the Natural
// Earth country boundaries from GET /api/v1/boundaries, with an optional
// offline imagery layer from an MBTiles file (internal/mbtiles) at /tiles/.
//
// Invariants the tests hold: the vendored files are what build.sh produces
// from the lockfile, byte for byte; every message key exists in all three
// catalogues with the same placeholders; and no user-visible string is
// written outside them.
package web
