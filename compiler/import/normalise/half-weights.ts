import { DataType } from '../../../formats/model.js';
import { decodeHalf } from '../../../formats/float16.js';
import { onnx, type GraphProto, type NodeProto, type TensorProto } from '../../../runtime/onnx/proto.js';
import { importTensor } from '../onnx.js';
import { namesRead } from './reads.js';

const HALF_TYPES = new Set<number>([DataType.FLOAT16, DataType.BFLOAT16]);

/**
 * fp16/bf16 weights of MatMul, Gemm and group-1 Conv nodes become float32, and each such node runs in float32
 * between Casts: Cast(x → float32) → node → Cast(→ the model's type). The SVD needs the values in float anyway, and
 * this way every later stage (calibration, refit, the runtime's rebuilt graph, which writes factors as FLOAT
 * tensors) sees an ordinary float32 layer while the rest of the graph keeps computing in half precision.
 * onnxruntime-node 1.30 (x86 CPU) runs fp16 MatMul/Gemm/Conv graphs but has no bf16 MatMul or Gemm kernel at all.
 * Only weights the compiler could factor are converted (see qualifies): the others keep their half bytes.
 * Needs the nodes in topological order (the Casts go right beside their node). Returns the count per type.
 */
export function floatHalfWeights(graph: GraphProto, minParams: number, fileName: string): { fp16: number; bf16: number } {
  const weights = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const uses = new Map<string, number>();
  for (const n of graph.node ?? []) for (const name of namesRead(n)) uses.set(name, (uses.get(name) ?? 0) + 1);
  for (const o of graph.output ?? []) uses.set(o.name ?? '', Infinity);
  const counts = { fp16: 0, bf16: 0 };
  const casts = new Map<string, NodeProto>(); // one float32 Cast per half tensor, shared by the nodes that read it
  const out: NodeProto[] = [];
  for (const node of graph.node ?? []) {
    const w = weights.get(node.input?.[1] ?? '');
    if (!w || !qualifies(node, w, weights, uses, minParams)) {
      out.push(node);
      continue;
    }
    const type = w.dataType!;
    counts[type === DataType.FLOAT16 ? 'fp16' : 'bf16']++;
    toFloat32(w, fileName);
    const x = floatInput(node.input![0], casts, out);
    const bias = node.input![2] ? floatBias(node.input![2], weights, uses, casts, out, graph, fileName) : undefined;
    const y = node.output![0];
    node.input = bias === undefined ? [x, w.name!] : [x, w.name!, bias];
    node.output = [`${y}__float32`, ...node.output!.slice(1)];
    out.push(node, castNode(node.output[0], y, type));
  }
  if (counts.fp16 + counts.bf16 > 0) graph.node = out;
  return counts;
}

/** What compiler/factorize/candidates.ts would factor if the weight were float32 (its size and sharing rules too). */
function qualifies(node: NodeProto, w: TensorProto, weights: Map<string, TensorProto>, uses: Map<string, number>, minParams: number): boolean {
  if (!HALF_TYPES.has(w.dataType ?? 0) || ((node.domain ?? '') !== '' && node.domain !== 'ai.onnx')) return false;
  if (weights.has(node.input?.[0] ?? '') || uses.get(w.name ?? '') !== 1) return false;
  // int64 fields decode as Long objects: toString() reads both them and plain numbers.
  const dims = (w.dims ?? []).map((d) => Number(d.toString()));
  const group = Number((node.attribute?.find((a) => a.name === 'group')?.i ?? 1).toString());
  const shapeOk = node.opType === 'Conv' ? dims.length >= 3 && group === 1 : (node.opType === 'MatMul' || node.opType === 'Gemm') && dims.length === 2;
  if (!shapeOk) return false;
  const rows = dims[0];
  const cols = dims.slice(1).reduce((a, b) => a * b, 1);
  return rows * cols >= minParams && rows + cols < rows * cols;
}

/** Rewrite a half tensor in place as float32 (raw little-endian bytes). */
function toFloat32(t: TensorProto, fileName: string): void {
  const { data } = importTensor(t, fileName);
  let values: Float32Array;
  if (t.dataType === DataType.FLOAT16) {
    values = decodeHalf(data);
  } else {
    // bfloat16 is the top half of a float32.
    const bits = new Uint32Array(data.length / 2);
    for (let i = 0; i < bits.length; i++) bits[i] = (data[2 * i] | (data[2 * i + 1] << 8)) << 16;
    values = new Float32Array(bits.buffer);
  }
  t.dataType = DataType.FLOAT;
  t.rawData = new Uint8Array(values.buffer);
  t.int32Data = [];
}

/** The float32 version of a computed half tensor: one Cast, emitted before its first reader and reused. */
function floatInput(name: string, casts: Map<string, NodeProto>, out: NodeProto[]): string {
  let cast = casts.get(name);
  if (!cast) {
    cast = castNode(name, `${name}__float32`, DataType.FLOAT);
    casts.set(name, cast);
    out.push(cast);
  }
  return cast.output![0];
}

/** The bias in float32: converted in place when only this node reads it, a float32 copy when shared, else a Cast. */
function floatBias(
  name: string, weights: Map<string, TensorProto>, uses: Map<string, number>, casts: Map<string, NodeProto>, out: NodeProto[], graph: GraphProto, fileName: string,
): string {
  const b = weights.get(name);
  if (!b) return floatInput(name, casts, out);
  if (!HALF_TYPES.has(b.dataType ?? 0)) return name;
  if (uses.get(name) === 1) {
    toFloat32(b, fileName);
    return name;
  }
  const copyName = `${name}__float32`;
  if (!weights.has(copyName)) {
    const copy = onnx.TensorProto.create({ ...b, name: copyName });
    toFloat32(copy, fileName);
    weights.set(copyName, copy);
    graph.initializer = [...(graph.initializer ?? []), copy];
  }
  return copyName;
}

function castNode(input: string, output: string, to: number): NodeProto {
  return {
    name: `${output}/Cast`,
    opType: 'Cast',
    input: [input],
    output: [output],
    attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: to }],
  };
}
