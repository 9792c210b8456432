/**
 * The noise of a quality figure that is not a plain proportion (a relative L2 error pooled over images, a mean
 * PSNR, a mean |Δ probability| over a stream): how much it would move if the evaluation samples were drawn again.
 * The figure is recomputed on resamples of its independent units (images, or blocks of a stream's chunks) drawn with
 * replacement, and its 95% half-width is 1.96 × the standard deviation of those recomputations, the bootstrap
 * analogue of the binomial interval the accuracies get (noise.ts). Hand-written because it is twenty lines; the
 * generator is seeded so a report is reproducible.
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
  let n = 0;
  let sum = 0;
  let sumSq = 0;
  for (let r = 0; r < resamples; r++) {
    weights.fill(0);
    for (let k = 0; k < units; k++) weights[Math.floor(random.next() * units)]! += 1;
    const v = statistic(weights);
    if (!Number.isFinite(v)) continue;
    n++;
    sum += v;
    sumSq += v * v;
  }
  if (n < 2) return undefined;
  const variance = Math.max(0, (sumSq - (sum * sum) / n) / (n - 1));
  return 1.96 * Math.sqrt(variance);
}
