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

/** The model converted as the file comment says; throws RangeError with halfPrecisionBlocker's reason if it cannot be. */
export function toHalfPrecision(bytes: Uint8Array): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  const blocker = halfPrecisionBlocker(model);
  if (blocker) throw new RangeError(`this model cannot run in float16: ${blocker}`);
  const graph = model.graph!;
  const keep = float32Inputs(graph.node ?? []);
  const initializers = (graph.initializer ?? []).flatMap((t) => halfInitializers(t, keep));
  const renamed = new Map<string, string>();
  const nodes = (graph.node ?? []).map((n) => halfConstant(n, keep));
  // IR 3 lists initializers among the inputs too: those are declared with their new type, not cast.
  const halved = new Set(initializers.filter((t) => t.dataType === FLOAT16).map((t) => t.name!));
  const declared = (graph.input ?? []).map((v) => (halved.has(v.name!) ? withElemType(v, FLOAT16) : v));
  const inputs = declared.filter((v) => elemType(v) === FLOAT && !graph.initializer?.some((t) => t.name === v.name));
  const outputs = (graph.output ?? []).filter((v) => elemType(v) === FLOAT);
  for (const v of [...inputs, ...outputs]) renamed.set(v.name!, `${v.name}__fp16`);
  // Nodes read the cast inputs and write the outputs before their cast; float32 slots keep reading the original.
  const rewired = nodes.map((n) => ({
    ...n,
    input: (n.input ?? []).map((name, i) => (inputs.some((v) => v.name === name) && !keepsFloat32(n, i) ? renamed.get(name)! : name)),
    output: (n.output ?? []).map((name) => (outputs.some((v) => v.name === name) ? renamed.get(name)! : name)),
  }));
  const castIn = inputs.map((v) => cast(v.name!, renamed.get(v.name!)!, FLOAT16));
  const castOut = outputs.map((v) => cast(renamed.get(v.name!)!, v.name!, FLOAT));
  // Every float tensor between the casts is float16 now, as the shapes the exporter annotated must say.
  const valueInfo = (graph.valueInfo ?? []).map((v) => (elemType(v) === FLOAT ? withElemType(v, FLOAT16) : v));
  model.graph = onnx.GraphProto.create({ ...graph, input: declared, valueInfo, node: [...castIn, ...rewired, ...castOut], initializer: initializers });
  return onnx.ModelProto.encode(model).finish();
}

/** Tensor names read at a float32-only input somewhere (Resize's scales…), with whether something else reads them too. */
function float32Inputs(nodes: readonly NodeProto[]): Map<string, { alsoHalf: boolean }> {
  const onlyFloat32 = new Map<string, { alsoHalf: boolean }>();
  for (const n of nodes) (n.input ?? []).forEach((name, i) => keepsFloat32(n, i) && name && onlyFloat32.set(name, { alsoHalf: false }));
  for (const n of nodes) (n.input ?? []).forEach((name, i) => !keepsFloat32(n, i) && onlyFloat32.has(name) && (onlyFloat32.get(name)!.alsoHalf = true));
  return onlyFloat32;
}

function keepsFloat32(n: NodeProto, input: number): boolean {
  return HALF_PRECISION_OPS[n.opType ?? '']?.includes(input) ?? false;
}

/** A float32 initializer as float16; kept float32 where a float32-only input reads it (and both, named apart, if others read it too). */
function halfInitializers(t: TensorProto, keep: ReadonlyMap<string, { alsoHalf: boolean }>): TensorProto[] {
  if (t.dataType !== FLOAT) return [t];
  const k = keep.get(t.name!);
  if (k && !k.alsoHalf) return [t];
  if (k) throw new RangeError(`tensor "${t.name}" is read both as Resize scales and as data; cannot split it for float16`);
  return [halfTensor(t)];
}

function halfTensor(t: TensorProto): TensorProto {
  return onnx.TensorProto.create({ name: t.name, dims: t.dims, dataType: FLOAT16, rawData: encodeHalf(float32Of(t)) });
}

/** A Constant node whose value is float32 (a tensor, value_float or value_floats) made float16, unless only float32 inputs read it. */
function halfConstant(n: NodeProto, keep: ReadonlyMap<string, { alsoHalf: boolean }>): NodeProto {
  if (n.opType !== 'Constant') return n;
  const k = keep.get(n.output?.[0] ?? '');
  const attribute = (n.attribute ?? []).map((a): AttributeProto => {
    const values = a.name === 'value' && a.t?.dataType === FLOAT ? { tensor: a.t, dims: a.t.dims ?? [] } : a.name === 'value_float' ? { tensor: undefined, dims: [] } : a.name === 'value_floats' ? { tensor: undefined, dims: [a.floats?.length ?? 0] } : undefined;
    if (!values) return a;
    if (k && !k.alsoHalf) return a;
    if (k) throw new RangeError(`Constant "${n.output?.[0]}" is read both as Resize scales and as data; cannot split it for float16`);
    const floats = values.tensor ? float32Of(values.tensor) : Float32Array.from(a.name === 'value_float' ? [a.f ?? 0] : (a.floats ?? []));
    return { name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: onnx.TensorProto.create({ dims: values.dims, dataType: FLOAT16, rawData: encodeHalf(floats) }) };
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

