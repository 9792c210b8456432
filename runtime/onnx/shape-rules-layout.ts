/**
 * Shape rules of the ops that rearrange a tensor without computing on it (Reshape, Concat, Transpose, Squeeze,
 * Unsqueeze, Gather, Slice, Split, Shape…), values included, because exporters build shapes with them.
 */
import { intAttr, intsAttr } from '../../formats/attributes.js';
import { concatValues, elementCount, gatherValues, sliceValues, transposeValues } from './constant-folding.js';
import { axisOf, fold, intsFrom, isShape, type ShapeRule } from './shape-rule.js';

/** Reshape with ONNX's 0 (copy the input's dim, unless allowzero) and -1 (whatever is left). */
const reshape: ShapeRule = (n, [x, s], ctx) => {
  const target = intsFrom(n, 'shape', [x, s], 1);
  if (!target) return undefined;
  const allowZero = intAttr(n, 'allowzero', 0) === 1;
  const dims = target.map((d, k) => (d === 0 && !allowZero ? x?.shape?.[k] : d));
  if (dims.some((d) => d === undefined) || dims.filter((d) => d === -1).length > 1) return undefined;
  const count = x?.shape && elementCount(x.shape);
  const free = dims.indexOf(-1);
  if (free >= 0) {
    const rest = elementCount(dims.filter((d) => d !== -1) as number[]);
    if (count === undefined) return undefined;
    if (rest <= 0 || count % rest !== 0) ctx.fail(`reshapes [${x!.shape!.join(', ')}] (${count} values) to [${target.join(', ')}]`);
    dims[free] = count / rest;
  }
  const shape = dims as number[];
  if (count !== undefined && isShape(shape) && elementCount(shape) !== count) ctx.fail(`reshapes [${x!.shape!.join(', ')}] (${count} values) to [${target.join(', ')}] (${elementCount(shape)} values)`);
  return { shape, value: x?.value, integer: x?.integer };
};

const flatten: ShapeRule = (n, [x]) => {
  if (!x?.shape) return undefined;
  const axis = intAttr(n, 'axis', 1);
  const a = axis < 0 ? axis + x.shape.length : axis;
  return { shape: [elementCount(x.shape.slice(0, a)), elementCount(x.shape.slice(a))], value: x.value, integer: x.integer };
};

const concat: ShapeRule = (n, input) => {
  const shapes = input.map((i) => i?.shape);
  const first = shapes[0];
  if (!first || shapes.some((s) => !s || s.length !== first.length)) return undefined;
  const axis = axisOf(intAttr(n, 'axis', 0), first.length);
  if (axis === undefined || shapes.some((s) => s!.some((d, k) => k !== axis && d !== first[k]))) return undefined;
  const shape = first.map((d, k) => (k === axis ? shapes.reduce((sum, s) => sum + s![k]!, 0) : d));
  const parts = input.map((i) => ({ values: i!.value!, shape: i!.shape! }));
  const value = input.every((i) => i!.value) ? fold(shape, () => concatValues(parts, axis, shape)) : undefined;
  return { shape, value, integer: input[0]!.integer };
};

const transpose: ShapeRule = (n, [x]) => {
  if (!x?.shape) return undefined;
  const rank = x.shape.length;
  const perm = intsAttr(n, 'perm') ?? x.shape.map((_, k) => rank - 1 - k);
  if (perm.length !== rank || new Set(perm).size !== rank || perm.some((p) => axisOf(p, rank) !== p)) return undefined;
  const shape = perm.map((p) => x.shape![p]!);
  return { shape, value: x.value && fold(shape, () => transposeValues(x.value!, x.shape!, perm)), integer: x.integer };
};

const squeeze: ShapeRule = (n, input) => {
  const [x] = input;
  const given = intsFrom(n, 'axes', input, 1);
  if (!x?.shape || given === undefined) return undefined;
  const rank = x.shape.length;
  const axes = given && given.length > 0 ? given.map((a) => axisOf(a, rank)) : x.shape.flatMap((d, k) => (d === 1 ? [k] : []));
  if (axes.some((a) => a === undefined || x.shape![a] !== 1)) return undefined;
  return { shape: x.shape.filter((_, k) => !axes.includes(k)), value: x.value, integer: x.integer };
};

const unsqueeze: ShapeRule = (n, input) => {
  const [x] = input;
  const given = intsFrom(n, 'axes', input, 1);
  if (!x?.shape || !given) return undefined;
  const rank = x.shape.length + given.length;
  const axes = given.map((a) => axisOf(a, rank));
  if (axes.some((a) => a === undefined) || new Set(axes).size !== axes.length) return undefined;
  const rest = [...x.shape];
  return { shape: Array.from({ length: rank }, (_, k) => (axes.includes(k) ? 1 : rest.shift()!)), value: x.value, integer: x.integer };
};

const gather: ShapeRule = (n, [d, q]) => {
  if (!d?.shape || !q?.shape) return undefined;
  const axis = axisOf(intAttr(n, 'axis', 0), d.shape.length);
  if (axis === undefined) return undefined;
  const shape = [...d.shape.slice(0, axis), ...q.shape, ...d.shape.slice(axis + 1)];
  const size = d.shape[axis]!;
  const indices = q.value?.map((i) => (i < 0 ? i + size : i));
  const inRange = indices?.every((i) => Number.isInteger(i) && i >= 0 && i < size);
  const value = d.value && inRange ? fold(shape, () => gatherValues(d.value!, d.shape!, indices!, q.shape!, axis, shape)) : undefined;
  return { shape, value, integer: d.integer };
};

const gatherND: ShapeRule = (n, [d, q]) => {
  const batch = intAttr(n, 'batch_dims', 0);
  const k = q?.shape?.[q.shape.length - 1];
  if (!d?.shape || !q?.shape || k === undefined || batch + k > d.shape.length) return undefined;
  return { shape: [...q.shape.slice(0, -1), ...d.shape.slice(batch + k)] };
};

/** Slice (attributes before opset 10, inputs after), with ONNX's clamping of starts and ends. */
const slice: ShapeRule = (n, input) => {
  const x = input[0];
  const starts = intsFrom(n, 'starts', input, 1);
  const ends = intsFrom(n, 'ends', input, 2);
  const axes = intsFrom(n, 'axes', input, 3);
  const steps = intsFrom(n, 'steps', input, 4);
  if (!x?.shape || !starts || !ends || axes === undefined || steps === undefined || starts.length !== ends.length) return undefined;
  const shape = [...x.shape];
  const from = shape.map(() => 0);
  const stride = shape.map(() => 1);
  for (const [i, start] of starts.entries()) {
    const k = axisOf(axes?.[i] ?? i, shape.length);
    const step = steps?.[i] ?? 1;
    if (k === undefined || step === 0) return undefined;
    const dim = x.shape[k]!;
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + dim : v, lo), hi);
    const [b, e] = step > 0 ? [clamp(start, 0, dim), clamp(ends[i]!, 0, dim)] : [clamp(start, 0, dim - 1), clamp(ends[i]!, -1, dim - 1)];
    [shape[k], from[k], stride[k]] = [Math.max(0, Math.ceil((e - b) / step)), b, step];
  }
  return { shape, value: x.value && fold(shape, () => sliceValues(x.value!, x.shape!, shape, from, stride)), integer: x.integer };
};

/** Split by the `split` sizes (attribute or input) or into equal parts, the last one smaller (opset 18). */
const split: ShapeRule = (n, input) => {
  const x = input[0];
  const given = intsFrom(n, 'split', input, 1);
  if (!x?.shape || given === undefined) return undefined;
  const axis = axisOf(intAttr(n, 'axis', 0), x.shape.length);
  if (axis === undefined) return undefined;
  const dim = x.shape[axis]!;
  const part = Math.ceil(dim / n.outputs.length);
  const sizes = given ?? n.outputs.map((_, k) => Math.min(part, Math.max(0, dim - k * part)));
  if (sizes.length !== n.outputs.length || sizes.reduce((a, b) => a + b, 0) !== dim) return undefined;
  return sizes.map((size) => ({ shape: x.shape!.map((d, k) => (k === axis ? size : d)) }));
};

/** Shape (with opset 15's start and end) and Size: constants once the input's shape is known. */
const shapeOf: ShapeRule = (n, [x]) => {
  if (!x?.shape) return undefined;
  const end = n.attributes.some((a) => a.name === 'end') ? intAttr(n, 'end', x.shape.length) : x.shape.length;
  const value = x.shape.slice(intAttr(n, 'start', 0), end);
  return { shape: [value.length], value, integer: true };
};

const size: ShapeRule = (_, [x]) => (x?.shape ? { shape: [], value: [elementCount(x.shape)], integer: true } : undefined);

export const LAYOUT_RULES: Record<string, ShapeRule> = {
  Reshape: reshape,
  Flatten: flatten,
  Concat: concat,
  Transpose: transpose,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  Gather: gather,
  GatherND: gatherND,
  Slice: slice,
  Split: split,
  Shape: shapeOf,
  Size: size,
  Identity: (_, [x]) => x,
};
