/**
 * Shape rules of the ops that compute: element-wise (same shape, or numpy broadcasting, folded on small integer
 * values since exporters do shape arithmetic with Add/Sub/Mul/Div), Cast, Gemm, MatMul, reductions and the
 * quantised forms (QLinear*) of the same.
 */
import { intAttr } from '../../formats/attributes.js';
import { DataType } from '../../formats/model.js';
import { broadcastValues, elementCount } from './constant-folding.js';
import { isIntegerType } from './constant-values.js';
import { axisOf, broadcastShapes, fold, intsFrom, type Known, type ShapeRule } from './shape-rule.js';

const SAME_SHAPE_OPS = ['Relu', 'LeakyRelu', 'PRelu', 'Sigmoid', 'Tanh', 'Clip', 'BatchNormalization', 'Dropout', 'Softmax', 'LogSoftmax', 'HardSigmoid', 'HardSwish', 'Elu', 'Selu', 'Exp', 'Log', 'Sqrt', 'Reciprocal', 'Neg', 'Abs', 'Erf', 'Sin', 'Cos', 'Not', 'Floor', 'Ceil', 'Round', 'Sign', 'Softplus', 'Gelu', 'LRN', 'InstanceNormalization', 'LayerNormalization', 'QuantizeLinear', 'DequantizeLinear'];

/** Element-wise ops folded on known values; the rest only broadcast shapes. */
const FOLDED: Partial<Record<string, (a: number, b: number, integer: boolean) => number>> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Div: (a, b, integer) => (integer ? Math.trunc(a / b) : a / b),
  Max: (a, b) => Math.max(a, b),
  Min: (a, b) => Math.min(a, b),
  Equal: (a, b) => Number(a === b),
  Less: (a, b) => Number(a < b),
  Greater: (a, b) => Number(a > b),
};
const BROADCAST_OPS = [...Object.keys(FOLDED), 'Pow', 'Sum', 'Mean', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'Where', 'Mod', 'BitShift'];
const COMPARISONS = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor']);

const broadcast: ShapeRule = (n, input) => {
  const shape = broadcastShapes(input.map((i) => i?.shape));
  if (!shape) return undefined;
  const integer = COMPARISONS.has(n.opType) || input.every((i) => i?.integer);
  const [a, b] = input;
  const op = FOLDED[n.opType];
  const value = op && input.length === 2 && a?.value && b?.value ? fold(shape, () => broadcastValues(a.value!, a.shape!, b.value!, b.shape!, shape, (x, y) => op(x, y, integer))) : undefined;
  return { shape, value, integer };
};

/** QLinearAdd and the like: the float inputs are 0 and 3, the rest scales and zero points. */
const quantisedBroadcast: ShapeRule = (n, input, ctx) => broadcast({ ...n, opType: 'QLinear' }, [input[0], input[3]], ctx);

const cast: ShapeRule = (n, [x]) => {
  if (!x?.shape) return undefined;
  const to = intAttr(n, 'to', DataType.FLOAT);
  const integer = isIntegerType(to);
  const value = x.value?.map((v) => (to === DataType.BOOL ? Number(v !== 0) : integer ? Math.trunc(v) : v));
  return { shape: x.shape, value, integer };
};

const gemm: ShapeRule = (n, [a, b]) => {
  const [x, w] = [a?.shape, b?.shape];
  if (!x || !w || x.length !== 2 || w.length !== 2) return undefined;
  return { shape: [intAttr(n, 'transA', 0) ? x[1]! : x[0]!, intAttr(n, 'transB', 0) ? w[0]! : w[1]!] };
};

/** numpy.matmul: 1-D operands promoted and dropped again, batch dims broadcast. */
function matMulShape(a: number[] | undefined, b: number[] | undefined): Known | undefined {
  if (!a || !b || a.length === 0 || b.length === 0) return undefined;
  const [a2, b2] = [a.length === 1 ? [1, a[0]!] : a, b.length === 1 ? [b[0]!, 1] : b];
  if (a2[a2.length - 1] !== b2[b2.length - 2]) return undefined;
  const batch = broadcastShapes([a2.slice(0, -2), b2.slice(0, -2)]);
  return batch && { shape: [...batch, ...(a.length === 1 ? [] : [a2[a2.length - 2]!]), ...(b.length === 1 ? [] : [b2[b2.length - 1]!])] };
}

/** Reductions: axes as attribute or (ReduceSum from opset 13, the rest from 18) input; all axes when none. */
const reduce: ShapeRule = (n, input) => {
  const x = input[0];
  const given = intsFrom(n, 'axes', input, 1);
  if (!x?.shape || given === undefined) return undefined;
  const rank = x.shape.length;
  if ((!given || given.length === 0) && intAttr(n, 'noop_with_empty_axes', 0) === 1) return { shape: x.shape, value: x.value, integer: x.integer };
  const axes = given && given.length > 0 ? given.map((a) => axisOf(a, rank)) : x.shape.map((_, k) => k);
  if (axes.some((a) => a === undefined)) return undefined;
  const keep = intAttr(n, 'keepdims', 1) === 1;
  const shape = keep ? x.shape.map((d, k) => (axes.includes(k) ? 1 : d)) : x.shape.filter((_, k) => !axes.includes(k));
  // Folded only where all of a vector reduces to one value (ReduceProd of a Shape: an element count).
  const all = REDUCED[n.opType];
  const value = all && x.value && x.value.length > 0 && elementCount(shape) === 1 ? fold(shape, () => [x.value!.reduce((a, b) => all(a, b))]) : undefined;
  return { shape, value, integer: x.integer };
};
const REDUCED: Partial<Record<string, (a: number, b: number) => number>> = { ReduceProd: (a, b) => a * b, ReduceSum: (a, b) => a + b, ReduceMax: (a, b) => Math.max(a, b), ReduceMin: (a, b) => Math.min(a, b) };

const same: ShapeRule = (_, [x]) => x?.shape && { shape: x.shape };

export const COMPUTE_RULES: Record<string, ShapeRule> = {
  ...Object.fromEntries(SAME_SHAPE_OPS.map((op) => [op, same])),
  ...Object.fromEntries(BROADCAST_OPS.map((op) => [op, broadcast])),
  ...Object.fromEntries(['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSumExp', 'ReduceSumSquare'].map((op) => [op, reduce])),
  QLinearAdd: quantisedBroadcast,
  QLinearMul: quantisedBroadcast,
  Cast: cast,
  Gemm: gemm,
  MatMul: (_, [a, b]) => matMulShape(a?.shape, b?.shape),
  QLinearMatMul: (_, input) => matMulShape(input[0]?.shape, input[3]?.shape),
};
