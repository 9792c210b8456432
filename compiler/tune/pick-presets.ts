import { TuneBudgetError } from '../errors.js';
import type { TierMeasurement } from './tier-latency.js';

export interface TuneBudget {
  /** Single-sample p50 budget, ms; undefined: latency is not limited. */
  latencyMs?: number;
  /** Memory budget, MB (held to the memory estimate). */
  memoryMb?: number;
}

/**
 * The largest tier count that meets the budget as measured: p50 at most (1 − headroom) × latencyMs, and the
 * memory estimate within memoryMb. More tiers never lose accuracy, so the largest that fits is the best.
 * Headroom keeps the preset within budget when it is measured again in another process on a busy machine.
 */
export function pickTiers<T extends Pick<TierMeasurement, 'tiers' | 'latencyMsP50' | 'memoryMb'>>(measured: readonly T[], budget: TuneBudget, headroom: number, where: string): T {
  const limitMs = budget.latencyMs === undefined ? Infinity : budget.latencyMs * (1 - headroom);
  const fits = measured.filter((m) => m.latencyMsP50 <= limitMs && (budget.memoryMb === undefined || m.memoryMb <= budget.memoryMb));
  if (fits.length > 0) return fits.reduce((a, b) => (b.tiers > a.tiers ? b : a));
  const fastest = measured.reduce((a, b) => (b.latencyMsP50 < a.latencyMsP50 ? b : a));
  const smallest = measured.reduce((a, b) => (b.memoryMb < a.memoryMb ? b : a));
  const parts: string[] = [];
  if (budget.latencyMs !== undefined && fastest.latencyMsP50 > limitMs) {
    parts.push(
      `the fastest is ${fastest.tiers} tier${fastest.tiers === 1 ? '' : 's'} at p50 ${fastest.latencyMsP50.toFixed(2)} ms, over ${budget.latencyMs} ms` +
        (headroom > 0 ? ` less ${Math.round(headroom * 100)}% headroom (${limitMs.toFixed(2)} ms)` : ''),
    );
  }
  if (budget.memoryMb !== undefined && smallest.memoryMb > budget.memoryMb) parts.push(`the smallest needs ≈${Math.ceil(smallest.memoryMb)} MB, over ${budget.memoryMb} MB`);
  if (parts.length === 0) parts.push('no single tier count meets both the latency and the memory budget');
  throw new TuneBudgetError(`no tier of ${where} fits the budget: ${parts.join('; ')}; raise the budget, or compile with a smaller first tier (--tiers)`, fastest.latencyMsP50);
}
