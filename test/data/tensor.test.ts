import { describe, it, expect } from 'vitest';
import {
  allocTensor,
  checkTensor,
  convertTensor,
  elementCount,
  hostDataTypeFromOnnx,
  onnxDataTypeOf,
  HOST_DATA_TYPES,
} from '../../compiler/data/tensor.js';
import { DataShapeError, UnsupportedDataError } from '../../compiler/data/errors.js';

describe('HostTensor helpers', () => {
  it('counts elements and rejects impossible dims', () => {
    expect(elementCount([])).toBe(1);
    expect(elementCount([2, 0, 5])).toBe(0);
    expect(elementCount([1, 3, 224, 224])).toBe(150528);
    for (const bad of [[-1], [1.5], [NaN], [2 ** 40, 2 ** 40]]) expect(() => elementCount(bad)).toThrow(DataShapeError);
  });

  it('maps ONNX type codes both ways', () => {
    for (const t of HOST_DATA_TYPES) expect(hostDataTypeFromOnnx(onnxDataTypeOf(t))).toBe(t);
    expect(hostDataTypeFromOnnx(1)).toBe('float32');
    expect(hostDataTypeFromOnnx(7)).toBe('int64');
    expect(() => hostDataTypeFromOnnx(10)).toThrow(UnsupportedDataError); // float16
  });

  it('checks array class and length against dataType and dims', () => {
    expect(checkTensor(allocTensor('int64', [2, 3])).data).toBeInstanceOf(BigInt64Array);
    expect(() => checkTensor({ dataType: 'float32', dims: [2], data: new Float32Array(3) })).toThrow(/3 elements but shape \[2\] needs 2/);
    expect(() => checkTensor({ dataType: 'int32', dims: [2], data: new Float32Array(2) })).toThrow(DataShapeError);
  });

  it('converts only where the intent is clear', () => {
    const f64 = { dataType: 'float64' as const, dims: [2], data: Float64Array.from([0.1, -3]) };
    expect(convertTensor(f64, 'float32').data).toEqual(Float32Array.from([0.1, -3]));
    const i64 = { dataType: 'int64' as const, dims: [2], data: BigInt64Array.from([5n, 2n ** 40n]) };
    expect(() => convertTensor(i64, 'int32')).toThrow(/value 1099511627776 at index 1 does not fit in int32/);
    expect(convertTensor({ ...i64, data: BigInt64Array.from([5n, -7n]) }, 'int32').data).toEqual(Int32Array.from([5, -7]));
    expect(() => convertTensor(f64, 'int64')).toThrow(/float64 but int64 is expected/);
    expect(convertTensor(f64, 'float64')).toBe(f64);
  });
});
