import fc from 'fast-check';
import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { orderedFactors } from '../../compiler/linalg/svd.js';

function randomMatrix(m: number, n: number, seed: number): Float64Array {
  let s = seed >>> 0 || 1;
  const next = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  return Float64Array.from({ length: m * n }, next);
}

function reconstruct(left: Float64Array, right: Float64Array, rank: number, m: number, n: number): Float64Array {
  const M = new Float64Array(m * n);
  for (let i = 0; i < rank; i++) for (let r = 0; r < m; r++) for (let c = 0; c < n; c++) M[r * n + c] += left[i * m + r] * right[i * n + c];
  return M;
}

describe('orderedFactors', () => {
  it('reproduces the matrix at full rank and orders σ like a reference SVD (wide and tall)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 24 }), fc.integer({ min: 1, max: 24 }), fc.integer(), (m, n, seed) => {
        const M = randomMatrix(m, n, seed);
        const f = orderedFactors(M, m, n);
        const back = reconstruct(f.left, f.right, f.rank, m, n);
        const err = Math.max(...back.map((v, i) => Math.abs(v - M[i])));
        expect(err).toBeLessThan(1e-9);
        const ref = new SingularValueDecomposition(new Matrix(Array.from({ length: m }, (_, r) => Array.from(M.subarray(r * n, (r + 1) * n)))), { autoTranspose: true }).diagonal;
        for (let i = 0; i < f.rank; i++) expect(f.sigma[i]).toBeCloseTo(ref[i], 8);
        for (let i = 1; i < f.rank; i++) expect(f.sigma[i]).toBeLessThanOrEqual(f.sigma[i - 1]);
      }),
      { numRuns: 40 },
    );
  });

  it('truncation error equals the energy of the dropped components (Eckart–Young)', () => {
    const [m, n] = [30, 50];
    const M = randomMatrix(m, n, 7);
    const f = orderedFactors(M, m, n);
    for (const r of [1, 5, 20]) {
      const back = reconstruct(f.left, f.right, r, m, n);
      const err2 = back.reduce((s, v, i) => s + (v - M[i]) ** 2, 0);
      const tail = Array.from(f.sigma.subarray(r)).reduce((s, v) => s + v * v, 0);
      expect(err2).toBeCloseTo(tail, 6);
    }
  });

  it('drops null components of a rank-deficient matrix', () => {
    const u = randomMatrix(12, 2, 3);
    const v = randomMatrix(2, 9, 4);
    const M = new Float64Array(12 * 9);
    for (let r = 0; r < 12; r++) for (let c = 0; c < 9; c++) M[r * 9 + c] = u[r * 2] * v[c] + u[r * 2 + 1] * v[9 + c];
    expect(orderedFactors(M, 12, 9).rank).toBe(2);
  });
});
