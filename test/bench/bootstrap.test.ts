/** The bench's bootstrap noise (bench/bootstrap.ts) against the closed form it must agree with: a mean's 1.96·s/√n. */
import { describe, expect, it } from 'vitest';
import { bootstrapHalfWidth, fullValue, pairedDifference, resampledHalfWidth, resampledValue, type Resamplable } from '../../bench/bootstrap.js';
import { SeededRandom } from '../../compiler/adapt/random.js';
import { detectorSuite, VAD_CHUNK, VAD_NOISE_BLOCK, vadSuite } from '../../bench/suites.js';
import { json } from '../../bench/report.js';
import type { BenchResult } from '../../bench/types.js';

describe('bootstrapHalfWidth', () => {
  it("gives a sample mean about the normal interval's half-width 1.96·s/√n, and is reproducible", () => {
    const random = new SeededRandom(7);
    const x = Array.from({ length: 200 }, () => random.normal() * 3 + 10);
    const mean = (w: ArrayLike<number>) => x.reduce((s, v, i) => s + w[i]! * v, 0) / x.length;
    const m = x.reduce((a, b) => a + b, 0) / x.length;
    const sd = Math.sqrt(x.reduce((s, v) => s + (v - m) ** 2, 0) / (x.length - 1));
    const closedForm = (1.96 * sd) / Math.sqrt(x.length);
    const h = bootstrapHalfWidth(x.length, mean)!;
    // 1,000 resamples estimate a standard deviation to within about 1/√(2·1000) ≈ 2.2% (one σ); 8% is > 3σ.
    expect(Math.abs(h / closedForm - 1)).toBeLessThan(0.08);
    expect(bootstrapHalfWidth(x.length, mean)).toBe(h);
    expect(bootstrapHalfWidth(x.length, mean, 1000, 2)).not.toBe(h);
  });

  it('is 0 for a constant figure, skips infinite recomputations, and is undefined below 20 units', () => {
    expect(bootstrapHalfWidth(20, () => 0.5)).toBe(0);
    expect(bootstrapHalfWidth(19, () => 0.5)).toBeUndefined();
    const psnr = [Infinity, ...Array.from({ length: 19 }, (_, i) => 40 + (i % 3))];
    const finiteMean = (w: ArrayLike<number>) => {
      let s = 0, c = 0;
      psnr.forEach((v, i) => { if (Number.isFinite(v)) { s += w[i]! * v; c += w[i]!; } });
      return c === 0 ? Infinity : s / c;
    };
    expect(bootstrapHalfWidth(20, finiteMean)).toBeGreaterThan(0);
    expect(bootstrapHalfWidth(20, () => Infinity)).toBeUndefined();
  });
});

describe('the suites give their figures a bootstrap interval', () => {
  const tensor = (data: number[]) => ({ dataType: 'float32' as const, dims: [data.length], data: Float32Array.from(data) });

  it('detectors: the pooled relative L2 error, resampled by image', () => {
    const want = Array.from({ length: 20 }, (_, i) => [1 + (i % 4), 2, i % 3]).map((d) => ({ boxes: tensor(d), scores: tensor(d.map((v) => v / 10)) }));
    const got = want.map((w, i) => ({ boxes: tensor([...w.boxes.data].map((v) => v * (1 + 0.005 * i))), scores: tensor([...w.scores.data]) }));
    const suite = detectorSuite({ evaluation: 'e', feeds: want.map(() => ({})), topScores: (o) => o.scores!.data as Float32Array, topName: 'top' });
    const s = suite.score(got, want);
    // boxes: ‖Y − Y₀‖/‖Y₀‖ over all twenty images; scores are exact (0); the figure is their mean.
    const num = want.reduce((a, w, i) => a + [...w.boxes.data].reduce((b, v) => b + (v * 0.005 * i) ** 2, 0), 0);
    const den = want.reduce((a, w) => a + [...w.boxes.data].reduce((b, v) => b + v * v, 0), 0);
    expect(s.value).toBeCloseTo(Math.sqrt(num / den) / 2, 7); // got is float32
    expect(resampledHalfWidth(s.units!)).toBeGreaterThan(0);
    expect(suite.metric.resampled).toBe('20 images');
    expect(resampledHalfWidth(suite.score(want, null).units!)).toBe(0);
    const three = detectorSuite({ evaluation: 'e', feeds: want.slice(0, 3).map(() => ({})), topScores: (o) => o.scores!.data as Float32Array, topName: 'top' });
    expect(resampledHalfWidth(three.score(got.slice(0, 3), want.slice(0, 3)).units!)).toBeUndefined(); // too few images
  });

  it('VAD: the mean |Δ probability|, resampled in blocks of 32 chunks', () => {
    const suite = vadSuite({ evaluation: 'e', samples: new Float32Array(700 * VAD_CHUNK), chunk: () => ({}), stateSize: 1 });
    const ref = Float32Array.from({ length: 700 }, (_, i) => (i % 7) / 7);
    const p = ref.map((v, i) => v + (i < 400 ? 0.01 : 0.002));
    const s = suite.score(p, ref);
    expect(s.value).toBeCloseTo((400 * 0.01 + 300 * 0.002) / 700, 6);
    // Blocks 0–20 hold 32 chunks each and block 21 the last 28.
    const blocks = Array.from({ length: 22 }, (_, b) => {
      const chunks = [...p.keys()].filter((i) => Math.floor(i / VAD_NOISE_BLOCK) === b);
      return { sum: chunks.reduce((a, i) => a + Math.abs(p[i]! - ref[i]!), 0), count: chunks.length };
    });
    const mean = (w: ArrayLike<number>) => blocks.reduce((a, b, i) => a + w[i]! * b.sum, 0) / blocks.reduce((a, b, i) => a + w[i]! * b.count, 0);
    expect(resampledHalfWidth(s.units!)).toBeCloseTo(bootstrapHalfWidth(22, mean)!, 9); // the suite keeps 7 significant digits a block
    expect(suite.metric.resampled).toMatch(/^22 blocks of 32 chunks/);
  });
});

describe('pairedDifference', () => {
  const units = (sums: number[]): Resamplable => ({ kind: 'mean', sums, counts: sums.map(() => 1) });

  it('resamples two rows with the same weights: a constant shift per unit has no spread, an unrelated one has', () => {
    const base = Array.from({ length: 30 }, (_, i) => 1 + (i % 5));
    const shifted = pairedDifference(units(base.map((v) => v + 0.1)), units(base))!;
    expect(shifted.difference).toBeCloseTo(0.1, 12);
    expect(shifted.halfWidth).toBeLessThan(1e-12); // every resample moves both alike
    // Unpaired, the same shift is buried in the units' own spread (±0.5 or so here).
    expect(bootstrapHalfWidth(30, (w) => resampledValue(units(base), w))!).toBeGreaterThan(0.3);
    const noisy = pairedDifference(units(base.map((v, i) => v + (i % 2 ? 0.3 : -0.1))), units(base))!;
    expect(noisy.difference).toBeCloseTo(0.1, 12);
    expect(noisy.halfWidth).toBeGreaterThan(0.05);
    expect(pairedDifference(units(base), units(base.slice(1)))).toBeUndefined(); // other units
  });

  it('pools relative L2 errors per output, as the detector suite does', () => {
    const r: Resamplable = { kind: 'pooled-relative-l2', num: [[1, 3], [0, 0]], den: [[4, 12], [1, 1]] };
    expect(fullValue(r)).toBeCloseTo((Math.sqrt(4 / 16) + 0) / 2, 12);
    expect(resampledValue(r, [2, 0])).toBeCloseTo(Math.sqrt(2 / 8) / 2, 12);
  });
});

describe('compression.json', () => {
  it('writes arrays of numbers on one line and reads back the same (non-finite numbers as null)', () => {
    const units: Resamplable = { kind: 'pooled-relative-l2', num: [[1.5, 2e-7, 3]], den: [[4, -5, 6]] };
    const result = { models: [{ tiers: [0.25, 1], rows: [{ value: Infinity, units }, { value: 0.5, list: [Infinity, 2] }] }] };
    const text = json(result as unknown as BenchResult);
    expect(text).toContain('"num": [\n');
    expect(text).toContain('[1.5, 2e-7, 3]');
    expect(text).toContain('"tiers": [0.25, 1]');
    expect(text).toContain('"list": [null, 2]');
    expect(JSON.parse(text)).toEqual({ models: [{ tiers: [0.25, 1], rows: [{ value: null, units }, { value: 0.5, list: [null, 2] }] }] });
  });
});
