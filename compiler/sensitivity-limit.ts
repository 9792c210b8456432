/**
 * Whether the default compile measures sensitivity: decided by counting the work, never by a clock, so the same
 * inputs and options give the same ranks (and the same .lrm bytes) on an idle or a loaded machine. Issue 15: timing
 * the reference run made a loaded machine silently fall back to σ² order (MobileNet's 90% tier: −10.6 points
 * instead of −4.4).
 */
import type { LayerStats } from './calibrate.js';
import type { LayerCandidate } from './factorize/candidates.js';
import type { SensitivityPlan } from './sensitivity.js';

/**
 * Default limit on the multiply-adds of the sensitivity pass when it is not asked for explicitly: 4e12 (4,000 G).
 * MobileNet v1 0.75 on 64 samples needs about 1,000 G (about 2 minutes on the 2-core build machine under load),
 * so it is measured even with --sensitivity-limit 256; a ResNet-50 (about 60,000 G, most of an hour there) is not.
 */
export const DEFAULT_SENSITIVITY_MAX_MULTIPLY_ADDS = 4e12;

/** What the sensitivity pass would cost, counted from shapes and calibration statistics. */
export interface SensitivityCost {
  /** Model runs on the samples: the plan's truncated models plus the reference run. */
  runs: number;
  /** Calibration samples each run sees. */
  samples: number;
  /** Multiply-adds of the factorable layers per sample, at dense rank (the rest of the model is not counted). */
  multiplyAddsPerSample: number;
  /** runs × samples × multiplyAddsPerSample. */
  multiplyAdds: number;
}

/**
 * Count the pass's work. A layer's multiply-adds per sample are rows × cols × the input vectors it multiplied per
 * dataset sample during calibration (every conv output position, before calibration's subsampling).
 */
export function sensitivityCost(plan: SensitivityPlan, candidates: LayerCandidate[], stats: ReadonlyMap<string, LayerStats>, samples: number): SensitivityCost {
  const multiplyAddsPerSample = candidates.reduce((sum, c) => {
    const s = stats.get(c.node.name);
    const vectorsPerSample = s && s.images > 0 ? s.vectors / s.images : 1;
    return sum + c.rows * c.cols * vectorsPerSample;
  }, 0);
  const runs = plan.runs + 1;
  return { runs, samples, multiplyAddsPerSample, multiplyAdds: runs * samples * multiplyAddsPerSample };
}

export interface SensitivityDecision {
  measure: boolean;
  /** For the compile log: why it was not measured, or that it was measured over the limit because it was asked for. */
  note?: string;
}

/**
 * Measure when asked for (`explicit`), or when the count is within `limit`; otherwise σ² order, with a note naming
 * the options that change the choice. A pure function of counts: no clock, no machine load.
 */
export function decideSensitivity(cost: SensitivityCost, limit: number, explicit: boolean): SensitivityDecision {
  if (cost.multiplyAdds <= limit) return { measure: true };
  const work = `≈${giga(cost.multiplyAdds)} G multiply-adds (${cost.runs} model runs × ${cost.samples} samples × ${mega(cost.multiplyAddsPerSample)} M)`;
  if (explicit) return { measure: true, note: `measuring sensitivity as asked (--allocate sensitivity): ${work}, over the limit of ${giga(limit)} G; this may take long` };
  return {
    measure: false,
    note: `sensitivity not measured: ${work}, over the limit of ${giga(limit)} G; ranks ordered by σ² share (--allocate sensitivity measures it anyway, --sensitivity-max-gmac raises the limit)`,
  };
}

function giga(n: number): string {
  const g = n / 1e9;
  return g >= 100 ? Math.round(g).toLocaleString('en-US') : String(Number(g.toPrecision(3)));
}

function mega(n: number): string {
  return String(Number((n / 1e6).toPrecision(3)));
}
