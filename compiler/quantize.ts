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
 * The per-row/column scales, quantisation and dequantisation live in formats/int8.ts because the runtime and the
 * adapter writer (formats/adapter-write.ts) need them too; they are re-exported here.
 */
import { int8Scales, quantizeInt8 } from '../formats/int8.js';
import { roundedInt8 } from './gptq-int8.js';

export { dequantizeInt8, INT8_LIMIT, int8Scales, int8View, quantizeInt8, symmetricScale, type ScaleAxis } from '../formats/int8.js';

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
 * `left` holds at least rank×rows values, `right` at least rank×cols. With the moment H (cols×cols) of the layer's
 * inputs, B is rounded against it (compiler/gptq-int8.ts; its rows are independent, so every rank prefix is rounded
 * as it would be alone) and A to nearest, as int4 files do (A's inputs B·x are decorrelated by the whitened SVD).
 */
export function quantizeFactors(left: ArrayLike<number>, right: ArrayLike<number>, rank: number, rows: number, cols: number, H?: Float64Array): Int8Factors {
  const a = prefix(left, rank * rows);
  const b = prefix(right, rank * cols);
  const leftScales = int8Scales(a, rank, rows, 1);
  const rightScales = int8Scales(b, rank, cols, 0);
  return {
    rank,
    left: quantizeInt8(a, rank, rows, leftScales, 1),
    right: roundedInt8(b, rank, cols, rightScales, H),
    leftScales,
    rightScales,
  };
}

function prefix(values: ArrayLike<number>, length: number): ArrayLike<number> {
  if (values.length < length) throw new RangeError(`expected at least ${length} factor values, got ${values.length}`);
  if (values.length === length) return values;
  return ArrayBuffer.isView(values) ? (values as unknown as Float64Array).subarray(0, length) : Array.from({ length }, (_, i) => values[i]);
}
