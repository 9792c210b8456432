/**
 * Error-compensated int4 rounding (GPTQ, Frantar et al. 2022; OBQ before it), following the reference
 * implementation's single loop. For a layer y = M·x (M rows×n) and inputs with second moment H = E[x·xᵀ] (n×n),
 * rounding column i of M adds an output error (M − M̂)·x. GPTQ rounds the columns in order and, after each, moves
 * the error onto the columns not yet rounded so that the layer's output on the calibration inputs changes least:
 *
 *   U = upper Cholesky factor of H⁻¹ (H⁻¹ = Uᵀ·U), after damping H += λ·mean(diag H)·I
 *   for i = 0 … n−1:
 *     at the start of each group: scale of each row from the current (already compensated) values of the group
 *     q = round(M[:, i] / scale)                      (round to nearest, clamped to [-7, 7]; int3: [-3, 3])
 *     e = (M[:, i] − q·scale) / U[i][i]
 *     M[:, j] −= e · U[i][j]   for every j > i        (the OBQ update, in Cholesky form)
 *
 * Rows are independent, so a block of a factor's rows (components) is rounded exactly as it would be alone: the
 * nesting of components is untouched. Hand-written: no maintained JS library implements it, and it is one loop.
 */
import { groupedLimit, groupingOf, int4Groups, midLevel, type GroupedBits, type Grouping } from '../formats/int4.js';
import { choleskyWithRidge } from './linalg/cholesky.js';
import { checkGroupSize, groupScale, lowPlaneRounding, nearestMidBit, rowScalesFor, quantizeInt4Nearest, roundInt4, targetOf, type Int4Matrix, type PlaneRounding } from './quantize-int4.js';

/**
 * Widest input GPTQ takes here: its n×n factorisation runs in JS in O(n³) (seconds at 2048, a minute at 3136 on a
 * busy 2-core machine). Wider weights round to nearest. A blocked factorisation on onnxruntime's Gemm would lift it.
 */
export const MAX_GPTQ_INPUTS = 2048;

/** GPTQ where the inputs' moment is known and not too wide, else round to nearest; says which it did. */
export function roundedInt4(M: Float64Array, rows: number, n: number, H: Float64Array | undefined, grouping: Grouping, bits: GroupedBits = 4, midWeight?: number): { matrix: Int4Matrix; rounding: 'gptq' | 'nearest' } {
  if (H && H.length === n * n && n <= MAX_GPTQ_INPUTS) return { matrix: gptqInt4(M, rows, n, H, grouping, bits, midWeight), rounding: 'gptq' };
  return { matrix: quantizeInt4Nearest(M, rows, n, grouping, bits, midWeight), rounding: 'nearest' };
}

/** The reference implementation's damping: 1% of the mean diagonal keeps H⁻¹ well conditioned. */
export const GPTQ_DAMPING = 0.01;

/**
 * GPTQ int4 (or int3) of M (rows×n, row-major, float64; not modified) against inputs of second moment H (n×n,
 * symmetric positive semi-definite; any positive multiple gives the same result). Inputs that never vary
 * (H[i][i] = 0) cannot be compensated: their weights are rounded as they are.
 */
export function gptqInt4(M: Float64Array, rows: number, n: number, H: Float64Array, grouping: Grouping, bits: GroupedBits = 4, midWeight?: number): Int4Matrix {
  if (bits === 3 && midWeight !== undefined) return gptqNested({ M, H }, { M, H }, rows, n, grouping, midWeight);
  const { size: groupSize, scaleCodes } = groupingOf(grouping);
  checkGroupSize(groupSize);
  if (M.length !== rows * n || H.length !== n * n) throw new RangeError(`GPTQ: expected a ${rows}×${n} matrix and a ${n}×${n} second moment`);
  const U = inverseUpperCholesky(H, n);
  const W = Float64Array.from(M);
  const groups = int4Groups(n, groupSize);
  const q = new Int8Array(rows * n);
  const scales = new Float32Array(rows * groups);
  const limit = groupedLimit(bits);
  // Scale codes: row scales from the values before compensation (with headroom for what compensation adds).
  const rowScales = scaleCodes ? rowScalesFor(M, rows, n, bits, false) : undefined;
  for (let i = 0; i < n; i++) {
    // At the start of each group: each row's scale from its current (already compensated) values.
    if (i % groupSize === 0) for (let r = 0; r < rows; r++) scales[r * groups + i / groupSize] = groupScale(W, r * n + i, r * n + Math.min(n, i + groupSize), bits, undefined, rowScales?.[r]);
    const d = U[i * n + i];
    for (let r = 0; r < rows; r++) {
      const w = W[r * n + i];
      const s = scales[r * groups + Math.floor(i / groupSize)];
      const v = roundInt4(w, s, limit);
      q[r * n + i] = v;
      const e = (w - v * s) / d;
      if (e === 0) continue;
      const row = r * n;
      for (let j = i + 1; j < n; j++) W[row + j] -= e * U[i * n + j];
    }
  }
  return { rows, length: n, groupSize, ...(bits === 3 ? { bits } : {}), q, scales, ...(rowScales ? { rowScales } : {}), target: M, moment: H };
}

/**
 * Int3 with its mid plane in one pass (nested 3 → 4 bits, formats/int4.ts), for two objectives: the int3 values
 * against target M3 and moment H3 (the 3-bit tiers), the values with their mid plane against M4 and H4 (the 4-bit
 * tiers; the same as M3, H3 in the precision pass, not in sequential rounding, where each tier's network feeds its
 * own inputs). Each copy is compensated GPTQ's way with its own U. Each value takes the q and mid bit that minimise
 * e3²/U3[i][i]² + midWeight·e4²/U4[i][i]² (OBQ's error increase of each objective), q over all seven codes: the
 * nearest to the 3-bit copy may lie far from the 4-bit copy, which a mid bit (±¼) cannot reach. midWeight 0: the
 * 3-bit objective alone (plain int3 GPTQ, mid bits after); the larger, the closer the 4-bit tier gets to int4.
 */
export function gptqNested(three: { M: Float64Array; H: Float64Array }, four: { M: Float64Array; H: Float64Array }, rows: number, n: number, grouping: Grouping, midWeight: number): Int4Matrix {
  const { size: groupSize, scaleCodes } = groupingOf(grouping);
  checkGroupSize(groupSize);
  const [U3, U4] = [inverseUpperCholesky(three.H, n), inverseUpperCholesky(four.H, n)];
  const [W3, W4] = [Float64Array.from(three.M), Float64Array.from(four.M)];
  const groups = int4Groups(n, groupSize);
  const q = new Int8Array(rows * n);
  const mid = new Uint8Array(rows * n);
  const scales = new Float32Array(rows * groups);
  const limit = groupedLimit(3);
  const rowScales = scaleCodes ? rowScalesFor(three.M, rows, n, 3, true) : undefined;
  for (let i = 0; i < n; i++) {
    if (i % groupSize === 0) for (let r = 0; r < rows; r++) scales[r * groups + i / groupSize] = groupScale(W3, r * n + i, r * n + Math.min(n, i + groupSize), 3, midWeight, rowScales?.[r]);
    const [d3, d4] = [U3[i * n + i], U4[i * n + i]];
    const weight4 = (midWeight * d3 * d3) / (d4 * d4);
    for (let r = 0; r < rows; r++) {
      const at = r * n + i;
      const [w3, w4, s] = [W3[at], W4[at], scales[r * groups + Math.floor(i / groupSize)]];
      let [bq, bm, best] = [0, 0, Infinity];
      for (let c = -limit; c <= limit; c++) {
        const m = nearestMidBit(w4, c, s);
        const [e3, e4] = [w3 - c * s, w4 - midLevel(c, m) * s];
        const cost = e3 * e3 + weight4 * e4 * e4;
        if (cost < best) [bq, bm, best] = [c, m, cost];
      }
      [q[at], mid[at]] = [bq, bm];
      const e3 = (w3 - bq * s) / d3;
      const e4 = (w4 - midLevel(bq, bm) * s) / d4;
      const row = r * n;
      if (e3 !== 0) for (let j = i + 1; j < n; j++) W3[row + j] -= e3 * U3[i * n + j];
      if (e4 !== 0) for (let j = i + 1; j < n; j++) W4[row + j] -= e4 * U4[i * n + j];
    }
  }
  return { rows, length: n, groupSize, bits: 3, q, scales, ...(rowScales ? { rowScales } : {}), mid, target: three.M, moment: three.H };
}

/**
 * The same loop one level down: the values q and scales stay, and each value's plane code (the low plane's step l:
 * value (q + l/8)·scale) is rounded from the target as compensated so far, its error moved onto the columns not yet
 * rounded. Low-plane residuals GPTQ pushed past the plane's range (±1 scale) clip,
 * and their error is compensated too (MobileNet's classifier: 5% of its values clip, 78% of the plane's error when
 * rounded to nearest). Where the values lie far from the target that compensation can cascade: compiler/low-plane.ts
 * takes this as one start of its descent.
 */
function gptqPlane(m: Int4Matrix, H: Float64Array, rounding: PlaneRounding): Int8Array {
  const { rows, length: n, groupSize, scales } = m;
  const U = inverseUpperCholesky(H, n);
  const W = Float64Array.from(targetOf(m));
  const groups = int4Groups(n, groupSize);
  const codes = new Int8Array(rows * n);
  for (let i = 0; i < n; i++) {
    const d = U[i * n + i];
    for (let r = 0; r < rows; r++) {
      const w = W[r * n + i];
      const s = scales[r * groups + Math.floor(i / groupSize)];
      const { code, level } = rounding(w, r * n + i, s);
      codes[r * n + i] = code;
      const e = (w - level * s) / d;
      if (e === 0) continue;
      const row = r * n;
      for (let j = i + 1; j < n; j++) W[row + j] -= e * U[i * n + j];
    }
  }
  return codes;
}

/** The low plane by GPTQ (gptqPlane with lowPlaneRounding). */
export function gptqLowPlane(m: Int4Matrix, H: Float64Array): Int8Array {
  return gptqPlane(m, H, lowPlaneRounding(m));
}

/** U per moment: B and the dense weight of one layer share their inputs' moment, and U costs n³/1.5. */
const upperCache = new WeakMap<Float64Array, Float64Array>();

/**
 * U (upper, row-major) with Uᵀ·U = (H + λI)⁻¹; dead inputs (zero diagonal) get the mean diagonal first.
 * With P the order-reversing permutation and P·H·P = L·Lᵀ: H⁻¹ = P·L⁻ᵀ·L⁻¹·P = Uᵀ·U for U = P·L⁻¹·P, which is
 * upper triangular. One Cholesky and one triangular inverse, instead of an inverse and a second Cholesky.
 */
export function inverseUpperCholesky(H: Float64Array, n: number): Float64Array {
  const cached = upperCache.get(H);
  if (cached) return cached;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += H[i * n + i];
  mean = mean / n || 1;
  const R = new Float64Array(n * n); // P·H·P, damped
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) R[(n - 1 - i) * n + (n - 1 - j)] = H[i * n + j];
  for (let i = 0; i < n; i++) R[i * n + i] = (R[i * n + i] > 0 ? R[i * n + i] : mean) + GPTQ_DAMPING * mean;
  const Linv = lowerInverse(choleskyWithRidge(R, n).L, n);
  const U = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) U[(n - 1 - i) * n + (n - 1 - j)] = Linv[i * n + j];
  upperCache.set(H, U);
  return U;
}

/** L⁻¹ of a lower-triangular L (row-major), row by row by forward substitution. */
function lowerInverse(L: Float64Array, n: number): Float64Array {
  const X = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const d = L[i * n + i];
    X[i * n + i] = 1 / d;
    // X[i][j] = −(Σ_{k=j..i−1} L[i][k]·X[k][j]) / L[i][i] for j < i; accumulated over k so rows are read in order.
    for (let k = 0; k < i; k++) {
      const l = L[i * n + k];
      if (l === 0) continue;
      const xk = k * n;
      for (let j = 0; j <= k; j++) X[i * n + j] -= l * X[xk + j];
    }
    for (let j = 0; j < i; j++) X[i * n + j] /= d;
  }
  return X;
}

/** Relative output error of a rounded matrix on inputs of second moment H: tr(Δ·H·Δᵀ) / tr(M·H·Mᵀ), Δ = M − M̂. */
export function relativeOutputError(M: Float64Array, approx: Float64Array, rows: number, n: number, H: Float64Array): number {
  let err = 0;
  let total = 0;
  const d = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) d[j] = M[r * n + j] - approx[r * n + j];
    err += quadratic(d, H, n);
    total += quadratic(M.subarray(r * n, (r + 1) * n), H, n);
  }
  return total > 0 ? err / total : 0;
}

/** vᵀ·H·v for an n-vector v and a symmetric n×n H (row-major); zero entries of v are skipped. */
export function quadratic(v: ArrayLike<number>, H: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    if (v[i] === 0) continue;
    let t = 0;
    for (let j = 0; j < n; j++) t += H[i * n + j] * v[j];
    s += v[i] * t;
  }
  return s;
}

/** ‖M − M̂‖² / ‖M‖²: the error measure when no input statistics reached the weight. */
export function relativeWeightError(M: Float64Array, approx: Float64Array): number {
  let err = 0;
  let total = 0;
  for (let i = 0; i < M.length; i++) {
    err += (M[i] - approx[i]) ** 2;
    total += M[i] ** 2;
  }
  return total > 0 ? err / total : 0;
}
