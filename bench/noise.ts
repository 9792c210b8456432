/**
 * How far apart two quality figures of one model must be to mean anything, from the number of samples its
 * evaluation split has: the report's "Noise" line and the tolerance of the dominance judgement (dominance.ts).
 */
import { formatCount } from '../compiler/cli/format.js';
import type { ModelResult } from './types.js';

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

/** The report's noise sentence, when the metric has a noise model. */
export function noiseText(m: ModelResult): string | undefined {
  const n = m.evaluationSamples;
  const a = accuracyInterval(m);
  if (a) return `one sample is ${a.onePp.toFixed(n >= 1000 ? 3 : 2)} pp; the 95% binomial interval of an accuracy near the original's ${a.original.toFixed(2)}% on ${formatCount(n)} samples is ±${a.halfPp.toFixed(2)} pp`;
  const c = correlationInterval(m);
  if (c) return `the 95% interval (Fisher's z) of a Pearson ×100 of ${c.original.toFixed(2)} on ${formatCount(n)} pairs is ${c.lo.toFixed(2)}–${c.hi.toFixed(2)}; tiers are scored on the same pairs, so their differences from the original are far less noisy than that`;
  return undefined;
}

/**
 * How much worse than another a quality figure may be and still count as "as good" (in the metric's units): how
 * far the 95% interval around the original reaches below it (binomial for accuracies, Fisher's z for
 * correlations); 0 for metrics without a noise model (they are compared exactly).
 */
export function qualityTolerance(m: ModelResult): { value: number; text: string } {
  const a = accuracyInterval(m);
  if (a) return { value: a.halfPp, text: `${a.halfPp.toFixed(2)} pp: the 95% binomial interval on ${formatCount(m.evaluationSamples)} samples` };
  const c = correlationInterval(m);
  if (c) return { value: c.original - c.lo, text: `${(c.original - c.lo).toFixed(2)}: the 95% interval (Fisher's z) below the original on ${formatCount(m.evaluationSamples)} pairs` };
  return { value: 0, text: '0: no noise model for this metric, compared exactly' };
}
