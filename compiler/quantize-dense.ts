/**
 * `--dtype int8` / `int4` / `fp16` for the weights that are not factored (depthwise convs, kept ends, small layers,
 * embedding tables): per-output-channel symmetric int8 (round to nearest; one float32 scale per channel), grouped
 * int4 (GPTQ against the layer's calibration inputs where it has them, else round to nearest; a weight whose int4
 * error is above the allowed one is stored int8 instead), or IEEE half. Only tensors that a weight op reads as its weight are touched: Conv/ConvTranspose/MatMul/Gemm's
 * input 1 and Gather's table. Biases, norms, shapes and other constants stay as they are (biases cost little
 * and their error is not scaled down by any weight).
 */
import { encodeHalf } from '../formats/float16.js';
import type { DenseTensor, FactorDType, NodeDef } from '../formats/model.js';
import { DataType } from '../formats/model.js';
import type { ImportedTensor } from './import/onnx.js';
import { int8Scales, quantizeInt8, type ScaleAxis } from './quantize.js';
import { relativeOutputError, roundedInt4 } from './gptq.js';
import { int4Values, packInt4, type Int4Matrix } from './quantize-int4.js';
import { transposeF32 } from '../runtime/factors.js';

/** How an int4 file stores a weight, and what it measured to decide. */
export interface Int4Choice {
  storage: 'int4' | 'int8';
  rounding: 'gptq' | 'nearest';
  /** Relative output error of int4 on the calibration inputs where they reached the weight, else relative weight error. */
  error: number;
}

/** What int4 rounding of a dense weight needs: the group size, the allowed error, and its inputs' second moment. */
export interface Int4DenseOptions {
  groupSize: number;
  /** Above this relative error (see Int4Choice.error) the weight is stored int8 (negative: always int8). */
  maxError: number;
  /** E[x·xᵀ] of the weight's inputs (n×n, n = values per channel), when calibration reached them. */
  moment?: Float64Array;
}

/** Smallest weight worth a scale vector (a 3×3 depthwise kernel per channel is 9 values per scale). */
const MIN_ELEMENTS = 16;

/**
 * The output-channel axis of each quantisable weight, by what reads it: Conv W[O, I/g, …] → 0, MatMul W[K, N] → 1,
 * Gemm B → 0 with transB else 1, Gather table [V, D] → 0 (per row). A tensor read in two roles that disagree is
 * left alone, and so is an axis-1 weight of more than 2 dims (ConvTranspose: not done yet).
 */
export function weightAxes(nodes: readonly NodeDef[], initializers: readonly ImportedTensor[]): Map<string, number> {
  const byName = new Map(initializers.map((t) => [t.name, t]));
  const axes = new Map<string, number | null>();
  const note = (name: string | undefined, axis: number | null) => {
    if (name === undefined || !byName.has(name)) return;
    const before = axes.get(name);
    axes.set(name, before === undefined || before === axis ? axis : null);
  };
  for (const n of nodes) {
    const transB = n.attributes.find((a) => a.name === 'transB');
    switch (n.opType) {
      case 'Conv': note(n.inputs[1], 0); break;
      case 'MatMul': note(n.inputs[1], 1); note(n.inputs[0], null); break;
      case 'Gemm': note(n.inputs[1], transB && transB.kind === 'int' && transB.value !== 0n ? 0 : 1); note(n.inputs[0], null); break;
      case 'Gather': note(n.inputs[0], 0); break;
      default: for (const i of n.inputs) note(i, null);
    }
  }
  const out = new Map<string, number>();
  for (const [name, axis] of axes) {
    const t = byName.get(name)!;
    const elements = t.dims.reduce((a, b) => a * b, 1);
    if (axis !== null && t.dataType === DataType.FLOAT && t.dims.length >= 2 && (axis === 0 || t.dims.length === 2) && elements >= MIN_ELEMENTS) out.set(name, axis);
  }
  return out;
}

/** How one dense weight is stored for a file of `dtype`: its bytes and the header fields that describe them. */
export function storeDense(
  t: ImportedTensor,
  axis: number | undefined,
  dtype: FactorDType,
  int4?: Int4DenseOptions,
): { bytes: Uint8Array; fields: Pick<DenseTensor, 'storage' | 'scaleAxis' | 'scales'>; int4?: Int4Choice } {
  if (axis === undefined || dtype === 'fp32') return { bytes: t.data, fields: {} };
  const copy = new Uint8Array(t.data); // the imported bytes may sit unaligned in the ONNX file's buffer
  const values = new Float32Array(copy.buffer, 0, copy.length / 4);
  if (dtype === 'fp16') return { bytes: encodeHalf(values), fields: { storage: 'fp16' } };
  if (dtype === 'int4') {
    if (!int4) throw new RangeError('int4 storage needs its group size');
    const { matrix, choice } = int4Weight(values, t.dims, axis, int4);
    if (choice.storage === 'int4') return { bytes: packInt4(matrix), fields: { storage: 'int4', scaleAxis: axis }, int4: choice };
    return { ...int8Dense(values, t.dims, axis), int4: choice };
  }
  return int8Dense(values, t.dims, axis);
}

/** Per-channel int8 of a weight (channels along `axis`). */
function int8Dense(values: Float32Array, dims: readonly number[], axis: number): { bytes: Uint8Array; fields: Pick<DenseTensor, 'storage' | 'scaleAxis' | 'scales'> } {
  // As a matrix whose rows (axis 0) or columns (axis 1 of a 2-D weight) are the channels: the factors' quantiser.
  const [rows, cols] = matrixShape(dims);
  const scales = int8Scales(values, rows, cols, axis as ScaleAxis);
  const q = quantizeInt8(values, rows, cols, scales, axis as ScaleAxis);
  return { bytes: new Uint8Array(q.buffer), fields: { storage: 'int8', scaleAxis: axis, scales: Array.from(scales) } };
}

/** A weight as the matrix its channels index: [dims0, rest] (channels on rows, axis 0) or itself when 2-D. */
export function matrixShape(dims: readonly number[]): [number, number] {
  return [dims[0] ?? 1, dims.slice(1).reduce((a, b) => a * b, 1)];
}

/**
 * Grouped int4 of a weight as the matrix whose rows are its channels ([dims0, rest], or the transpose of a 2-D
 * weight with channels on axis 1), so groups run along each channel's inputs: GPTQ with the inputs' moment when
 * it fits, else round to nearest. Judged by the relative error it adds; above `maxError` the weight stays int8.
 */
export function int4Weight(values: Float32Array, dims: readonly number[], axis: number, options: Int4DenseOptions): { matrix: Int4Matrix; choice: Int4Choice } {
  const [d0, rest] = matrixShape(dims);
  const [rows, cols] = axis === 1 ? [rest, d0] : [d0, rest];
  const M = Float64Array.from(axis === 1 ? transposeF32(values, d0, rest) : values);
  const H = options.moment && options.moment.length === cols * cols ? options.moment : undefined;
  const { matrix, rounding } = roundedInt4(M, rows, cols, H, options.groupSize);
  const approx = int4Values(matrix);
  const error = H ? relativeOutputError(M, approx, rows, cols, H) : relativeWeightError(M, approx);
  return { matrix, choice: { storage: error <= options.maxError ? 'int4' : 'int8', rounding, error } };
}

/** ‖M − M̂‖² / ‖M‖². */
function relativeWeightError(M: Float64Array, approx: Float64Array): number {
  let err = 0;
  let total = 0;
  for (let i = 0; i < M.length; i++) {
    err += (M[i] - approx[i]) ** 2;
    total += M[i] ** 2;
  }
  return total > 0 ? err / total : 0;
}
