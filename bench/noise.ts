/**
 * How far apart two quality figures of one model must be to mean anything, from the number of samples its
 * evaluation split has: the report's "Noise" line and the tolerance of the dominance judgement (dominance.ts).
 */
import { formatCount } from '../compiler/cli/format.js';
import { isQuantBaseline } from './baselines.js';
import { BOOTSTRAP_RESAMPLES, MIN_BOOTSTRAP_UNITS } from './bootstrap.js';
import type { ModelResult, Row } from './types.js';

/** The task name of sentence encoders (STS pairs). */
export const SENTENCE_TASK = 'sentence similarity';

/**
 * One sample's worth in points, and the half-width of the 95% binomial interval of an accuracy near the
 * original's on this many samples (method comparisons on the same samples are paired, so their differences are
 * less noisy than that, but a criterion missed by one sample is within it). Undefined for other metrics.
 */
export function accuracyInterval(m: ModelResult): { onePp: number; halfPp: number; original: number } | undefined {
  const original = m.rows.find((r) => r.method === 'original');
  if (m.metric.unit !== '%' || m.metric.vsOriginal || !original || original.value === null || m.evaluationSamples <= 0) return undefined;
  const n = m.evaluationSamples;
  const p = original.value / 100;
  return { onePp: 100 / n, halfPp: 196 * Math.sqrt((p * (1 - p)) / n), original: original.value };
}

/** Fisher's z: the 95% interval (×100) of a Pearson correlation like the original's on this many pairs. */
export function correlationInterval(m: ModelResult): { lo: number; hi: number; original: number } | undefined {
  const original = m.rows.find((r) => r.method === 'original');
  if (m.task !== SENTENCE_TASK || !original || original.value === null || m.evaluationSamples <= 3) return undefined;
  const z = Math.atanh(original.value / 100);
  const half = 1.96 / Math.sqrt(m.evaluationSamples - 3);
  return { lo: 100 * Math.tanh(z - half), hi: 100 * Math.tanh(z + half), original: original.value };
}

/** What the bootstrap resampled (the metric's `resampled`, e.g. "53 images"), when this model's rows carry intervals. */
function bootstrapUnits(m: ModelResult): string | undefined {
  if (!m.metric.resampled || !m.rows.some((r) => r.interval95 !== undefined)) return undefined;
  return m.metric.resampled;
}

/** "quant-int8 ±0.0012, quant-int4 ±0.0031": the baselines' own intervals. */
function baselineIntervals(m: ModelResult, format: (v: number) => string): string {
  return m.rows
    .filter((r) => isQuantBaseline(r.method) && r.interval95 !== undefined)
    .map((r) => `${r.method} ±${format(r.interval95!)}`)
    .join(', ');
}

/** The report's noise sentence, when the metric has a noise model. */
export function noiseText(m: ModelResult): string | undefined {
  const n = m.evaluationSamples;
  const a = accuracyInterval(m);
  if (a) return `one sample is ${a.onePp.toFixed(n >= 1000 ? 3 : 2)} pp; the 95% binomial interval of an accuracy near the original's ${a.original.toFixed(2)}% on ${formatCount(n)} samples is ±${a.halfPp.toFixed(2)} pp`;
  const c = correlationInterval(m);
  if (c) return `the 95% interval (Fisher's z) of a Pearson ×100 of ${c.original.toFixed(2)} on ${formatCount(n)} pairs is ${c.lo.toFixed(2)}–${c.hi.toFixed(2)}; tiers are scored on the same pairs, so their differences from the original are far less noisy than that`;
  const units = bootstrapUnits(m);
  if (units) return `each figure's ± is the half-width of its 95% bootstrap interval: 1.96 × the standard deviation of the figure recomputed on ${formatCount(BOOTSTRAP_RESAMPLES)} resamples, with replacement, of the ${units}`;
  return undefined;
}

/**
 * How much worse than a baseline a quality figure may be and still count as "as good" (in the metric's units): how
 * far the 95% interval around the original reaches below it (binomial for accuracies, Fisher's z for
 * correlations), or for metrics measured against the original's outputs (which have no spread of their own) the
 * baseline's own 95% bootstrap interval; 0 for results without a noise model (compared exactly).
 */
export function qualityTolerance(m: ModelResult, format: (v: number) => string = String): { of: (baseline: Row) => number; text: string } {
  const a = accuracyInterval(m);
  if (a) return { of: () => a.halfPp, text: `${a.halfPp.toFixed(2)} pp: the 95% binomial interval on ${formatCount(m.evaluationSamples)} samples` };
  const c = correlationInterval(m);
  if (c) return { of: () => c.original - c.lo, text: `${(c.original - c.lo).toFixed(2)}: the 95% interval (Fisher's z) below the original on ${formatCount(m.evaluationSamples)} pairs` };
  const units = bootstrapUnits(m);
  if (units) return { of: (b) => b.interval95 ?? 0, text: `each baseline's own 95% bootstrap interval over the ${units}: ${baselineIntervals(m, format)}` };
  if (m.metric.resampled) return { of: () => 0, text: `0: ${m.metric.resampled} are too few for a noise figure (a bootstrap needs ${MIN_BOOTSTRAP_UNITS}), compared exactly` };
  return { of: () => 0, text: '0: no noise model for this metric, compared exactly' };
}
