/**
 * The preset bench's budgets (bench/presets.ts): three distinct rising budgets from measured tier latencies, and a
 * tune refused for its tightest budget is retried with the looser ones instead of losing the engine's presets.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { budgetsFrom, tuneDroppingTightest } from '../../bench/presets.js';

describe('preset bench budgets', () => {
  it('budgetsFrom gives three strictly rising budgets, the first with room for the fastest tier', () => {
    fc.assert(fc.property(fc.array(fc.double({ min: 0.001, max: 1000, noNaN: true }), { minLength: 1, maxLength: 8 }), (p50s) => {
      const b = budgetsFrom(p50s);
      expect(b).toHaveLength(3);
      expect(b[0]).toBeLessThan(b[1]);
      expect(b[1]).toBeLessThan(b[2]);
      expect(b[0]).toBeGreaterThanOrEqual(1.5 * Math.min(...p50s));
      expect(b[2]).toBeGreaterThanOrEqual(1.5 * Math.max(...p50s));
    }));
  });

  it('a tune refused for the tightest budget is retried without it, and every refusal is logged', () => {
    const calls: number[][] = [];
    const failures: string[] = [];
    // Like tune: refuses the whole call when any budget is under what this "device" can do (0.3 ms).
    const tune = (b: number[]) => {
      calls.push(b);
      if (Math.min(...b) < 0.3) throw new Error(`no tier fits ${Math.min(...b)} ms`);
      return `presets for ${b.join(',')}`;
    };
    const got = tuneDroppingTightest([0.1, 0.2, 0.5], tune, (b, e) => failures.push(`${b.join(',')}: ${e.message}`));
    expect(got).toEqual({ text: 'presets for 0.5', budgets: [0.5] });
    expect(calls).toEqual([[0.1, 0.2, 0.5], [0.2, 0.5], [0.5]]);
    expect(failures).toEqual(['0.1,0.2,0.5: no tier fits 0.1 ms', '0.2,0.5: no tier fits 0.2 ms']);
    // Nothing fits: undefined after one try per budget; a first success makes one call.
    expect(tuneDroppingTightest([0.1, 0.2], tune, () => {})).toBeUndefined();
    calls.length = 0;
    expect(tuneDroppingTightest([1, 2], tune, () => {})?.budgets).toEqual([1, 2]);
    expect(calls).toHaveLength(1);
  });
});
