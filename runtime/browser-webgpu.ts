/**
 * Browser entry point with WebGPU first and WASM as its fallback: `import { load } from 'lowrank-edge/webgpu'`.
 * No WebGPU, no adapter, or a GPU device lost during a run moves to ort-wasm with an onFallback event.
 * onnxruntime-web stays external: `onnxruntime-web/webgpu` is loaded only when WebGPU is there, and
 * `onnxruntime-web/wasm` only when the fallback is needed.
 */
import { browserLoader } from './browser-api.js';
import type { EngineId } from './engines/engine.js';
import { ortWasmBrowser } from './engines/ort-wasm.js';
import { ortWebgpu } from './engines/ort-webgpu.js';
import { EngineRegistry } from './engines/registry.js';

export const engines = new EngineRegistry().register(ortWebgpu).register(ortWasmBrowser);

export const ENGINE_PRIORITY: readonly EngineId[] = ['ort-webgpu', 'ort-wasm'];

/** Load an .lrm from bytes or a URL (fetched with HTTP Range requests for just the tiers needed). */
export const load = browserLoader(engines, ENGINE_PRIORITY);

export * from './browser-api.js';
