/**
 * Which float type an onnxruntime engine runs a model in (engine.ts's Precision), and the model to give it.
 * One rule for the four onnxruntime engines, so 'auto', 'fp32' and 'fp16' mean the same on each.
 */
import { EngineUnavailableError } from '../errors.js';
import { halfPrecisionBlocker, toHalfPrecision } from '../onnx/half-precision.js';
import { onnx } from '../onnx/proto.js';
import { DEFAULT_PRECISION, type EngineId, type EngineSession, type Precision } from './engine.js';

export interface PrecisionChoice {
  model: Uint8Array;
  precision: 'fp16' | 'fp32';
}

/**
 * `native`: the device computes float16 itself (WebGPU with `shader-f16`). 'auto' takes float16 only then, and only
 * for a graph half-precision.ts converts; 'fp16' takes it on any device and refuses (EngineUnavailableError, so a
 * priority list moves on) a graph it cannot convert, or a WebGPU adapter without `shader-f16`.
 */
export function ortPrecision(engine: EngineId, model: Uint8Array, precision: Precision = DEFAULT_PRECISION, native: boolean, webgpu = false): PrecisionChoice {
  if (precision === 'fp32' || (precision === 'auto' && !native)) return { model, precision: 'fp32' };
  if (precision === 'fp16' && webgpu && !native) throw new EngineUnavailableError(engine, "precision 'fp16' needs a WebGPU adapter with the shader-f16 feature, and this one has none");
  const decoded = onnx.ModelProto.decode(model);
  const blocker = halfPrecisionBlocker(decoded);
  if (blocker === undefined) return { model: toHalfPrecision(decoded), precision: 'fp16' };
  if (precision === 'auto') return { model, precision: 'fp32' };
  throw new EngineUnavailableError(engine, `precision 'fp16': ${blocker}; load with precision 'auto' or 'fp32' to run it in float32`);
}

/** The session, saying which float type it runs in. */
export function withPrecision<S extends EngineSession>(session: S, precision: 'fp16' | 'fp32'): S {
  return Object.assign(session, { precision });
}
