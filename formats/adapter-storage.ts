/**
 * How one adapter factor (a rows×cols row-major float32 matrix) is stored in the payload: fp32 as is, fp16 as IEEE
 * half (formats/float16.ts), int8 symmetric with one float32 scale per row (formats/int8.ts). Per row because a
 * factor's rows are outputs (up) or rank components (down), whose magnitudes differ the most between rows.
 */
import type { AdapterDType } from './adapter-model.js';
import { decodeHalf, encodeHalf } from './float16.js';
import { dequantizeInt8, int8Scales, int8View, quantizeInt8 } from './int8.js';

export interface StoredFactor {
  bytes: Uint8Array;
  /** int8 only: one per row. */
  scales?: Float32Array;
}

/**
 * Stores `values` (rows × cols) as `dtype`. Throws a RangeError naming the value for one that is not finite or
 * (fp16) overflows to infinity: the caller says which layer and factor.
 */
export function storeFactor(values: Float32Array, rows: number, cols: number, dtype: AdapterDType): StoredFactor {
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new RangeError(`value ${values[bad]} at row ${Math.floor(bad / cols)}, column ${bad % cols} is not finite`);
  if (dtype === 'fp32') return { bytes: new Uint8Array(values.slice().buffer) };
  if (dtype === 'fp16') {
    const bytes = encodeHalf(values);
    const overflow = decodeHalf(bytes).findIndex((v) => !Number.isFinite(v));
    if (overflow >= 0) throw new RangeError(`value ${values[overflow]} at row ${Math.floor(overflow / cols)}, column ${overflow % cols} is beyond fp16's ±65504 (store the adapter as fp32 or int8)`);
    return { bytes };
  }
  const scales = int8Scales(values, rows, cols, 0);
  const q = quantizeInt8(values, rows, cols, scales, 0);
  return { bytes: new Uint8Array(q.buffer), scales };
}

/** The float32 values of a stored factor; `bytes` is exactly its range (any alignment: it is copied). */
export function loadFactor(bytes: Uint8Array, rows: number, cols: number, dtype: AdapterDType, scales: readonly number[] | undefined): Float32Array {
  if (dtype === 'fp32') return new Float32Array(bytes.slice().buffer);
  if (dtype === 'fp16') return decodeHalf(bytes);
  return dequantizeInt8(int8View(bytes), rows, cols, scales ?? [], 0);
}
