import type { ModelCache } from './model-cache.js';

/** Sections kept in this process only: the last fallback when persistent storage is full or missing. */
export function memoryCache(): ModelCache {
  const entries = new Map<string, Uint8Array>();
  return {
    kind: 'memory',
    async get(key) {
      return entries.get(key);
    },
    async put(key, bytes) {
      entries.set(key, bytes.slice());
    },
    async delete(key) {
      entries.delete(key);
    },
  };
}
