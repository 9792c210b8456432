/**
 * The graph an engine runs, in half precision: every float32 weight stored float16, activations float16 between
 * a Cast after each float32 graph input and a Cast before each float32 graph output, so an app still feeds and reads
 * float32. On WebGPU with `shader-f16` that halves the weights' GPU memory and their reads (runtime/engines/
 * ort-webgpu.ts chooses it); `load(…, { precision: 'fp16' })` asks for it on any onnxruntime engine.
 *
 * Only graphs made of the ops below are converted, and each op says which float inputs stay float32 (Resize's
 * scales are float32 whatever the data's type). Anything else — a Cast to float (often shape arithmetic, which
 * float16 would round above 2048), ConstantOfShape, Range, control flow with subgraphs — leaves the graph float32:
 * halfPrecisionBlocker names the op, and the engine runs float32 (or refuses, when fp16 was asked for).
 * Hand-written because no onnx library for JavaScript converts graphs to float16 (Python's onnxconverter-common
 * does, with a block list like this one).
 */
import { encodeHalf } from '../../formats/float16.js';
import { float32Of, onnx, type AttributeProto, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from './proto.js';

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;

/** Ops that compute in the type of their float inputs, by name: the float inputs that stay float32 (by index). */
const HALF_PRECISION_OPS: Readonly<Record<string, readonly number[]>> = {
  Conv: [], ConvTranspose: [], Gemm: [], MatMul: [],
  Add: [], Sub: [], Mul: [], Div: [], Pow: [], Sqrt: [], Exp: [], Reciprocal: [], Neg: [], Abs: [], Erf: [],
  Relu: [], LeakyRelu: [], Clip: [], Sigmoid: [], HardSigmoid: [], HardSwish: [], Tanh: [], Softmax: [],
  GlobalAveragePool: [], AveragePool: [], MaxPool: [], BatchNormalization: [], LayerNormalization: [], InstanceNormalization: [],
  ReduceMean: [], ReduceSum: [], ReduceMax: [],
  Concat: [], Reshape: [], Transpose: [], Flatten: [], Squeeze: [], Unsqueeze: [], Slice: [], Split: [], Gather: [],
  Identity: [], Pad: [], Shape: [], Expand: [], Constant: [],
  // roi (1) may be any float type, scales (2) is float32 in every opset.
  Resize: [1, 2],
  Upsample: [1],
};

/** Why the graph cannot run in half precision (an op outside the table, or a subgraph), or undefined if it can. */
export function halfPrecisionBlocker(model: Uint8Array | ModelProto): string | undefined {
  const graph = (model instanceof Uint8Array ? onnx.ModelProto.decode(model) : model).graph!;
  for (const node of graph.node ?? []) {
    const op = node.opType ?? '';
    if ((node.domain && node.domain !== 'ai.onnx') || !(op in HALF_PRECISION_OPS)) return `${op || 'an unnamed op'} (${node.name || node.output?.[0]}) has no float16 conversion here`;
    if ((node.attribute ?? []).some((a) => a.g || (a.graphs?.length ?? 0) > 0)) return `${op} (${node.name || node.output?.[0]}) has a subgraph`;
  }
  return undefined;
}

/**
 * The model converted as the file comment says; throws RangeError with halfPrecisionBlocker's reason if it cannot be.
 * Takes a decoded model too, so a caller that checked halfPrecisionBlocker decodes once (it is not changed).
 */
export function toHalfPrecision(source: Uint8Array | ModelProto): Uint8Array {
  const model = source instanceof Uint8Array ? onnx.ModelProto.decode(source) : source;
  const blocker = halfPrecisionBlocker(model);
  if (blocker) throw new RangeError(`this model cannot run in float16: ${blocker}`);
  const graph = model.graph!;
  const reads = tensorReads(graph.node ?? []);
  const initializers = (graph.initializer ?? []).map((t) => (t.dataType === FLOAT && !staysFloat32(t.name!, reads) ? halfTensor(t) : t));
  // IR 3 lists initializers among the inputs too: those are declared with their new type, not cast.
  const halved = new Set(initializers.filter((t) => t.dataType === FLOAT16).map((t) => t.name!));
  const initializerNames = new Set(initializers.map((t) => t.name!));
  const declared = (graph.input ?? []).map((v) => (halved.has(v.name!) ? withElemType(v, FLOAT16) : v));
  const inputs = new Set(declared.filter((v) => elemType(v) === FLOAT && !initializerNames.has(v.name!)).map((v) => v.name!));
  const outputs = new Set((graph.output ?? []).filter((v) => elemType(v) === FLOAT).map((v) => v.name!));
  // Nodes read the cast inputs, and write (and read) the outputs under their float16 names; float32 slots keep the originals.
  const nodes = (graph.node ?? []).map((n) => ({
    ...halfConstant(n, reads),
    input: (n.input ?? []).map((name, i) => ((inputs.has(name) || outputs.has(name)) && !keepsFloat32(n, i) ? halfName(name) : name)),
    output: (n.output ?? []).map((name) => (outputs.has(name) ? halfName(name) : name)),
  }));
  const castIn = [...inputs].map((name) => cast(name, halfName(name), FLOAT16));
  const castOut = [...outputs].map((name) => cast(halfName(name), name, FLOAT));
  // Every float tensor between the casts is float16 now, as the shapes the exporter annotated must say.
  const valueInfo = (graph.valueInfo ?? []).map((v) => (elemType(v) === FLOAT ? withElemType(v, FLOAT16) : v));
  const converted = onnx.GraphProto.create({ ...graph, input: declared, valueInfo, node: [...castIn, ...nodes, ...castOut], initializer: initializers });
  return onnx.ModelProto.encode(onnx.ModelProto.create({ ...model, graph: converted })).finish();
}

function halfName(name: string): string {
  return `${name}__fp16`;
}

/** Tensor names by how nodes read them: at a float32-only input (Resize's scales…), and at any other. */
interface TensorReads {
  float32: ReadonlySet<string>;
  other: ReadonlySet<string>;
}

function tensorReads(nodes: readonly NodeProto[]): TensorReads {
  const [float32, other] = [new Set<string>(), new Set<string>()];
  for (const n of nodes) (n.input ?? []).forEach((name, i) => name && (keepsFloat32(n, i) ? float32 : other).add(name));
  return { float32, other };
}

/** Whether a float32 constant stays float32: only float32-only inputs read it. Read both ways it cannot be split here. */
function staysFloat32(name: string, reads: TensorReads): boolean {
  if (!reads.float32.has(name)) return false;
  if (reads.other.has(name)) throw new RangeError(`tensor "${name}" is read both as Resize scales and as data; cannot split it for float16`);
  return true;
}

function keepsFloat32(n: NodeProto, input: number): boolean {
  return HALF_PRECISION_OPS[n.opType ?? '']?.includes(input) ?? false;
}

function halfTensor(t: TensorProto): TensorProto {
  return onnx.TensorProto.create({ name: t.name, dims: t.dims, dataType: FLOAT16, rawData: encodeHalf(float32Of(t)) });
}

/** A Constant node whose value is float32 (a tensor, value_float or value_floats) made float16, unless only float32 inputs read it. */
function halfConstant(n: NodeProto, reads: TensorReads): NodeProto {
  if (n.opType !== 'Constant' || staysFloat32(n.output?.[0] ?? '', reads)) return n;
  const attribute = (n.attribute ?? []).map((a): AttributeProto => {
    const floats = a.name === 'value' && a.t?.dataType === FLOAT ? { values: float32Of(a.t), dims: a.t.dims ?? [] }
      : a.name === 'value_float' ? { values: Float32Array.of(a.f ?? 0), dims: [] }
      : a.name === 'value_floats' ? { values: Float32Array.from(a.floats ?? []), dims: [a.floats?.length ?? 0] }
      : undefined;
    if (!floats) return a;
    return { name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: onnx.TensorProto.create({ dims: floats.dims, dataType: FLOAT16, rawData: encodeHalf(floats.values) }) };
  });
  return { ...n, attribute };
}

function cast(from: string, to: string, type: number): NodeProto {
  return { name: `${to}/cast`, opType: 'Cast', input: [from], output: [to], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: type }] };
}

function withElemType(v: ValueInfoProto, type: number): ValueInfoProto {
  return { ...v, type: { ...v.type, tensorType: { ...v.type?.tensorType, elemType: type } } };
}

function elemType(v: ValueInfoProto): number | undefined {
  return v.type?.tensorType?.elemType ?? undefined;
}

