/**
 * Symmetric int8 storage of factor values: value ≈ q·scale with q in [-127, 127] and no zero point.
 * The compiler quantises (compiler/quantize.ts); this half is shared with the runtime, which must not import
 * the compiler.
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
