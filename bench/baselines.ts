/**
 * Quantisation-only baselines: the original model, nothing factored, every weight our quantiser handles stored
 * as `dtype` by compileOnnx itself (compiler/quantize-dense.ts: Conv/MatMul/Gemm weights and Gather tables;
 * int8 per output channel, int4 in groups with the same per-weight precision choice as our int4 files, both
 * GPTQ-rounded on the model's calibration data as our files are, to nearest where no input was measured (Gather
 * tables, depthwise kernels) and, as in our int4 files, for the weights an int4 file keeps int8; biases and other
 * tensors stay float32). They answer
 * "does the low-rank file beat plain quantisation at the same bytes?" and run on every bench model.
 */
import type { FactorDType } from '../formats/model.js';
import { QUANTISED_METHODS, type BenchModel, type Method, type MethodId, type QuantOnlyId } from './models.js';

/** The storage types every bench model gets a quantisation-only baseline for, in report order. */
export const QUANT_BASELINE_DTYPES: readonly FactorDType[] = ['int8', 'int4'];

/** The baseline method for one storage type: one tier (everything), no factored layer, `dtype` weights. */
export function quantOnly(dtype: FactorDType): Method {
  const int4 = dtype === 'int4';
  return {
    id: `quant-${dtype}`,
    description: int4
      ? 'quantisation only: the original with every Conv/MatMul/Gemm weight and Gather table stored int4 in groups of 32 (GPTQ on the calibration data; depthwise kernels int8), nothing factored'
      : `quantisation only: the original with every Conv/MatMul/Gemm weight and Gather table stored ${dtype} per output channel${dtype === 'int8' ? ' (GPTQ on the calibration data; to nearest where no input was measured)' : ''}, nothing factored`,
    dtype,
    // int8 and int4 round against the calibration inputs (GPTQ), as our files do: the same quantiser, without factors.
    calibrated: int4 || dtype === 'int8',
    tiers: [1],
    minParams: Infinity,
    // Plain int4, as calibrated-int4: the nested 3-bit tier is ours, not the baseline's.
    ...(int4 ? { int4MinBits: 4 as const } : {}),
  };
}

/** The baseline methods of QUANT_BASELINE_DTYPES. */
export function quantBaselines(): Method[] {
  return QUANT_BASELINE_DTYPES.map(quantOnly);
}

/** Whether a method (or row's method) is a quantisation-only baseline rather than one of ours. */
export function isQuantBaseline(method: MethodId | 'original'): method is QuantOnlyId {
  return method.startsWith('quant-');
}

/** The model with our quantised methods (int8, int4) and then the baselines after its own methods. */
export function withQuantBaselines(model: BenchModel): BenchModel {
  const ours = QUANTISED_METHODS.filter((m) => !model.methods.some((x) => x.id === m.id));
  return { ...model, methods: [...model.methods, ...ours, ...quantBaselines()] };
}
