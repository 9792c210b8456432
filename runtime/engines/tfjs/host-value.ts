import { decodeHalf } from '../../../formats/float16.js';
import { onnx, type TensorProto } from '../../onnx/proto.js';

/**
 * A tensor the interpreter holds in JS memory rather than on the tfjs backend: initializers, Constant nodes and
 * shapes. Kernels read shapes, axes and sizes from these without a backend round trip; they are uploaded to the
 * backend once, on first use as a tensor.
 *
 * Integers of every width are held as float64 (exact to 2^53, which covers every real shape and index; INT64_MAX
 * sentinels such as Slice's "to the end" stay huge and are clamped by the kernels).
 */
export interface HostValue {
  readonly kind: 'host';
  readonly dtype: HostDType;
  readonly dims: readonly number[];
  readonly data: Float32Array | Float64Array | Uint8Array;
}

/** float32 (every float type, converted), int (every integer type) or bool. */
export type HostDType = 'float32' | 'int' | 'bool';

export function hostValue(dtype: HostDType, dims: readonly number[], data: HostValue['data']): HostValue {
  return { kind: 'host', dtype, dims, data };
}

/** The element count of a shape. */
export function sizeOf(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

const T = onnx.TensorProto.DataType;
type LongLike = number | { toString(): string } | null | undefined;
const toNumber = (v: LongLike): number => (v == null ? 0 : typeof v === 'number' ? v : Number(v.toString()));

/** Error raised for initializers this engine cannot hold; the interpreter turns it into a build error. */
export class InitializerError extends Error {}

/** Decode an ONNX TensorProto (initializer or Constant attribute) into host memory. */
export function decodeTensorProto(t: TensorProto): HostValue {
  const name = t.name ?? '(unnamed)';
  const dims = (t.dims ?? []).map((d) => toNumber(d as LongLike));
  const count = sizeOf(dims);
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    throw new InitializerError(`initializer "${name}" keeps its data in an external file, which this engine cannot read; re-export the model with the weights inside`);
  }
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : undefined;
  const expectBytes = (bytes: number): void => {
    if (raw && raw.length !== count * bytes) {
      throw new InitializerError(`initializer "${name}" holds ${raw.length} bytes but its shape [${dims}] needs ${count * bytes}`);
    }
  };
  const dataType = t.dataType ?? T.UNDEFINED;
  switch (dataType) {
    case T.FLOAT: {
      expectBytes(4);
      const out = new Float32Array(count);
      if (view) for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
      else out.set((t.floatData ?? []).slice(0, count));
      return hostValue('float32', dims, out);
    }
    case T.DOUBLE: {
      expectBytes(8);
      const out = new Float32Array(count);
      if (view) for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
      else out.set((t.doubleData ?? []).slice(0, count));
      return hostValue('float32', dims, out);
    }
    case T.FLOAT16: {
      expectBytes(2);
      // Without raw data, float16 bits are stored one per int32_data entry.
      const bits = raw ?? new Uint8Array(Uint16Array.from(t.int32Data ?? []).buffer);
      return hostValue('float32', dims, decodeHalf(bits.subarray(0, count * 2)));
    }
    case T.INT64:
    case T.UINT64: {
      expectBytes(8);
      const out = new Float64Array(count);
      if (view) for (let i = 0; i < count; i++) out[i] = Number(dataType === T.INT64 ? view.getBigInt64(i * 8, true) : view.getBigUint64(i * 8, true));
      else (dataType === T.INT64 ? t.int64Data ?? [] : t.uint64Data ?? []).forEach((v, i) => (out[i] = toNumber(v as LongLike)));
      return hostValue('int', dims, out);
    }
    case T.INT32:
    case T.UINT32:
    case T.INT16:
    case T.UINT16:
    case T.INT8:
    case T.UINT8:
    case T.BOOL: {
      const width = { [T.INT32]: 4, [T.UINT32]: 4, [T.INT16]: 2, [T.UINT16]: 2, [T.INT8]: 1, [T.UINT8]: 1, [T.BOOL]: 1 }[dataType]!;
      expectBytes(width);
      const out = dataType === T.BOOL ? new Uint8Array(count) : new Float64Array(count);
      if (view) {
        const read = {
          [T.INT32]: (i: number) => view.getInt32(i * 4, true),
          [T.UINT32]: (i: number) => view.getUint32(i * 4, true),
          [T.INT16]: (i: number) => view.getInt16(i * 2, true),
          [T.UINT16]: (i: number) => view.getUint16(i * 2, true),
          [T.INT8]: (i: number) => view.getInt8(i),
          [T.UINT8]: (i: number) => view.getUint8(i),
          [T.BOOL]: (i: number) => view.getUint8(i),
        }[dataType]!;
        for (let i = 0; i < count; i++) out[i] = read(i);
      } else {
        // uint32 values live in uint64_data; every narrower type in int32_data.
        const src = dataType === T.UINT32 ? (t.uint64Data ?? []).map((v) => toNumber(v as LongLike)) : t.int32Data ?? [];
        out.set(src.slice(0, count));
      }
      return hostValue(dataType === T.BOOL ? 'bool' : 'int', dims, out);
    }
    default:
      throw new InitializerError(`initializer "${name}" has ONNX data type ${onnx.TensorProto.DataType[dataType] ?? dataType}, which this engine does not support`);
  }
}
