import fc from 'fast-check';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { EigenNotConvergedError, symmetricEigen } from '../../compiler/linalg/symmetric-eigen.js';

/** A random symmetric k×k matrix from fast-check doubles, optionally with repeated eigenvalues (a projector part). */
const symmetric = fc.integer({ min: 1, max: 24 }).chain((k) =>
  fc.tuple(fc.constant(k), fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: k * k, maxLength: k * k }), fc.boolean()),
).map(([k, values, degenerate]) => {
  const A = new Float64Array(k * k);
  for (let i = 0; i < k; i++) for (let j = 0; j <= i; j++) A[i * k + j] = A[j * k + i] = values[i * k + j];
  if (degenerate) for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) A[i * k + j] = i < k / 2 && j < k / 2 ? (i === j ? 3 : 0) : A[i * k + j] * (i >= k / 2 && j >= k / 2 ? 1 : 0);
  return { k, A };
});

function frobenius(A: Float64Array): number {
  return Math.sqrt(A.reduce((s, v) => s + v * v, 0));
}

describe('symmetricEigen', () => {
  it('reconstructs A = V·Λ·Vᵀ with orthonormal V and descending eigenvalues (property)', () => {
    fc.assert(
      fc.property(symmetric, ({ k, A }) => {
        const { values, vectors } = symmetricEigen(A, k);
        const scale = Math.max(frobenius(A), 1e-300);
        for (let i = 1; i < k; i++) expect(values[i]).toBeLessThanOrEqual(values[i - 1]);
        const back = new Float64Array(k * k);
        for (let e = 0; e < k; e++) for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) back[i * k + j] += values[e] * vectors[e][i] * vectors[e][j];
        expect(frobenius(back.map((v, i) => v - A[i]))).toBeLessThan(1e-12 * scale * k);
        for (let a = 0; a < k; a++) {
          for (let b = 0; b <= a; b++) {
            let dot = 0;
            for (let i = 0; i < k; i++) dot += vectors[a][i] * vectors[b][i];
            expect(Math.abs(dot - (a === b ? 1 : 0))).toBeLessThan(1e-12 * k);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('gives ml-matrix\'s eigenvalues and eigenvectors (up to sign) on a 120×120 matrix with a spread spectrum', () => {
    const k = 120;
    let s = 7;
    const rnd = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
    // B·D·Bᵀ with D spanning 12 decades: the shape of a whitened layer's output covariance.
    const B = Float64Array.from({ length: k * k }, rnd);
    const A = new Float64Array(k * k);
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) for (let t = 0; t < k; t++) A[i * k + j] += B[i * k + t] * 10 ** (-t / 10) * B[j * k + t];
    const ours = symmetricEigen(A, k);
    const rows = Array.from({ length: k }, (_, i) => Array.from(A.subarray(i * k, (i + 1) * k)));
    const ref = new EigenvalueDecomposition(new Matrix(rows), { assumeSymmetric: true });
    const order = ref.realEigenvalues.map((_, i) => i).sort((a, b) => ref.realEigenvalues[b] - ref.realEigenvalues[a]);
    const top = ref.realEigenvalues[order[0]];
    order.forEach((r, i) => {
      expect(Math.abs(ours.values[i] - ref.realEigenvalues[r])).toBeLessThan(1e-12 * top);
      // Vectors are defined up to sign, and only where the eigenvalue is separated from its neighbours.
      if (i < 40) {
        const v = ref.eigenvectorMatrix.getColumn(r);
        const dot = v.reduce((t, x, j) => t + x * ours.vectors[i][j], 0);
        expect(Math.abs(Math.abs(dot) - 1)).toBeLessThan(1e-8);
      }
    });
  });

  it('handles a zero matrix, a diagonal one, and refuses NaN with a typed error', () => {
    expect(Array.from(symmetricEigen(new Float64Array(9), 3).values)).toEqual([0, 0, 0]);
    const D = Float64Array.from([1, 0, 0, 0, 5, 0, 0, 0, -2]);
    const { values, vectors } = symmetricEigen(D, 3);
    expect(Array.from(values)).toEqual([5, 1, -2]);
    expect(Math.abs(vectors[0][1])).toBe(1);
    const bad = Float64Array.from([1, NaN, NaN, 1]);
    expect(() => symmetricEigen(bad, 2)).toThrow(EigenNotConvergedError);
  });
});

describe('symmetricEigen on extreme scales', () => {
  it('stays finite and exact when subnormal entries meet normal ones (a case fast-check found)', () => {
    const A = Float64Array.from([-6.217248937900877e-15, -5e-324, -1.221974545399842e-150, -5e-324, 0, 0, -1.221974545399842e-150, 0, 0]);
    const { values, vectors } = symmetricEigen(A, 3);
    expect(Array.from(values)).toEqual([0, 0, -6.217248937900877e-15]);
    for (const v of vectors) expect(v.every(Number.isFinite)).toBe(true);
  });
});
