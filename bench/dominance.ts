/**
 * The dominance judgement of the report: for each quantisation-only baseline point (bench/baselines.ts), is there
 * a tier of ours (any other method, the original excluded) that loads no more bytes and whose quality is at least
 * as good, within the evaluation split's noise (noise.ts)?
 */
import { formatBytes, formatCount } from '../compiler/cli/format.js';
import { isQuantBaseline } from './baselines.js';
import { pairedDifference } from './bootstrap.js';
import { qualityTolerance } from './noise.js';
import type { MetricInfo } from './suites.js';
import type { ModelResult, Row } from './types.js';

export interface Judgement {
  baseline: Row;
  /** Our smallest tier (then best) with bytes ≤ the baseline's and quality as good within the tolerance; null if none. */
  by: Row | null;
  /** When not dominated: our best tier within the baseline's bytes, null when none loads that few. */
  bestWithin: Row | null;
  /**
   * When not dominated: our smallest tier that is as good within the tolerance but loads more bytes, null when none
   * is. The report gives its excess, since a tier holding the baseline's own weights plus the tier table is a tie.
   */
  asGoodAbove: Row | null;
}

/** Whether `a` is at least as good as `b` give or take `tolerance` (in the metric's units). */
export function asGood(a: number, b: number, higherIsBetter: boolean, tolerance: number): boolean {
  return higherIsBetter ? a >= b - tolerance : a <= b + tolerance;
}

/** The rows of our methods' tiers that have a quality figure (not the original, not a baseline). */
export function ourRows(rows: readonly Row[]): Row[] {
  return rows.filter((r) => r.method !== 'original' && !isQuantBaseline(r.method) && r.value !== null);
}

/** One judgement per baseline row that has a quality figure; `tolerance` is a baseline's (noise.ts qualityTolerance). */
export function judgeDominance(rows: readonly Row[], higherIsBetter: boolean, tolerance: (baseline: Row) => number): Judgement[] {
  const ours = ourRows(rows);
  const better = (a: Row, b: Row) => (higherIsBetter ? a.value! > b.value! : a.value! < b.value!);
  return rows.filter((r) => isQuantBaseline(r.method) && r.value !== null).map((baseline) => {
    const good = (r: Row) => asGood(r.value!, baseline.value!, higherIsBetter, tolerance(baseline));
    const smallest = (rows: Row[]) => rows.reduce<Row | null>((best, r) => (!best || r.bytes < best.bytes || (r.bytes === best.bytes && better(r, best)) ? r : best), null);
    const within = ours.filter((r) => r.bytes <= baseline.bytes);
    const by = smallest(within.filter(good));
    const bestWithin = by ? null : within.reduce<Row | null>((best, r) => (!best || better(r, best) ? r : best), null);
    const asGoodAbove = by ? null : smallest(ours.filter((r) => r.bytes > baseline.bytes && good(r)));
    return { baseline, by, bestWithin, asGoodAbove };
  });
}

function point(r: Row, format: (v: number | null) => string): string {
  return `${r.method}${r.tier === null || isQuantBaseline(r.method) ? '' : ` tier ${r.tier}`} (${formatBytes(r.bytes)}, ${format(r.value)})`;
}

function gap(a: number, b: number, m: MetricInfo): string {
  const d = Math.abs(a - b);
  return m.unit === '%' ? `${d.toFixed(2)} pp` : m.unit === 'dB' ? `${d.toFixed(2)} dB` : Number(d.toPrecision(3)).toString();
}

/**
 * " (paired on the same evaluation units, …)": the dominating tier's figure minus the baseline's, both resampled
 * together, when both rows carry their units. Stricter than the tolerance (the baseline's own spread): it says
 * whether the two differ at all.
 */
function pairedText(a: Row, b: Row, format: (v: number | null) => string): string {
  const p = a.units && b.units ? pairedDifference(a.units, b.units) : undefined;
  if (!p) return '';
  const sign = p.difference < 0 ? '−' : '+';
  return ` (paired on the same evaluation units, its figure minus the baseline's is ${sign}${format(Math.abs(p.difference))} ± ${format(p.halfWidth)})`;
}

/** One sentence per judgement: who dominates the baseline, or "not dominated" with the closest figures. */
export function describeJudgement(j: Judgement, m: MetricInfo, format: (v: number | null) => string, ours: readonly Row[]): string {
  const base = point(j.baseline, format);
  if (j.by) return `${base} is dominated by ${point(j.by, format)}, our smallest tier with no more bytes and quality as good within the tolerance${pairedText(j.by, j.baseline, format)}`;
  const above = j.asGoodAbove ? `our smallest tier as good, ${point(j.asGoodAbove, format)}, loads ${excess(j.asGoodAbove.bytes, j.baseline.bytes)} more` : '';
  if (j.bestWithin) return `${base} is not dominated: our best tier within its bytes, ${point(j.bestWithin, format)}, is ${gap(j.bestWithin.value!, j.baseline.value!, m)} worse${above ? `; ${above}` : ''}`;
  if (above) return `${base} is not dominated: no tier of ours loads that few bytes; ${above}`;
  const smallest = ours.reduce<Row | null>((s, r) => (!s || r.bytes < s.bytes ? r : s), null);
  return `${base} is not dominated: no tier of ours loads that few bytes${smallest ? `, the smallest being ${point(smallest, format)}` : ''}`;
}

/** Bytes over the baseline's, exact (a tie is often a few hundred bytes of tier table) and as a share. */
function excess(bytes: number, baseline: number): string {
  const d = bytes - baseline;
  return `${formatCount(d)} B (${((100 * d) / baseline).toFixed(d / baseline < 0.01 ? 2 : 1)}%)`;
}

/** The report's dominance line for one model ('- Dominance: …'), or undefined when it has no baseline rows. */
export function dominanceLine(m: ModelResult, format: (v: number | null) => string): string | undefined {
  const tolerance = qualityTolerance(m, (v) => format(v));
  const judgements = judgeDominance(m.rows, m.metric.higherIsBetter, tolerance.of);
  if (judgements.length === 0) return undefined;
  const text = judgements.map((j) => describeJudgement(j, m.metric, format, ourRows(m.rows))).join('; ');
  return `- Dominance of the quantisation-only baselines (tolerance ${tolerance.text}): ${text}`;
}
