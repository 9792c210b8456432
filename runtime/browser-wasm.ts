/**
 * Browser entry point with the WASM engine only: `import { load } from 'lowrank-edge/wasm'`.
 * It carries no Node modules and no other engine, so an app bundles only onnxruntime-web's WASM build
 * (`onnxruntime-web/wasm`, kept external: the app's bundler or import map provides it and its .wasm files).
 */
import { ortWasmBrowser } from './engines/ort-wasm.js';
import { enginePriority } from './engines/priority.js';
import { EngineRegistry } from './engines/registry.js';
import { LrmSession, type LoadOptions } from './session.js';
import { bytesSource } from './source/bytes.js';
import type { ByteSource } from './source/source.js';
import { urlSource } from './source/url.js';

export const engines = new EngineRegistry().register(ortWasmBrowser);

/** Load an .lrm from bytes or a URL (fetched with HTTP Range requests for just the tiers needed). */
export async function load(source: Uint8Array | string | URL | ByteSource, options: LoadOptions = {}): Promise<LrmSession> {
  const src = source instanceof Uint8Array ? bytesSource(source) : typeof source === 'string' || source instanceof URL ? urlSource(String(source)) : source;
  return LrmSession.open(src, engines, enginePriority(['ort-wasm'], options.engine), options);
}

export { LrmSession, type FallbackEvent, type LoadOptions } from './session.js';
export type { EngineId, EngineWarning } from './engines/engine.js';
export * from './errors.js';
export * from './tensor.js';
