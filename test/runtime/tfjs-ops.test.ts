/**
 * Op variants that the real models do not reach (grouped and 1-D convs, pooling modes, axes, steps, …), each in a
 * small generated graph run on tfjs-wasm (and tfjs-webgpu where SwiftShader is installed) and on ort-node-cpu with
 * the same pseudo-random input. 4-D cases start with a
 * Conv so the op also meets its input in the NHWC layout the interpreter keeps between convs.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodeHalf } from '../../formats/float16.js';
import { onnx, type AttributeProto, type NodeProto, type TensorProto } from '../../runtime/onnx/proto.js';
import { EngineUnsupportedModelError, engines, type EngineId, type HostTensor } from '../../runtime/node.js';
import { maxRelativeError } from './engine-agreement.js';

const T = onnx.TensorProto.DataType;
const A = onnx.AttributeProto.AttributeType;

/** Deterministic pseudo-random values in [-1, 1) (a fixed LCG: the same graph and input on every run). */
function values(n: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 31) - 1);
}

const ints = (name: string, v: number[]): AttributeProto => ({ name, type: A.INTS, ints: v });
const int = (name: string, v: number): AttributeProto => ({ name, type: A.INT, i: v });
const float = (name: string, v: number): AttributeProto => ({ name, type: A.FLOAT, f: v });
const str = (name: string, v: string): AttributeProto => ({ name, type: A.STRING, s: new TextEncoder().encode(v) });
const floats = (name: string, dims: number[], seed: number): TensorProto => ({ name, dataType: T.FLOAT, dims, floatData: values(dims.reduce((a, b) => a * b, 1), seed) });
const int64s = (name: string, v: number[]): TensorProto => ({ name, dataType: T.INT64, dims: [v.length], int64Data: v });

interface OpCase {
  name: string;
  input: number[];
  nodes: NodeProto[];
  initializers: TensorProto[];
  opset?: number;
  /** The batch dim is symbolic and the case runs again with one more sample (values computed from shapes must follow). */
  batchFree?: boolean;
}

/** A Conv from `x` (C channels) to `c` (C2 channels), 3×3, so the next op sees an NHWC value. */
function convFirst(c: number, c2: number): { nodes: NodeProto[]; initializers: TensorProto[] } {
  return {
    nodes: [{ name: 'conv0', opType: 'Conv', input: ['x', 'w0', 'b0'], output: ['c'], attribute: [ints('pads', [1, 1, 1, 1])] }],
    initializers: [floats('w0', [c2, c, 3, 3], 7), floats('b0', [c2], 8)],
  };
}

const conv = convFirst(3, 8);
const CASES: OpCase[] = [
  {
    name: 'grouped Conv (group 2, dilation 2, asymmetric pads)', input: [1, 4, 11, 9],
    nodes: [{ name: 'g', opType: 'Conv', input: ['x', 'w', 'b'], output: ['y'], attribute: [int('group', 2), ints('dilations', [2, 2]), ints('pads', [1, 0, 2, 1])] }],
    initializers: [floats('w', [6, 2, 3, 3], 1), floats('b', [6], 2)],
  },
  {
    name: 'grouped Conv with a folded ReLU6 (Clip 0..6), the conv output also read by an Add (not folded)', input: [1, 4, 6, 6],
    initializers: [floats('w', [6, 2, 3, 3], 31), floats('w2', [6, 2, 1, 1], 32), { name: 'lo', dataType: T.FLOAT, dims: [], floatData: [0] }, { name: 'hi', dataType: T.FLOAT, dims: [], floatData: [6] }],
    nodes: [
      { name: 'g', opType: 'Conv', input: ['x', 'w'], output: ['c'], attribute: [int('group', 2)] },
      { name: 'r6', opType: 'Clip', input: ['c', 'lo', 'hi'], output: ['a'] },
      { name: 'g2', opType: 'Conv', input: ['a', 'w2'], output: ['c2'], attribute: [int('group', 3)] },
      { name: 'lr', opType: 'LeakyRelu', input: ['c2'], output: ['l'], attribute: [float('alpha', 0.2)] },
      { name: 'add', opType: 'Add', input: ['l', 'c2'], output: ['y'] },
    ],
  },
  {
    name: 'depthwise Conv with channel multiplier 2 and SAME_LOWER', input: [1, 3, 10, 10],
    nodes: [{ name: 'd', opType: 'Conv', input: ['x', 'w'], output: ['y'], attribute: [int('group', 3), str('auto_pad', 'SAME_LOWER'), ints('strides', [2, 2])] }],
    initializers: [floats('w', [6, 1, 4, 4], 3)],
  },
  {
    name: '1-D Conv', input: [2, 3, 17],
    nodes: [{ name: 'c1', opType: 'Conv', input: ['x', 'w', 'b'], output: ['y'], attribute: [ints('pads', [2, 1]), ints('strides', [2])] }],
    initializers: [floats('w', [5, 3, 4], 4), floats('b', [5], 5)],
  },
  {
    name: 'MaxPool ceil_mode after a conv', input: [1, 3, 10, 10], initializers: conv.initializers,
    nodes: [...conv.nodes, { name: 'p', opType: 'MaxPool', input: ['c'], output: ['y'], attribute: [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), int('ceil_mode', 1)] }],
  },
  {
    name: 'AveragePool counting pads', input: [1, 3, 9, 9], initializers: conv.initializers,
    nodes: [...conv.nodes, { name: 'p', opType: 'AveragePool', input: ['c'], output: ['y'], attribute: [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1]), int('count_include_pad', 1)] }],
  },
  {
    name: 'AveragePool excluding pads', input: [1, 3, 9, 9], initializers: conv.initializers,
    nodes: [...conv.nodes, { name: 'p', opType: 'AveragePool', input: ['c'], output: ['y'], attribute: [ints('kernel_shape', [2, 3]), ints('pads', [1, 0, 0, 1]), ints('strides', [2, 1])] }],
  },
  {
    name: 'BatchNormalization, then GlobalMaxPool', input: [2, 3, 6, 6],
    initializers: [...conv.initializers, floats('s', [8], 11), floats('bb', [8], 12), floats('m', [8], 13), { ...floats('v', [8], 14), floatData: values(8, 14).map((x) => 1 + x * x) }],
    nodes: [...conv.nodes, { name: 'bn', opType: 'BatchNormalization', input: ['c', 's', 'bb', 'm', 'v'], output: ['n'] }, { name: 'gm', opType: 'GlobalMaxPool', input: ['n'], output: ['y'] }],
  },
  {
    name: 'Softmax over the channel axis (opset 13) of an NHWC value', input: [1, 3, 5, 5], initializers: conv.initializers,
    nodes: [...conv.nodes, { name: 's', opType: 'Softmax', input: ['c'], output: ['y'], attribute: [int('axis', 1)] }],
  },
  {
    name: 'ReduceMean over H, W keeping dims, then Mul (squeeze-excite)', input: [1, 3, 6, 6], initializers: conv.initializers, opset: 13,
    nodes: [
      ...conv.nodes,
      { name: 'r', opType: 'ReduceMean', input: ['c'], output: ['m'], attribute: [ints('axes', [2, 3])] },
      { name: 'sg', opType: 'Sigmoid', input: ['m'], output: ['g'] },
      { name: 'mul', opType: 'Mul', input: ['c', 'g'], output: ['y'] },
    ],
  },
  {
    name: 'Slice with steps and negative starts', input: [2, 6, 7, 8],
    initializers: [int64s('st', [-5, 1]), int64s('en', [100, 7]), int64s('ax', [1, 3]), int64s('sp', [2, 3])],
    nodes: [{ name: 's', opType: 'Slice', input: ['x', 'st', 'en', 'ax', 'sp'], output: ['y'] }],
  },
  {
    name: 'Gather with negative indices, Pad reflect', input: [3, 4, 5],
    initializers: [{ name: 'i', dataType: T.INT64, dims: [2, 2], int64Data: [-1, 0, 2, -3] }, int64s('pads', [0, 1, 0, 2])],
    nodes: [
      { name: 'g', opType: 'Gather', input: ['x', 'i'], output: ['gx'], attribute: [int('axis', 1)] },
      { name: 'r', opType: 'Reshape', input: ['gx', 'shape'], output: ['r'] },
      { name: 'p', opType: 'Pad', input: ['r', 'pads'], output: ['y'], attribute: [str('mode', 'reflect')] },
    ],
  },
  {
    name: 'Resize nearest (asymmetric, floor) and linear (align_corners) after a conv', input: [1, 3, 5, 7], opset: 13,
    initializers: [...conv.initializers, { name: 'sc', dataType: T.FLOAT, dims: [4], floatData: [1, 1, 2, 3] }, int64s('sz', [1, 8, 9, 4])],
    nodes: [
      ...conv.nodes,
      { name: 'up', opType: 'Resize', input: ['c', '', 'sc'], output: ['u'], attribute: [str('mode', 'nearest'), str('coordinate_transformation_mode', 'asymmetric'), str('nearest_mode', 'floor')] },
      { name: 'lin', opType: 'Resize', input: ['u', '', '', 'sz'], output: ['y'], attribute: [str('mode', 'linear'), str('coordinate_transformation_mode', 'align_corners')] },
    ],
  },
  {
    name: 'float16 (raw_data and int32_data), float64 and int8 initializers; Cast + Mul dequantisation', input: [2, 6],
    initializers: [
      { name: 'h16', dataType: T.FLOAT16, dims: [6], rawData: encodeHalf(values(6, 41)) },
      { name: 'i16', dataType: T.FLOAT16, dims: [6], int32Data: Array.from(new Uint16Array(encodeHalf(values(6, 42)).buffer)) },
      { name: 'f64', dataType: T.DOUBLE, dims: [6], doubleData: values(6, 43) },
      { name: 'q8', dataType: T.INT8, dims: [6], rawData: new Uint8Array(Int8Array.from(values(6, 44), (v) => Math.round(v * 127)).buffer) },
      { name: 'qs', dataType: T.FLOAT, dims: [], floatData: [1 / 127] },
    ],
    nodes: [
      { name: 'c1', opType: 'Cast', input: ['h16'], output: ['a'], attribute: [int('to', T.FLOAT)] },
      { name: 'c2', opType: 'Cast', input: ['i16'], output: ['b'], attribute: [int('to', T.FLOAT)] },
      { name: 'c3', opType: 'Cast', input: ['f64'], output: ['c'], attribute: [int('to', T.FLOAT)] },
      { name: 'm', opType: 'Mul', input: ['x', 'a'], output: ['xa'] },
      { name: 'ab', opType: 'Add', input: ['xa', 'b'], output: ['xb'] },
      { name: 's', opType: 'Sub', input: ['xb', 'c'], output: ['xc'] },
      { name: 'c4', opType: 'Cast', input: ['q8'], output: ['q'], attribute: [int('to', T.FLOAT)] },
      { name: 'dq', opType: 'Mul', input: ['q', 'qs'], output: ['w'] },
      { name: 'last', opType: 'Mul', input: ['xc', 'w'], output: ['y'] },
    ],
  },
  {
    name: 'Gemm with transA, alpha and beta; MatMul with a 1-D operand', input: [5, 3],
    initializers: [floats('B', [5, 4], 21), floats('C', [4], 22), floats('v', [4], 23)],
    nodes: [
      { name: 'g', opType: 'Gemm', input: ['x', 'B', 'C'], output: ['h'], attribute: [int('transA', 1), float('alpha', 0.5), float('beta', 2)] },
      { name: 'm', opType: 'MatMul', input: ['h', 'v'], output: ['y'] },
    ],
  },
  {
    name: 'Shape arithmetic: Shape, Gather, Unsqueeze, Concat into Reshape; the batch size as a factor; HardSwish; Split', input: [2, 3, 4, 4], opset: 14, batchFree: true,
    initializers: [...conv.initializers, int64s('zero', [0]), int64s('minus1', [-1]), { name: 'i0', dataType: T.INT64, dims: [], int64Data: [0] }],
    nodes: [
      ...conv.nodes,
      { name: 'sh', opType: 'Shape', input: ['c'], output: ['s'] },
      { name: 'n', opType: 'Gather', input: ['s', 'i0'], output: ['n0'] },
      { name: 'u', opType: 'Unsqueeze', input: ['n0', 'zero'], output: ['n1'] },
      { name: 'cat', opType: 'Concat', input: ['n1', 'minus1'], output: ['shape2'], attribute: [int('axis', 0)] },
      { name: 'r', opType: 'Reshape', input: ['c', 'shape2'], output: ['flat'] },
      { name: 'hs', opType: 'HardSwish', input: ['flat'], output: ['h'] },
      // The batch size as a float factor: a value computed from shapes used as a tensor, different on every run.
      { name: 'nf', opType: 'Cast', input: ['n0'], output: ['batch'], attribute: [int('to', T.FLOAT)] },
      { name: 'scale', opType: 'Mul', input: ['h', 'batch'], output: ['hb'] },
      { name: 'sp', opType: 'Split', input: ['hb'], output: ['y', 'unused'], attribute: [int('axis', 1)] },
    ],
  },
  {
    name: 'NonZero of a Relu (a data-dependent count), Cast to float', input: [2, 3, 4], opset: 18,
    initializers: [],
    nodes: [
      { name: 'r', opType: 'Relu', input: ['x'], output: ['r'] },
      { name: 'nz', opType: 'NonZero', input: ['r'], output: ['nz'] },
      { name: 'f', opType: 'Cast', input: ['nz'], output: ['y'], attribute: [int('to', T.FLOAT)] },
    ],
  },
  {
    name: 'NonZero of scalars (counted as one element: [1, 0] and [1, 1]), joined by Concat', input: [3, 4], opset: 18,
    initializers: [],
    nodes: [
      { name: 'lo', opType: 'ReduceMin', input: ['x'], output: ['lo'], attribute: [int('keepdims', 0)] },
      { name: 'hi', opType: 'ReduceMax', input: ['x'], output: ['hi'], attribute: [int('keepdims', 0)] },
      { name: 'r', opType: 'Relu', input: ['lo'], output: ['zero'] },
      { name: 'nz0', opType: 'NonZero', input: ['zero'], output: ['n0'] },
      { name: 'nz1', opType: 'NonZero', input: ['hi'], output: ['n1'] },
      { name: 'cat', opType: 'Concat', input: ['n0', 'n1'], output: ['n'], attribute: [int('axis', 1)] },
      { name: 'f', opType: 'Cast', input: ['n'], output: ['y'], attribute: [int('to', T.FLOAT)] },
    ],
  },
  {
    name: 'ScatterND into the input: slices (k=1) at negative indices, rows (k=2) with batched indices, elements (k=3)', input: [4, 3, 5], opset: 18,
    initializers: [
      { name: 'i1', dataType: T.INT64, dims: [2, 1], int64Data: [-1, 1] }, floats('u1', [2, 3, 5], 51),
      { name: 'i2', dataType: T.INT64, dims: [2, 1, 2], int64Data: [0, -1, 3, 2] }, floats('u2', [2, 1, 5], 52),
      { name: 'i3', dataType: T.INT64, dims: [2, 3], int64Data: [0, 0, 0, 2, -2, 4] }, floats('u3', [2], 53),
    ],
    nodes: [
      { name: 's1', opType: 'ScatterND', input: ['x', 'i1', 'u1'], output: ['s1'], attribute: [str('reduction', 'none')] },
      { name: 's2', opType: 'ScatterND', input: ['s1', 'i2', 'u2'], output: ['s2'] },
      { name: 's3', opType: 'ScatterND', input: ['s2', 'i3', 'u3'], output: ['y'] },
    ],
  },
  {
    name: 'GatherND with negative indices (batch_dims 0, slices) and with batch_dims 1', input: [3, 4, 5], opset: 18,
    initializers: [
      { name: 'i0', dataType: T.INT64, dims: [2, 2], int64Data: [-1, 2, 0, -4] },
      { name: 'i1', dataType: T.INT64, dims: [3, 2, 1], int64Data: [1, -1, 0, 2, 3, 3] },
    ],
    nodes: [
      { name: 'g0', opType: 'GatherND', input: ['x', 'i0'], output: ['g0'] },
      { name: 'g1', opType: 'GatherND', input: ['x', 'i1'], output: ['g1'], attribute: [int('batch_dims', 1)] },
      { name: 'add', opType: 'Add', input: ['g1', 'g0'], output: ['y'] },
    ],
  },
  {
    name: 'GatherND and ScatterND with empty index rows (k = 0: the whole tensor is the slice)', input: [3, 4], opset: 18,
    initializers: [{ name: 'i0', dataType: T.INT64, dims: [2, 0], int64Data: [] }, { name: 'i1', dataType: T.INT64, dims: [1, 0], int64Data: [] }, floats('u', [1, 3, 4], 54)],
    nodes: [
      { name: 'g', opType: 'GatherND', input: ['x', 'i0'], output: ['g'] },
      { name: 's', opType: 'ScatterND', input: ['x', 'i1', 'u'], output: ['s'] },
      { name: 'add', opType: 'Add', input: ['g', 's'], output: ['y'] },
    ],
  },
  {
    name: 'ReduceProd of a tensor over one axis, then of its Shape on the host (all axes, keepdims) into Reshape', input: [2, 3, 4], opset: 18,
    initializers: [int64s('ax', [1])],
    nodes: [
      { name: 'p', opType: 'ReduceProd', input: ['x', 'ax'], output: ['p'], attribute: [int('keepdims', 0)] },
      { name: 'sh', opType: 'Shape', input: ['p'], output: ['s'] },
      { name: 'n', opType: 'ReduceProd', input: ['s'], output: ['n'] },
      { name: 'r', opType: 'Reshape', input: ['p', 'n'], output: ['y'] },
    ],
  },
  {
    name: 'Expand both ways (a 1 in the shape keeps the input dim) and of a bool', input: [3, 1, 5], opset: 18,
    initializers: [int64s('to', [2, 1, 4, 1]), int64s('to2', [4, 1]), { name: 'zero', dataType: T.FLOAT, dims: [], floatData: [0] }],
    nodes: [
      { name: 'e', opType: 'Expand', input: ['x', 'to'], output: ['e'] },
      { name: 'lt', opType: 'Less', input: ['x', 'zero'], output: ['neg'] },
      { name: 'eb', opType: 'Expand', input: ['neg', 'to2'], output: ['eb'] },
      { name: 'f', opType: 'Cast', input: ['eb'], output: ['b'], attribute: [int('to', T.FLOAT)] },
      { name: 'add', opType: 'Add', input: ['e', 'b'], output: ['y'] },
    ],
  },
  {
    name: 'Range: float with a fractional delta; int counting down from a dim', input: [2, 15], opset: 18,
    initializers: [
      { name: 'f0', dataType: T.FLOAT, dims: [], floatData: [0.5] }, { name: 'f1', dataType: T.FLOAT, dims: [], floatData: [3.7] }, { name: 'fd', dataType: T.FLOAT, dims: [], floatData: [0.3] },
      { name: 'one', dataType: T.INT64, dims: [], int64Data: [1] }, { name: 'i1', dataType: T.INT64, dims: [], int64Data: [0] }, { name: 'id', dataType: T.INT64, dims: [], int64Data: [-4] },
    ],
    nodes: [
      { name: 'rf', opType: 'Range', input: ['f0', 'f1', 'fd'], output: ['rf'] },
      { name: 'sh', opType: 'Shape', input: ['x'], output: ['s'] },
      { name: 'g', opType: 'Gather', input: ['s', 'one'], output: ['d'] },
      { name: 'ri', opType: 'Range', input: ['d', 'i1', 'id'], output: ['ri'] },
      { name: 'c', opType: 'Cast', input: ['ri'], output: ['rif'], attribute: [int('to', T.FLOAT)] },
      { name: 'cat', opType: 'Concat', input: ['rf', 'rif'], output: ['r'], attribute: [int('axis', 0)] },
      { name: 'add', opType: 'Add', input: ['x', 'r'], output: ['y'] },
    ],
  },
  {
    name: 'integer Div truncates towards zero (tf.div floors)', input: [4, 6], opset: 18,
    initializers: [{ name: 'k', dataType: T.FLOAT, dims: [], floatData: [20] }, { name: 'd', dataType: T.INT64, dims: [6], int64Data: [3, -4, 7, -2, 5, -3] }],
    nodes: [
      { name: 'm', opType: 'Mul', input: ['x', 'k'], output: ['a'] },
      { name: 'i', opType: 'Cast', input: ['a'], output: ['ai'], attribute: [int('to', T.INT64)] },
      { name: 'div', opType: 'Div', input: ['ai', 'd'], output: ['q'] },
      { name: 'f', opType: 'Cast', input: ['q'], output: ['y'], attribute: [int('to', T.FLOAT)] },
    ],
  },
  {
    name: 'Sin and Cos of arguments up to ±60 rad', input: [4, 50], opset: 18,
    initializers: [{ name: 'k', dataType: T.FLOAT, dims: [], floatData: [60] }],
    nodes: [
      { name: 'm', opType: 'Mul', input: ['x', 'k'], output: ['a'] },
      { name: 's', opType: 'Sin', input: ['a'], output: ['s'] },
      { name: 'c', opType: 'Cos', input: ['a'], output: ['c'] },
      { name: 'add', opType: 'Add', input: ['s', 'c'], output: ['y'] },
    ],
  },
  {
    name: 'Slice of a Shape on the host with a negative step (reversed dims) into Reshape', input: [2, 3, 4], opset: 18, batchFree: true,
    initializers: [int64s('st', [-1]), int64s('en', [-9223372036854775808]), int64s('ax', [0]), int64s('sp', [-1])],
    nodes: [
      { name: 'sh', opType: 'Shape', input: ['x'], output: ['s'] },
      { name: 'rev', opType: 'Slice', input: ['s', 'st', 'en', 'ax', 'sp'], output: ['r'] },
      { name: 'rs', opType: 'Reshape', input: ['x', 'r'], output: ['y'] },
    ],
  },
];

function model(c: OpCase): Uint8Array {
  const produced = new Set(c.nodes.flatMap((n) => n.output ?? []));
  const finalOutput = c.nodes.at(-1)!.output![0];
  // Reshape's target in the Gather case is built from the input's own leading dim.
  const extra = c.nodes.some((n) => n.input?.includes('shape') && !produced.has('shape')) ? [int64s('shape', [c.input[0], -1])] : [];
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: c.opset ?? 13 }],
    graph: {
      name: c.name,
      node: c.nodes,
      initializer: [...c.initializers, ...extra],
      input: [{ name: 'x', type: { tensorType: { elemType: T.FLOAT, shape: { dim: c.input.map((d, i) => (i === 0 && c.batchFree ? { dimParam: 'N' } : { dimValue: d })) } } } }],
      output: [{ name: finalOutput, type: { tensorType: { elemType: T.FLOAT } } }],
    },
  }).finish();
}

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
// Dawn reads the driver list when it first starts in this process (each test file runs in its own fork).
if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER)) process.env.VK_ICD_FILENAMES = SWIFTSHADER;
const ENGINES: EngineId[] = existsSync(SWIFTSHADER) ? ['tfjs-wasm', 'tfjs-webgpu'] : ['tfjs-wasm'];

describe.each(ENGINES)('%s op variants vs ort-node-cpu', (engine) => {
  it.each(CASES)('$name', async (c) => {
    const bytes = model(c);
    const reference = await engines.get('ort-node-cpu').create(bytes);
    const tested = await engines.get(engine).create(bytes);
    const batches = c.batchFree ? [c.input[0], c.input[0] + 1] : [c.input[0]];
    for (const batch of batches) {
      const dims = [batch, ...c.input.slice(1)];
      const feeds = { x: { dataType: 'float32', dims, data: Float32Array.from(values(dims.reduce((a, b) => a * b, 1), 99)) } as HostTensor };
      const [want, got] = [await reference.run(feeds), await tested.run(feeds)];
      for (const [name, w] of Object.entries(want)) {
        expect(got[name].dims, `${name}, batch ${batch}`).toEqual(w.dims);
        expect(maxRelativeError(w, got[name]), `${name}, batch ${batch}`).toBeLessThanOrEqual(1e-5);
      }
    }
    await reference.release();
    await tested.release();
  });
});

describe('tfjs-wasm refuses what it cannot compute exactly', () => {
  it('ScatterND with a reduction other than none, naming the node, before anything runs', async () => {
    const c: OpCase = {
      name: 'ScatterND add', input: [4, 3], opset: 18,
      initializers: [{ name: 'i', dataType: T.INT64, dims: [2, 1], int64Data: [0, 0] }, floats('u', [2, 3], 61)],
      nodes: [{ name: 'scatter_add', opType: 'ScatterND', input: ['x', 'i', 'u'], output: ['y'], attribute: [str('reduction', 'add')] }],
    };
    const error = await engines.get('tfjs-wasm').create(model(c)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineUnsupportedModelError);
    expect((error as EngineUnsupportedModelError).unsupportedNodes).toEqual(['"scatter_add" (ScatterND): ScatterND with reduction add']);
  });
});
