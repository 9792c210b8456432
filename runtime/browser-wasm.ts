/**
 * Browser entry point with the WASM engine only: `import { load } from 'lowrank-edge/wasm'`.
 * It carries no Node modules and no other engine, so an app bundles only onnxruntime-web.
 */
import { ortWasm } from './engines/ort-wasm.js';
import { enginePriority } from './engines/priority.js';
import { EngineRegistry } from './engines/registry.js';
import { LrmSession, type LoadOptions } from './session.js';
import { bytesSource } from './source/bytes.js';
import type { ByteSource } from './source/source.js';
import { urlSource } from './source/url.js';

export const engines = new EngineRegistry().register(ortWasm);

/** Load an .lrm from bytes or a URL (fetched with HTTP Range requests for just the tiers needed). */
export async function load(source: Uint8Array | string | URL | ByteSource, options: LoadOptions = {}): Promise<LrmSession> {
  const src = source instanceof Uint8Array ? bytesSource(source) : typeof source === 'string' || source instanceof URL ? urlSource(String(source)) : source;
  return LrmSession.open(src, engines, enginePriority(['ort-wasm'], options.engine), options);
}

export { LrmSession, type FallbackEvent, type LoadOptions, type LoadProgress, type UpgradeTarget } from './session.js';
export { AUTO_PRESET, type RankChoice } from './choose.js';
export type { ModelCache } from './cache/model-cache.js';
export { browserCache } from './cache/browser-cache.js';
export { memoryCache } from './cache/memory-cache.js';
export { detectWebDevice } from '../devices/detect-web.js';
export { deviceClassId } from '../devices/device-class.js';
export type { DeviceInfo } from '../devices/device-info.js';
export * from './errors.js';
export * from './tensor.js';
