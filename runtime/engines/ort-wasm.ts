import { EngineUnavailableError } from '../errors.js';
import type { Engine } from './engine.js';
import { createOrtSession, firstLine, type OrtModule } from './ort-session.js';

/** onnxruntime-web on its WebAssembly (SIMD) backend, in a browser or in Node. */
export const ortWasm: Engine = {
  id: 'ort-wasm',
  description: 'onnxruntime-web, WebAssembly SIMD',
  async create(model) {
    let ort: OrtModule & { env: { wasm: { numThreads?: number } } };
    try {
      ort = (await import('onnxruntime-web')) as unknown as typeof ort;
    } catch (e) {
      throw new EngineUnavailableError('ort-wasm', `onnxruntime-web did not load (${firstLine(e)})`);
    }
    // Threads need cross-origin isolation in browsers; without it one thread is the only option that works.
    const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
    if (isolated === false) ort.env.wasm.numThreads = 1;
    return createOrtSession(ort, 'ort-wasm', model, { executionProviders: ['wasm'] });
  },
};
