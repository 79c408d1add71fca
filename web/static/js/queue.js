// The review queue (GET /queue, most-needing-a-human first) as a listbox:
// arrow keys, Home and End move, Enter or Space opens the site.
import { el } from './dom.js';
import { t, fmt, gasName, typeName } from './i18n.js';
import { probStyle } from './map.js';

export class Queue {
  constructor(list, { onOpen }) {
    this.list = list;
    this.onOpen = onOpen;
    this.items = [];
    this.active = 0;
    list.addEventListener('keydown', (e) => this.key(e));
    list.addEventListener('focus', () => this.mark());
  }

  key(e) {
    const n = this.items.length;
    if (!n) return;
    let i = this.active;
    if (e.key === 'ArrowDown') i = Math.min(n - 1, i + 1);
    else if (e.key === 'ArrowUp') i = Math.max(0, i - 1);
    else if (e.key === 'Home') i = 0;
    else if (e.key === 'End') i = n - 1;
    else if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      this.onOpen(this.items[i].id);
      return;
    } else return;
    e.preventDefault();
    this.active = i;
    this.mark();
  }

  mark() {
    const rows = this.list.children;
    for (let j = 0; j < rows.length; j++) rows[j].setAttribute('aria-selected', j === this.active ? 'true' : 'false');
    const row = rows[this.active];
    if (row) {
      this.list.setAttribute('aria-activedescendant', row.id);
      row.scrollIntoView({ block: 'nearest' });
    }
  }

  // set replaces the rows, keeping the active row on the same site.
  set(sites) {
    const keep = this.items[this.active] && this.items[this.active].id;
    this.items = sites;
    const idx = sites.findIndex((s) => s.id === keep);
    this.active = idx >= 0 ? idx : Math.min(this.active, Math.max(0, sites.length - 1));
    this.render();
  }

  render() {
    this.list.replaceChildren(...this.items.map((s, i) => this.row(s, i)));
    document.getElementById('queue-empty').hidden = this.items.length > 0;
    this.mark();
  }

  row(s, i) {
    const gases = fmt.list((s.gases || []).map((g) => gasName(g.gas)));
    const li = el(
      'li',
      { id: `queue-${i}`, role: 'option', class: `queue-row status-${s.status}`, 'data-site-id': s.id, onclick: () => { this.active = i; this.mark(); this.onOpen(s.id); } },
      el('span', { class: 'prob', style: probStyle(s.probability || 0) }, fmt.percent(s.probability || 0)),
      el('span', { class: 'what' },
        el('strong', {}, typeName(s.type_guess)),
        el('span', { class: 'gases' }, gases)),
      el('span', { class: 'meta' },
        el('span', { class: `badge status-${s.status}` }, t(`status.${s.status}`)),
        el('span', {}, t('queue.passes', { seen: fmt.number(s.passes_seen || 0, 0), surveyed: fmt.number(s.passes_surveyed || 0, 0) })),
        el('time', { datetime: s.last_seen }, fmt.date(s.last_seen))),
    );
    li.setAttribute('aria-label', t('queue.row', {
      prob: fmt.percent(s.probability || 0),
      type: typeName(s.type_guess),
      status: t(`status.${s.status}`),
      gases,
    }));
    return li;
  }
}
