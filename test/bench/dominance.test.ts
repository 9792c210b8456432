/** The report's dominance judgement (bench/dominance.ts) on hand-made rows, with the noise tolerance of bench/noise.ts. */
import { describe, expect, it } from 'vitest';
import { asGood, dominanceLine, judgeDominance } from '../../bench/dominance.js';
import { noiseText, qualityTolerance } from '../../bench/noise.js';
import type { Row } from '../../bench/types.js';
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
    expect(tol.of(m.rows[5]!)).toBeCloseTo(196 * Math.sqrt((0.98 * 0.02) / 10000), 10);
    const [j, ...rest] = judgeDominance(m.rows, true, tol.of);
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
    const [j] = judgeDominance(m.rows, true, qualityTolerance(m).of);
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
    const [j] = judgeDominance(m.rows, true, qualityTolerance(m).of);
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
    const js = judgeDominance(m.rows, true, () => 0.5);
    expect(js.map((j) => j.baseline.method)).toEqual(['quant-fp16', 'quant-int8']);
    for (const j of js) expect([j.by, j.bestWithin, j.asGoodAbove?.method]).toEqual([null, null, 'calibrated']);
    expect(dominanceLine(m, fmt)).toContain('quant-int8 (200.0 KiB, 98.00%) is not dominated: no tier of ours loads that few bytes; our smallest tier as good, calibrated tier 0 (300.0 KiB, 99.00%), loads 102,400 B (50.0%) more');
    m.rows[1]!.value = 90; // worse than both baselines: only the smallest tier is named
    expect(dominanceLine(m, fmt)).toContain('quant-int8 (200.0 KiB, 98.00%) is not dominated: no tier of ours loads that few bytes, the smallest being calibrated tier 0 (300.0 KiB, 90.00%)');
  });

  it('compares lower-is-better metrics without a noise model exactly', () => {
    const rows = [row('original', null, 1000, 0), row('plain-svd', 0, 400, 0.0101), row('quant-int8', 0, 500, 0.01)];
    const m = modelResult(rows, REL_ERROR, 3);
    const tol = qualityTolerance(m);
    expect([tol.of(rows[2]!), tol.text]).toEqual([0, '0: no noise model for this metric, compared exactly']);
    expect(judgeDominance(rows, false, tol.of)[0]!.by).toBeNull();
    rows[1]!.value = 0.01; // equal error at fewer bytes dominates
    expect(judgeDominance(rows, false, tol.of)[0]!.by?.method).toBe('plain-svd');
    expect(asGood(0.0101, 0.01, false, 0.001)).toBe(true);
    expect(asGood(97.0, 98.0, ACCURACY.higherIsBetter, 0.5)).toBe(false);
  });

  it("compares metrics measured against the original within each baseline's own bootstrap interval", () => {
    const withInterval = (r: Row, interval95: number) => ({ ...r, interval95 });
    const rows = [
      row('original', null, 1000, 0),
      withInterval(row('calibrated-int8', 2, 450, 0.0105), 0.0004), // 0.0005 worse: beyond quant-int8's ±0.0003
      withInterval(row('calibrated-int8', 3, 520, 0.01), 0.0003),
      withInterval(row('quant-int8', 0, 500, 0.01), 0.0003),
      withInterval(row('quant-int4', 0, 400, 0.03), 0.002),
      withInterval(row('calibrated-int4', 2, 390, 0.0315), 0.002), // 0.0015 worse: within quant-int4's ±0.002
    ];
    const m = modelResult(rows, { ...REL_ERROR, resampled: '53 images' }, 53);
    const tol = qualityTolerance(m, (v) => v.toFixed(4));
    expect(rows.slice(3, 5).map((r) => tol.of(r))).toEqual([0.0003, 0.002]);
    expect(tol.text).toBe("each baseline's own 95% bootstrap interval over the 53 images: quant-int8 ±0.0003, quant-int4 ±0.0020");
    const [int8, int4] = judgeDominance(rows, false, tol.of);
    expect([int8!.by, int8!.bestWithin?.tier, int8!.asGoodAbove?.tier]).toEqual([null, 2, 3]);
    expect([int4!.by?.method, int4!.by?.tier]).toEqual(['calibrated-int4', 2]);
    expect(noiseText(m)).toMatch(/95% bootstrap interval: 1\.96 × the standard deviation of the figure recomputed on 1,000 resamples, with replacement, of the 53 images$/);
    // With their units, the dominating tier is compared on the same images too: 20 images, ours 0.0015 further each.
    const perImage = (v: number) => ({ kind: 'mean' as const, sums: Array.from({ length: 20 }, (_, i) => v + (i % 4) * 1e-3), counts: new Array<number>(20).fill(1) });
    rows[5]!.units = perImage(0.0315);
    rows[4]!.units = perImage(0.03);
    expect(dominanceLine(m, (v) => (v === null ? '-' : v.toFixed(4)))).toContain(
      'quant-int4 (400 B, 0.0300) is dominated by calibrated-int4 tier 2 (390 B, 0.0315), our smallest tier with no more bytes and quality as good within the tolerance (paired on the same evaluation units, its figure minus the baseline\'s is +0.0015 ± 0.0000)',
    );
    rows[1]!.value = 0.0102; // now within ±0.0003 of quant-int8's 0.01
    expect(judgeDominance(rows, false, tol.of)[0]!.by?.tier).toBe(2);
    // Too few images for a bootstrap: no row has an interval, and figures are compared exactly.
    const few = modelResult(rows.map(({ interval95: _, ...r }) => r), { ...REL_ERROR, resampled: '3 images' }, 3);
    expect(qualityTolerance(few).text).toBe('0: 3 images are too few for a noise figure (a bootstrap needs 20), compared exactly');
    expect(noiseText(few)).toBeUndefined();
  });

  it('has no line for a model without baseline rows', () => {
    expect(dominanceLine(modelResult([row('original', null, 1000, 98), row('calibrated', 0, 500, 97)]), fmt)).toBeUndefined();
  });
});
