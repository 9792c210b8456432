/**
 * Values of the small constant tensors the graph check's shape inference needs (shape-inference.ts): Reshape
 * shapes, Resize scales, Pad pads, Tile repeats, Slice bounds. A re-hashed header can point any of them at huge
 * sizes, and their values are not in the header: initializers live in the payload's dense section (integer
 * Constant nodes stay in the header as attributes, read here too). Only what shapes are made of is read: integer
 * and float tensors of at most MAX_CONSTANT_VALUES values, stored as their type says (a quantised tensor is a
 * weight, never a shape).
 */
import { DATA_TYPE_SIZE, DataType, type DenseTensor, type NodeDef } from '../../formats/model.js';
import type { PayloadBytes } from '../payload-view.js';
import { onnx, type TensorProto } from './proto.js';

/** Largest constant whose values are read: shapes, pads and scales have a few; weights have thousands more. */
export const MAX_CONSTANT_VALUES = 4096;

/** The values of a constant tensor by name (row-major), or undefined when it is not a small numeric constant. */
export type ConstantLookup = (name: string) => number[] | undefined;

/** A small constant with its shape and whether its type is an integer one (integer Div truncates). */
export interface ConstantTensor {
  dims: number[];
  values: number[];
  integer: boolean;
}

const INTEGER_TYPES = new Set<number>([DataType.INT8, DataType.UINT8, DataType.INT16, DataType.UINT16, DataType.INT32, DataType.INT64, DataType.UINT32, DataType.UINT64, DataType.BOOL]);

export function isIntegerType(dataType: number): boolean {
  return INTEGER_TYPES.has(dataType);
}

/** Little-endian values of an int32, int64, float or double tensor; undefined for other types or a short buffer. */
export function decodeValues(dataType: number, bytes: Uint8Array): number[] | undefined {
  const size = DATA_TYPE_SIZE[dataType];
  if (size === undefined || bytes.length % size !== 0 || bytes.length / size > MAX_CONSTANT_VALUES) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const read: ((i: number) => number) | undefined = {
    [DataType.FLOAT]: (i: number) => view.getFloat32(i * 4, true),
    [DataType.DOUBLE]: (i: number) => view.getFloat64(i * 8, true),
    [DataType.INT32]: (i: number) => view.getInt32(i * 4, true),
    [DataType.INT64]: (i: number) => Number(view.getBigInt64(i * 8, true)),
  }[dataType];
  return read && Array.from({ length: bytes.length / size }, (_, i) => read(i));
}

/** Lookup over the header's small dense initializers, read from the loaded payload once each. */
export function payloadConstants(initializers: readonly DenseTensor[], payload: PayloadBytes): ConstantLookup {
  const byName = new Map(initializers.map((t) => [t.name, t]));
  const read = new Map<string, number[] | undefined>();
  return (name) => {
    if (!read.has(name)) {
      const t = byName.get(name);
      const count = t?.dims.reduce((a, b) => a * b, 1) ?? Infinity;
      let values: number[] | undefined;
      if (t && t.storage === undefined && count <= MAX_CONSTANT_VALUES) {
        try {
          values = decodeValues(t.dataType, payload.subarray(t.range.offset, t.range.offset + t.range.length));
        } catch {
          values = undefined; // a range outside the loaded sections: unknown, never guessed
        }
        if (values?.length !== count) values = undefined;
      }
      read.set(name, values);
    }
    return read.get(name);
  };
}

/** A Constant node's value (tensor, value_int(s), value_float(s)); undefined for sparse, string or large ones. */
export function constantNodeValue(node: NodeDef): ConstantTensor | undefined {
  const a = node.attributes[0];
  if (!a || node.attributes.length !== 1) return undefined;
  if (a.kind === 'int' && a.name === 'value_int') return { dims: [], values: [Number(a.value)], integer: true };
  if (a.kind === 'ints' && a.name === 'value_ints') return { dims: [a.value.length], values: a.value.map(Number), integer: true };
  if (a.kind === 'float' && a.name === 'value_float') return { dims: [], values: [a.value], integer: false };
  if (a.kind === 'floats' && a.name === 'value_floats') return { dims: [a.value.length], values: [...a.value], integer: false };
  return a.kind === 'onnx' && a.name === 'value' ? tensorAttribute(a.value) : undefined;
}

/** The tensor of a serialized `value`-style attribute (Constant, ConstantOfShape). */
export function tensorAttribute(bytes: Uint8Array): ConstantTensor | undefined {
  let t: TensorProto | null | undefined;
  try {
    t = onnx.AttributeProto.decode(bytes).t;
  } catch {
    return undefined; // checkGraph reports an undecodable attribute by name
  }
  if (!t) return undefined;
  const dims = (t.dims ?? []).map((d) => (typeof d === 'number' ? d : Number(d.toString())));
  const count = dims.reduce((a, b) => a * b, 1);
  const dataType = t.dataType ?? 0;
  if (!Number.isSafeInteger(count) || count > MAX_CONSTANT_VALUES) return undefined;
  const values = t.rawData && t.rawData.length > 0 ? decodeValues(dataType, t.rawData) : typedValues(t, dataType);
  return values && values.length === count ? { dims, values, integer: isIntegerType(dataType) } : undefined;
}

function typedValues(t: TensorProto, dataType: number): number[] | undefined {
  if (dataType === DataType.FLOAT) return [...(t.floatData ?? [])];
  if (dataType === DataType.DOUBLE) return [...(t.doubleData ?? [])];
  if (dataType === DataType.INT64) return (t.int64Data ?? []).map((v) => (typeof v === 'number' ? v : Number(v.toString())));
  if (dataType === DataType.INT32) return [...(t.int32Data ?? [])];
  return undefined;
}
