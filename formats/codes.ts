/**
 * How model.ts values are stored in the schema: enum codes and sentinels shared by the encoder and decoder.
 */
import { lrm_DenseStorage as FbDenseStorage, lrm_FactorDType as FbFactorDType, lrm_LayerKind as FbLayerKind } from './generated/lrm_generated.js';
import { int4Bytes, type Grouping } from './int4.js';
import type { DenseTensor, FactorDType, LayerKind } from './model.js';

export const FACTOR_DTYPE_CODE: Readonly<Record<FactorDType, FbFactorDType>> = {
  fp32: FbFactorDType.Fp32,
  fp16: FbFactorDType.Fp16,
  int8: FbFactorDType.Int8,
  int4: FbFactorDType.Int4,
};

/** Bytes per stored factor value (int4: half a byte, before its group scales; see storedMatrixBytes). */
export const FACTOR_ELEMENT_BYTES: Readonly<Record<FactorDType, number>> = { fp32: 4, fp16: 2, int8: 1, int4: 0.5 };

/**
 * Exact payload bytes of `rows` stored rows of `length` values each in `dtype` (int4: with its group scales; see
 * formats/int4.ts), or NaN when int4 has no valid group size.
 */
export function storedMatrixBytes(dtype: FactorDType, rows: number, length: number, grouping: Grouping | undefined): number {
  return dtype === 'int4' ? int4Bytes(rows, length, grouping ?? 0) : rows * length * FACTOR_ELEMENT_BYTES[dtype];
}

export const DENSE_STORAGE_CODE: Readonly<Record<NonNullable<DenseTensor['storage']>, FbDenseStorage>> = {
  fp16: FbDenseStorage.Fp16,
  int8: FbDenseStorage.Int8,
  int4: FbDenseStorage.Int4,
  int3: FbDenseStorage.Int3,
};

export const LAYER_KIND_CODE: Readonly<Record<LayerKind, FbLayerKind>> = {
  matmul: FbLayerKind.MatMul,
  gemm: FbLayerKind.Gemm,
  conv: FbLayerKind.Conv,
};

/** Stored for a preset number that was not measured (every measured number is ≥ 0). */
export const NOT_MEASURED = -1;
