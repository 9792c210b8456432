/** The tensor type of the public API: plain typed arrays, so apps need no engine types. */
export type TensorDataType = 'float32' | 'float64' | 'int64' | 'int32' | 'uint8' | 'int8' | 'bool';

export type TensorData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Int8Array;

export interface HostTensor {
  dataType: TensorDataType;
  dims: number[];
  data: TensorData;
}

export type Feeds = Record<string, HostTensor>;

/** ONNX data type codes of the tensor types above. */
export const ONNX_CODE_OF: Readonly<Record<TensorDataType, number>> = {
  float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float64: 11,
};

export function dataTypeOfOnnxCode(code: number): TensorDataType | undefined {
  return (Object.keys(ONNX_CODE_OF) as TensorDataType[]).find((k) => ONNX_CODE_OF[k] === code);
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}
