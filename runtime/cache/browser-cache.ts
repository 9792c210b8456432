import { cacheApiCache, type CacheStorageLike } from './cache-api-cache.js';
import { indexedDbCache } from './indexeddb-cache.js';
import { memoryCache } from './memory-cache.js';
import type { ModelCache } from './model-cache.js';
import { withQuotaFallback } from './quota-fallback-cache.js';

/**
 * The browser's best store: the Cache API, else IndexedDB (no Cache API, e.g. http:// pages in some browsers),
 * else memory; whichever it is falls back to memory when its quota is full.
 */
export function browserCache(scope: { caches?: CacheStorageLike; indexedDB?: IDBFactory } = globalThis as never): ModelCache {
  if (scope.caches) return withQuotaFallback(cacheApiCache(scope.caches));
  if (scope.indexedDB) return withQuotaFallback(indexedDbCache(scope.indexedDB));
  return memoryCache();
}
