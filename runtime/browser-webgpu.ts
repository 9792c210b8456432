/**
 * Browser entry point with WebGPU first and WASM as its fallback: `import { load } from 'lowrank-edge/webgpu'`.
 * No WebGPU, no adapter, or a GPU device lost during a run moves to ort-wasm with an onFallback event.
 * onnxruntime-web stays external: `onnxruntime-web/webgpu` is loaded only when WebGPU is there, and
 * `onnxruntime-web/wasm` only when the fallback is needed.
 */
import type { EngineId } from './engines/engine.js';
import { ortWasmBrowser } from './engines/ort-wasm.js';
import { ortWebgpu } from './engines/ort-webgpu.js';
import { enginePriority } from './engines/priority.js';
import { EngineRegistry } from './engines/registry.js';
import { LrmSession, type LoadOptions } from './session.js';
import { bytesSource } from './source/bytes.js';
import type { ByteSource } from './source/source.js';
import { urlSource } from './source/url.js';

export const engines = new EngineRegistry().register(ortWebgpu).register(ortWasmBrowser);

export const ENGINE_PRIORITY: readonly EngineId[] = ['ort-webgpu', 'ort-wasm'];

/** Load an .lrm from bytes or a URL (fetched with HTTP Range requests for just the tiers needed). */
export async function load(source: Uint8Array | string | URL | ByteSource, options: LoadOptions = {}): Promise<LrmSession> {
  const src = source instanceof Uint8Array ? bytesSource(source) : typeof source === 'string' || source instanceof URL ? urlSource(String(source)) : source;
  return LrmSession.open(src, engines, enginePriority(ENGINE_PRIORITY, options.engine), options);
}

export { LrmSession, type FallbackEvent, type LoadOptions } from './session.js';
export type { EngineId, EngineWarning } from './engines/engine.js';
export * from './errors.js';
export * from './tensor.js';
