import { memoryCache } from './memory-cache.js';
import type { ModelCache } from './model-cache.js';

/** Browsers report a full store as a DOMException named QuotaExceededError (Firefox: NS_ERROR_DOM_QUOTA_REACHED). */
export function isQuotaError(e: unknown): boolean {
  const name = (e as { name?: string })?.name ?? '';
  return name === 'QuotaExceededError' || name === 'NS_ERROR_DOM_QUOTA_REACHED';
}

/**
 * `primary`, until it reports a full quota; then sections go to `fallback` (memory by default) for the rest of
 * the session, and reads look in both. Any other storage failure is swallowed the same way: a cache that
 * cannot store only costs a download, it must never fail a load.
 */
export function withQuotaFallback(primary: ModelCache, fallback: ModelCache = memoryCache()): ModelCache & { readonly degraded: boolean } {
  let degraded = false;
  return {
    get kind() {
      return degraded ? `${primary.kind}→${fallback.kind}` : primary.kind;
    },
    get degraded() {
      return degraded;
    },
    async get(key) {
      const local = await fallback.get(key);
      if (local) return local;
      try {
        return await primary.get(key);
      } catch {
        return undefined;
      }
    },
    async put(key, bytes) {
      if (!degraded) {
        try {
          return await primary.put(key, bytes);
        } catch (e) {
          degraded = true;
          if (!isQuotaError(e)) console.warn(`lowrank-edge: the ${primary.kind} cache failed (${(e as Error)?.message}); keeping model sections in memory`);
        }
      }
      await fallback.put(key, bytes);
    },
    async delete(key) {
      await fallback.delete(key);
      try {
        await primary.delete(key);
      } catch {
        // Nothing to clean up in a store we cannot reach.
      }
    },
  };
}
