import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allocateTiers, ladderCuts, parseTierBudgets, rankBudgets, runtimeParams } from '../../compiler/allocate.js';
import { CompileOptionError } from '../../compiler/errors.js';

const layerArb = fc
  .record({ rows: fc.integer({ min: 2, max: 64 }), cols: fc.integer({ min: 2, max: 64 }), seed: fc.array(fc.float({ min: Math.fround(0.001), max: 10, noNaN: true }), { minLength: 1, maxLength: 64 }) })
  .map(({ rows, cols, seed }) => {
    const k = Math.min(rows, cols, seed.length);
    return { rows, cols, sigma: Float64Array.from(seed.slice(0, k)).sort().reverse() };
  });

describe('allocateTiers', () => {
  it('is nested, respects each budget, moves in rank steps and reaches full rank at budget 1', () => {
    fc.assert(
      fc.property(fc.array(layerArb, { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 9 }), (layers, step) => {
        const budgets = [0.1, 0.3, 0.6, 1];
        const cuts = allocateTiers(layers, budgets, { rankMultiple: step });
        const dense = layers.reduce((s, l) => s + l.rows * l.cols, 0);
        const floor = layers.reduce((s, l) => s + runtimeParams(l.rows, l.cols, Math.min(step, l.sigma.length)), 0);
        cuts.forEach((cut, t) => {
          expect(cut.cost).toBeLessThanOrEqual(Math.max(floor, budgets[t] * dense) + 1e-9);
          cut.ranks.forEach((r, i) => {
            expect(r).toBeGreaterThanOrEqual(1);
            expect(r % step === 0 || r === layers[i].sigma.length).toBe(true);
            if (t > 0) expect(r).toBeGreaterThanOrEqual(cuts[t - 1].ranks[i]);
          });
        });
        cuts[cuts.length - 1].ranks.forEach((r, i) => expect(r).toBe(layers[i].sigma.length));
      }),
      { numRuns: 200 },
    );
  });

  it('gives more rank to the layer whose spectrum decays slowly', () => {
    const flat = { rows: 32, cols: 32, sigma: Float64Array.from({ length: 32 }, () => 1) };
    const steep = { rows: 32, cols: 32, sigma: Float64Array.from({ length: 32 }, (_, i) => 2 ** -i) };
    const [cut] = allocateTiers([flat, steep], [0.4], { rankMultiple: 1 });
    expect(cut.ranks[0]).toBeGreaterThan(cut.ranks[1]);
  });

  it('follows a custom cost: a layer whose rank is cheap gets more of it', () => {
    const sigma = Float64Array.from({ length: 32 }, (_, i) => 1 / (1 + i));
    const cheap = { rows: 32, cols: 32, sigma, cost: (r: number) => Math.min(r * 8, 1024), denseCost: 1024 };
    const dear = { rows: 32, cols: 32, sigma, cost: (r: number) => Math.min(r * 64, 1024), denseCost: 1024 };
    const [cut] = allocateTiers([cheap, dear], [0.3], { rankMultiple: 1 });
    expect(cut.ranks[0]).toBeGreaterThan(cut.ranks[1]);
  });

  it('stays nested with measured error curves, even non-convex ones', () => {
    fc.assert(
      fc.property(fc.array(layerArb, { minLength: 1, maxLength: 5 }), fc.array(fc.float({ min: 0, max: 1, noNaN: true }), { minLength: 8, maxLength: 8 }), (layers, bumps) => {
        const withError = layers.map((l, i) => ({
          ...l,
          // Decreasing overall but with bumps, as measured curves are.
          error: (r: number) => Math.max(0, 1 - r / l.sigma.length) * (1 + 0.5 * bumps[(i + r) % 8]),
        }));
        const cuts = allocateTiers(withError, [0.2, 0.5, 1], { rankMultiple: 2 });
        cuts.forEach((cut, t) => cut.ranks.forEach((r, i) => t > 0 && expect(r).toBeGreaterThanOrEqual(cuts[t - 1].ranks[i])));
        cuts[cuts.length - 1].ranks.forEach((r, i) => expect(r).toBe(layers[i].sigma.length));
      }),
      { numRuns: 100 },
    );
  });

  it('rejects budgets that are not increasing positive numbers', () => {
    expect(() => parseTierBudgets('0.5,0.2')).toThrow(CompileOptionError);
    expect(() => parseTierBudgets('0,1')).toThrow(CompileOptionError);
    expect(() => parseTierBudgets('a,1')).toThrow(/not a number/);
    expect(parseTierBudgets('0.1, 0.2,1')).toEqual([0.1, 0.2, 1]);
  });

  it('parses a ladder over rank and bits: budget:4 and budget:8 steps, never back down in bits, a budget repeated only to add bits', () => {
    expect(parseTierBudgets('0.2,1,1:8')).toEqual([0.2, 1, { budget: 1, bits: 8 }]);
    expect(parseTierBudgets('0.2,0.2:8,1:8')).toEqual([0.2, { budget: 0.2, bits: 8 }, { budget: 1, bits: 8 }]);
    expect(parseTierBudgets('1,1:4,1:8')).toEqual([1, { budget: 1, bits: 4 }, { budget: 1, bits: 8 }]);
    expect(() => parseTierBudgets('0.2:8,1')).toThrow(/bits never go down/);
    expect(() => parseTierBudgets('1:8,1:4')).toThrow(/bits never go down/);
    expect(() => parseTierBudgets('0.5,0.5')).toThrow(/must increase/);
    expect(() => parseTierBudgets('0.5:8,0.5:8')).toThrow(/must increase/);
    expect(() => parseTierBudgets('1:6')).toThrow(/asks for 6 bits/);
    expect(() => parseTierBudgets('1:8:8')).toThrow(/not a number/);
    expect(() => parseTierBudgets(':8')).toThrow(/not a number/);
  });

  it('a bits step has the ranks of the tier before it', () => {
    const layers = [{ rows: 16, cols: 16, sigma: Float64Array.from({ length: 16 }, (_, i) => 16 - i) }];
    const ladder = [0.3, { budget: 0.3, bits: 8 as const }, { budget: 1, bits: 8 as const }];
    const cuts = ladderCuts(ladder, allocateTiers(layers, rankBudgets(ladder), { rankMultiple: 2 }));
    expect(cuts.map((c) => c.bits)).toEqual([undefined, 8, 8]);
    expect(cuts[1].ranks).toEqual(cuts[0].ranks);
    expect(cuts[2].ranks).toEqual([16]);
  });
});
