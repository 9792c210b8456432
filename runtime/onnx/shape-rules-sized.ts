/**
 * Shape rules of the ops whose output size comes from the values of constant inputs (Pad's pads, Resize's scales or
 * sizes, Tile's repeats, Expand's and ConstantOfShape's shape, Range's bounds): a re-hashed file can set a Resize
 * scale of 10^5 or repeats of 10^6 there and make the engine allocate gigabytes. Where the data input's shape is
 * unknown, the size the constants alone force (every unknown dim at least 1) is still held to the cap.
 */
import { stringAttr } from '../../formats/attributes.js';
import { elementCount } from './constant-folding.js';
import { constantNodeValue, tensorAttribute } from './constant-values.js';
import { axisOf, broadcastShapes, fold, intsFrom, type ShapeRule } from './shape-rule.js';

/** Pad: pads as attribute (before opset 11) or input, on every axis or (opset 18) on the listed ones. */
const pad: ShapeRule = (n, input, ctx) => {
  const x = input[0];
  const pads = intsFrom(n, 'pads', input, 1);
  const axes = n.inputs[3] ? input[3]?.value : null;
  const half = (pads?.length ?? 0) / 2;
  if (!pads || axes === undefined || !Number.isInteger(half)) return undefined;
  const rank = x?.shape?.length ?? (axes ? undefined : half);
  if (rank === undefined) return undefined;
  const which = axes ? axes.map((a) => axisOf(a, rank)) : Array.from({ length: half }, (_, k) => k);
  if (which.length !== half || which.some((a) => a === undefined)) return undefined;
  const grow = (shape: number[]) => shape.map((d, k) => (which.includes(k) ? d + pads[which.indexOf(k)]! + pads[which.indexOf(k) + half]! : d));
  if (!x?.shape) return void ctx.atLeast(grow(new Array<number>(rank).fill(1)));
  return x.shape.length === rank ? { shape: grow(x.shape) } : undefined;
};

/** Resize (X, scales) in opset 10, (X, roi, scales, sizes) after; Upsample with scales as attribute or input. */
const resize: ShapeRule = (n, input, ctx) => {
  const x = input[0];
  const attribute = n.attributes.find((a) => a.name === 'scales');
  const at = n.inputs.length === 2 ? 1 : 2;
  const scales = attribute?.kind === 'floats' ? attribute.value : n.inputs[at] ? input[at]?.value : [];
  const sizes = n.inputs[3] ? input[3]?.value : [];
  // Given but unknown, or (opset 18) resizing only some axes: not inferred.
  if (!scales || !sizes || n.attributes.some((a) => a.name === 'axes')) return undefined;
  if (sizes.length > 0) {
    // keep_aspect_ratio_policy (opset 18) may give more than `sizes` along some axes: `sizes` is then a floor.
    if (stringAttr(n, 'keep_aspect_ratio_policy', 'stretch') === 'stretch') return { shape: sizes };
    return void ctx.atLeast(sizes);
  }
  if (scales.length === 0) return undefined;
  const scaled = (shape: number[]) => shape.map((d, k) => Math.floor(d * scales[k]!));
  if (!x?.shape) return void ctx.atLeast(scaled(scales.map(() => 1)));
  return x.shape.length === scales.length ? { shape: scaled(x.shape) } : undefined;
};

const tile: ShapeRule = (_, [x, r], ctx) => {
  const repeats = r?.value;
  if (!repeats) return undefined;
  if (!x?.shape) return void ctx.atLeast(repeats);
  return x.shape.length === repeats.length ? { shape: x.shape.map((d, k) => d * repeats[k]!) } : undefined;
};

const expand: ShapeRule = (_, [x, s], ctx) => {
  const target = s?.value;
  if (!target) return undefined;
  if (!x?.shape) return void ctx.atLeast(target);
  const shape = broadcastShapes([x.shape, target]);
  return shape && { shape };
};

const constantOfShape: ShapeRule = (n, [s]) => {
  const shape = s?.value;
  if (!shape) return undefined;
  const attribute = n.attributes.find((a) => a.name === 'value');
  const fill = attribute?.kind === 'onnx' ? tensorAttribute(attribute.value) : undefined;
  return { shape, value: fold(shape, () => new Array<number>(elementCount(shape)).fill(fill?.values[0] ?? 0)), integer: fill?.integer ?? false };
};

const range: ShapeRule = (_, input) => {
  const [start, limit, delta] = input.map((i) => (i?.value?.length === 1 ? i.value[0] : undefined));
  if (start === undefined || limit === undefined || delta === undefined || delta === 0) return undefined;
  const shape = [Math.max(Math.ceil((limit - start) / delta), 0)];
  return { shape, value: fold(shape, () => Array.from({ length: shape[0]! }, (_, i) => start + i * delta)), integer: input[0]!.integer };
};

const constant: ShapeRule = (n) => {
  const c = constantNodeValue(n);
  return c && { shape: c.dims, value: c.values, integer: c.integer };
};

export const SIZED_RULES: Record<string, ShapeRule> = {
  Pad: pad,
  Resize: resize,
  Upsample: resize,
  Tile: tile,
  Expand: expand,
  ConstantOfShape: constantOfShape,
  Range: range,
  Constant: constant,
};
