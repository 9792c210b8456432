import { EngineUnavailableError } from '../errors.js';
import type { Engine } from './engine.js';
import { ortPrecision, withPrecision } from './ort-precision.js';
import { createOrtSession, firstLine, ORT_WEB_RUNS, type OrtWebModule } from './ort-session.js';

const SINGLE_THREAD_WARNING =
  'this page is not cross-origin isolated, so WebAssembly runs on one thread; serve it with the headers ' +
  '"Cross-Origin-Opener-Policy: same-origin" and "Cross-Origin-Embedder-Policy: require-corp" to use several';

/**
 * onnxruntime-web on its WebAssembly (SIMD) backend. `importOrt` picks the build: in Node the package's Node
 * build, in browsers its WASM-only build (`onnxruntime-web/wasm`), so a page never downloads the WebGPU binary.
 */
export function ortWasmEngine(importOrt: () => Promise<unknown>, packageName: string): Engine {
  return {
    id: 'ort-wasm',
    description: 'onnxruntime-web, WebAssembly SIMD',
    async create(model, context) {
      let ort: OrtWebModule;
      try {
        ort = (await importOrt()) as OrtWebModule;
      } catch (e) {
        throw new EngineUnavailableError('ort-wasm', `${packageName} did not load (${firstLine(e)})`);
      }
      // Threads need SharedArrayBuffer, which browsers give only to cross-origin isolated pages; ORT then picks
      // the thread count itself. Node has no such flag (undefined) and always may use threads.
      const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
      if (isolated === false) {
        ort.env.wasm.numThreads = 1;
        context?.onWarning?.({ engine: 'ort-wasm', code: 'wasm-single-thread', message: SINGLE_THREAD_WARNING });
      }
      const chosen = ortPrecision('ort-wasm', model, context?.precision, false);
      return withPrecision(await createOrtSession(ort, 'ort-wasm', chosen.model, { executionProviders: ['wasm'] }, ORT_WEB_RUNS), chosen.precision);
    },
  };
}

// Both marked pure so that a bundle keeps only the one its entry point uses (and imports only that build).

/** In Node (and the Node entry point): onnxruntime-web resolves to its Node build. */
export const ortWasm: Engine = /* @__PURE__ */ ortWasmEngine(() => import('onnxruntime-web'), 'onnxruntime-web');

/** In browsers: the WASM-only build, without the WebGPU/JSEP binary. */
export const ortWasmBrowser: Engine = /* @__PURE__ */ ortWasmEngine(() => import('onnxruntime-web/wasm'), 'onnxruntime-web/wasm');
