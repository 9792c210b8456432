import { describe, expect, it } from 'vitest';
import { pairedLatencyP50 } from '../../bench/paired-latency.js';
import type { Runner } from '../../compiler/evaluate.js';

/** Busy-waits `ms`: a run that takes at least that long, whatever the timer's resolution. */
function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/**
 * Two runners on a machine that switches speed once: each run takes `ms` × (1, or `slowdown` once `switchAfter` runs
 * of either have happened). The tier always takes 0.9 of the original's time at the same speed.
 */
function machine(switchAfter: number, slowdown: number): { original: Runner; tier: Runner } {
  let runs = 0;
  const runner = (ms: number): Runner => ({
    run: async () => {
      spin(ms * (runs++ >= switchAfter ? slowdown : 1));
      return {};
    },
  });
  return { original: runner(1), tier: runner(0.9) };
}

describe('paired latency', () => {
  // 96 runs in all with fillMs 0 (rounds 0–1: 5 warm-ups + 5 timed per block; rounds 2–5: 2 + 5). A switch after run
  // 46 falls inside round 2: each runner gets 15 runs at each speed, and the median of either can land in either mode.
  it('compares blocks round by round, so a switch of speed halfway through does not move the ratio', async () => {
    for (const switchAfter of [46, 48, 50, 1000]) {
      const { original, tier } = machine(switchAfter, 1.5);
      const r = await pairedLatencyP50(original, tier, {}, 0);
      expect(r.roundRatios).toHaveLength(6);
      expect(r.ratio, `switch after ${switchAfter} runs`).toBeGreaterThan(0.8);
      expect(r.ratio, `switch after ${switchAfter} runs`).toBeLessThan(1.0);
    }
  });

  it('the ratio is the median of the rounds\' ratios', async () => {
    const { original, tier } = machine(1000, 1);
    const r = await pairedLatencyP50(original, tier, {}, 0);
    const sorted = [...r.roundRatios].sort((a, b) => a - b);
    expect(r.ratio).toBeCloseTo((sorted[2] + sorted[3]) / 2, 10);
    expect(r.tierMs).toBeGreaterThanOrEqual(0.9);
    expect(r.originalMs).toBeGreaterThanOrEqual(1);
  });
});
