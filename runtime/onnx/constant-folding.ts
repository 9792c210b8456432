/**
 * Arithmetic on the small constant tensors that exporters compute shapes with (Shape → Gather → Unsqueeze →
 * Concat → Reshape, torch's Pad pattern Concat → Reshape → Slice → Transpose → Cast): the graph check folds them so
 * the sizes they end in can be held to the tensor cap (shape-inference.ts). Values are row-major number arrays of
 * at most MAX_CONSTANT_VALUES; callers check the output count before calling.
 */
import { MAX_CONSTANT_VALUES } from './constant-values.js';

export const elementCount = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Whether a tensor of this shape is small enough to fold. */
export const foldable = (shape: readonly number[]): boolean => elementCount(shape) <= MAX_CONSTANT_VALUES;

function strides(shape: readonly number[]): number[] {
  const out = shape.map(() => 1);
  for (let k = shape.length - 2; k >= 0; k--) out[k] = out[k + 1]! * shape[k + 1]!;
  return out;
}

/** The output of `shape`, each element taken from `source` at its multi-index. */
function build(shape: readonly number[], source: (index: number[]) => number): number[] {
  const out: number[] = [];
  const index = shape.map(() => 0);
  for (let i = 0; i < elementCount(shape); i++) {
    out.push(source(index));
    for (let k = shape.length - 1; k >= 0 && ++index[k]! === shape[k]; k--) index[k] = 0;
  }
  return out;
}

const at = (values: readonly number[], shape: readonly number[], index: readonly number[]): number => {
  const s = strides(shape);
  return values[index.reduce((sum, v, k) => sum + v * s[k]!, 0)]!;
};

export function transposeValues(values: readonly number[], shape: readonly number[], perm: readonly number[]): number[] {
  const outShape = perm.map((p) => shape[p]!);
  return build(outShape, (index) => at(values, shape, shape.map((_, k) => index[perm.indexOf(k)]!)));
}

/** Output element i along axis k comes from input element starts[k] + i·steps[k]. */
export function sliceValues(values: readonly number[], shape: readonly number[], outShape: readonly number[], starts: readonly number[], steps: readonly number[]): number[] {
  return build(outShape, (index) => at(values, shape, index.map((v, k) => starts[k]! + v * steps[k]!)));
}

export function concatValues(parts: ReadonlyArray<{ values: readonly number[]; shape: readonly number[] }>, axis: number, outShape: readonly number[]): number[] {
  return build(outShape, (index) => {
    let offset = index[axis]!;
    const part = parts.find((p) => (offset < p.shape[axis]! ? true : ((offset -= p.shape[axis]!), false)))!;
    return at(part.values, part.shape, index.map((v, k) => (k === axis ? offset : v)));
  });
}

/** Gather along `axis` with indices already made non-negative and in range. */
export function gatherValues(data: readonly number[], dataShape: readonly number[], indices: readonly number[], indicesShape: readonly number[], axis: number, outShape: readonly number[]): number[] {
  const q = indicesShape.length;
  return build(outShape, (index) => {
    const which = at(indices, indicesShape, index.slice(axis, axis + q));
    return at(data, dataShape, [...index.slice(0, axis), which, ...index.slice(axis + q)]);
  });
}

/** Numpy-style broadcast of two values through `op`. */
export function broadcastValues(a: readonly number[], aShape: readonly number[], b: readonly number[], bShape: readonly number[], outShape: readonly number[], op: (x: number, y: number) => number): number[] {
  const pick = (values: readonly number[], shape: readonly number[], index: number[]) => {
    const own = index.slice(index.length - shape.length).map((v, k) => (shape[k] === 1 ? 0 : v));
    return at(values, shape, own);
  };
  return build(outShape, (index) => op(pick(a, aShape, index), pick(b, bShape, index)));
}
