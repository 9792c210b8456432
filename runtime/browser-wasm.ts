/**
 * Browser entry point with the WASM engine only: `import { load } from 'lowrank-edge/wasm'`.
 * It carries no Node modules and no other engine, so an app bundles only onnxruntime-web's WASM build
 * (`onnxruntime-web/wasm`, kept external: the app's bundler or import map provides it and its .wasm files).
 */
import { browserLoader } from './browser-api.js';
import type { EngineId } from './engines/engine.js';
import { ortWasmBrowser } from './engines/ort-wasm.js';
import { EngineRegistry } from './engines/registry.js';

export const engines = new EngineRegistry().register(ortWasmBrowser);

export const ENGINE_PRIORITY: readonly EngineId[] = ['ort-wasm'];

/** Load an .lrm from bytes or a URL (fetched with HTTP Range requests for just the tiers needed). */
export const load = browserLoader(engines, ENGINE_PRIORITY);

export * from './browser-api.js';
