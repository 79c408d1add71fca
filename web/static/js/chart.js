// Line charts as SVG (no chart library): the measured spectrum against the
// library signature, the sensor trace against the fitted plume.
import { svg } from './dom.js';

const W = 360;
const H = 200;
const M = { l: 52, r: 10, t: 10, b: 38 };

// ticks returns about n round values spanning [lo, hi].
function ticks(lo, hi, n = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

function extent(arrays) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const a of arrays) for (const v of a || []) if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (lo === Infinity) return [0, 1];
  if (lo === hi) return [lo - 1, hi + 1];
  return [lo, hi];
}

// lineChart draws series [{x, y, cls, label}] on shared axes. label is the
// chart's accessible name; xLabel, yLabel name the axes; fx, fy format ticks.
export function lineChart({ series, label, xLabel, yLabel, fx = String, fy = String }) {
  const [x0, x1] = extent(series.map((s) => s.x));
  const [y0, y1] = extent(series.map((s) => s.y));
  const sx = (v) => M.l + ((v - x0) / (x1 - x0)) * (W - M.l - M.r);
  const sy = (v) => H - M.b - ((v - y0) / (y1 - y0)) * (H - M.t - M.b);
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label, class: 'chart' }, svg('title', {}, label));
  const axes = svg('g', { class: 'axes' });
  for (const v of ticks(x0, x1)) {
    axes.append(svg('line', { x1: sx(v), x2: sx(v), y1: H - M.b, y2: H - M.b + 4 }));
    axes.append(svg('text', { x: sx(v), y: H - M.b + 15, 'text-anchor': 'middle' }, fx(v)));
  }
  for (const v of ticks(y0, y1, 4)) {
    axes.append(svg('line', { class: 'grid', x1: M.l, x2: W - M.r, y1: sy(v), y2: sy(v) }));
    axes.append(svg('text', { x: M.l - 5, y: sy(v) + 4, 'text-anchor': 'end' }, fy(v)));
  }
  axes.append(svg('line', { x1: M.l, x2: W - M.r, y1: H - M.b, y2: H - M.b }));
  axes.append(svg('line', { x1: M.l, x2: M.l, y1: M.t, y2: H - M.b }));
  axes.append(svg('text', { x: (M.l + W - M.r) / 2, y: H - 4, 'text-anchor': 'middle', class: 'axis-label' }, xLabel));
  axes.append(svg('text', { x: 12, y: (M.t + H - M.b) / 2, 'text-anchor': 'middle', class: 'axis-label', transform: `rotate(-90 12 ${(M.t + H - M.b) / 2})` }, yLabel));
  root.append(axes);
  for (const s of series) {
    const pts = [];
    const n = Math.min((s.x || []).length, (s.y || []).length);
    for (let i = 0; i < n; i++) if (Number.isFinite(s.x[i]) && Number.isFinite(s.y[i])) pts.push(`${sx(s.x[i]).toFixed(1)},${sy(s.y[i]).toFixed(1)}`);
    root.append(svg('polyline', { points: pts.join(' '), class: `series ${s.cls}`, 'data-label': s.label }));
  }
  return root;
}

// legend lists the series with their line styles.
export function legend(series) {
  const g = svg('svg', { class: 'legend', viewBox: `0 0 ${W} 18`, 'aria-hidden': 'true' });
  let x = M.l;
  for (const s of series) {
    g.append(svg('line', { x1: x, x2: x + 18, y1: 9, y2: 9, class: `series ${s.cls}` }));
    g.append(svg('text', { x: x + 22, y: 13 }, s.label));
    x += 34 + s.label.length * 7;
  }
  return g;
}
