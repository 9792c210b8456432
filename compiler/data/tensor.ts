/**
 * The tensor type that the data readers hand to the CLI and the runtime: a plain typed array plus dims.
 * It deliberately carries no onnxruntime type, so the readers work (and are tested) without loading ORT.
 */
import { DataShapeError, UnsupportedDataError } from './errors.js';

export type HostDataType = 'float32' | 'int64' | 'int32' | 'uint8' | 'bool' | 'float64';

export type HostData = Float32Array | BigInt64Array | Int32Array | Uint8Array | Float64Array;

/** A dense, row-major (C-order) tensor in host memory. `bool` is stored as a Uint8Array of 0/1. */
export interface HostTensor {
  dataType: HostDataType;
  dims: number[];
  data: HostData;
}

export const HOST_DATA_TYPES: readonly HostDataType[] = ['float32', 'int64', 'int32', 'uint8', 'bool', 'float64'];

/** ONNX TensorProto.DataType codes of the host types (FLOAT=1, UINT8=2, INT32=6, INT64=7, BOOL=9, DOUBLE=11). */
const ONNX_CODE: Record<HostDataType, number> = { float32: 1, uint8: 2, int32: 6, int64: 7, bool: 9, float64: 11 };

const BYTES: Record<HostDataType, number> = { float32: 4, int64: 8, int32: 4, uint8: 1, bool: 1, float64: 8 };

export function isHostDataType(s: string): s is HostDataType {
  return (HOST_DATA_TYPES as readonly string[]).includes(s);
}

export function bytesPerElement(dataType: HostDataType): number {
  return BYTES[dataType];
}

export function onnxDataTypeOf(dataType: HostDataType): number {
  return ONNX_CODE[dataType];
}

/** Maps an ONNX data type code to the host type; codes with no host type (float16, string, …) are rejected. */
export function hostDataTypeFromOnnx(code: number): HostDataType {
  for (const t of HOST_DATA_TYPES) if (ONNX_CODE[t] === code) return t;
  throw new UnsupportedDataError(
    `model input data type ${code} (ONNX code) has no host tensor type; supported: float32, float64, int32, int64, uint8, bool`,
  );
}

/**
 * Number of elements of a shape. Dims must be non-negative safe integers and the product must stay a safe
 * integer, because the result sizes typed arrays: a NaN or 1e20 here would otherwise surface as an obscure
 * RangeError far from the bad file.
 */
export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new DataShapeError(`invalid dimension ${String(d)} in shape [${dims.join(', ')}]`);
    n *= d;
    if (!Number.isSafeInteger(n)) throw new DataShapeError(`shape [${dims.join(', ')}] has too many elements`);
  }
  return n;
}

/** A shape for messages: `[N, 3, 224, 224]`. Accepts symbolic dims. */
export function formatShape(shape: ReadonlyArray<number | string>): string {
  return `[${shape.join(', ')}]`;
}

/** A zero-filled typed array of the right class for `dataType`. */
export function allocData(dataType: HostDataType, count: number): HostData {
  switch (dataType) {
    case 'float32':
      return new Float32Array(count);
    case 'float64':
      return new Float64Array(count);
    case 'int32':
      return new Int32Array(count);
    case 'int64':
      return new BigInt64Array(count);
    case 'uint8':
    case 'bool':
      return new Uint8Array(count);
  }
}

/** Item i of a tensor batched along dim 0, as a batch of one ([1, …rest]); works on the runtime's HostTensor too. */
export function batchItem<T extends { dims: number[]; data: HostData | Int8Array }>(t: T, i: number): T {
  const per = t.data.length / t.dims[0];
  return { ...t, dims: [1, ...t.dims.slice(1)], data: t.data.slice(i * per, (i + 1) * per) as T['data'] };
}

export function allocTensor(dataType: HostDataType, dims: readonly number[]): HostTensor {
  return { dataType, dims: [...dims], data: allocData(dataType, elementCount(dims)) };
}

/** Whether `data` is the typed-array class that `dataType` uses. */
export function dataMatchesType(dataType: HostDataType, data: HostData): boolean {
  switch (dataType) {
    case 'float32':
      return data instanceof Float32Array;
    case 'float64':
      return data instanceof Float64Array;
    case 'int32':
      return data instanceof Int32Array;
    case 'int64':
      return data instanceof BigInt64Array;
    case 'uint8':
    case 'bool':
      return data instanceof Uint8Array;
  }
}

/** Checks that a tensor is self-consistent (array class and length agree with dataType and dims); returns it. */
export function checkTensor(t: HostTensor): HostTensor {
  if (!isHostDataType(t.dataType)) throw new UnsupportedDataError(`unknown tensor data type '${String(t.dataType)}'`);
  if (!dataMatchesType(t.dataType, t.data)) {
    throw new DataShapeError(`tensor of type ${t.dataType} holds a ${t.data.constructor.name}`);
  }
  const n = elementCount(t.dims);
  if (t.data.length !== n) {
    throw new DataShapeError(`tensor data has ${t.data.length} elements but shape [${t.dims.join(', ')}] needs ${n}`);
  }
  return t;
}

/**
 * Converts between host types where the conversion is the one a user means: numpy writes float64 and int64 by
 * default, while models mostly take float32 (and some int32). Integer narrowing checks that every value fits;
 * float narrowing rounds to nearest, as numpy's astype does. Anything else (e.g. float to int) is refused
 * rather than silently truncated.
 */
export function convertTensor(t: HostTensor, to: HostDataType, what = 'tensor'): HostTensor {
  if (t.dataType === to) return t;
  const n = t.data.length;
  const from = t.dataType;
  const isFloat = (x: HostDataType) => x === 'float32' || x === 'float64';
  const isInt = (x: HostDataType) => x === 'int32' || x === 'int64' || x === 'uint8';
  if (isFloat(from) && isFloat(to)) {
    const out = to === 'float32' ? new Float32Array(n) : new Float64Array(n);
    out.set(t.data as Float32Array | Float64Array);
    return { dataType: to, dims: [...t.dims], data: out };
  }
  if (isInt(from) && isInt(to)) {
    const src = t.data as BigInt64Array | Int32Array | Uint8Array;
    const [lo, hi] = to === 'int64' ? [-(2n ** 63n), 2n ** 63n - 1n] : to === 'int32' ? [-(2n ** 31n), 2n ** 31n - 1n] : [0n, 255n];
    const out = allocData(to, n);
    for (let i = 0; i < n; i++) {
      const v = BigInt(src[i]!);
      if (v < lo || v > hi) throw new DataShapeError(`${what}: value ${v} at index ${i} does not fit in ${to}`);
      if (out instanceof BigInt64Array) out[i] = v;
      else (out as Int32Array | Uint8Array)[i] = Number(v);
    }
    return { dataType: to, dims: [...t.dims], data: out };
  }
  if (isInt(from) && isFloat(to)) {
    const out = to === 'float32' ? new Float32Array(n) : new Float64Array(n);
    const src = t.data as BigInt64Array | Int32Array | Uint8Array;
    for (let i = 0; i < n; i++) out[i] = Number(src[i]!);
    return { dataType: to, dims: [...t.dims], data: out };
  }
  throw new DataShapeError(`${what} has data type ${from} but ${to} is expected; convert it before saving`);
}
