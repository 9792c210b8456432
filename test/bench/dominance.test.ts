/** The report's dominance judgement (bench/dominance.ts) on hand-made rows, with the noise tolerance of bench/noise.ts. */
import { describe, expect, it } from 'vitest';
import { asGood, dominanceLine, judgeDominance } from '../../bench/dominance.js';
import { qualityTolerance } from '../../bench/noise.js';
import { ACCURACY, modelResult, REL_ERROR, row } from './hand-made.js';

const KIB = 1024;
const fmt = (v: number | null) => (v === null ? '-' : `${v.toFixed(2)}%`);

describe('dominance of the quantisation-only baselines', () => {
  it('names our smallest tier with no more bytes and accuracy as good within the binomial interval', () => {
    // 10,000 samples near 98%: the 95% binomial interval is ±0.27 pp.
    const m = modelResult([
      row('original', null, 1600 * KIB, 98.0),
      row('calibrated', 0, 100 * KIB, 90.0), // small but far worse
      row('calibrated', 1, 300 * KIB, 97.75), // 0.15 pp worse: within the noise
      row('calibrated', 2, 500 * KIB, 98.1), // better, but more bytes
      row('plain-svd', 1, 250 * KIB, 97.8), // smallest that is as good
      row('quant-int8', 0, 400 * KIB, 97.9),
    ]);
    const tol = qualityTolerance(m);
    expect(tol.value).toBeCloseTo(196 * Math.sqrt((0.98 * 0.02) / 10000), 10);
    const [j, ...rest] = judgeDominance(m.rows, true, tol.value);
    expect(rest).toHaveLength(0);
    expect(j!.baseline.method).toBe('quant-int8');
    expect([j!.by?.method, j!.by?.tier]).toEqual(['plain-svd', 1]);
    const line = dominanceLine(m, fmt)!;
    expect(line).toMatch(/^- Dominance of the quantisation-only baselines \(tolerance 0\.27 pp: the 95% binomial interval on 10,000 samples\): /);
    expect(line).toContain('quant-int8 (400.0 KiB, 97.90%) is dominated by plain-svd tier 1 (250.0 KiB, 97.80%)');
  });

  it('says "not dominated" with the figures when our best tier within the bytes is worse beyond the noise', () => {
    const m = modelResult([
      row('original', null, 1600 * KIB, 98.0),
      row('calibrated', 0, 300 * KIB, 97.0), // 0.9 pp worse than the baseline: beyond ±0.27 pp
      row('calibrated', 1, 350 * KIB, 96.5),
      row('calibrated', 2, 800 * KIB, 98.0), // as good, but twice the bytes
      row('quant-int8', 0, 400 * KIB, 97.9),
    ]);
    const [j] = judgeDominance(m.rows, true, qualityTolerance(m).value);
    expect(j!.by).toBeNull();
    expect([j!.bestWithin?.method, j!.bestWithin?.tier]).toEqual(['calibrated', 0]);
    expect([j!.asGoodAbove?.method, j!.asGoodAbove?.tier]).toEqual(['calibrated', 2]);
    expect(dominanceLine(m, fmt)).toContain(
      'quant-int8 (400.0 KiB, 97.90%) is not dominated: our best tier within its bytes, calibrated tier 0 (300.0 KiB, 97.00%), is 0.90 pp worse; our smallest tier as good, calibrated tier 2 (800.0 KiB, 98.00%), loads 409,600 B (100.0%) more',
    );
  });

  it('gives the byte excess of a tie: the same quality a few hundred bytes above the baseline', () => {
    const m = modelResult([
      row('original', null, 1600 * KIB, 98.0),
      row('calibrated', 0, 300 * KIB, 90.0),
      row('calibrated-int4', 1, 400 * KIB + 212, 97.9), // the baseline's weights and a tier table
      row('calibrated-int4', 2, 500 * KIB, 98.0),
      row('quant-int4', 0, 400 * KIB, 97.9),
    ]);
    const [j] = judgeDominance(m.rows, true, qualityTolerance(m).value);
    expect(j!.by).toBeNull();
    expect([j!.asGoodAbove?.method, j!.asGoodAbove?.tier]).toEqual(['calibrated-int4', 1]);
    expect(dominanceLine(m, fmt)).toContain('our smallest tier as good, calibrated-int4 tier 1 (400.2 KiB, 97.90%), loads 212 B (0.05%) more');
  });

  it('is not dominated when no tier of ours loads that few bytes; the original and other baselines never dominate', () => {
    const m = modelResult([
      row('original', null, 100 * KIB, 99.0), // (an original smaller than the baseline: still not "ours")
      row('calibrated', 0, 300 * KIB, 99.0),
      row('quant-fp16', 0, 150 * KIB, 99.0),
      row('quant-int8', 0, 200 * KIB, 98.0),
    ]);
    const js = judgeDominance(m.rows, true, 0.5);
    expect(js.map((j) => j.baseline.method)).toEqual(['quant-fp16', 'quant-int8']);
    for (const j of js) expect([j.by, j.bestWithin, j.asGoodAbove?.method]).toEqual([null, null, 'calibrated']);
    expect(dominanceLine(m, fmt)).toContain('quant-int8 (200.0 KiB, 98.00%) is not dominated: no tier of ours loads that few bytes; our smallest tier as good, calibrated tier 0 (300.0 KiB, 99.00%), loads 102,400 B (50.0%) more');
    m.rows[1]!.value = 90; // worse than both baselines: only the smallest tier is named
    expect(dominanceLine(m, fmt)).toContain('quant-int8 (200.0 KiB, 98.00%) is not dominated: no tier of ours loads that few bytes, the smallest being calibrated tier 0 (300.0 KiB, 90.00%)');
  });

  it('compares lower-is-better metrics without a noise model exactly', () => {
    const rows = [row('original', null, 1000, 0), row('plain-svd', 0, 400, 0.0101), row('quant-int8', 0, 500, 0.01)];
    const m = modelResult(rows, REL_ERROR, 3);
    expect(qualityTolerance(m)).toEqual({ value: 0, text: '0: no noise model for this metric, compared exactly' });
    expect(judgeDominance(rows, false, 0)[0]!.by).toBeNull();
    rows[1]!.value = 0.01; // equal error at fewer bytes dominates
    expect(judgeDominance(rows, false, 0)[0]!.by?.method).toBe('plain-svd');
    expect(asGood(0.0101, 0.01, false, 0.001)).toBe(true);
    expect(asGood(97.0, 98.0, ACCURACY.higherIsBetter, 0.5)).toBe(false);
  });

  it('has no line for a model without baseline rows', () => {
    expect(dominanceLine(modelResult([row('original', null, 1000, 98), row('calibrated', 0, 500, 97)]), fmt)).toBeUndefined();
  });
});
