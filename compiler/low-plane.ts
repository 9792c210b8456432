/**
 * The low plane of an int4 (or int3) matrix for 8-bit tiers (formats/int4.ts: value (base + l/steps)·scale, code l in
 * [-8, 7], base the stored level): the codes that bring the layer's output closest to the original's on the
 * calibration inputs, the stored values and scales fixed.
 *
 * GPTQ one level down (compiler/gptq.ts's gptqLowPlane) refines towards the values the matrix was rounded from and
 * moves each code's error onto the codes not yet rounded. Where error-compensated rounding left the stored values far
 * from those targets (it moves values along directions the inputs barely excite), the plane's box of under one scale
 * either way clips, the clipped error is passed on, and later codes clip in turn. On super-resolution-10 three of its
 * four layers came out with 5 to 80 times the output error of the stored values alone (every code 0), and its 8-bit
 * tier 10 dB below its 4-bit one. So each row starts from the better of GPTQ's codes and no refinement, and exact
 * coordinate descent on the row's output error then improves it one code at a time:
 *
 *   f(l) = dᵀ·H·d,  d = target − (base + l/steps)·scale      (H = E[x·xᵀ] of the layer's inputs)
 *   for each value k, the others fixed: the best change of value is g_k / H_kk with g = H·d, so
 *   l_k ← clamp(l_k + round(g_k / (H_kk · scale_k/steps)), −8, 7),  then g −= Δvalue · H[:, k]     (O(n) a change)
 *
 * f never rises, so a row is never worse than either start. Hand-written: no library does box-constrained integer
 * descent on a quadratic, and it is two loops.
 */
import { gptqLowPlane } from './gptq.js';
import { baseLevel, lowPlaneRounding, lowPlaneSteps, nearestPlane, packLowPlane, scaleAt, targetOf, type Int4Matrix } from './quantize-int4.js';

/** Passes of coordinate descent at most; it stops earlier when a pass changes no code. */
const MAX_SWEEPS = 4;

/** The low plane, packed: see above where the matrix carries its inputs' moment, else each residual to nearest. */
export function roundedLowPlane(m: Int4Matrix): Uint8Array {
  return packLowPlane(m, lowPlaneCodes(m));
}

/** The low plane's codes (one per value, row-major). */
export function lowPlaneCodes(m: Int4Matrix): Int8Array {
  const H = m.moment;
  const n = m.length;
  if (!H || H.length !== n * n) return nearestPlane(m, lowPlaneRounding(m));
  const gptq = gptqLowPlane(m, H);
  const codes = new Int8Array(m.rows * n);
  for (let r = 0; r < m.rows; r++) {
    const row = new Row(m, H, r);
    const fromGptq = row.at(gptq.subarray(r * n, (r + 1) * n));
    const unrefined = row.at(codes.subarray(r * n, (r + 1) * n));
    const start = fromGptq.error < unrefined.error ? fromGptq : unrefined;
    codes.set(start.codes, r * n);
    row.descend(codes.subarray(r * n, (r + 1) * n), start.gradient);
  }
  return codes;
}

/** One row's objective: its target, stored levels and scales, and the shared moment. */
class Row {
  private readonly target: Float64Array;
  private readonly base: Float64Array;
  /** Value of one code step, per value: scale / steps. */
  private readonly step: Float64Array;

  constructor(m: Int4Matrix, private readonly H: Float64Array, r: number) {
    const n = m.length;
    const steps = lowPlaneSteps(m);
    this.target = targetOf(m).subarray(r * n, (r + 1) * n);
    this.base = Float64Array.from({ length: n }, (_, k) => baseLevel(m, r * n + k) * scaleAt(m, r * n + k));
    this.step = Float64Array.from({ length: n }, (_, k) => scaleAt(m, r * n + k) / steps);
  }

  /** For these codes: d = target − value, g = H·d and f = dᵀ·H·d = dᵀ·g (one pass over H, which descend reuses). */
  at(codes: Int8Array): { codes: Int8Array; gradient: Float64Array; error: number } {
    const n = codes.length;
    const d = Float64Array.from(this.target, (t, k) => t - this.base[k] - codes[k] * this.step[k]);
    const g = new Float64Array(n);
    let error = 0;
    for (let k = 0; k < n; k++) {
      if (d[k] === 0) continue;
      for (let j = 0; j < n; j++) g[j] += this.H[k * n + j] * d[k];
    }
    for (let k = 0; k < n; k++) error += d[k] * g[k];
    return { codes, gradient: g, error };
  }

  /** Coordinate descent on f, in place, from these codes and their gradient g (updated in place too). */
  descend(codes: Int8Array, g: Float64Array): void {
    const n = codes.length;
    const H = this.H;
    for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
      let changed = false;
      for (let k = 0; k < n; k++) {
        const hkk = H[k * n + k];
        const step = this.step[k];
        if (!(hkk > 0) || step === 0) continue;
        const code = Math.max(-8, Math.min(7, codes[k] + Math.round(g[k] / (hkk * step))));
        if (code === codes[k]) continue;
        const delta = (code - codes[k]) * step; // the value rises by delta, so d_k falls by it
        codes[k] = code;
        for (let j = 0; j < n; j++) g[j] -= delta * H[k * n + j];
        changed = true;
      }
      if (!changed) break;
    }
  }
}
