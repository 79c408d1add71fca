// Message catalogues (i18n/{es,en,pt}.json: flat key → text with {name}
// placeholders) and the locale's formats for dates, numbers and units
// (Intl.DateTimeFormat, Intl.NumberFormat).

export const LANGS = ['es', 'en', 'pt'];
const FALLBACK = 'en';

let lang = FALLBACK;
let locale = FALLBACK;
let catalogue = {};

// pickLang chooses the language: the user's profile if it is one we have,
// else the first of the browser's languages we have, else English.
export function pickLang(profileLang, browserLangs) {
  for (const l of [profileLang, ...(browserLangs || [])]) {
    if (!l) continue;
    const base = String(l).toLowerCase().split('-')[0];
    if (LANGS.includes(base)) return base;
  }
  return FALLBACK;
}

// setLang loads lang's catalogue and translates the page. Formats follow
// the browser's regional variant of that language when it has one (es-CO,
// pt-BR), else the language itself.
export async function setLang(l, browserLangs = navigator.languages) {
  const r = await fetch(`i18n/${l}.json`);
  if (!r.ok) throw new Error(`i18n/${l}.json: ${r.status}`);
  catalogue = await r.json();
  lang = l;
  locale = (browserLangs || []).find((b) => String(b).toLowerCase().split('-')[0] === l) || l;
  document.documentElement.lang = l;
  translate(document);
}

export function currentLang() {
  return lang;
}

// t returns the message for key with its {placeholders} filled from params.
export function t(key, params = {}) {
  const s = catalogue[key];
  if (s === undefined) {
    console.error('i18n: missing key', key);
    return key;
  }
  return s.replace(/\{(\w+)\}/g, (_, k) => (params[k] === undefined ? '' : String(params[k])));
}

// translate fills every element under root carrying data-i18n (text),
// data-i18n-aria (aria-label), data-i18n-title or data-i18n-placeholder.
export function translate(root) {
  for (const e of root.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
  for (const e of root.querySelectorAll('[data-i18n-aria]')) e.setAttribute('aria-label', t(e.dataset.i18nAria));
  for (const e of root.querySelectorAll('[data-i18n-title]')) e.setAttribute('title', t(e.dataset.i18nTitle));
  for (const e of root.querySelectorAll('[data-i18n-placeholder]')) e.setAttribute('placeholder', t(e.dataset.i18nPlaceholder));
}

function nf(opts) {
  return new Intl.NumberFormat(locale, opts);
}

// fmt formats values in the user's locale.
export const fmt = {
  date(v) {
    if (!v) return '';
    const d = new Date(v);
    if (Number.isNaN(d.getTime())) return String(v);
    // In UTC, named: agencies in several time zones read the same time.
    return new Intl.DateTimeFormat(locale, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'UTC', timeZoneName: 'short' }).format(d);
  },
  number(v, digits = 2) {
    return nf({ maximumFractionDigits: digits }).format(v);
  },
  percent(p) {
    return nf({ style: 'percent', maximumFractionDigits: 0 }).format(p);
  },
  kgh(v) {
    return nf({ style: 'unit', unit: 'kilogram-per-hour', maximumFractionDigits: v < 1 ? 3 : 1 }).format(v);
  },
  meters(v) {
    return nf({ style: 'unit', unit: 'meter', maximumFractionDigits: 0 }).format(v);
  },
  seconds(v) {
    return nf({ style: 'unit', unit: 'second', maximumFractionDigits: 0 }).format(v);
  },
  ppmm(v) {
    return t('unit.ppmm', { v: nf({ maximumFractionDigits: 0 }).format(v) });
  },
  ppm(v) {
    return t('unit.ppm', { v: nf({ maximumFractionDigits: 2 }).format(v) });
  },
  um(v) {
    return t('unit.um', { v: nf({ maximumFractionDigits: 1 }).format(v) });
  },
  list(arr) {
    return new Intl.ListFormat(locale, { style: 'short', type: 'unit' }).format(arr.map(String));
  },
  latlon(lat, lon) {
    const f = nf({ minimumFractionDigits: 5, maximumFractionDigits: 5 });
    return t('unit.latlon', { lat: f.format(lat), lon: f.format(lon) });
  },
};

// has reports whether the catalogue has key.
export function has(key) {
  return Object.prototype.hasOwnProperty.call(catalogue, key);
}

// gasName names a gas of the signature library: the catalogue's name when
// it has one, else the library's identifier with its commas restored
// (the library writes 1,3- as 1_3-).
export function gasName(g) {
  return has(`gas.${g}`) ? t(`gas.${g}`) : String(g).replace(/_/g, ',');
}

// typeName names a site type (internal/sites/profiles).
export function typeName(ty) {
  if (!ty) return t('type.unknown');
  return has(`type.${ty}`) ? t(`type.${ty}`) : String(ty);
}
