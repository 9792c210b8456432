/**
 * Group scales refitted after rounding. GPTQ picks each group's scale before it rounds the group (from the values
 * as compensated so far) and never revisits it. With the integers q fixed, a row's output error against inputs of
 * moment H is quadratic in its G scales s:
 *
 *   e(s) = (w − Σ_g s_g·q_g)ᵀ·H·(w − Σ_g s_g·q_g)        (q_g: the row's q on group g's columns, 0 elsewhere)
 *   minimised by  A·s = b,  A_gh = q_gᵀ·H·q_h,  b_g = q_gᵀ·H·w
 *
 * a G×G solve per row (G = n / group size). The solution is rounded to half floats (what the file stores); a row keeps
 * its old scales unless the new ones lower e. At 3 bits, where a scale step is a seventh of a group's range, this is
 * what the clip search does for the weights alone, done for the layer's outputs.
 */
import { fromHalfBits, toHalfBits } from '../formats/float16.js';
import { int4Groups } from '../formats/int4.js';
import { choleskyWithRidge, solveCholesky } from './linalg/cholesky.js';
import { nearestCodedScale, type Int4Matrix } from './quantize-int4.js';

/** `m` with each row's scales refitted against `target` (rows×n) and the moment H (n×n); q unchanged. */
export function fitGroupScales(m: Int4Matrix, target: Float64Array, H: Float64Array): Int4Matrix {
  const { rows, length: n, groupSize, q } = m;
  const G = int4Groups(n, groupSize);
  const scales = Float32Array.from(m.scales);
  const Hw = new Float64Array(n);
  const V = new Float64Array(G * n); // row g: H·q_g
  for (let r = 0; r < rows; r++) {
    const w = target.subarray(r * n, (r + 1) * n);
    const qr = q.subarray(r * n, (r + 1) * n);
    Hw.fill(0);
    V.fill(0);
    for (let i = 0; i < n; i++) {
      const Hi = i * n;
      const [wi, qi, g] = [w[i], qr[i], Math.floor(i / groupSize)];
      for (let j = 0; j < n; j++) Hw[j] += H[Hi + j] * wi;
      if (qi !== 0) for (let j = 0; j < n; j++) V[g * n + j] += H[Hi + j] * qi;
    }
    const A = new Float64Array(G * G);
    const b = new Float64Array(G);
    for (let g = 0; g < G; g++) {
      for (let i = g * groupSize; i < Math.min(n, (g + 1) * groupSize); i++) {
        if (qr[i] === 0) continue;
        b[g] += qr[i] * Hw[i];
        for (let h = 0; h < G; h++) A[g * G + h] += qr[i] * V[h * n + i];
      }
    }
    const old = scales.subarray(r * G, (r + 1) * G);
    const fitted = solveScales(A, b, old, G, m.rowScales?.[r]);
    if (fitted && rowError(fitted, A, b) < rowError(old, A, b)) old.set(fitted);
  }
  return { ...m, scales };
}

/**
 * A·s = b, pulled slightly towards the old scales (groups whose q are all 0 keep theirs), rounded to half floats,
 * or with scale codes to the nearest code under the row's scale.
 */
function solveScales(A: Float64Array, b: Float64Array, old: Float32Array, G: number, rowScale?: number): Float32Array | undefined {
  const S = Float64Array.from(A);
  const rhs = Float64Array.from(b);
  for (let g = 0; g < G; g++) {
    const d = A[g * G + g] > 0 ? 1e-6 * A[g * G + g] : 1;
    S[g * G + g] += d;
    rhs[g] += d * old[g];
  }
  const s = solveCholesky(choleskyWithRidge(S, G).L, G, rhs, 1);
  if (!s.every((v) => Number.isFinite(v) && v >= 0)) return undefined;
  const out = Float32Array.from(s, (v) => (rowScale === undefined ? fromHalfBits(toHalfBits(v)) : nearestCodedScale(v, rowScale)));
  return out.every((v) => Number.isFinite(v) && v >= 0) ? out : undefined;
}

/** e(s) less the constant wᵀ·H·w: sᵀ·A·s − 2·bᵀ·s. */
function rowError(s: ArrayLike<number>, A: Float64Array, b: Float64Array): number {
  const G = b.length;
  let e = 0;
  for (let g = 0; g < G; g++) {
    let t = 0;
    for (let h = 0; h < G; h++) t += A[g * G + h] * s[h];
    e += s[g] * t - 2 * b[g] * s[g];
  }
  return e;
}
