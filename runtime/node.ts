/**
 * Node entry point: `import { load } from 'lowrank-edge'`.
 * Engines in priority order: onnxruntime-node on the CPU, then onnxruntime-web's WASM build.
 */
import type { EngineId } from './engines/engine.js';
import { ortNodeCpu } from './engines/ort-node-cpu.js';
import { ortNodeWebgpu } from './engines/ort-node-webgpu.js';
import { ortWasm } from './engines/ort-wasm.js';
import { enginePriority } from './engines/priority.js';
import { EngineRegistry } from './engines/registry.js';
import { tfjsWasm, tfjsWebgpu } from './engines/tfjs-engines.js';
import { nodeWebgpu, tfjsWasmFiles } from './engines/tfjs/node-sources.js';
import { plannedEngines, unavailableEngine } from './engines/unavailable.js';
import { detectNodeDevice } from '../devices/detect-node.js';
import { directoryCache } from './cache/directory-cache.js';
import { LrmSession, type LoadOptions } from './session.js';
import { bytesSource } from './source/bytes.js';
import { fileSource } from './source/file.js';
import type { ByteSource } from './source/source.js';
import { urlSource } from './source/url.js';

export const engines = new EngineRegistry()
  .register(ortNodeCpu)
  .register(ortNodeWebgpu)
  .register(ortWasm)
  .register(tfjsWasm(tfjsWasmFiles))
  .register(tfjsWebgpu(nodeWebgpu));
for (const stub of plannedEngines(['ort-node-cuda'])) engines.register(stub);
engines.register(
  unavailableEngine('ort-webgpu', 'onnxruntime-web, WebGPU (browsers)', 'ort-webgpu runs in browsers (import lowrank-edge/webgpu); in Node use ort-node-webgpu'),
);

/**
 * Default order in Node; LOWRANK_ENGINE=id[,id…] or the `engine` option override it. ort-node-webgpu and the tfjs
 * engines are opt-in (the tfjs ones cover fewer ops and are slower than onnxruntime on the CPU). ort-node-webgpu:
 * on machines without a GPU it would only add a failed adapter request (and a fallback event) to every load.
 */
export const ENGINE_PRIORITY: readonly EngineId[] = ['ort-node-cpu', 'ort-wasm'];

/** Node's load options: also `cacheDir`, a directory cache (see defaultCacheDir()) when no `cache` is given. */
export interface NodeLoadOptions extends LoadOptions {
  cacheDir?: string;
}

/** Load an .lrm from bytes, a file path, or an http(s) URL. */
export async function load(source: Uint8Array | string | URL | ByteSource, options: NodeLoadOptions = {}): Promise<LrmSession> {
  const { cacheDir, ...rest } = options;
  const cache = rest.cache ?? (cacheDir === undefined ? undefined : directoryCache(cacheDir));
  return LrmSession.open(toSource(source), engines, enginePriority(ENGINE_PRIORITY, options.engine), { ...rest, cache, device: rest.device ?? (() => detectNodeDevice()) });
}

export function toSource(source: Uint8Array | string | URL | ByteSource): ByteSource {
  if (source instanceof Uint8Array) return bytesSource(source);
  if (source instanceof URL) return source.protocol === 'file:' ? fileSource(source.pathname) : urlSource(source.href);
  if (typeof source === 'string') return /^https?:\/\//.test(source) ? urlSource(source) : fileSource(source);
  return source;
}

export { LrmSession, HEADER_CHUNK_BYTES, type FallbackEvent, type LoadOptions, type LoadProgress, type RunOptions, type UpgradeTarget } from './session.js';
export type { AdapterDType, AdapterKind, AdapterLayer, AdapterModel } from '../formats/adapter-model.js';
export { AUTO_PRESET, AUTO_MEMORY_SHARE, type RankChoice } from './choose.js';
export { estimateMemory, type MemoryEstimate } from './memory-estimate.js';
export type { ModelCache } from './cache/model-cache.js';
export { memoryCache } from './cache/memory-cache.js';
export { directoryCache, defaultCacheDir } from './cache/directory-cache.js';
export { detectNodeDevice } from '../devices/detect-node.js';
export { deviceClassId } from '../devices/device-class.js';
export { deviceSummary } from '../devices/summary.js';
export type { DeviceInfo } from '../devices/device-info.js';
export { ENGINE_ENV } from './engines/priority.js';
export { ENGINE_IDS } from './engines/engine.js';
export * from './errors.js';
export * from './tensor.js';
export * from './text/index.js';
export type { EngineId, EngineWarning, Precision } from './engines/engine.js';
export type { ByteSource } from './source/source.js';
