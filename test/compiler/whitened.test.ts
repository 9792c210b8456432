import { CholeskyDecomposition, inverse, Matrix, SingularValueDecomposition } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { shrunkSecondMoment, whitenedFactors } from '../../compiler/linalg/whitened.js';

function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

/** Inputs with a strongly anisotropic covariance, so whitening matters. */
function setup(m: number, n: number, samples: number, seed: number) {
  const rnd = lcg(seed);
  const M = Float64Array.from({ length: m * n }, rnd);
  const X = Float64Array.from({ length: samples * n }, (_, i) => rnd() * 3 ** -(i % n) * 10);
  const G = new Float64Array(n * n);
  for (let s = 0; s < samples; s++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) G[i * n + j] += X[s * n + i] * X[s * n + j];
  return { M, X, G };
}

function outputError(M: Float64Array, left: Float64Array, right: Float64Array, r: number, m: number, n: number, G: Float64Array): number {
  // ||(M − A·B)·X||² = tr(E·G·Eᵀ)
  const E = Float64Array.from(M);
  for (let i = 0; i < r; i++) for (let a = 0; a < m; a++) for (let b = 0; b < n; b++) E[a * n + b] -= left[i * m + a] * right[i * n + b];
  let s = 0;
  for (let a = 0; a < m; a++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) s += E[a * n + i] * G[i * n + j] * E[a * n + j];
  return s;
}

describe('whitenedFactors', () => {
  it('equals SVD-LLM (truncated SVD of M·chol(G), mapped back by chol(G)⁻¹) at every rank', async () => {
    const [m, n] = [6, 9];
    const { M, G } = setup(m, n, 40, 11);
    const f = await whitenedFactors(M, m, n, G);
    const S = new CholeskyDecomposition(new Matrix(Array.from({ length: n }, (_, i) => Array.from(G.subarray(i * n, (i + 1) * n))))).lowerTriangularMatrix;
    const MS = new Matrix(Array.from({ length: m }, (_, i) => Array.from(M.subarray(i * n, (i + 1) * n)))).mmul(S);
    const svd = new SingularValueDecomposition(MS, { autoTranspose: true });
    const Sinv = inverse(S);
    const { leftSingularVectors: U, diagonal: sv, rightSingularVectors: V } = svd;
    for (let r = 1; r <= Math.min(m, n); r++) {
      // SVD-LLM's rank-r layer: U_r·Σ_r·V_rᵀ·S⁻¹.
      const ref = U.subMatrix(0, m - 1, 0, r - 1).mmul(Matrix.diag(sv.slice(0, r))).mmul(V.subMatrix(0, n - 1, 0, r - 1).transpose()).mmul(Sinv);
      const ours = new Matrix(m, n);
      for (let i = 0; i < r; i++) for (let a = 0; a < m; a++) for (let b = 0; b < n; b++) ours.set(a, b, ours.get(a, b) + f.left[i * m + a] * f.right[i * n + b]);
      expect(ours.sub(ref).norm()).toBeLessThan(1e-8 * ref.norm());
      expect(f.sigma[r - 1]).toBeCloseTo(sv[r - 1], 6);
    }
  });

  it('dropping component i adds exactly σᵢ² to the output error on the calibration data', async () => {
    const [m, n] = [8, 12];
    const { M, G } = setup(m, n, 50, 5);
    const f = await whitenedFactors(M, m, n, G);
    for (let r = 0; r < f.rank; r++) {
      const tail = Array.from(f.sigma.subarray(r)).reduce((s, v) => s + v * v, 0);
      expect(outputError(M, f.left, f.right, r, m, n, G)).toBeCloseTo(tail, 6);
    }
  });

  it('beats plain SVD on the calibration objective at every rank', async () => {
    const [m, n] = [10, 16];
    const { M, G } = setup(m, n, 64, 9);
    const w = await whitenedFactors(M, m, n, G);
    const identity = Float64Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0));
    const p = await whitenedFactors(M, m, n, identity);
    for (let r = 1; r < Math.min(m, n); r++) {
      expect(outputError(M, w.left, w.right, r, m, n, G)).toBeLessThanOrEqual(outputError(M, p.left, p.right, r, m, n, G) * (1 + 1e-9));
    }
  });

  it('tall layers (input side, through Cholesky) give the same layer as the output side at every rank', async () => {
    const [m, n] = [14, 6];
    const { M, G } = setup(m, n, 40, 21);
    const f = await whitenedFactors(M, m, n, G);
    // Reference: the output-side formula U_r·U_rᵀ·M with U the eigenvectors of M·G·Mᵀ (computed by ml-matrix).
    const Mm = new Matrix(Array.from({ length: m }, (_, i) => Array.from(M.subarray(i * n, (i + 1) * n))));
    const Gm = new Matrix(Array.from({ length: n }, (_, i) => Array.from(G.subarray(i * n, (i + 1) * n))));
    const svd = new SingularValueDecomposition(Mm.mmul(new CholeskyDecomposition(Gm).lowerTriangularMatrix), { autoTranspose: true });
    expect(f.rank).toBe(n);
    for (let r = 1; r <= n; r++) {
      const U = svd.leftSingularVectors.subMatrix(0, m - 1, 0, r - 1);
      const ref = U.mmul(U.transpose()).mmul(Mm);
      const ours = new Matrix(m, n);
      for (let i = 0; i < r; i++) for (let a = 0; a < m; a++) for (let b = 0; b < n; b++) ours.set(a, b, ours.get(a, b) + f.left[i * m + a] * f.right[i * n + b]);
      expect(ours.sub(ref).norm()).toBeLessThan(1e-7 * ref.norm());
      expect(f.sigma[r - 1]).toBeCloseTo(svd.diagonal[r - 1], 6);
    }
  });

  it('a singular G on a tall layer still reproduces M at full rank (Cholesky with a ridge)', async () => {
    const [m, n] = [10, 6];
    const { M, G } = setup(m, n, 3, 4); // 3 samples: G has rank 3
    const f = await whitenedFactors(M, m, n, G);
    const back = new Float64Array(m * n);
    for (let i = 0; i < f.rank; i++) for (let a = 0; a < m; a++) for (let b = 0; b < n; b++) back[a * n + b] += f.left[i * m + a] * f.right[i * n + b];
    const scale = Math.max(...M.map(Math.abs));
    expect(Math.max(...back.map((v, i) => Math.abs(v - M[i])))).toBeLessThan(1e-6 * scale);
  });

  it('shrinkage tends to isotropic with few samples and to G/N with many', () => {
    const n = 4;
    const G = Float64Array.from({ length: 16 }, (_, i) => (i % 5 === 0 ? 4 * (1 + (i % 3)) : 0));
    const few = shrunkSecondMoment(G, n, 1);
    const many = shrunkSecondMoment(G, n, 1e9);
    expect(Math.abs(many[0] - G[0] / 1e9)).toBeLessThan(1e-12);
    expect(Math.abs(few[0] - few[5])).toBeLessThan(Math.abs(G[0] - G[5]));
  });
});
