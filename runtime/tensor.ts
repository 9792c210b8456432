/** The tensor type of the public API: plain typed arrays, so apps need no engine types. */
export type TensorDataType = 'float32' | 'float64' | 'int64' | 'int32' | 'uint8' | 'int8' | 'bool';

export type TensorData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Int8Array;

export interface HostTensor {
  dataType: TensorDataType;
  dims: number[];
  data: TensorData;
}

export type Feeds = Record<string, HostTensor>;
