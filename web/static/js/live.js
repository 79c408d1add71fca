// Live updates: Server-Sent Events from GET /events (site, decision,
// granule). The browser's EventSource reconnects by itself and sends
// Last-Event-ID, so nothing is missed across a drop.
import { $ } from './dom.js';
import { t } from './i18n.js';

export function connect(handlers) {
  const es = new EventSource('/api/v1/events', { withCredentials: true });
  const status = (key) => {
    const s = $('live');
    s.dataset.state = key;
    s.textContent = t(`live.${key}`);
  };
  status('connecting');
  es.addEventListener('open', () => status('on'));
  es.addEventListener('error', () => status(es.readyState === EventSource.CLOSED ? 'off' : 'connecting'));
  for (const kind of ['site', 'decision', 'granule']) {
    es.addEventListener(kind, (e) => {
      let data = null;
      try {
        data = JSON.parse(e.data);
      } catch (err) {
        console.error('events: bad data', kind, err);
        return;
      }
      if (handlers[kind]) handlers[kind](data, e.lastEventId);
    });
  }
  return es;
}
