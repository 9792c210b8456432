/**
 * Symmetric int8 storage of factor values: value ≈ q·scale with q in [-127, 127] and no zero point.
 * scale = maxabs/127 rounded *up* to float32 (the scales are stored as float32), so |x/scale| ≤ 127 for every
 * value and |x − q·scale| ≤ scale/2; an all-zero row or column gets scale 0 and q = 0.
 * Shared by the compiler (compiler/quantize.ts), the adapter writer and the runtime, which must not import the compiler.
 */

/** Largest stored magnitude: -128 is never written, so the range is symmetric and q·scale never needs clamping. */
export const INT8_LIMIT = 127;

/** Which index of a rows×cols row-major matrix a scale vector runs along: 0 → one scale per row, 1 → per column. */
export type ScaleAxis = 0 | 1;

/** Stored int8 bytes as signed values (a view, no copy). */
export function int8View(bytes: Uint8Array): Int8Array {
  return new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Dequantise a rows×cols row-major int8 matrix to float32: out[r][c] = q[r][c]·scales[axis === 0 ? r : c].
 * q·scale is exact in float64 (8 × 24 significant bits); the only rounding is the store into float32.
 */
export function dequantizeInt8(q: Int8Array, rows: number, cols: number, scales: ArrayLike<number>, axis: ScaleAxis): Float32Array {
  if (q.length !== rows * cols) throw new RangeError(`expected ${rows}×${cols} = ${rows * cols} int8 values, got ${q.length}`);
  const expected = axis === 0 ? rows : cols;
  if (scales.length !== expected) throw new RangeError(`expected ${expected} scales (one per ${axis === 0 ? 'row' : 'column'}), got ${scales.length}`);
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const at = r * cols;
    if (axis === 0) {
      const s = scales[r];
      for (let c = 0; c < cols; c++) out[at + c] = q[at + c] * s;
    } else {
      for (let c = 0; c < cols; c++) out[at + c] = q[at + c] * scales[c];
    }
  }
  return out;
}

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
      q[i] = int8Code(v, scales[axis === 0 ? r : c]);
    }
  }
  return q;
}

/**
 * One value's code: round(|v| / scale) with its sign (ties away from zero), clamped to ±127; 0 where the scale is 0.
 * Never above 127 with scales from int8Scales; the clamp guards scales chosen by the caller, and the values
 * error-compensated rounding (compiler/gptq-int8.ts) has pushed past them.
 */
export function int8Code(v: number, scale: number): number {
  if (scale === 0) return 0;
  return Math.sign(v) * Math.min(Math.round(Math.abs(v) / scale), INT8_LIMIT);
}

function checkShape(values: ArrayLike<number>, rows: number, cols: number): void {
  if (!Number.isSafeInteger(rows) || !Number.isSafeInteger(cols) || rows < 0 || cols < 0 || values.length !== rows * cols) {
    throw new RangeError(`expected ${rows}×${cols} values, got ${values.length}`);
  }
}
