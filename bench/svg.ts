/**
 * Pareto charts of the benchmark, written as SVG by hand.
 *
 * Why hand-written: the report has to be static files with no external assets (index.html inlines them),
 * the charts are plain scatter-and-line plots, and a plotting library would be a new dependency (plus a
 * headless browser or canvas to render it) for what is ~150 lines of string building. Kept in its own file
 * so the report code stays about numbers.
 *
 * Each panel plots quality (y) against a cost (x, lower is better): one line per compile method through its
 * tiers in order, and the original as a black diamond. Points on the Pareto front of everything in the panel
 * are filled, dominated ones hollow; the front itself is a dashed grey line.
 */

export interface ChartPoint {
  x: number;
  y: number;
  /** Tooltip text. */
  label: string;
}

export interface ChartSeries {
  name: string;
  points: ChartPoint[];
}

export interface PanelSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  xFormat: (v: number) => string;
  /** Ticks fall on round multiples of this unit (e.g. 1024 for KiB); default 1. */
  xTickUnit?: (max: number) => number;
  yFormat: (v: number) => string;
  higherIsBetter: boolean;
  /** Values above this are drawn at it (an infinite PSNR). */
  yCap?: number;
  original: ChartPoint;
  series: ChartSeries[];
}

/** Series colours (baselines in frontier-svg.ts have their own). */
export const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22'];
const W = 440;
const H = 300;
const M = { left: 62, right: 16, top: 28, bottom: 44 };

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A coordinate to one decimal. */
export function r(v: number): string {
  return (Math.round(v * 10) / 10).toString();
}

/** About `count` round tick values (steps of 1, 2 or 5 × 10^k) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

/** Indices of the points no other point beats on both axes (x lower is better; y by `higherIsBetter`). */
export function paretoFront(points: Array<{ x: number; y: number }>, higherIsBetter: boolean): Set<number> {
  const better = (a: number, b: number) => (higherIsBetter ? a > b : a < b);
  const front = new Set<number>();
  points.forEach((p, i) => {
    const dominated = points.some((q, j) => j !== i && q.x <= p.x && !better(p.y, q.y) && (q.x < p.x || better(q.y, p.y)));
    if (!dominated) front.add(i);
  });
  return front;
}

function panel(spec: PanelSpec, ox: number, oy: number): string {
  const cap = (y: number) => (spec.yCap !== undefined && y > spec.yCap ? spec.yCap : y);
  const all = [spec.original, ...spec.series.flatMap((s) => s.points)].map((p) => ({ x: p.x, y: cap(p.y) }));
  const xMax = Math.max(...all.map((p) => p.x)) * 1.06 || 1;
  let yLo = Math.min(...all.map((p) => p.y));
  let yHi = Math.max(...all.map((p) => p.y));
  const pad = (yHi - yLo) * 0.06 || Math.abs(yHi) * 0.05 || 1;
  yLo -= pad;
  yHi += pad;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number) => ox + M.left + (x / xMax) * pw;
  const sy = (y: number) => oy + M.top + ph - ((cap(y) - yLo) / (yHi - yLo)) * ph;
  const parts: string[] = [];
  parts.push(`<text x="${r(ox + W / 2)}" y="${r(oy + 16)}" text-anchor="middle" font-weight="bold">${esc(spec.title)}</text>`);
  parts.push(`<rect x="${r(ox + M.left)}" y="${r(oy + M.top)}" width="${r(pw)}" height="${r(ph)}" fill="none" stroke="#999"/>`);
  const unit = spec.xTickUnit?.(xMax) ?? 1;
  for (const t of niceTicks(0, xMax / unit).map((v) => v * unit)) {
    if (t > xMax) continue;
    const x = sx(t);
    parts.push(`<line x1="${r(x)}" y1="${r(oy + M.top)}" x2="${r(x)}" y2="${r(oy + M.top + ph)}" stroke="#eee"/>`);
    parts.push(`<text x="${r(x)}" y="${r(oy + M.top + ph + 14)}" text-anchor="middle" font-size="10">${esc(spec.xFormat(t))}</text>`);
  }
  for (const t of niceTicks(yLo, yHi)) {
    if (t < yLo || t > yHi) continue;
    const y = sy(t);
    parts.push(`<line x1="${r(ox + M.left)}" y1="${r(y)}" x2="${r(ox + M.left + pw)}" y2="${r(y)}" stroke="#eee"/>`);
    parts.push(`<text x="${r(ox + M.left - 4)}" y="${r(y + 3)}" text-anchor="end" font-size="10">${esc(spec.yFormat(t))}</text>`);
  }
  parts.push(`<text x="${r(ox + M.left + pw / 2)}" y="${r(oy + H - 8)}" text-anchor="middle" font-size="11">${esc(spec.xLabel)}</text>`);
  const ly = oy + M.top + ph / 2;
  parts.push(`<text x="${r(ox + 12)}" y="${r(ly)}" text-anchor="middle" font-size="11" transform="rotate(-90 ${r(ox + 12)} ${r(ly)})">${esc(spec.yLabel)}</text>`);

  // Pareto front over every point in the panel.
  const flat = [{ ...spec.original, s: -1 }, ...spec.series.flatMap((s, si) => s.points.map((p) => ({ ...p, s: si })))];
  const front = paretoFront(flat.map((p) => ({ x: p.x, y: cap(p.y) })), spec.higherIsBetter);
  const frontPts = flat.filter((_, i) => front.has(i)).sort((a, b) => a.x - b.x);
  if (frontPts.length > 1) {
    parts.push(`<polyline points="${frontPts.map((p) => `${r(sx(p.x))},${r(sy(p.y))}`).join(' ')}" fill="none" stroke="#888" stroke-dasharray="4 3"/>`);
  }
  spec.series.forEach((s, si) => {
    const color = COLORS[si % COLORS.length]!;
    parts.push(`<polyline points="${s.points.map((p) => `${r(sx(p.x))},${r(sy(p.y))}`).join(' ')}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
  });
  flat.forEach((p, i) => {
    const filled = front.has(i);
    const capped = spec.yCap !== undefined && p.y > spec.yCap ? ` (drawn at ${spec.yFormat(spec.yCap)})` : '';
    const tip = `<title>${esc(p.label + capped)}</title>`;
    const x = sx(p.x);
    const y = sy(p.y);
    if (p.s < 0) {
      parts.push(`<path d="M${r(x)} ${r(y - 6)}L${r(x + 6)} ${r(y)}L${r(x)} ${r(y + 6)}L${r(x - 6)} ${r(y)}Z" fill="${filled ? '#000' : '#fff'}" stroke="#000" stroke-width="1.5">${tip}</path>`);
    } else {
      const color = COLORS[p.s % COLORS.length]!;
      parts.push(`<circle cx="${r(x)}" cy="${r(y)}" r="4" fill="${filled ? color : '#fff'}" stroke="${color}" stroke-width="1.5">${tip}</circle>`);
    }
  });
  return parts.join('\n');
}

/** The shared legend: the original, then one entry per series, wrapped onto further rows when `width` is full. */
function legend(names: string[], width: number, top: number): { parts: string[]; height: number } {
  const note = 'filled: on the Pareto front (dashed); hollow: dominated';
  const items = [{ name: 'original', color: '' }, ...names.map((n, i) => ({ name: n, color: COLORS[i % COLORS.length]! }))];
  const parts: string[] = [];
  let [lx, row] = [12, 0];
  for (const it of items) {
    const w = it.color ? 40 + it.name.length * 7 : 90;
    if (lx + w > width - 12 && lx > 12) [lx, row] = [12, row + 1];
    const ly = top + 10 + 20 * row;
    parts.push(it.color
      ? `<line x1="${lx}" y1="${ly}" x2="${lx + 20}" y2="${ly}" stroke="${it.color}" stroke-width="2"/><circle cx="${lx + 10}" cy="${ly}" r="4" fill="${it.color}"/><text x="${lx + 26}" y="${ly + 4}">${esc(it.name)}</text>`
      : `<path d="M${lx + 6} ${ly - 6}L${lx + 12} ${ly}L${lx + 6} ${ly + 6}L${lx} ${ly}Z" fill="#000"/><text x="${lx + 18}" y="${ly + 4}">original</text>`);
    lx += w;
  }
  if (lx + note.length * 5.5 > width - 12) row++;
  parts.push(`<text x="${width - 12}" y="${top + 14 + 20 * row}" text-anchor="end" font-size="10" fill="#555">${note}</text>`);
  return { parts, height: 22 + 20 * row };
}

/** One SVG with the panels side by side and a shared legend. */
export function paretoSvg(title: string, panels: PanelSpec[]): string {
  const width = W * panels.length;
  const key = legend(panels[0]?.series.map((s) => s.name) ?? [], width, 24);
  const height = 24 + key.height + H;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  parts.push(`<text x="${width / 2}" y="17" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`);
  parts.push(...key.parts);
  panels.forEach((p, i) => parts.push(panel(p, i * W, 24 + key.height)));
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
