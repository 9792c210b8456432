import type { Attribute, NodeDef, ValueInfo } from '../../formats/model.js';
import { DATA_TYPE_SIZE, DataType } from '../../formats/model.js';
import { OnnxImportError } from '../errors.js';
import { onnx, type AttributeProto, type ModelProto, type TensorProto, type ValueInfoProto } from '../../runtime/onnx/proto.js';

/** A constant tensor of the source model with its values as raw little-endian bytes. */
export interface ImportedTensor {
  name: string;
  dataType: number;
  dims: number[];
  data: Uint8Array;
}

export interface ImportedModel {
  irVersion: number;
  producer: string;
  opsets: Array<{ domain: string; version: number }>;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  nodes: NodeDef[];
  initializers: ImportedTensor[];
}

type LongLike = number | { toString(): string } | null | undefined;

const toNumber = (v: LongLike): number => (v == null ? 0 : typeof v === 'number' ? v : Number(v.toString()));
const toBigInt = (v: LongLike): bigint => (v == null ? 0n : typeof v === 'number' ? BigInt(v) : BigInt(v.toString()));
const utf8 = new TextDecoder();

/** Decode an ONNX file. Initializers that are also listed as graph inputs (IR 3 style) are treated as constants. */
export function importOnnx(bytes: Uint8Array, fileName = 'model.onnx'): ImportedModel {
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new OnnxImportError(`${fileName} is not a readable ONNX model (${(e as Error).message}); check that it is the .onnx file itself`, 'bad-protobuf');
  }
  const graph = model.graph;
  if (!graph || !graph.node || graph.node.length === 0) {
    throw new OnnxImportError(`${fileName} has no graph nodes; is it an ONNX model?`, 'empty-graph');
  }
  const initializers = (graph.initializer ?? []).map((t) => importTensor(t, fileName));
  const constNames = new Set(initializers.map((t) => t.name));
  const nodes: NodeDef[] = graph.node.map((n, i) => ({
    name: n.name || `${n.opType ?? 'node'}_${i}`,
    opType: n.opType ?? '',
    domain: n.domain ?? '',
    inputs: [...(n.input ?? [])],
    outputs: [...(n.output ?? [])],
    attributes: (n.attribute ?? []).map(importAttribute),
  }));
  ensureUniqueNodeNames(nodes);
  return {
    irVersion: toNumber(model.irVersion as LongLike),
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    opsets: (model.opsetImport ?? []).map((o) => ({ domain: o.domain ?? '', version: toNumber(o.version as LongLike) })),
    inputs: (graph.input ?? []).filter((v) => !constNames.has(v.name ?? '')).map(importValueInfo),
    outputs: (graph.output ?? []).map(importValueInfo),
    nodes,
    initializers,
  };
}

function ensureUniqueNodeNames(nodes: NodeDef[]): void {
  const seen = new Set<string>();
  for (const [i, n] of nodes.entries()) {
    let name = n.name;
    while (seen.has(name)) name = `${n.name}__${i}`;
    n.name = name;
    seen.add(name);
  }
}

function importValueInfo(v: ValueInfoProto): ValueInfo {
  const tensorType = v.type?.tensorType;
  const dims = tensorType?.shape?.dim ?? [];
  return {
    name: v.name ?? '',
    dataType: tensorType?.elemType ?? 0,
    shape: dims.map((d) => (d.dimParam ? d.dimParam : d.dimValue != null ? toNumber(d.dimValue as LongLike) : '?')),
  };
}

function importAttribute(a: AttributeProto): Attribute {
  const name = a.name ?? '';
  const T = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case T.INT:
      return { name, kind: 'int', value: toBigInt(a.i as LongLike) };
    case T.FLOAT:
      return { name, kind: 'float', value: a.f ?? 0 };
    case T.STRING:
      return { name, kind: 'string', value: utf8.decode(a.s ?? new Uint8Array()) };
    case T.INTS:
      return { name, kind: 'ints', value: (a.ints ?? []).map((v) => toBigInt(v as LongLike)) };
    case T.FLOATS:
      return { name, kind: 'floats', value: [...(a.floats ?? [])] };
    case T.STRINGS:
      return { name, kind: 'strings', value: (a.strings ?? []).map((s) => utf8.decode(s)) };
    default:
      // Tensors, subgraphs (If/Loop bodies) and the rest travel as opaque ONNX bytes.
      return { name, kind: 'onnx', value: onnx.AttributeProto.encode(a).finish() };
  }
}

/** Convert any of TensorProto's storage fields into raw little-endian bytes. */
export function importTensor(t: TensorProto, fileName = 'model.onnx'): ImportedTensor {
  const name = t.name ?? '';
  const dataType = t.dataType ?? 0;
  const dims = (t.dims ?? []).map((d) => toNumber(d as LongLike));
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || (t.externalData?.length ?? 0) > 0) {
    throw new OnnxImportError(`${fileName}: weight "${name}" is stored in an external data file; re-export the model with weights embedded (onnx.save(model, path, save_as_external_data=False))`, 'external-data');
  }
  const size = DATA_TYPE_SIZE[dataType];
  if (size === undefined) {
    throw new OnnxImportError(`${fileName}: weight "${name}" has data type ${onnx.TensorProto.DataType[dataType] ?? dataType}, which lowrank cannot store`, 'unsupported-dtype');
  }
  const count = dims.reduce((a, b) => a * b, 1);
  const data = new Uint8Array(count * size);
  const view = new DataView(data.buffer);
  if (t.rawData && t.rawData.length > 0) {
    if (t.rawData.length !== data.length) {
      throw new OnnxImportError(`${fileName}: weight "${name}" holds ${t.rawData.length} bytes but its shape [${dims}] needs ${data.length}`, 'bad-tensor');
    }
    data.set(t.rawData);
    return { name, dataType, dims, data };
  }
  const fill = (values: ArrayLike<LongLike | number>, write: (i: number, v: LongLike | number) => void): void => {
    if (values.length !== count) {
      throw new OnnxImportError(`${fileName}: weight "${name}" holds ${values.length} values but its shape [${dims}] needs ${count}`, 'bad-tensor');
    }
    for (let i = 0; i < count; i++) write(i, values[i]);
  };
  switch (dataType) {
    case DataType.FLOAT:
      fill(t.floatData ?? [], (i, v) => view.setFloat32(i * 4, v as number, true));
      break;
    case DataType.DOUBLE:
      fill(t.doubleData ?? [], (i, v) => view.setFloat64(i * 8, v as number, true));
      break;
    case DataType.INT64:
      fill(t.int64Data ?? [], (i, v) => view.setBigInt64(i * 8, toBigInt(v as LongLike), true));
      break;
    case DataType.UINT32:
    case DataType.UINT64:
      fill(t.uint64Data ?? [], (i, v) =>
        size === 8 ? view.setBigUint64(i * 8, toBigInt(v as LongLike), true) : view.setUint32(i * 4, toNumber(v as LongLike), true),
      );
      break;
    default:
      // INT32, INT16, INT8, UINT8, UINT16, BOOL, FLOAT16 and BFLOAT16 (as uint16 bits) all live in int32_data.
      fill(t.int32Data ?? [], (i, v) => {
        const x = toNumber(v as LongLike);
        if (size === 4) view.setInt32(i * 4, x, true);
        else if (size === 2) view.setUint16(i * 2, x & 0xffff, true);
        else view.setUint8(i, x & 0xff);
      });
  }
  return { name, dataType, dims, data };
}
