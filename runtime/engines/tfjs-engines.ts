import type { Engine } from './engine.js';
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
    async create(model) {
      const { createTfjsWasmSession } = await import('./tfjs/wasm.js');
      return createTfjsWasmSession(model, wasmPaths());
    },
  };
}

export function tfjsWebgpu(source: WebGpuSource): Engine {
  return {
    id: 'tfjs-webgpu',
    description: 'tfjs-core ops on @tensorflow/tfjs-backend-webgpu',
    async create(model) {
      const { createTfjsWebgpuSession } = await import('./tfjs/webgpu.js');
      return createTfjsWebgpuSession(model, source);
    },
  };
}
