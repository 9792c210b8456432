/**
 * What every browser entry point (browser-wasm.ts, browser-webgpu.ts) offers besides its engines: one load()
 * over a registry and a priority order, and the same public types, caches and device detection.
 */
import type { EngineId } from './engines/engine.js';
import { enginePriority } from './engines/priority.js';
import type { EngineRegistry } from './engines/registry.js';
import { LrmSession, type LoadOptions } from './session.js';
import { bytesSource } from './source/bytes.js';
import type { ByteSource } from './source/source.js';
import { urlSource } from './source/url.js';

/** load() for one browser entry point: bytes or a URL (fetched with HTTP Range requests for just the tiers needed). */
export function browserLoader(engines: EngineRegistry, priority: readonly EngineId[]) {
  return (source: Uint8Array | string | URL | ByteSource, options: LoadOptions = {}): Promise<LrmSession> => {
    const src = source instanceof Uint8Array ? bytesSource(source) : typeof source === 'string' || source instanceof URL ? urlSource(String(source)) : source;
    return LrmSession.open(src, engines, enginePriority(priority, options.engine), options);
  };
}

export { LrmSession, type FallbackEvent, type LoadOptions, type LoadProgress, type RunOptions, type UpgradeTarget } from './session.js';
export type { AdapterDType, AdapterKind, AdapterLayer, AdapterModel } from '../formats/adapter-model.js';
export { AUTO_PRESET, type RankChoice } from './choose.js';
export type { ModelCache } from './cache/model-cache.js';
export { browserCache } from './cache/browser-cache.js';
export { memoryCache } from './cache/memory-cache.js';
export { detectWebDevice } from '../devices/detect-web.js';
export { deviceClassId } from '../devices/device-class.js';
export type { DeviceInfo } from '../devices/device-info.js';
export type { EngineId, EngineWarning, Precision } from './engines/engine.js';
export type { ByteSource } from './source/source.js';
export * from './errors.js';
export * from './tensor.js';
export * from './text/index.js';
