import { EngineUnavailableError } from '../errors.js';
import type { Engine, EngineContext, EngineId } from './engine.js';
import type { WebGpuSource } from './tfjs/webgpu.js';

export type { WebGpuSource } from './tfjs/webgpu.js';

/**
 * The tfjs engines: the ONNX graph interpreted with @tensorflow/tfjs-core ops (runtime/engines/tfjs/) on tfjs's
 * WASM or WebGPU backend. Platform specifics come in from the entry point (Node: the package folder of the .wasm
 * files and the `webgpu` package; browser: a URL prefix and navigator.gpu), so this file and everything it
 * loads work in both. tfjs itself is imported only when a session is created.
 */
export function tfjsWasm(wasmPaths: () => string): Engine {
  return {
    id: 'tfjs-wasm',
    description: 'tfjs-core ops on @tensorflow/tfjs-backend-wasm',
    async create(model, context) {
      float32Only('tfjs-wasm', context);
      const { createTfjsWasmSession } = await import('./tfjs/wasm.js');
      return createTfjsWasmSession(model, wasmPaths());
    },
  };
}

export function tfjsWebgpu(source: WebGpuSource): Engine {
  return {
    id: 'tfjs-webgpu',
    description: 'tfjs-core ops on @tensorflow/tfjs-backend-webgpu',
    async create(model, context) {
      float32Only('tfjs-webgpu', context);
      const { createTfjsWebgpuSession } = await import('./tfjs/webgpu.js');
      return createTfjsWebgpuSession(model, source);
    },
  };
}

/** The tfjs interpreter computes in float32 only: 'fp16' asked for is refused, so a priority list moves on. */
function float32Only(engine: EngineId, context: EngineContext | undefined): void {
  if (context?.precision === 'fp16') throw new EngineUnavailableError(engine, "it computes in float32 only; precision 'fp16' needs an onnxruntime engine");
}
