// The map: Natural Earth boundaries as the base (GET /boundaries), an
// optional offline imagery layer (MBTiles at /tiles/), and the overlays —
// candidate sites, plume outlines, coverage and sensitivity, flight tracks.
import * as L from '../vendor/leaflet/leaflet-src.esm.js';
import { api } from './api.js';
import { t, fmt, typeName } from './i18n.js';
import { el } from './dom.js';

// Probability classes, ColorBrewer YlOrRd (5 classes; the 4th is the
// 6-class scheme's #e31a1c, dark enough for white text at 4.5:1): light =
// unlikely, dark red = likely. The marker's outline, dash and weight show
// the status.
export const PROB_COLOURS = ['#ffffb2', '#fecc5c', '#fd8d3c', '#e31a1c', '#bd0026'];
const PROB_BREAKS = [0.2, 0.4, 0.6, 0.8];

export function probColour(p) {
  return PROB_COLOURS[probClass(p)];
}

function probClass(p) {
  let i = 0;
  while (i < PROB_BREAKS.length && p >= PROB_BREAKS[i]) i++;
  return i;
}

// probStyle is the CSS of a probability badge: its class colour, with
// text that keeps 4.5:1 contrast on it.
export function probStyle(p) {
  const i = probClass(p);
  return `background:${PROB_COLOURS[i]};color:${i >= 3 ? '#ffffff' : '#1a1a1a'}`;
}

const STATUS_STYLE = {
  candidate: { color: '#222', weight: 1.5, dashArray: null, fillOpacity: 0.9 },
  revisit: { color: '#222', weight: 2.5, dashArray: '4 3', fillOpacity: 0.9 },
  confirmed: { color: '#000', weight: 4, dashArray: null, fillOpacity: 1 },
  released: { color: '#1446a0', weight: 4, dashArray: null, fillOpacity: 1 },
  dismissed: { color: '#555', weight: 1.5, dashArray: '2 3', fillOpacity: 0.25 },
};
export const STATUSES = Object.keys(STATUS_STYLE);

const PLAN_STYLE = {
  line: { className: 'plan-line', color: '#d94801', weight: 3, opacity: 0.95 },
  footprint: { className: 'plan-footprint', color: '#d94801', weight: 0.5, opacity: 0.5, fillColor: '#fd8d3c', fillOpacity: 0.12 },
  area: { className: 'plan-area', color: '#8c2d04', weight: 1.5, dashArray: '4 4', fill: false },
};

function siteStyle(s) {
  const st = STATUS_STYLE[s.status] || STATUS_STYLE.candidate;
  const fill = s.status === 'dismissed' ? '#bbbbbb' : probColour(s.probability || 0);
  return { radius: 9, fillColor: fill, ...st, opacity: 1 };
}

// Sensitivity classes for coverage cells by minimum detectable rate (kg/h):
// dark green = sensitive (small MDL), pale = only large sources detectable.
const MDL_BREAKS = [0.1, 0.5, 2, 10];
const MDL_COLOURS = ['#006d2c', '#31a354', '#74c476', '#bae4b3', '#edf8e9'];
function mdlColour(v) {
  if (!Number.isFinite(v)) return '#cccccc';
  let i = 0;
  while (i < MDL_BREAKS.length && v >= MDL_BREAKS[i]) i++;
  return MDL_COLOURS[i];
}

// cellMDL is a coverage cell's minimum detectable rate (kg/h): the
// accumulated one over all its passes (the coverage index's acc_mdl_kgh,
// docs/coverage.md), else a single figure; undefined for a footprint.
function cellMDL(p) {
  if (!p) return undefined;
  for (const k of ['acc_mdl_kgh', 'mdl_kgh', 'best_mdl_kgh']) if (Number.isFinite(p[k]) && p[k] > 0) return p[k];
  return undefined;
}

function bboxParam(map) {
  const b = map.getBounds();
  const c = (v) => Math.max(-180, Math.min(180, v)).toFixed(5);
  const d = (v) => Math.max(-90, Math.min(90, v)).toFixed(5);
  return `${c(b.getWest())},${d(b.getSouth())},${c(b.getEast())},${d(b.getNorth())}`;
}

// outlineOf returns a detection's plume outline as GeoJSON, or null.
function outlineOf(d) {
  const g = d.outline || d.geometry || null;
  if (!g) return null;
  if (typeof g === 'string') {
    try {
      return JSON.parse(g);
    } catch {
      return null;
    }
  }
  return g;
}

export class SiteMap {
  constructor(elem, { onOpen }) {
    this.onOpen = onOpen;
    this.markers = new Map();
    this.map = L.map(elem, { worldCopyJump: true, minZoom: 2 }).setView([4.5, -74], 5);
    this.map.attributionControl.setPrefix(false);
    // Stacking, bottom to top: coverage, tracks, plumes, a revisit plan, sites (Leaflet's
    // overlay pane is 400, its marker pane 600).
    for (const [name, z] of [['coverage', 350], ['tracks', 360], ['plumes', 410], ['plan', 420], ['sites', 450]]) this.map.createPane(name).style.zIndex = String(z);
    this.boundaries = L.geoJSON(null, {
      style: { color: '#5a6470', weight: 1, fillColor: '#f3f1ea', fillOpacity: 1 },
      interactive: false,
    }).addTo(this.map);
    this.sites = L.layerGroup().addTo(this.map);
    this.plumes = L.geoJSON(null, { pane: 'plumes', style: { color: '#7a0177', weight: 2, fillOpacity: 0.15, className: 'plume' } }).addTo(this.map);
    this.coverage = L.geoJSON(null, {
      pane: 'coverage',
      // Cells with a minimum detectable rate are coloured by it; a
      // footprint without one is only outlined.
      style: (f) => {
        const mdl = cellMDL(f.properties);
        return Number.isFinite(mdl)
          ? { className: 'coverage-cell', color: '#2f5d3a', weight: 0.5, fillColor: mdlColour(mdl), fillOpacity: 0.55 }
          : { className: 'coverage-cell', color: '#2f5d3a', weight: 1.5, dashArray: '6 4', fillColor: '#74c476', fillOpacity: 0.12 };
      },
      onEachFeature: (f, layer) => {
        const p = f.properties || {};
        const mdl = cellMDL(p);
        if (Number.isFinite(mdl)) {
          layer.bindTooltip(t('coverage.tooltip', { mdl: fmt.kgh(mdl), passes: fmt.number(p.passes_max || p.passes || 0, 0), last: fmt.date(p.last_look) }));
        } else if (p.name) {
          layer.bindTooltip(t('coverage.footprint', { name: p.name, when: fmt.date(p.acquired) }));
        }
      },
    });
    // A revisit's survey plan: its lines, their swath footprints, the
    // area and home (internal/coverage's Survey.GeoJSON "kind"s).
    this.plan = L.geoJSON(null, {
      pane: 'plan',
      interactive: false,
      style: (f) => PLAN_STYLE[(f.properties || {}).kind] || PLAN_STYLE.area,
      pointToLayer: (f, ll) => L.circleMarker(ll, { pane: 'plan', radius: 5, color: '#8c2d04', weight: 2, fillColor: '#fd8d3c', fillOpacity: 1, className: 'plan-home' }),
    }).addTo(this.map);
    this.tracks = L.geoJSON(null, { pane: 'tracks', style: { className: 'track', color: '#0b5394', weight: 2, opacity: 0.8, dashArray: '6 4' } });
    this.map.on('moveend', () => this.refreshExtentLayers());
    this.map.on('overlayadd', () => this.refreshExtentLayers());
    this.legend = L.control({ position: 'bottomleft' });
    this.legend.onAdd = () => this.legendElement();
    this.download = L.control({ position: 'topright' });
    this.download.onAdd = () => this.downloadElement();
  }

  // showDownloads adds the download menu (for roles that may export).
  showDownloads(on) {
    this.canExport = on;
  }

  // downloadElement is the "download" menu: the sites the user may see as
  // GeoJSON, KML or KMZ (the server's exports, audited).
  downloadElement() {
    const box = el('details', { class: 'download-menu leaflet-bar', id: 'download-menu' },
      el('summary', {}, t('map.download')),
      ...[['geojson', t('map.downloadGeoJSON')], ['kml', t('map.downloadKML')], ['kmz', t('map.downloadKMZ')]].map(([f, label]) =>
        el('a', { id: `download-${f}`, href: `/api/v1/export/sites.${f}`, download: `atalaya-sites.${f}` }, label)));
    L.DomEvent.disableClickPropagation(box);
    return box;
  }

  // translate (re)builds the controls whose labels come from the catalogue.
  async translate() {
    if (this.layers) this.layers.remove();
    const base = { [t('map.boundaries')]: this.boundaries };
    const overlays = {
      [t('map.sites')]: this.sites,
      [t('map.plumes')]: this.plumes,
      [t('map.coverage')]: this.coverage,
      [t('map.tracks')]: this.tracks,
      [t('map.plan')]: this.plan,
    };
    if (this.imagery) overlays[t('map.imagery')] = this.imagery;
    this.layers = L.control.layers(base, overlays, { collapsed: false }).addTo(this.map);
    this.legend.remove();
    this.legend.addTo(this.map);
    this.download.remove();
    if (this.canExport) this.download.addTo(this.map);
    this.map.attributionControl.removeAttribution(this.attribution || '');
    this.attribution = t('map.attribution');
    this.map.attributionControl.addAttribution(this.attribution);
    this.map.getContainer().setAttribute('aria-label', t('map.label'));
    for (const [, m] of this.markers) this.describe(m);
  }

  legendElement() {
    const box = el('div', { class: 'legend-box', role: 'group', 'aria-label': t('legend.title') });
    box.append(el('strong', {}, t('legend.probability')));
    const labels = ['0', '20', '40', '60', '80'];
    PROB_COLOURS.forEach((c, i) => box.append(el('div', { class: 'legend-row' }, el('span', { class: 'swatch', style: `background:${c}` }), t('legend.from', { v: labels[i] }))));
    box.append(el('strong', {}, t('legend.status')));
    for (const s of STATUSES) box.append(el('div', { class: `legend-row status-${s}` }, el('span', { class: `ring ring-${s}` }), t(`status.${s}`)));
    return box;
  }

  async loadBase() {
    const [geo, tiles] = await Promise.allSettled([api('/boundaries'), fetch('/tiles/metadata.json').then((r) => (r.ok ? r.json() : null))]);
    if (geo.status === 'fulfilled' && geo.value) this.boundaries.addData(geo.value);
    if (tiles.status === 'fulfilled' && tiles.value) {
      const m = tiles.value;
      this.imagery = L.tileLayer('/tiles/{z}/{x}/{y}', {
        minZoom: m.minzoom || 0,
        maxNativeZoom: m.maxzoom || 18,
        maxZoom: 20,
        attribution: m.attribution || '',
      }).addTo(this.map);
    }
  }

  describe(m) {
    const s = m.site;
    const label = t('site.marker', {
      prob: fmt.percent(s.probability || 0),
      status: t(`status.${s.status}`),
      type: typeName(s.type_guess),
    });
    m.unbindTooltip();
    m.bindTooltip(label);
    const e = m.getElement && m.getElement();
    if (e) {
      e.setAttribute('aria-label', label);
      e.setAttribute('role', 'button');
      e.dataset.siteId = s.id;
      e.dataset.status = s.status;
    }
  }

  // upsert adds or restyles a site's marker.
  upsert(s) {
    let m = this.markers.get(s.id);
    if (!m) {
      m = L.circleMarker([s.lat, s.lon], { ...siteStyle(s), className: 'site-marker', pane: 'sites' });
      m.on('click', () => this.onOpen(m.site.id));
      m.site = s;
      m.addTo(this.sites);
      this.markers.set(s.id, m);
    } else {
      m.site = s;
      m.setLatLng([s.lat, s.lon]);
      m.setStyle(siteStyle(s));
    }
    this.describe(m);
  }

  remove(id) {
    const m = this.markers.get(id);
    if (m) {
      this.sites.removeLayer(m);
      this.markers.delete(id);
    }
  }

  // loadSites fetches the sites in view, following next_cursor.
  async loadSites() {
    let cursor = '';
    for (let page = 0; page < 10; page++) {
      const q = `/sites?bbox=${bboxParam(this.map)}&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const r = await api(q);
      for (const s of (r && r.items) || []) this.upsert(s);
      cursor = r && r.next_cursor;
      if (!cursor) break;
    }
  }

  async refreshExtentLayers() {
    const bbox = bboxParam(this.map);
    const jobs = [this.loadSites()];
    if (this.map.hasLayer(this.coverage)) jobs.push(api(`/coverage?bbox=${bbox}`).then((g) => { this.coverage.clearLayers(); if (g) this.coverage.addData(g); }));
    if (this.map.hasLayer(this.tracks)) jobs.push(api(`/tracks?bbox=${bbox}`).then((g) => { this.tracks.clearLayers(); if (g) this.tracks.addData(g); }));
    const res = await Promise.allSettled(jobs);
    for (const r of res) if (r.status === 'rejected') console.error(r.reason);
    // Which overlays the last completed load covered (tests and
    // screenshots wait on it).
    const c = this.map.getContainer();
    c.dataset.loaded = ['coverage', 'tracks'].filter((k) => this.map.hasLayer(this[k])).join(' ') || 'sites';
  }

  // showPlumes draws the plume outlines of a site's detections.
  showPlumes(detections) {
    this.plumes.clearLayers();
    for (const d of detections || []) {
      const g = outlineOf(d);
      if (g) this.plumes.addData(g);
    }
  }

  // showPlan draws a survey plan (GeoJSON FeatureCollection; null clears).
  showPlan(g) {
    this.plan.clearLayers();
    if (g && Array.isArray(g.features)) this.plan.addData(g);
    this.map.getContainer().dataset.plan = String(this.plan.getLayers().filter((l) => l.feature && l.feature.properties && l.feature.properties.kind === 'line').length);
  }

  focus(s) {
    this.map.setView([s.lat, s.lon], Math.max(this.map.getZoom(), 13));
  }
}
