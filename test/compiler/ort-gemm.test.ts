import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gemm } from '../../compiler/linalg/ort-gemm.js';

/** Reference C = op(A)·op(B) in float64 JS loops. */
function reference(A: ArrayLike<number>, ar: number, ac: number, B: ArrayLike<number>, br: number, bc: number, transA: boolean, transB: boolean): Float64Array {
  const at = (i: number, l: number) => (transA ? A[l * ac + i] : A[i * ac + l]);
  const bt = (l: number, j: number) => (transB ? B[j * bc + l] : B[l * bc + j]);
  const [m, k] = transA ? [ac, ar] : [ar, ac];
  const n = transB ? br : bc;
  const C = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let l = 0; l < k; l++) C[i * n + j] += at(i, l) * bt(l, j);
  return C;
}

const shapes = fc.record({ m: fc.integer({ min: 1, max: 17 }), k: fc.integer({ min: 1, max: 17 }), n: fc.integer({ min: 1, max: 17 }), transA: fc.boolean(), transB: fc.boolean(), offset: fc.integer({ min: 0, max: 5 }), seed: fc.integer() });

describe('gemm on onnxruntime', () => {
  it('float64 equals the reference to rounding for every transpose and for views with an offset (property)', async () => {
    await fc.assert(
      fc.asyncProperty(shapes, async ({ m, k, n, transA, transB, offset, seed }) => {
        let s = seed >>> 0 || 1;
        const rnd = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
        const [ar, ac] = transA ? [k, m] : [m, k];
        const [br, bc] = transB ? [n, k] : [k, n];
        const bufA = Float64Array.from({ length: offset + ar * ac + 3 }, rnd);
        const bufB = Float64Array.from({ length: offset + br * bc + 3 }, rnd);
        const A = bufA.subarray(offset, offset + ar * ac);
        const B = bufB.subarray(offset, offset + br * bc);
        const C = await gemm('float64', { data: A, rows: ar, cols: ac }, { data: B, rows: br, cols: bc }, { transA, transB });
        const ref = reference(A, ar, ac, B, br, bc, transA, transB);
        expect(C.length).toBe(m * n);
        for (let i = 0; i < C.length; i++) expect(Math.abs(C[i] - ref[i])).toBeLessThan(1e-13 * k);
      }),
      { numRuns: 60 },
    );
  });

  it('float32 stays within float32 rounding of the float64 product', async () => {
    const [m, k, n] = [33, 1024, 29];
    let s = 3;
    const rnd = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
    const A = Float32Array.from({ length: k * m }, rnd);
    const B = Float32Array.from({ length: k * n }, rnd);
    const C = await gemm('float32', { data: A, rows: k, cols: m }, { data: B, rows: k, cols: n }, { transA: true });
    const ref = reference(A, k, m, B, k, n, true, false);
    // Each entry sums 1024 products of magnitude ≤ 1: error bound k·2⁻²⁴ per unit of Σ|a·b| (≤ k).
    for (let i = 0; i < C.length; i++) expect(Math.abs(C[i] - ref[i])).toBeLessThan(k * 2 ** -24 * 64);
  });

  it('rejects mismatched inner dimensions and returns zeros for an empty inner dimension', async () => {
    const a = { data: new Float64Array(6), rows: 2, cols: 3 };
    await expect(gemm('float64', a, a)).rejects.toThrow(/inner dimensions differ/);
    const e = await gemm('float64', { data: new Float64Array(0), rows: 2, cols: 0 }, { data: new Float64Array(0), rows: 0, cols: 4 });
    expect(Array.from(e)).toEqual(new Array(8).fill(0));
  });
});
