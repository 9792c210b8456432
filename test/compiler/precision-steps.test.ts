/**
 * The precision pass's choice (compiler/precision.ts, chooseSteps): every weight's ladder int8 → int4 → int3 is
 * descended along its lower convex hull, cheapest error per byte saved first, while the summed error fits the
 * budget; the first step that does not fit ends the descent (a point on the model's bytes-vs-error hull).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseSteps } from '../../compiler/precision.js';

describe('chooseSteps', () => {
  it('takes the cheapest error per byte first, and goes straight to int3 when that step is cheaper than int4', () => {
    const ladders = [
      [{ bytes: 1000, error: 0 }, { bytes: 560, error: 0.01 }, { bytes: 440, error: 0.05 }], // int3 costly: stops at int4
      [{ bytes: 1000, error: 0 }, { bytes: 560, error: 0.02 }, { bytes: 440, error: 0.021 }], // int3 nearly free after int4
      [{ bytes: 100, error: 0 }, { bytes: 56, error: 0.03 }, { bytes: 44, error: 0.03 }], // small and sensitive
      [], // kept int8 (a depthwise kernel)
    ];
    expect(chooseSteps(ladders, Infinity)).toEqual([2, 2, 2, 0]);
    expect(chooseSteps(ladders, 0)).toEqual([0, 0, 0, 0]);
    // Budget 0.035: weight 0 to int4 (2.3e-5/byte), weight 1 to int3 in one step (3.8e-5/byte over 560 bytes);
    // weight 0's int3 step (3.3e-4/byte) no longer fits; weight 2 (6.8e-4/byte) neither.
    expect(chooseSteps(ladders, 0.035)).toEqual([1, 2, 0, 0]);
  });

  it('does not spend the budget a refused step leaves on later, costlier steps (a tiny first conv going int3)', () => {
    const ladders = [
      [{ bytes: 100_000, error: 0 }, { bytes: 56_000, error: 0.02 }], // the classifier: cheap error per byte
      [{ bytes: 50_000, error: 0 }, { bytes: 28_000, error: 0.05 }], // does not fit
      [{ bytes: 744, error: 0 }, { bytes: 344, error: 0.01 }], // fits, but 25e-6 per byte saved against 2.3e-6 refused
    ];
    expect(chooseSteps(ladders, 0.04)).toEqual([1, 0, 0]);
    expect(chooseSteps(ladders, 0.08)).toEqual([1, 1, 1]);
  });

  it('with int4 only: ascending error per byte saved, up to the first weight that does not fit', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ saved: fc.integer({ min: 1, max: 1000 }), error: fc.double({ min: 0, max: 0.05, noNaN: true }) }), { maxLength: 12 }), fc.double({ min: 0, max: 0.2, noNaN: true }), (weights, budget) => {
        const chosen = chooseSteps(weights.map((w) => [{ bytes: 2000, error: 0 }, { bytes: 2000 - w.saved, error: w.error }]), budget);
        const order = weights.map((_, i) => i).sort((a, b) => weights[a].error / weights[a].saved - weights[b].error / weights[b].saved);
        let spent = 0;
        const expected = weights.map(() => 0);
        for (const i of order) {
          if (spent + weights[i].error > budget) break;
          expected[i] = 1;
          spent += weights[i].error;
        }
        expect(chosen).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});
