/**
 * Semantic checks of a header's graph before any engine sees it. The format reader proves the header is what was
 * written (hash, offsets, dims, node order); it cannot prove the graph is sane, and a header that was changed and
 * re-hashed reaches the engine: onnxruntime then aborts the whole process on a pooling kernel larger than its
 * input (SIGFPE), allocates gigabytes for pads of a million, and protobufjs throws untyped errors on a damaged
 * attribute blob. So: every spatial op's attributes within the ONNX spec's ranges and a bound, every serialized
 * attribute decodable, and a light shape inference over the common ops (unknown shapes are skipped, never guessed)
 * that refuses a kernel larger than its padded input and any tensor past MAX_TENSOR_ELEMENTS. `lowrank inspect`
 * and `load()` run the same checks; each failure is an LrmCorruptHeaderError naming the node.
 */
import { LrmCorruptHeaderError } from '../../formats/errors.js';
import { intAttr, intsAttr, stringAttr } from '../../formats/attributes.js';
import type { ModelHeader, NodeDef } from '../../formats/model.js';
import { onnx } from './proto.js';

/** Largest kernel, stride, dilation or pad: far beyond any real network, far below what exhausts memory. */
export const MAX_SPATIAL_ATTRIBUTE = 4096;
/** Largest tensor shape inference lets through: 2^28 elements, 1 GiB as float32. */
export const MAX_TENSOR_ELEMENTS = 2 ** 28;

const SPATIAL_OPS = new Set(['Conv', 'ConvTranspose', 'MaxPool', 'AveragePool', 'LpPool']);
const SAME_SHAPE_OPS = new Set(['Relu', 'LeakyRelu', 'PRelu', 'Sigmoid', 'Tanh', 'Clip', 'BatchNormalization', 'Dropout', 'Identity', 'Softmax', 'HardSigmoid', 'HardSwish', 'Elu', 'Selu', 'Exp', 'Log', 'Sqrt', 'Neg', 'Abs', 'Erf', 'LRN', 'InstanceNormalization']);
const BROADCAST_OPS = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum']);

type Shape = number[] | undefined;

/** Throws LrmCorruptHeaderError for the first node whose attributes or inferred shapes are impossible. */
export function checkGraph(header: ModelHeader, fileName: string): void {
  const fail = (i: number, n: NodeDef, problem: string): never => {
    throw new LrmCorruptHeaderError(fileName, `node ${i} ("${n.name}", ${n.opType}) ${problem}`, 'the graph cannot run: recompile the model or ask its supplier for a new copy');
  };
  header.graph.nodes.forEach((n, i) => {
    for (const a of n.attributes) {
      if (a.kind !== 'onnx') continue;
      try {
        onnx.AttributeProto.decode(a.value);
      } catch {
        fail(i, n, `attribute "${a.name}" is not a readable ONNX attribute`);
      }
    }
    if (SPATIAL_OPS.has(n.opType)) checkSpatialAttributes(n, (p) => fail(i, n, p));
  });
  inferShapes(header, fail);
}

function checkSpatialAttributes(n: NodeDef, fail: (problem: string) => never): void {
  const ranges: Array<[string, number]> = [['kernel_shape', 1], ['strides', 1], ['dilations', 1], ['pads', 0], ['output_padding', 0]];
  for (const [name, min] of ranges) {
    const v = intsAttr(n, name);
    const bad = v?.find((x) => !Number.isSafeInteger(x) || x < min || x > MAX_SPATIAL_ATTRIBUTE);
    if (bad !== undefined) fail(`has ${name} ${bad}; each must be ${min} to ${MAX_SPATIAL_ATTRIBUTE}`);
  }
  const kernel = intsAttr(n, 'kernel_shape');
  if (n.opType !== 'Conv' && n.opType !== 'ConvTranspose' && !kernel) fail('has no kernel_shape');
  const rank = kernel?.length;
  if (rank !== undefined) {
    for (const [name, length] of [['strides', rank], ['dilations', rank], ['pads', 2 * rank]] as const) {
      const v = intsAttr(n, name);
      if (v && v.length !== length) fail(`has ${v.length} ${name} for a ${rank}-D kernel (expected ${length})`);
    }
  }
  const group = intAttr(n, 'group', 1);
  if (!Number.isSafeInteger(group) || group < 1) fail(`has group ${group}; it must be at least 1`);
}

/** Shapes of the common ops from the graph inputs (symbolic batch = 1) and weights; unknown stays unknown. */
function inferShapes(header: ModelHeader, fail: (i: number, n: NodeDef, problem: string) => never): void {
  const shapes = new Map<string, Shape>();
  for (const v of header.graph.inputs) {
    const dims = v.shape.map((d, k) => (typeof d === 'number' ? d : k === 0 ? 1 : NaN));
    shapes.set(v.name, dims.every(Number.isFinite) ? dims : undefined);
  }
  for (const t of header.graph.initializers) shapes.set(t.name, t.dims);
  for (const l of header.layers) shapes.set(l.weight, l.weightDims);
  header.graph.nodes.forEach((n, i) => {
    const input = n.inputs.map((name) => (name === '' ? undefined : shapes.get(name)));
    const out = outputShape(n, input, (problem) => fail(i, n, problem));
    if (out) {
      const elements = out.reduce((a, b) => a * b, 1);
      if (out.some((d) => !Number.isSafeInteger(d) || d < 0)) fail(i, n, `would output shape [${out.join(', ')}]`);
      if (elements > MAX_TENSOR_ELEMENTS) fail(i, n, `would output [${out.join(', ')}], ${elements} values (more than ${MAX_TENSOR_ELEMENTS})`);
    }
    n.outputs.forEach((name, k) => shapes.set(name, k === 0 ? out : undefined));
  });
}

function outputShape(n: NodeDef, input: Shape[], fail: (problem: string) => never): Shape {
  const x = input[0];
  if (SAME_SHAPE_OPS.has(n.opType)) return x;
  if (BROADCAST_OPS.has(n.opType)) return broadcast(input);
  if (!x) return undefined;
  switch (n.opType) {
    case 'Conv':
    case 'MaxPool':
    case 'AveragePool':
    case 'LpPool':
      return pooled(n, x, input[1], fail);
    case 'GlobalAveragePool':
    case 'GlobalMaxPool':
      return [...x.slice(0, 2), ...x.slice(2).map(() => 1)];
    case 'Flatten': {
      const axis = intAttr(n, 'axis', 1);
      const a = axis < 0 ? axis + x.length : axis;
      return [x.slice(0, a).reduce((p, d) => p * d, 1), x.slice(a).reduce((p, d) => p * d, 1)];
    }
    case 'Gemm': {
      const b = input[1];
      if (!b || x.length !== 2 || b.length !== 2) return undefined;
      return [intAttr(n, 'transA', 0) ? x[1]! : x[0]!, intAttr(n, 'transB', 0) ? b[0]! : b[1]!];
    }
    default:
      return undefined; // Reshape, Concat, … : not inferred here, so nothing after them is checked
  }
}

/** Conv and pooling output: checks the (dilated) kernel fits the padded input, as onnxruntime assumes. */
function pooled(n: NodeDef, x: number[], w: Shape, fail: (problem: string) => never): Shape {
  const spatial = x.slice(2);
  const kernel = intsAttr(n, 'kernel_shape') ?? w?.slice(2);
  if (!kernel || kernel.length !== spatial.length) return undefined;
  const strides = intsAttr(n, 'strides') ?? kernel.map(() => 1);
  const dilations = intsAttr(n, 'dilations') ?? kernel.map(() => 1);
  const same = stringAttr(n, 'auto_pad', 'NOTSET').startsWith('SAME');
  const pads = intsAttr(n, 'pads') ?? kernel.flatMap(() => [0, 0]);
  const out = spatial.map((size, k) => {
    if (same) return Math.ceil(size / strides[k]!);
    const padded = size + pads[k]! + pads[k + spatial.length]!;
    const reach = (kernel[k]! - 1) * dilations[k]! + 1;
    if (reach > padded) fail(`has a ${kernel.join('×')} kernel (dilated ${reach}) larger than its ${spatial.join('×')} input (${padded} padded)`);
    return Math.floor((padded - reach) / strides[k]!) + 1;
  });
  const channels = n.opType === 'Conv' ? w?.[0] : x[1];
  if (n.opType === 'Conv' && w && x[1] !== undefined && w[1]! * intAttr(n, 'group', 1) !== x[1]) {
    fail(`has ${x[1]} input channels, but its weight takes ${w[1]} per group × group ${intAttr(n, 'group', 1)}`);
  }
  return channels === undefined ? undefined : [x[0]!, channels, ...out];
}

function broadcast(input: Shape[]): Shape {
  const known = input.filter((s): s is number[] => s !== undefined);
  if (known.length !== input.length || known.length === 0) return undefined;
  const rank = Math.max(...known.map((s) => s.length));
  const out: number[] = [];
  for (let k = 0; k < rank; k++) {
    const dims = known.map((s) => s[s.length - rank + k] ?? 1);
    const big = dims.filter((d) => d !== 1);
    if (new Set(big).size > 1) return undefined; // not broadcastable: the engine will say so
    out.push(big[0] ?? 1);
  }
  return out;
}
