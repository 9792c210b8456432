/**
 * The noise of a quality figure that is not a plain proportion (a relative L2 error pooled over images, a mean
 * PSNR, a mean |Δ probability| over a stream): how much it would move if the evaluation samples were drawn again.
 * The figure is recomputed on resamples of its independent units (images, or blocks of a stream's chunks) drawn with
 * replacement, and its 95% half-width is 1.96 × the standard deviation of those recomputations, the bootstrap
 * analogue of the binomial interval the accuracies get (noise.ts). Hand-written: a bootstrap is one loop over
 * weights, smaller than any statistics package's; the generator is seeded so a report is reproducible.
 */
import { SeededRandom } from '../compiler/adapt/random.js';

/** Resamples per figure: enough for a standard deviation to two digits. */
export const BOOTSTRAP_RESAMPLES = 1000;
/** Fewer units than this have too few distinct resamples for their spread to mean much (3 images have 10). */
export const MIN_BOOTSTRAP_UNITS = 20;

/**
 * Half-width of the 95% bootstrap interval of `statistic`, which takes how many times each of the `units` units is
 * in a resample (weights summing to `units`) and returns the figure; NaN or ±Infinity recomputations are skipped
 * (a resample of exactly reproduced images has an infinite PSNR). Undefined below MIN_BOOTSTRAP_UNITS units.
 */
export function bootstrapHalfWidth(units: number, statistic: (weights: Float64Array) => number, resamples = BOOTSTRAP_RESAMPLES, seed = 1): number | undefined {
  if (units < MIN_BOOTSTRAP_UNITS) return undefined;
  const random = new SeededRandom(seed);
  const weights = new Float64Array(units);
  // Welford's running mean and squared deviations: no cancellation when the spread is tiny beside the mean.
  let n = 0;
  let mean = 0;
  let squares = 0;
  for (let r = 0; r < resamples; r++) {
    weights.fill(0);
    for (let k = 0; k < units; k++) weights[Math.floor(random.next() * units)]! += 1;
    const v = statistic(weights);
    if (!Number.isFinite(v)) continue;
    n++;
    const d = v - mean;
    mean += d / n;
    squares += d * (v - mean);
  }
  if (n < 2) return undefined;
  return 1.96 * Math.sqrt(squares / (n - 1));
}

/**
 * What a figure is made of, per independent unit, so it can be recomputed on any resample (kept in the JSON: the
 * report resamples two rows with the same weights to compare them on the same units):
 * - pooled-relative-l2: per output and unit, Σ(y − y₀)² and Σy₀²; the figure is the mean over outputs of
 *   √(Σ num / Σ den) (detectors);
 * - mean: per unit a sum and a count; the figure is Σ sum / Σ count, Infinity when no unit counts (PSNR, where an
 *   exactly reproduced image counts 0; VAD blocks).
 */
export type Resamplable =
  | { kind: 'pooled-relative-l2'; num: number[][]; den: number[][] }
  | { kind: 'mean'; sums: number[]; counts: number[] };

export function unitCount(r: Resamplable): number {
  return r.kind === 'mean' ? r.sums.length : (r.num[0]?.length ?? 0);
}

/** The figure on a resample: `weights[i]` copies of unit i. */
export function resampledValue(r: Resamplable, weights: ArrayLike<number>): number {
  if (r.kind === 'mean') {
    let sum = 0;
    let count = 0;
    r.sums.forEach((s, i) => {
      sum += weights[i]! * s;
      count += weights[i]! * r.counts[i]!;
    });
    return count === 0 ? Infinity : sum / count;
  }
  let total = 0;
  r.num.forEach((nums, o) => {
    let num = 0;
    let den = 0;
    nums.forEach((v, i) => {
      num += weights[i]! * v;
      den += weights[i]! * r.den[o]![i]!;
    });
    total += den === 0 ? (num === 0 ? 0 : Infinity) : Math.sqrt(num / den);
  });
  return total / (r.num.length || 1);
}

/** The figure on every unit once. */
export function fullValue(r: Resamplable): number {
  return resampledValue(r, new Float64Array(unitCount(r)).fill(1));
}

/** Half-width of the 95% bootstrap interval of a Resamplable's figure (bootstrapHalfWidth). */
export function resampledHalfWidth(r: Resamplable): number | undefined {
  return bootstrapHalfWidth(unitCount(r), (w) => resampledValue(r, w));
}

/**
 * `a`'s figure minus `b`'s on the same units (two tiers scored on the same images), with the half-width of its 95%
 * bootstrap interval, both resampled with the same weights; undefined when the units differ in number or are too few.
 */
export function pairedDifference(a: Resamplable, b: Resamplable): { difference: number; halfWidth: number } | undefined {
  const n = unitCount(a);
  if (n !== unitCount(b)) return undefined;
  const halfWidth = bootstrapHalfWidth(n, (w) => resampledValue(a, w) - resampledValue(b, w));
  return halfWidth === undefined ? undefined : { difference: fullValue(a) - fullValue(b), halfWidth };
}
