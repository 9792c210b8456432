/**
 * `--dtype int8` / `int4` / `fp16` for the weights that are not factored (depthwise convs, kept ends, small layers,
 * embedding tables): per-output-channel symmetric int8 (round to nearest; one float32 scale per channel), grouped
 * int4 where the precision pass chose it (compiler/precision.ts; int8 for the others), or IEEE half. Only tensors that a weight op reads as its weight are touched: Conv/ConvTranspose/MatMul/Gemm's
 * input 1 and Gather's table. Biases, norms, shapes and other constants stay as they are (biases cost little
 * and their error is not scaled down by any weight).
 */
import { encodeHalf } from '../formats/float16.js';
import type { DenseTensor, FactorDType, NodeDef } from '../formats/model.js';
import { DataType } from '../formats/model.js';
import type { ImportedTensor } from './import/onnx.js';
import { dequantizeInt8, int8Scales, quantizeInt8, type ScaleAxis } from './quantize.js';
import { transposeF32 } from '../runtime/factors.js';
import { roundedInt8 } from './gptq-int8.js';
import { packInt4, type Int4Matrix } from './quantize-int4.js';

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
  /** int4 files: the precision pass's choice for this weight (compiler/precision.ts); int8 without one. */
  int4?: { storage: 'int3' | 'int4' | 'int8'; int4: Int4Matrix },
  /** E[x·xᵀ] of the weight's inputs, where calibration measured it: int8 is then rounded against it (GPTQ). */
  moment?: Float64Array,
): { bytes: Uint8Array; fields: Pick<DenseTensor, 'storage' | 'scaleAxis' | 'scales'> } {
  if (axis === undefined || dtype === 'fp32') return { bytes: t.data, fields: {} };
  const copy = new Uint8Array(t.data); // the imported bytes may sit unaligned in the ONNX file's buffer
  const values = new Float32Array(copy.buffer, 0, copy.length / 4);
  if (dtype === 'fp16') return { bytes: encodeHalf(values), fields: { storage: 'fp16' } };
  // int4 (or int3): as the precision pass chose (compiler/precision.ts), already rounded with channels as rows.
  if (dtype === 'int4' && int4 && int4.storage !== 'int8') return { bytes: packInt4(int4.int4), fields: { storage: int4.storage, scaleAxis: axis } };
  return int8Dense(values, t.dims, axis, moment);
}

/** The values a weight stored int8 per channel to nearest (`int8Dense` without a moment) stands for, as the runtime dequantises them. */
export function int8RoundTrip(values: Float32Array, dims: readonly number[], axis: number): Float32Array {
  const [rows, cols] = matrixShape(dims);
  const { q, scales } = int8Codes(values, rows, cols, axis as ScaleAxis);
  return dequantizeInt8(q, rows, cols, scales, axis as ScaleAxis);
}

/** Per-channel int8 of a weight (channels along `axis`). */
function int8Dense(values: Float32Array, dims: readonly number[], axis: number, moment?: Float64Array): { bytes: Uint8Array; fields: Pick<DenseTensor, 'storage' | 'scaleAxis' | 'scales'> } {
  // As a matrix whose rows (axis 0) or columns (axis 1 of a 2-D weight) are the channels: the factors' quantiser.
  const [rows, cols] = matrixShape(dims);
  const { q, scales } = int8Codes(values, rows, cols, axis as ScaleAxis, moment);
  return { bytes: new Uint8Array(q.buffer), fields: { storage: 'int8', scaleAxis: axis, scales: Array.from(scales) } };
}

/**
 * Codes and per-channel scales of a rows×cols weight, rounded against its inputs' moment where there is one
 * (compiler/gptq-int8.ts): channels on rows (axis 0: Conv, Gemm with transB) are rounded as they lie; channels on
 * columns (axis 1: MatMul [K, N]) are rounded transposed, so each channel's K inputs are what H describes.
 */
function int8Codes(values: Float32Array, rows: number, cols: number, axis: ScaleAxis, moment?: Float64Array): { q: Int8Array; scales: Float32Array } {
  const scales = int8Scales(values, rows, cols, axis);
  if (!moment) return { q: quantizeInt8(values, rows, cols, scales, axis), scales };
  if (axis === 0) return { q: roundedInt8(values, rows, cols, scales, moment), scales };
  const t = roundedInt8(transposeF32(values, rows, cols), cols, rows, scales, moment);
  return { q: Int8Array.from({ length: rows * cols }, (_, i) => t[(i % cols) * rows + Math.floor(i / cols)]), scales };
}

/** A weight as the matrix its channels index: [dims0, rest] (channels on rows, axis 0) or itself when 2-D. */
export function matrixShape(dims: readonly number[]): [number, number] {
  return [dims[0] ?? 1, dims.slice(1).reduce((a, b) => a * b, 1)];
}
