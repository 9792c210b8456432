/**
 * Browser entry point with the tfjs engines: `import { load, setTfjsWasmFiles } from 'lowrank-edge/tfjs'`.
 * tfjs-webgpu first, tfjs-wasm as its fallback (no navigator.gpu, no adapter, a model with ops it lacks, or a GPU device
 * lost during a run).
 * tfjs-core and both backends are bundled in (dist/browser/lowrank-tfjs.js): the engines register their own
 * backends on that tfjs-core, so it must be the copy they import. tfjs-backend-wasm fetches its .wasm files at run
 * time from the URL prefix set with setTfjsWasmFiles(); the default is the folder of this module, where
 * `npm run build` puts them beside the bundle.
 */
import { browserLoader } from './browser-api.js';
import type { EngineId } from './engines/engine.js';
import { EngineRegistry } from './engines/registry.js';
import { tfjsWasm, tfjsWebgpu } from './engines/tfjs-engines.js';

let wasmFilesUrl = new URL('./', import.meta.url).href;

/**
 * Where tfjs-backend-wasm's .wasm files (tfjs-backend-wasm.wasm, -simd.wasm, -threaded-simd.wasm) are served: a URL
 * prefix ending in `/`. Call it before the first load(); the backend starts once per page.
 */
export function setTfjsWasmFiles(urlPrefix: string | URL): void {
  const prefix = String(urlPrefix);
  wasmFilesUrl = prefix.endsWith('/') ? prefix : `${prefix}/`;
}

/** navigator.gpu as the browser gives it. The default adapter only: a software (fallback) adapter is slower than tfjs-wasm. */
const browserWebgpu = {
  async gpu() {
    return (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  },
  allowFallbackAdapter: false,
  hint: 'WebGPU needs a usable GPU and a secure context (https or localhost); on Linux, Chrome needs --enable-unsafe-webgpu',
};

export const engines = new EngineRegistry().register(tfjsWebgpu(browserWebgpu)).register(tfjsWasm(() => wasmFilesUrl));

export const ENGINE_PRIORITY: readonly EngineId[] = ['tfjs-webgpu', 'tfjs-wasm'];

/** Load an .lrm from bytes or a URL (fetched with HTTP Range requests for just the tiers needed). */
export const load = browserLoader(engines, ENGINE_PRIORITY);

export * from './browser-api.js';
