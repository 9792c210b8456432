/**
 * Error-compensated int8 rounding: compiler/gptq.ts's loop with int8's grid. The scales are the ones round-to-nearest
 * uses (one per row, maxabs/127 rounded up: formats/int8.ts), so the file's layout and the runtime do not change;
 * only which integer each value gets does:
 *
 *   U = upper Cholesky factor of (H + λI)⁻¹                  (gptq.ts's inverseUpperCholesky, cached per H)
 *   for i = 0 … n−1, every row r:
 *     q = clamp(round(W[r, i] / s_r), −127, 127)
 *     e = (W[r, i] − q·s_r) / U[i][i];   W[r, j] −= e · U[i][j]   for j > i
 *
 * Compensation can push a value past 127·s; it is clamped and the clipped part is passed on like any other error.
 * Measured on real inputs in test/compiler/gptq-int8.test.ts. Hand-written for the reason gptq.ts gives.
 */
import { int8Code, quantizeInt8 } from '../formats/int8.js';
import { inverseUpperCholesky, MAX_GPTQ_INPUTS } from './gptq.js';

/**
 * int8 codes of M (rows×n, row-major; not modified) with one scale per row, rounded against inputs of second moment
 * H (n×n) where it is known and not too wide (MAX_GPTQ_INPUTS), else to nearest.
 */
export function roundedInt8(M: ArrayLike<number>, rows: number, n: number, scales: ArrayLike<number>, H: Float64Array | undefined): Int8Array {
  if (M.length !== rows * n || scales.length !== rows) throw new RangeError(`int8 rounding: expected a ${rows}×${n} matrix and ${rows} scales`);
  if (!H || H.length !== n * n || n > MAX_GPTQ_INPUTS) return quantizeInt8(M, rows, n, scales, 0);
  const q = new Int8Array(rows * n);
  const U = inverseUpperCholesky(H, n);
  const W = Float64Array.from(M);
  for (let i = 0; i < n; i++) {
    const d = U[i * n + i];
    for (let r = 0; r < rows; r++) {
      const s = scales[r];
      const at = r * n + i;
      const v = int8Code(W[at], s);
      q[at] = v;
      const e = (W[at] - v * s) / d;
      if (e === 0) continue;
      for (let j = i + 1; j < n; j++) W[r * n + j] -= e * U[i * n + j];
    }
  }
  return q;
}
