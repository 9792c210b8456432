import type { Feeds, HostTensor } from '../tensor.js';

/**
 * Every engine id the runtime knows. Those not built into this version are registered as stubs with the
 * same API that throw EngineUnavailableError (see unavailable.ts), so asking for one is a clear, typed error.
 */
export const ENGINE_IDS = ['ort-node-cpu', 'ort-node-webgpu', 'ort-node-cuda', 'ort-wasm', 'ort-webgpu', 'tfjs-wasm', 'tfjs-webgpu'] as const;
export type EngineId = (typeof ENGINE_IDS)[number];

/** Short names accepted wherever an engine id is (the CLI's `--engine node-cpu|wasm`). */
export const ENGINE_ALIASES: Readonly<Record<string, EngineId>> = { 'node-cpu': 'ort-node-cpu', 'node-webgpu': 'ort-node-webgpu', wasm: 'ort-wasm' };

export function canonicalEngineId(name: string): string {
  return ENGINE_ALIASES[name] ?? name;
}

/**
 * The float type an engine computes in (load option `precision`). 'auto': float16 where the engine runs it natively
 * (onnxruntime-web on WebGPU with the adapter's `shader-f16`; runtime/onnx/half-precision.ts), else float32.
 * 'fp32': always float32. 'fp16': float16 on any onnxruntime engine (on a CPU it only halves the model it is given),
 * refused by an engine that cannot.
 */
export type Precision = 'auto' | 'fp32' | 'fp16';

/** What an engine computes in when load() is given no `precision`: float32, the weights' own type. */
export const DEFAULT_PRECISION: Precision = 'fp32';

/** A model built for one engine, ready to run. */
export interface EngineSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** The float type its weights and activations are in; absent: float32. */
  readonly precision?: 'fp16' | 'fp32';
  run(feeds: Feeds): Promise<Record<string, HostTensor>>;
  release(): Promise<void>;
}

/**
 * Something an app should know about how an engine runs, though it does run (e.g. WASM on one thread because
 * the page is not cross-origin isolated). `code` is stable for apps to match; `message` says what to change.
 */
export interface EngineWarning {
  engine: EngineId;
  code: 'wasm-single-thread';
  message: string;
}

/** What the session hands an engine besides the model: where to report warnings. */
export interface EngineContext {
  onWarning?: (warning: EngineWarning) => void;
  /** Which float type to run in (default 'fp32'). */
  precision?: Precision;
}

/** Turns an ONNX graph into something that runs. Engines see only the graph we built, never the compiler. */
export interface Engine {
  readonly id: EngineId;
  /** What it runs on, for messages and reports. */
  readonly description: string;
  create(onnxModel: Uint8Array, context?: EngineContext): Promise<EngineSession>;
}
