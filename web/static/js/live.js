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
  // Besides the data events, the server says "reset" (the events missed
  // are gone: reload everything), "dropped" (this client fell behind; the
  // stream ends and the browser reconnects with Last-Event-ID) and
  // "unauthorized" (the session ended: stop, sign in again).
  es.addEventListener('unauthorized', () => {
    es.close();
    status('off');
    if (handlers.unauthorized) handlers.unauthorized();
  });
  for (const kind of ['site', 'decision', 'granule', 'reset']) {
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
