// The site page: what the site is, its evidence (spectrum against the
// library signature, plume image, sensor trace against the fitted plume,
// passes seen and surveyed-not-seen with their MDL, decisions), and the
// analyst's actions, sent with If-Match on the site's version.
import { api, items, APIError } from './api.js';
import { el, $, toast } from './dom.js';
import { t, fmt, gasName, typeName, currentLang } from './i18n.js';
import { lineChart, legend } from './chart.js';
import { probStyle } from './map.js';

const ACTORS = ['analyst', 'administrator'];
const PLAN_FORMATS = ['plan', 'mavlink', 'waypoints', 'geojson'];
// Roles that may export sites (access.Export): the report and the map's
// download menu.
export const EXPORTERS = ['administrator', 'analyst', 'partner'];

export class SitePage {
  constructor(root, { user, onClose, onSite, onEvidence, onPlan }) {
    this.root = root;
    this.user = user;
    this.onClose = onClose;
    this.onSite = onSite; // a site changed: update the map and the queue
    this.onEvidence = onEvidence; // evidence loaded: draw plumes on the map
    this.onPlan = onPlan || (() => {}); // a revisit plan (GeoJSON) to draw, or null
    this.site = null;
    this.evidence = null;
    this.agencies = null;
    this.seq = 0; // open() calls, so an older answer never overwrites a newer
    this.deciding = false; // a decision of ours is in flight
  }

  get id() {
    return this.site && this.site.id;
  }

  async open(id) {
    this.root.hidden = false;
    this.root.setAttribute('aria-busy', 'true');
    const seq = ++this.seq;
    if (this.site && this.site.id !== id) {
      // Another site: nothing of the previous one stays to be clicked.
      this.site = null;
      this.plan = null;
      this.root.replaceChildren();
    }
    try {
      const [site, ev] = await Promise.all([api(`/sites/${encodeURIComponent(id)}`), api(`/sites/${encodeURIComponent(id)}/evidence`)]);
      if (seq !== this.seq) return; // a later open() superseded this one
      this.site = site;
      this.evidence = ev || {};
      this.onSite(site);
      this.onEvidence(this.evidence);
      this.render();
      this.loadPlan(site);
    } catch (e) {
      this.root.replaceChildren(el('p', { class: 'error', role: 'alert' }, errorText(e)), this.closeButton());
    } finally {
      this.root.removeAttribute('aria-busy');
    }
  }

  // update shows a newer version of the open site (a live event or a
  // decision's answer) and reloads its evidence.
  async update(site) {
    if (!this.site || site.id !== this.site.id || this.deciding) return;
    // Already showing this version (our own decision's echo): keep the page
    // as it is, with any form the analyst has open.
    if (site.version !== undefined && this.site.version !== undefined && site.version <= this.site.version) return;
    await this.open(site.id);
  }

  close() {
    this.site = null;
    this.root.hidden = true;
    this.root.replaceChildren();
  }

  closeButton() {
    return el('button', { type: 'button', class: 'close', onclick: () => this.onClose() }, t('site.back'));
  }

  render() {
    const s = this.site;
    const ev = this.evidence;
    const type = typeName(s.type_guess);
    const head = el('header', { class: 'site-head' },
      this.closeButton(),
      el('h2', { id: 'site-title', tabindex: '-1' }, t('site.title', { type })),
      el('p', { class: 'site-status' },
        el('span', { class: 'prob', style: probStyle(s.probability || 0) }, fmt.percent(s.probability || 0)),
        el('span', { class: `badge status-${s.status}`, id: 'site-status' }, t(`status.${s.status}`)),
        el('span', { class: 'version' }, t('site.version', { v: fmt.number(s.version || 0, 0) }))));
    const facts = el('dl', { class: 'facts' },
      fact(t('site.location'), fmt.latlon(s.lat, s.lon)),
      ...placeFacts(ev.place),
      fact(t('site.uncertainty'), fmt.meters(s.uncertainty_m || 0)),
      fact(t('site.firstSeen'), el('time', { datetime: s.first_seen }, fmt.date(s.first_seen))),
      fact(t('site.lastSeen'), el('time', { datetime: s.last_seen }, fmt.date(s.last_seen))),
      fact(t('site.passes'), t('queue.passes', { seen: fmt.number(s.passes_seen || 0, 0), surveyed: fmt.number(s.passes_surveyed || 0, 0) })),
      fact(t('site.evidence'), fmt.number(s.evidence || 0, 2)),
      fact(t('site.owner'), s.owner || ''),
      fact(t('site.releasedTo'), fmt.list(s.released_to || []) || t('site.none')));
    const gases = el('table', { class: 'gases' },
      el('caption', {}, t('site.gases')),
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, t('site.gas')), el('th', { scope: 'col' }, t('site.gasEvidence')), el('th', { scope: 'col' }, t('site.peak')), el('th', { scope: 'col' }, t('site.rate')))),
      el('tbody', {}, (s.gases || []).map((g) => el('tr', {},
        el('th', { scope: 'row' }, gasName(g.gas)),
        el('td', {}, fmt.number(g.evidence || 0, 2)),
        // 0 is "not measured" (a source grid's evidence has a rate and
        // no column).
        el('td', {}, g.peak_ppmm > 0 ? fmt.ppmm(g.peak_ppmm) : '—'),
        el('td', {}, g.rate_kgh > 0 ? fmt.kgh(g.rate_kgh) : '—')))));
    this.root.dataset.siteId = s.id;
    this.root.dataset.version = String(s.version);
    this.root.replaceChildren(head, this.actions(), this.links(), facts, gases,
      this.spectrum(ev.spectrum), this.plume(ev.plume_png), this.trace(ev.trace),
      this.passes(ev.passes || []), this.decisions(ev.decisions || []));
  }

  spectrum(sp) {
    const box = el('section', { class: 'evidence', 'aria-labelledby': 'spectrum-h' }, el('h3', { id: 'spectrum-h' }, t('site.spectrum')));
    if (!sp || !(sp.wavelength_um || []).length) {
      box.append(el('p', { class: 'hint' }, t('site.noSpectrum')));
      return box;
    }
    const series = [
      { x: sp.wavelength_um, y: sp.measured, cls: 'measured', label: t('chart.measured') },
      { x: sp.wavelength_um, y: sp.library, cls: 'library', label: t('chart.library', { gas: sp.gas ? gasName(sp.gas) : '' }) },
    ];
    box.append(legend(series), lineChart({ series, label: t('chart.spectrumLabel', { gas: sp.gas ? gasName(sp.gas) : '' }), xLabel: t('chart.wavelength'), yLabel: t('chart.signal'), fx: (v) => fmt.number(v, 1), fy: (v) => fmt.number(v, 3) }));
    box.lastChild.id = 'spectrum-chart';
    return box;
  }

  trace(tr) {
    const box = el('section', { class: 'evidence', 'aria-labelledby': 'trace-h' }, el('h3', { id: 'trace-h' }, t('site.trace')));
    if (!tr || !(tr.t || []).length) {
      box.append(el('p', { class: 'hint' }, t('site.noTrace')));
      return box;
    }
    const series = [
      { x: tr.t, y: tr.ppm, cls: 'measured', label: t('chart.sensor') },
      { x: tr.t, y: tr.fit, cls: 'fit', label: t('chart.fit') },
    ];
    box.append(legend(series), lineChart({ series, label: t('chart.traceLabel'), xLabel: t('chart.time'), yLabel: t('chart.ppm'), fx: (v) => fmt.number(v, 0), fy: (v) => fmt.number(v, 2) }));
    box.lastChild.id = 'trace-chart';
    return box;
  }

  plume(src) {
    const box = el('section', { class: 'evidence', 'aria-labelledby': 'plume-h' }, el('h3', { id: 'plume-h' }, t('site.plume')));
    if (!src) box.append(el('p', { class: 'hint' }, t('site.noPlume')));
    else box.append(el('img', { src, alt: t('site.plumeAlt'), class: 'plume-img', id: 'plume-img' }));
    return box;
  }

  passes(list) {
    const box = el('section', { class: 'evidence', 'aria-labelledby': 'passes-h' }, el('h3', { id: 'passes-h' }, t('site.history')));
    if (!list.length) {
      box.append(el('p', { class: 'hint' }, t('site.noPasses')));
      return box;
    }
    box.append(el('table', { class: 'passes', id: 'passes' },
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, t('site.when')), el('th', { scope: 'col' }, t('site.result')), el('th', { scope: 'col' }, t('site.mdl')))),
      el('tbody', {}, list.map((p) => el('tr', { class: p.seen ? 'seen' : 'not-seen' },
        el('td', {}, el('time', { datetime: p.time }, fmt.date(p.time))),
        el('td', {}, p.seen ? t('site.seen') : t('site.notSeen')),
        // A minimum detectable rate of 0 is no measurement: nothing detects 0 kg/h.
        el('td', {}, p.mdl_kgh > 0 ? fmt.kgh(p.mdl_kgh) : t('site.none')))))));
    return box;
  }

  decisions(list) {
    const box = el('section', { class: 'evidence', 'aria-labelledby': 'decisions-h' }, el('h3', { id: 'decisions-h' }, t('site.decisions')));
    if (!list.length) {
      box.append(el('p', { class: 'hint' }, t('site.noDecisions')));
      return box;
    }
    box.append(el('ol', { class: 'decisions', id: 'decisions' }, list.map((d) => {
      const when = d.at || d.time || d.created_at;
      const actor = d.actor || d.user || '';
      const who = actor === this.user.id ? t('site.you') : actor;
      const to = d.release_to || (d.payload && d.payload.release_to) || [];
      return el('li', { 'data-action': d.action },
        el('strong', {}, t(`action.${d.action}`)),
        el('span', {}, t('site.by', { who })),
        el('time', { datetime: when }, fmt.date(when)),
        d.reason ? el('q', {}, d.reason) : null,
        to.length ? el('span', {}, t('site.to', { agencies: fmt.list(to) })) : null);
    })));
    return box;
  }

  // links: the site's evidence report (PDF), in the interface's language.
  links() {
    const box = el('p', { class: 'site-links' });
    if (!EXPORTERS.includes(this.user.role)) return box;
    const href = `/api/v1/sites/${encodeURIComponent(this.site.id)}/report.pdf?lang=${encodeURIComponent(currentLang())}`;
    box.append(el('a', { id: 'report-link', href, download: `atalaya-site-${this.site.id}.pdf`, type: 'application/pdf' }, t('site.report')));
    return box;
  }

  actions() {
    const box = el('section', { class: 'actions', 'aria-labelledby': 'actions-h' }, el('h3', { id: 'actions-h', class: 'visually-hidden' }, t('site.actions')),
      el('div', { class: 'plan-out', id: 'plan-out' }));
    if (!ACTORS.includes(this.user.role)) return box;
    const out = el('div', { class: 'action-out', role: 'status', 'aria-live': 'polite', id: 'action-out' });
    const form = el('div', { class: 'action-form', id: 'action-form' });
    const btn = (action, handler) => el('button', { type: 'button', id: `act-${action}`, class: `act act-${action}`, onclick: handler }, t(`action.${action}`));
    box.append(el('div', { class: 'buttons' },
      btn('confirm', () => this.decide({ action: 'confirm' })),
      btn('dismiss', () => this.dismissForm(form)),
      btn('revisit', () => this.decide({ action: 'revisit' })),
      btn('release', () => this.releaseForm(form))), form, out);
    return box;
  }

  dismissForm(form) {
    const err = el('p', { class: 'error', id: 'reason-error', role: 'alert' });
    const reason = el('textarea', { id: 'reason', required: true, rows: 3, 'aria-describedby': 'reason-error' });
    const f = el('form', { class: 'card', novalidate: true },
      el('label', { for: 'reason' }, t('dismiss.reason')), reason, err,
      el('button', { type: 'submit', id: 'dismiss-submit' }, t('dismiss.submit')));
    f.addEventListener('submit', (e) => {
      e.preventDefault();
      if (!reason.value.trim()) {
        err.textContent = t('dismiss.required');
        reason.setAttribute('aria-invalid', 'true');
        reason.focus();
        return;
      }
      this.decide({ action: 'dismiss', reason: reason.value.trim() });
    });
    form.replaceChildren(f);
    reason.focus();
  }

  async releaseForm(form) {
    if (!this.agencies) {
      try {
        this.agencies = items(await api('/agencies'));
      } catch (e) {
        toast(errorText(e), 'error');
        return;
      }
    }
    const s = this.site;
    const err = el('p', { class: 'error', role: 'alert' });
    const boxes = this.agencies.filter((a) => a.id !== s.owner).map((a) => el('label', { class: 'check' },
      el('input', { type: 'checkbox', name: 'agency', value: a.id, checked: (s.released_to || []).includes(a.id) }),
      t('release.agency', { name: a.name || a.id, country: a.country || '' })));
    const f = el('form', { class: 'card' },
      el('fieldset', {}, el('legend', {}, t('release.choose')), boxes), err,
      el('button', { type: 'submit', id: 'release-submit' }, t('release.submit')));
    f.addEventListener('submit', (e) => {
      e.preventDefault();
      const to = [...f.querySelectorAll('input[name=agency]:checked')].map((i) => i.value);
      if (!to.length) {
        err.textContent = t('release.required');
        return;
      }
      this.decide({ action: 'release', release_to: to });
    });
    form.replaceChildren(f);
  }

  // loadPlan draws the survey plan of a site under revisit (the plan of
  // its latest revisit decision) and links its files; other sites have none.
  // The plan a decision of ours answered with is shown as it came (with its
  // summary); otherwise it is fetched once per site.
  async loadPlan(site) {
    this.onPlan(null);
    if (site.status !== 'revisit') return;
    if (this.plan && this.plan.id === site.id) {
      this.showPlan(this.plan);
      return;
    }
    const base = `/api/v1/sites/${encodeURIComponent(site.id)}/plan`;
    try {
      const geojson = await api(`/sites/${encodeURIComponent(site.id)}/plan.geojson`);
      if (!this.site || this.site.id !== site.id) return;
      this.plan = { id: site.id, links: Object.fromEntries(PLAN_FORMATS.map((f) => [f, `${base}.${f}`])), geojson, summary: null };
      this.showPlan(this.plan);
    } catch (e) {
      // A revisit decided before plans were recorded has none: nothing to show.
      if (!(e instanceof APIError && e.status === 404)) toast(errorText(e), 'error');
    }
  }

  // showPlan links the plan's files (QGroundControl, MAVLink, QGC WPL,
  // GeoJSON) with the actions and draws its lines on the map.
  showPlan({ links, geojson, summary }) {
    const out = $('plan-out');
    if (!out) return;
    const list = el('ul', { class: 'plan-links', id: 'plan-links' },
      PLAN_FORMATS.filter((f) => links[f]).map((f) =>
        el('li', {}, el('a', { href: links[f], id: `plan-link-${f}`, download: '' }, planLabel(f)))));
    const parts = [el('p', {}, t('decision.plan'))];
    if (summary) {
      parts.push(el('p', { id: 'plan-summary' }, t('plan.summary', {
        lines: fmt.number(summary.lines, 0), km: fmt.number(summary.length_m / 1000, 1),
        minutes: fmt.number(summary.duration_s / 60, 0), swath: fmt.number(summary.swath_m, 0),
      })));
    }
    out.replaceChildren(...parts, list);
    if (geojson) this.onPlan(geojson);
  }

  // decide posts a decision on the version shown. A 412 means someone else
  // changed the site meanwhile: reload it and say so, the analyst decides
  // again on what is now there.
  async decide(body) {
    const s = this.site;
    const out = $('action-out');
    this.deciding = true;
    try {
      const r = await api(`/sites/${encodeURIComponent(s.id)}/decisions`, {
        method: 'POST',
        body: { reason: '', release_to: [], ...body },
        headers: { 'If-Match': `"${s.version}"` },
      });
      const site = r && (r.site || (r.id ? r : null));
      const plan = r && r.plan;
      if (plan && plan.links) this.plan = { id: s.id, links: plan.links, geojson: r.plan_geojson, summary: plan };
      if (site) this.onSite(site);
      await this.open(s.id);
      toast(t('decision.done', { action: t(`action.${body.action}`) }));
    } catch (e) {
      if (e instanceof APIError && e.status === 412) {
        await this.open(s.id);
        toast(t('decision.stale'), 'warn');
        $('action-out').textContent = t('decision.stale');
        return;
      }
      if (out) out.textContent = errorText(e);
      toast(errorText(e), 'error');
    } finally {
      this.deciding = false;
    }
  }
}

// planLabel names a plan file's format (literal keys, for the catalogue checks).
function planLabel(f) {
  return { plan: t('plan.format.plan'), mavlink: t('plan.format.mavlink'), waypoints: t('plan.format.waypoints'), geojson: t('plan.format.geojson') }[f];
}

function fact(k, v) {
  return [el('dt', {}, k), el('dd', {}, v)];
}

// placeFacts are the site's municipality, state and country, each with the
// boundary data set it came from (the evidence's place); a municipality
// that is not determined says why.
function placeFacts(p) {
  if (!p) return [];
  const named = (name, code, src) => [
    code ? t('site.named', { name, code }) : name,
    src ? el('small', { class: 'source' }, ` · ${t('site.source', { src })}`) : ''];
  let muni;
  if (p.municipality) muni = named(p.municipality, p.municipality_code, p.municipality_source);
  else if ((p.municipal_sources || []).length === 0) muni = t('site.noMunicipalities');
  else muni = t('site.outsideMunicipalities', { srcs: p.municipal_sources.join('; ') });
  const state = p.state ? named(p.state, p.state_code, p.state_source) : [t('site.none')];
  if (p.state_fallback) state.push(el('small', { class: 'source' }, ` (${t('site.stateFallback')})`));
  const country = p.country ? named(p.country, p.country_code, p.country_source) : t('site.noCountry');
  return [
    ...fact(t('site.municipality'), el('span', { 'data-place': 'municipality' }, muni)),
    ...fact(t('site.state'), el('span', { 'data-place': 'state' }, state)),
    ...fact(t('site.country'), el('span', { 'data-place': 'country' }, country))];
}

// errorText says what went wrong in the user's language.
export function errorText(e) {
  if (e instanceof APIError) {
    const known = ['invalid', 'not_found', 'forbidden', 'unauthorized', 'conflict', 'precondition_failed', 'too_large'];
    const base = known.includes(e.code) ? t(`error.${e.code}`) : t('error.http', { status: e.status });
    return e.message && e.message !== String(e.status) ? t('error.detail', { base, detail: e.message }) : base;
  }
  console.error(e);
  return t('error.network');
}
