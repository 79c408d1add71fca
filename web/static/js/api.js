// The JSON API at /api/v1 (docs/api.md): cookie session, X-CSRF-Token on
// unsafe methods, errors as {"error":{"code","message","field"}}.

// The session's CSRF token comes with POST /login; it is kept for the
// tab's life in sessionStorage, so a reload can still send it.
const CSRF_KEY = 'atalaya.csrf';
let csrf = sessionStorage.getItem(CSRF_KEY) || '';

// setCSRF keeps the token POST /login (or GET /me, if it has one) returned.
export function setCSRF(token) {
  if (!token) return;
  csrf = token;
  sessionStorage.setItem(CSRF_KEY, token);
}

// clearCSRF forgets the token (sign-out).
export function clearCSRF() {
  csrf = '';
  sessionStorage.removeItem(CSRF_KEY);
}

// APIError is a response that was not 2xx.
export class APIError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || String(status));
    this.status = status;
    this.code = e.code || '';
    this.field = e.field || '';
  }
}

// api calls path (under /api/v1) and returns the decoded JSON body (null
// for an empty one).
export async function api(path, { method = 'GET', body, headers = {} } = {}) {
  const h = { Accept: 'application/json', ...headers };
  if (body !== undefined) h['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrf) h['X-CSRF-Token'] = csrf;
  const r = await fetch('/api/v1' + path, {
    method,
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  let data = null;
  if ((r.headers.get('Content-Type') || '').includes('json')) {
    data = await r.json().catch(() => null);
  }
  if (!r.ok) throw new APIError(r.status, data);
  return data;
}

// items returns the list in a {"items":[...]} page or a bare array.
export function items(page) {
  if (Array.isArray(page)) return page;
  return (page && page.items) || [];
}
