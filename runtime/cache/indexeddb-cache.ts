import type { ModelCache } from './model-cache.js';

const STORE = 'sections';

/** Sections in one IndexedDB object store: for browsers without the Cache API (or where it refuses us). */
export function indexedDbCache(factory: IDBFactory, name = 'lowrank-edge'): ModelCache {
  let db: Promise<IDBDatabase> | undefined;
  const open = (): Promise<IDBDatabase> =>
    (db ??= new Promise((resolve, reject) => {
      const req = factory.open(name, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    }));
  const request = async <T>(mode: IDBTransactionMode, make: (store: IDBObjectStore) => IDBRequest): Promise<T> => {
    const tx = (await open()).transaction(STORE, mode);
    return new Promise<T>((resolve, reject) => {
      const req = make(tx.objectStore(STORE));
      // Resolve on commit, not on the request: a quota error surfaces as a transaction abort.
      tx.oncomplete = () => resolve(req.result as T);
      tx.onabort = () => reject(tx.error ?? req.error);
      tx.onerror = () => reject(tx.error ?? req.error);
    });
  };
  return {
    kind: 'indexeddb',
    async get(key) {
      const value = await request<unknown>('readonly', (s) => s.get(key));
      return value instanceof Uint8Array ? value : value instanceof ArrayBuffer ? new Uint8Array(value) : undefined;
    },
    async put(key, bytes) {
      await request('readwrite', (s) => s.put(bytes.slice(), key));
    },
    async delete(key) {
      await request('readwrite', (s) => s.delete(key));
    },
  };
}
