/**
 * `--dtype int8`: symmetric per-channel quantisation of the ordered factors (M ≈ A·B, see formats/model.ts).
 *
 * - A (m×r, stored as r rows of m: "left") gets one scale per output j, taken over all stored components of
 *   the layer, so every rank prefix, i.e. every tier, uses the same scales and a tier never re-quantises
 *   what an earlier tier stored.
 * - B (r×n, stored as r rows of n: "right") gets one scale per component i (per row), stored with the block
 *   that holds the component.
 *
 * scale = maxabs/127 rounded *up* to float32 (the scales are stored as float32), so |x/scale| ≤ 127 for every
 * value and |x − q·scale| ≤ scale/2; an all-zero row or column gets scale 0 and q = 0.
 * Dequantisation lives in formats/int8.ts because the runtime needs it too; it is re-exported here.
 */
import { INT8_LIMIT, type ScaleAxis } from '../formats/int8.js';

export { dequantizeInt8, INT8_LIMIT, int8View, type ScaleAxis } from '../formats/int8.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The next float32 above a finite float32 s ≥ 0. */
function nextFloat32Up(s: number): number {
  f32[0] = s;
  u32[0] += 1;
  return f32[0];
}

/** The smallest float32 ≥ maxAbs/127 (0 for maxAbs 0). Throws RangeError for a negative or non-finite maxAbs. */
export function symmetricScale(maxAbs: number): number {
  if (!Number.isFinite(maxAbs) || maxAbs < 0) throw new RangeError(`maxabs must be a finite number ≥ 0, got ${maxAbs}`);
  if (maxAbs === 0) return 0;
  let s = Math.fround(maxAbs / INT8_LIMIT);
  if (s === Infinity) throw new RangeError(`maxabs ${maxAbs} is too large for a float32 scale`);
  // s·127 is exact in float64 (24 + 7 bits), so this compares without rounding; the quotient above may have
  // rounded down or underflowed to 0, in which case one step up is enough.
  while (s * INT8_LIMIT < maxAbs) s = nextFloat32Up(s);
  return s;
}

/** One symmetric scale per row (axis 0) or per column (axis 1) of a rows×cols row-major matrix. */
export function int8Scales(values: ArrayLike<number>, rows: number, cols: number, axis: ScaleAxis): Float32Array {
  checkShape(values, rows, cols);
  const maxAbs = new Float64Array(axis === 0 ? rows : cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = values[r * cols + c];
      if (!Number.isFinite(v)) throw new RangeError(`cannot quantise ${v} (row ${r}, column ${c})`);
      const k = axis === 0 ? r : c;
      const a = Math.abs(v);
      if (a > maxAbs[k]) maxAbs[k] = a;
    }
  }
  return Float32Array.from(maxAbs, symmetricScale);
}

/** q = round(x / scale), ties away from zero (so quantise(−x) = −quantise(x)); 0 where the scale is 0. */
export function quantizeInt8(values: ArrayLike<number>, rows: number, cols: number, scales: ArrayLike<number>, axis: ScaleAxis): Int8Array {
  checkShape(values, rows, cols);
  const expected = axis === 0 ? rows : cols;
  if (scales.length !== expected) throw new RangeError(`expected ${expected} scales, got ${scales.length}`);
  const q = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      const v = values[i];
      if (!Number.isFinite(v)) throw new RangeError(`cannot quantise ${v} (row ${r}, column ${c})`);
      const s = scales[axis === 0 ? r : c];
      if (s === 0) continue;
      const t = Math.round(Math.abs(v) / s);
      // Never above 127 with scales from int8Scales; the clamp only guards scales chosen by the caller.
      q[i] = Math.sign(v) * Math.min(t, INT8_LIMIT);
    }
  }
  return q;
}

/** A layer's stored components as int8, in the payload's layout, with their scales. */
export interface Int8Factors {
  rank: number;
  /** rank×rows: the columns of A as rows, like OrderedFactors.left. */
  left: Int8Array;
  /** rank×cols: the rows of B. */
  right: Int8Array;
  /** rows scales, one per output (column of `left`): FactoredLayer.leftScales. */
  leftScales: Float32Array;
  /** rank scales, one per component (row of `right`); a block takes its slice as FactorBlock.rightScales. */
  rightScales: Float32Array;
}

/**
 * Quantise the first `rank` components (the ones the file stores) of a layer's ordered factors.
 * `left` holds at least rank×rows values, `right` at least rank×cols.
 */
export function quantizeFactors(left: ArrayLike<number>, right: ArrayLike<number>, rank: number, rows: number, cols: number): Int8Factors {
  const a = prefix(left, rank * rows);
  const b = prefix(right, rank * cols);
  const leftScales = int8Scales(a, rank, rows, 1);
  const rightScales = int8Scales(b, rank, cols, 0);
  return {
    rank,
    left: quantizeInt8(a, rank, rows, leftScales, 1),
    right: quantizeInt8(b, rank, cols, rightScales, 0),
    leftScales,
    rightScales,
  };
}

function prefix(values: ArrayLike<number>, length: number): ArrayLike<number> {
  if (values.length < length) throw new RangeError(`expected at least ${length} factor values, got ${values.length}`);
  if (values.length === length) return values;
  return ArrayBuffer.isView(values) ? (values as unknown as Float64Array).subarray(0, length) : Array.from({ length }, (_, i) => values[i]);
}

function checkShape(values: ArrayLike<number>, rows: number, cols: number): void {
  if (!Number.isSafeInteger(rows) || !Number.isSafeInteger(cols) || rows < 0 || cols < 0 || values.length !== rows * cols) {
    throw new RangeError(`expected ${rows}×${cols} values, got ${values.length}`);
  }
}
