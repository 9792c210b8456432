import { maxRelativeError } from '../e2e/compare.js';
import { describe, expect, it } from 'vitest';
import { BLOCK, BlockedGram, type Vectors } from '../../compiler/linalg/blocked-gram.js';

function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

/** `count` float32 vectors of length n, as calibration gathers them (rows of a [count, n] tensor). */
function rows(count: number, n: number, seed: number): { data: Float32Array; run: Vectors } {
  const rnd = lcg(seed);
  // Component i scaled by 2^(−i mod 8): a spread like real activations, so small entries are checked too.
  const data = Float32Array.from({ length: count * n }, (_, k) => rnd() * 2 ** -((k % n) % 8));
  const run: Vectors = {
    count,
    gather(block, stride, col, from, cnt) {
      for (let b = 0; b < cnt; b++) for (let i = 0; i < n; i++) block[i * stride + col + b] = data[(from + b) * n + i];
    },
  };
  return { data, run };
}

/** Σ x·xᵀ in float64 from the same float32 values, entries with both indices ≥ skip left 0. */
function reference(data: Float32Array, count: number, n: number, skip = n): Float64Array {
  const G = new Float64Array(n * n);
  for (let s = 0; s < count; s++) {
    for (let i = 0; i < n; i++) {
      const xi = data[s * n + i];
      for (let j = 0; j <= i; j++) if (i < skip || j < skip) G[i * n + j] += xi * data[s * n + j];
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) G[j * n + i] = G[i * n + j];
  return G;
}


describe('BlockedGram', () => {
  // 1300 components: three panels of the lower triangle; 1100 + 37 vectors: one full block, then a partial one
  // whose columns past the end still hold the first block's vectors (they must not count).
  const n = 1300;
  const first = rows(1100, n, 1);
  const second = rows(37, n, 2);
  const both = new Float32Array([...first.data, ...second.data]);
  let exact: Float64Array | undefined;
  const exactBoth = () => (exact ??= reference(both, 1137, n));

  it('float64: equals Σ x·xᵀ to float64 rounding across blocks, panels and runs', async () => {
    const g = new BlockedGram(n, n, 'float64');
    await g.add(first.run);
    await g.add(second.run);
    const G = await g.finish();
    expect(g.samples).toBe(1137);
    expect(maxRelativeError(exactBoth(), G)).toBeLessThan(1e-13);
  });

  it('float32 (the default): within 1e-6 of the float64 sum, measured ~2e-7', async () => {
    const g = new BlockedGram(n);
    await g.add(first.run);
    await g.add(second.run);
    const err = maxRelativeError(exactBoth(), await g.finish());
    expect(err).toBeLessThan(1e-6);
    expect(err).toBeGreaterThan(0); // it is float32 arithmetic, not a silent float64 path
  });

  it('skipFrom leaves the trailing block at 0 and computes the rest exactly', async () => {
    const [m, skip] = [1100, 600];
    const part = rows(300, m, 3);
    const g = new BlockedGram(m, skip, 'float64');
    await g.add(part.run);
    const G = await g.finish();
    const ref = reference(part.data, 300, m, skip);
    expect(maxRelativeError(ref, G)).toBeLessThan(1e-13);
    for (let i = skip; i < m; i++) for (let j = skip; j < m; j++) expect(G[i * m + j]).toBe(0);
  });

  it('small n over more than a block; refuses an add while the previous one still flushes', async () => {
    const count = BLOCK + 5;
    const small = rows(count, 3, 9);
    const g = new BlockedGram(3, 3, 'float64');
    const pending = g.add(small.run); // fills a block and awaits its product
    await expect(g.add(small.run)).rejects.toThrow(/await/);
    await pending;
    expect(maxRelativeError(reference(small.data, count, 3), await g.finish())).toBeLessThan(1e-14);
  });
});
