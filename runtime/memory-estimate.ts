import { DATA_TYPE_SIZE, DataType, type ModelHeader } from '../formats/model.js';
import { sectionBytes } from '../formats/sections.js';
import { runsFactored, storedDense, tierBitsAt } from './onnx/build-model.js';
import { Int4Kernels, matMulNBitsBytes, matMulNBitsFits } from './onnx/int4-kernels.js';

const MB = 1024 * 1024;

/**
 * Working memory of an engine beyond the session's own copy of the .lrm bytes, as a multiple of the float32
 * weights it runs plus a fixed part (runtime, arena, activations of a small input). Calibrated with
 * `node dist/bench/memory.js` (docs/api.md, "Memory budget"): peak RSS growth of load() + one run, per model and tier.
 */
export interface EngineMemoryModel {
  perWeightByte: number;
  fixedMb: number;
}

export const ENGINE_MEMORY: Readonly<Record<string, EngineMemoryModel>> = {
  'ort-node-cpu': { perWeightByte: 4.4, fixedMb: 39 },
};
/** For engines not measured yet: the ort-node-cpu model (the same onnxruntime core underneath). */
export const DEFAULT_ENGINE_MEMORY: EngineMemoryModel = ENGINE_MEMORY['ort-node-cpu'];

export interface MemoryEstimate {
  tiers: number;
  /** The .lrm prefix (header + tiers) the session keeps, so upgrade() only fetches what is new. */
  heldBytes: number;
  /** Weights as the engine holds them: float32, layers past break-even multiplied back to dense. */
  weightBytes: number;
  /** Everything: held bytes plus the engine's working memory. */
  totalMb: number;
}

/**
 * Bytes of the weights the engine runs with tiers 0..tiers-1 loaded: float32 (float16 with `half`: every float
 * weight, runtime/onnx/half-precision.ts), or with `int4Kernels` the int4 MatMul weights as MatMulNBits blocks
 * (runtime/onnx/int4-kernels.ts; not at 8-bit tiers; a graph with them stays float32).
 */
export function engineWeightBytes(header: ModelHeader, tiers: number, int4Kernels = false, half = false): number {
  const ranks = header.tiers[tiers - 1].ranks;
  const G = header.int4GroupSize;
  const kernels = int4Kernels && tierBitsAt(header, tiers) !== 8 && matMulNBitsFits(G) ? new Int4Kernels(header) : undefined;
  const floatBytes = half ? 2 : 4;
  let bytes = 0;
  for (const t of header.graph.initializers) {
    const size = t.dataType === DataType.FLOAT ? floatBytes : (DATA_TYPE_SIZE[t.dataType] ?? 4);
    bytes += kernels?.weights.has(t.name) ? matMulNBitsBytes(t.dims[1]!, t.dims[0]!, G!) : t.dims.reduce((a, b) => a * b, 1) * size;
  }
  header.layers.forEach((layer, i) => {
    const r = ranks[i];
    const nbits = kernels && storedDense(layer, r) && layer.kind === 'matmul' && layer.denseStorage === undefined && header.factorDType === 'int4';
    bytes += nbits ? matMulNBitsBytes(layer.rows, layer.cols, G!) : floatBytes * (runsFactored(layer, r) ? r * (layer.rows + layer.cols) : layer.rows * layer.cols);
  });
  return bytes;
}

/** Bytes of the file a session of `tiers` tiers holds: the header and the sections those tiers need. */
export function heldFileBytes(header: ModelHeader, payloadStart: number, tiers: number): number {
  return payloadStart + sectionBytes(header, tiers);
}

/** Memory a session of `tiers` tiers on `engine` needs, before anything is allocated. */
export function estimateMemory(header: ModelHeader, payloadStart: number, tiers: number, engine: string): MemoryEstimate {
  const model = ENGINE_MEMORY[engine] ?? DEFAULT_ENGINE_MEMORY;
  const heldBytes = heldFileBytes(header, payloadStart, tiers);
  const weightBytes = engineWeightBytes(header, tiers);
  const totalMb = (heldBytes + model.perWeightByte * weightBytes) / MB + model.fixedMb;
  return { tiers, heldBytes, weightBytes, totalMb };
}
