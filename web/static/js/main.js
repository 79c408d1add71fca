// Atalaya's web map: log in, then the map, the review queue and the site
// page, kept current by the live event stream. Routes: #/ (queue) and
// #/site/ID (a site's page).
import { api, items, setCSRF, clearCSRF, APIError } from './api.js';
import { $, toast } from './dom.js';
import { pickLang, setLang, t } from './i18n.js';
import { SiteMap } from './map.js';
import { Queue } from './queue.js';
import { SitePage, errorText, EXPORTERS } from './site.js';
import { connect } from './live.js';

const REVIEWERS = ['analyst', 'administrator', 'operator'];

let user = null;
let map = null;
let queue = null;
let page = null;
let queueTimer = 0;

async function boot() {
  await setLang(pickLang(null, navigator.languages));
  let me = null;
  try {
    me = await api('/me');
  } catch (e) {
    if (e instanceof APIError && e.status === 401) return showLogin();
    toast(errorText(e), 'error');
    return showLogin();
  }
  await start(me);
}

function showLogin() {
  $('app').hidden = true;
  $('login-view').hidden = false;
  $('username').focus();
}

$('login').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('login-error').textContent = '';
  try {
    const r = await api('/login', { method: 'POST', body: { username: $('username').value, password: $('password').value } });
    $('password').value = '';
    await start(r);
  } catch (err) {
    $('login-error').textContent = err instanceof APIError && err.status === 401 ? t('auth.failed') : errorText(err);
  }
});

$('logout').addEventListener('click', async () => {
  try {
    await api('/logout', { method: 'POST' });
  } finally {
    clearCSRF();
    location.hash = '';
    location.reload();
  }
});

// start shows the application for the user in a /login or /me answer.
async function start(r) {
  user = (r && r.user) || r || {};
  setCSRF((r && r.csrf_token) || '');
  await setLang(pickLang(user.lang, navigator.languages));
  $('login-view').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  $('whoami').textContent = t('auth.whoami', { user: user.username || user.name || user.id || '', agency: user.agency_id || user.agency || '', role: t(`role.${user.role}`) });
  $('queue-title').textContent = REVIEWERS.includes(user.role) ? t('queue.title') : t('queue.shared');

  map = new SiteMap($('map'), { onOpen: (id) => go(id) });
  map.showDownloads(EXPORTERS.includes(user.role));
  queue = new Queue($('queue'), { onOpen: (id) => go(id) });
  page = new SitePage($('site-view'), {
    user,
    onClose: () => go(null),
    onSite: (s) => siteChanged(s),
    onEvidence: (ev) => map.showPlumes(ev.detections),
    onPlan: (g) => map.showPlan(g),
  });
  await map.loadBase(); // first: the layer control lists the imagery if there is some
  await map.translate();
  await Promise.allSettled([map.refreshExtentLayers(), loadQueue()]);
  connect({
    site: (s) => {
      siteChanged(s);
      if (page.id === s.id) page.update(s);
    },
    // A decision comes with a site event carrying the new version, which
    // reloads an open page; the queue may reorder.
    decision: () => scheduleQueue(),
    granule: () => map.refreshExtentLayers(),
    reset: () => {
      map.refreshExtentLayers();
      scheduleQueue();
      if (page.id) page.open(page.id);
    },
    unauthorized: () => signedOut(),
  });
  window.addEventListener('hashchange', route);
  route();
  document.body.dataset.ready = 'true';
}

// signedOut: the session ended elsewhere (signed out, disabled, expired):
// say so and show the sign-in form; nothing on the page stays usable.
function signedOut() {
  clearCSRF();
  page.close();
  $('app').hidden = true;
  $('logout').hidden = true;
  $('whoami').textContent = '';
  $('login-error').textContent = t('error.unauthorized');
  showLogin();
}

function siteChanged(s) {
  map.upsert(s);
  scheduleQueue();
}

// The queue is the server's ordering, so a change reloads it (at most
// every 300 ms) rather than guessing where the site now belongs.
function scheduleQueue() {
  clearTimeout(queueTimer);
  queueTimer = setTimeout(loadQueue, 300);
}

async function loadQueue() {
  try {
    if (REVIEWERS.includes(user.role)) {
      queue.set(items(await api('/queue')));
    } else {
      // Partners and viewers: the sites shared with them, newest first.
      const list = [...map.markers.values()].map((m) => m.site);
      list.sort((a, b) => String(b.last_seen).localeCompare(String(a.last_seen)));
      queue.set(list);
    }
  } catch (e) {
    toast(errorText(e), 'error');
  }
}

function go(id) {
  location.hash = id ? `#/site/${encodeURIComponent(id)}` : '#/';
}

async function route() {
  const m = location.hash.match(/^#\/site\/(.+)$/);
  if (m) {
    $('queue-view').hidden = true;
    await page.open(decodeURIComponent(m[1]));
    if (page.site) map.focus(page.site);
    const h = $('site-title');
    if (h) h.focus();
  } else {
    page.close();
    map.showPlumes([]);
    map.showPlan(null);
    $('queue-view').hidden = false;
    $('queue').focus();
  }
}

boot().catch((e) => toast(errorText(e), 'error'));
