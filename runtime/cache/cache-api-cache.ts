import type { ModelCache } from './model-cache.js';

/** The parts of the browser Cache API we use (window.caches / self.caches). */
export interface CacheStorageLike {
  open(name: string): Promise<{
    match(request: string): Promise<Response | undefined>;
    put(request: string, response: Response): Promise<void>;
    delete(request: string): Promise<boolean>;
  }>;
}

/** Cache entries need URLs; this origin never resolves, it only names entries. */
const KEY_ORIGIN = 'https://lowrank-edge.cache/';

/** Sections in the browser's Cache API, in one named cache. */
export function cacheApiCache(storage: CacheStorageLike, name = 'lowrank-edge'): ModelCache {
  const cache = storage.open(name);
  return {
    kind: 'cache-api',
    async get(key) {
      const res = await (await cache).match(KEY_ORIGIN + key);
      return res ? new Uint8Array(await res.arrayBuffer()) : undefined;
    },
    async put(key, bytes) {
      const body = bytes.slice();
      await (await cache).put(KEY_ORIGIN + key, new Response(body, { headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length) } }));
    },
    async delete(key) {
      await (await cache).delete(KEY_ORIGIN + key);
    },
  };
}
