/**
 * How model.ts values are stored in the schema: enum codes and sentinels shared by the encoder and decoder.
 */
import { lrm_FactorDType as FbFactorDType, lrm_LayerKind as FbLayerKind } from './generated/lrm_generated.js';
import type { FactorDType, LayerKind } from './model.js';

export const FACTOR_DTYPE_CODE: Readonly<Record<FactorDType, FbFactorDType>> = {
  fp32: FbFactorDType.Fp32,
  fp16: FbFactorDType.Fp16,
  int8: FbFactorDType.Int8,
};

/** Bytes per stored factor value. */
export const FACTOR_ELEMENT_BYTES: Readonly<Record<FactorDType, number>> = { fp32: 4, fp16: 2, int8: 1 };

export const LAYER_KIND_CODE: Readonly<Record<LayerKind, FbLayerKind>> = {
  matmul: FbLayerKind.MatMul,
  gemm: FbLayerKind.Gemm,
  conv: FbLayerKind.Conv,
};

/** Stored for a preset number that was not measured (every measured number is ≥ 0). */
export const NOT_MEASURED = -1;
