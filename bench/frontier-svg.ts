/**
 * The bytes-vs-quality frontier chart of one bench model, written as SVG by hand in the style of svg.ts: quality
 * (y) against bytes to load (x, log scale), our methods as lines through their tiers, the quantisation-only
 * baselines as distinct markers, the original as a black diamond, vertical reference lines (the .onnx file as
 * fp16 and as it is), and a caption under the plot. Points on the Pareto front of everything drawn are filled,
 * dominated ones hollow; the front itself is a dashed grey line.
 */
import { COLORS, esc, niceTicks, paretoFront, r, type ChartPoint } from './svg.js';

export interface FrontierSeries {
  name: string;
  /** A quantisation-only baseline: markers only, in BASELINE_STYLES, no line. */
  baseline: boolean;
  points: ChartPoint[];
}

export interface ReferenceLine {
  x: number;
  label: string;
}

export interface FrontierSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  xFormat: (v: number) => string;
  yFormat: (v: number) => string;
  higherIsBetter: boolean;
  /** Values above this are drawn at it (an infinite PSNR). */
  yCap?: number;
  original: ChartPoint;
  series: FrontierSeries[];
  references: ReferenceLine[];
  /** Lines of small text under the plot. */
  caption: string[];
}

type Shape = 'circle' | 'square' | 'triangle' | 'diamond';

/** Baselines, in order: orange squares, then grey triangles (int4 when it comes). */
const BASELINE_STYLES: Array<{ color: string; shape: Shape }> = [{ color: '#ff7f0e', shape: 'square' }, { color: '#555', shape: 'triangle' }];
const W = 780;
const LEGEND_W = 210;
const PLOT_H = 300;
const M = { left: 64, right: 16, top: 34, bottom: 44 };
const CAPTION_LINE = 14;
const KIB = 1024;
const MIB = 1024 * 1024;

/** Round ticks on a log axis of bytes: 1, 2, 5 × 10^k KiB below 1 MiB, × 10^k MiB from there (finer steps when that gives < 3). */
export function logTicks(lo: number, hi: number): number[] {
  const pick = (multiples: number[]) => {
    const out = new Set<number>();
    for (let k = -1; k <= 6; k++) {
      for (const m of multiples) {
        const n = m * 10 ** k;
        if (n < 1000) out.add(n * KIB);
        if (n >= 1) out.add(n * MIB);
      }
    }
    return [...out].filter((v) => v >= lo && v <= hi).sort((x, y) => x - y);
  };
  const steps = [[1, 2, 5], [1, 2, 3, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]];
  return steps.map(pick).find((t) => t.length >= 3) ?? pick(steps[2]!);
}

/** How one series is drawn: ours in the COLORS of svg.ts as circles, the baselines in BASELINE_STYLES. */
export function seriesStyle(s: FrontierSeries, index: number, baselineIndex: number): { color: string; shape: Shape } {
  return s.baseline ? BASELINE_STYLES[baselineIndex % BASELINE_STYLES.length]! : { color: COLORS[index % COLORS.length]!, shape: 'circle' };
}

function marker(shape: Shape, x: number, y: number, fill: string, stroke: string, inner = ''): string {
  const a = `fill="${fill}" stroke="${stroke}" stroke-width="1.5"`;
  if (shape === 'circle') return `<circle cx="${r(x)}" cy="${r(y)}" r="4" ${a}>${inner}</circle>`;
  if (shape === 'square') return `<rect x="${r(x - 4.5)}" y="${r(y - 4.5)}" width="9" height="9" ${a}>${inner}</rect>`;
  if (shape === 'triangle') return `<path d="M${r(x)} ${r(y - 6)}L${r(x + 5.5)} ${r(y + 4)}L${r(x - 5.5)} ${r(y + 4)}Z" ${a}>${inner}</path>`;
  return `<path d="M${r(x)} ${r(y - 6)}L${r(x + 6)} ${r(y)}L${r(x)} ${r(y + 6)}L${r(x - 6)} ${r(y)}Z" ${a}>${inner}</path>`;
}

interface Scales {
  sx: (x: number) => number;
  sy: (y: number) => number;
  cap: (y: number) => number;
  x: [number, number];
  y: [number, number];
  pw: number;
  ph: number;
}

function scales(spec: FrontierSpec, top: number): Scales {
  const cap = (y: number) => (spec.yCap !== undefined && y > spec.yCap ? spec.yCap : y);
  const pts = [spec.original, ...spec.series.flatMap((s) => s.points)];
  const xs = [...pts.map((p) => p.x), ...spec.references.map((l) => l.x)].filter((x) => x > 0);
  const [xLo, xHi] = [Math.min(...xs) / 1.3, Math.max(...xs) * 1.3];
  const ys = pts.map((p) => cap(p.y));
  const pad = (Math.max(...ys) - Math.min(...ys)) * 0.06 || Math.abs(ys[0]!) * 0.05 || 1;
  const [yLo, yHi] = [Math.min(...ys) - pad, Math.max(...ys) + pad];
  const pw = W - LEGEND_W - M.left - M.right;
  const ph = PLOT_H - M.top - M.bottom;
  const sx = (x: number) => M.left + ((Math.log(x) - Math.log(xLo)) / (Math.log(xHi) - Math.log(xLo))) * pw;
  const sy = (y: number) => top + M.top + ph - ((cap(y) - yLo) / (yHi - yLo)) * ph;
  return { sx, sy, cap, x: [xLo, xHi], y: [yLo, yHi], pw, ph };
}

/** The plot frame, grid, ticks and axis labels. */
function frame(spec: FrontierSpec, s: Scales, top: number): string[] {
  const parts = [`<rect x="${M.left}" y="${r(top + M.top)}" width="${r(s.pw)}" height="${r(s.ph)}" fill="none" stroke="#999"/>`];
  const bottom = top + M.top + s.ph;
  let lastLabel = Infinity;
  for (const t of logTicks(s.x[0], s.x[1]).reverse()) {
    const x = s.sx(t);
    parts.push(`<line x1="${r(x)}" y1="${r(top + M.top)}" x2="${r(x)}" y2="${r(bottom)}" stroke="#eee"/>`);
    // From the right, so the round value starting a decade keeps its label where the top of the one below crowds.
    if (lastLabel - x < 44) continue;
    lastLabel = x;
    parts.push(`<text x="${r(x)}" y="${r(bottom + 14)}" text-anchor="middle" font-size="10">${esc(spec.xFormat(t))}</text>`);
  }
  for (const t of niceTicks(s.y[0], s.y[1])) {
    if (t < s.y[0] || t > s.y[1]) continue;
    const y = s.sy(t);
    parts.push(`<line x1="${M.left}" y1="${r(y)}" x2="${r(M.left + s.pw)}" y2="${r(y)}" stroke="#eee"/>`);
    parts.push(`<text x="${M.left - 4}" y="${r(y + 3)}" text-anchor="end" font-size="10">${esc(spec.yFormat(t))}</text>`);
  }
  parts.push(`<text x="${r(M.left + s.pw / 2)}" y="${r(bottom + 32)}" text-anchor="middle" font-size="11">${esc(spec.xLabel)}</text>`);
  const ly = top + M.top + s.ph / 2;
  parts.push(`<text x="14" y="${r(ly)}" text-anchor="middle" font-size="11" transform="rotate(-90 14 ${r(ly)})">${esc(spec.yLabel)}</text>`);
  return parts;
}

/** The vertical reference lines, labelled above the plot (clear of the points), staggered so neighbours do not overlap. */
function references(spec: FrontierSpec, s: Scales, top: number): string[] {
  return spec.references.map((l, i) => {
    const x = s.sx(l.x);
    const ty = top + M.top - 4 - 12 * (spec.references.length - 1 - i);
    return `<g class="reference" data-label="${esc(l.label)}"><line x1="${r(x)}" y1="${r(top + M.top)}" x2="${r(x)}" y2="${r(top + M.top + s.ph)}" stroke="#444" stroke-dasharray="6 3"/>`
      + `<text x="${r(x - 3)}" y="${r(ty)}" text-anchor="end" font-size="10" fill="#444">${esc(l.label)}</text></g>`;
  });
}

/** Every point and line: the Pareto front, one group per series, the original. */
function points(spec: FrontierSpec, s: Scales): string[] {
  const flat = [{ ...spec.original, s: -1 }, ...spec.series.flatMap((ser, si) => ser.points.map((p) => ({ ...p, s: si })))];
  const front = paretoFront(flat.map((p) => ({ x: p.x, y: s.cap(p.y) })), spec.higherIsBetter);
  const parts: string[] = [];
  const frontPts = flat.filter((_, i) => front.has(i)).sort((a, b) => a.x - b.x);
  if (frontPts.length > 1) parts.push(`<polyline class="front" points="${frontPts.map((p) => `${r(s.sx(p.x))},${r(s.sy(p.y))}`).join(' ')}" fill="none" stroke="#888" stroke-dasharray="4 3"/>`);
  const tip = (p: ChartPoint) => `<title>${esc(p.label + (spec.yCap !== undefined && p.y > spec.yCap ? ` (drawn at ${spec.yFormat(spec.yCap)})` : ''))}</title>`;
  let b = 0;
  spec.series.forEach((ser, si) => {
    const style = seriesStyle(ser, si, ser.baseline ? b++ : 0);
    const g = [`<g class="series" data-method="${esc(ser.name)}">`];
    if (!ser.baseline && ser.points.length > 1) g.push(`<polyline points="${ser.points.map((p) => `${r(s.sx(p.x))},${r(s.sy(p.y))}`).join(' ')}" fill="none" stroke="${style.color}" stroke-width="1.5"/>`);
    flat.forEach((p, i) => {
      if (p.s === si) g.push(marker(style.shape, s.sx(p.x), s.sy(p.y), front.has(i) ? style.color : '#fff', style.color, tip(p)));
    });
    parts.push(...g, '</g>');
  });
  parts.push(marker('diamond', s.sx(spec.original.x), s.sy(spec.original.y), front.has(0) ? '#000' : '#fff', '#000', tip(spec.original)));
  return parts;
}

/** The legend, one entry a line, right of the plot. */
function legend(spec: FrontierSpec, top: number): string[] {
  const x = W - LEGEND_W + 4;
  const entries: Array<{ name: string; color: string; shape: Shape; line: boolean }> = [{ name: 'original', color: '#000', shape: 'diamond', line: false }];
  let b = 0;
  spec.series.forEach((ser, si) => entries.push({ name: ser.name, ...seriesStyle(ser, si, ser.baseline ? b++ : 0), line: !ser.baseline }));
  const parts = entries.map((e, i) => {
    const y = top + M.top + 8 + 17 * i;
    const line = e.line ? `<line x1="${x}" y1="${y}" x2="${x + 20}" y2="${y}" stroke="${e.color}" stroke-width="2"/>` : '';
    return `${line}${marker(e.shape, x + 10, y, e.color, e.color)}<text x="${x + 26}" y="${y + 4}">${esc(e.name)}</text>`;
  });
  const y = top + M.top + 8 + 17 * entries.length;
  parts.push(`<line x1="${x}" y1="${y}" x2="${x + 20}" y2="${y}" stroke="#444" stroke-dasharray="6 3"/><text x="${x + 26}" y="${y + 4}">reference size</text>`);
  parts.push(`<text x="${x}" y="${y + 22}" font-size="10" fill="#555">filled: on the Pareto front (dashed grey)</text>`);
  return parts;
}

/** The whole chart: title, plot, legend and caption. */
export function frontierSvg(spec: FrontierSpec): string {
  const top = 24;
  const height = top + PLOT_H + CAPTION_LINE * spec.caption.length + 6;
  const s = scales(spec, top);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${height}" fill="#fff"/>`,
    `<text x="${W / 2}" y="17" text-anchor="middle" font-size="14" font-weight="bold">${esc(spec.title)}</text>`,
    ...frame(spec, s, top),
    ...references(spec, s, top),
    ...points(spec, s),
    ...legend(spec, top),
    ...spec.caption.map((c, i) => `<text class="caption" x="12" y="${top + PLOT_H + CAPTION_LINE * (i + 1) - 4}" font-size="10" fill="#333">${esc(c)}</text>`),
    '</svg>',
  ];
  return parts.join('\n') + '\n';
}
