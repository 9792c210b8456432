/**
 * The kiosk's service worker: after one visit the page, its bundles, the engine and the model work offline.
 *
 * What is cached where, and why:
 * - The shell (page, app, the tfjs runtime bundle, model.json) is cached at install, in a cache named after the
 *   build, so a new build replaces it whole.
 * - Every other same-origin GET (tfjs-backend-wasm's .wasm, fetched on demand; with engine=ort-*, onnxruntime-web's
 *   entry modules and binaries; the sample photo; the search panel's vocabulary and phrases, content-addressed and
 *   fetched only once the panel loads) is cached the first time it passes through. Only the engine the
 *   device actually uses is stored, and on WebGPU tfjs-wasm's binary, which the page fetches ahead of need for a GPU
 *   lost or missing offline (app/offline.ts).
 * - The model's tiers are NOT cached here: the runtime's own browserCache() keeps every section it has verified
 *   against its SHA-256, keyed by the header hash, and reads them back before it asks the network. Caching the
 *   .lrm here too would store it twice. What the runtime cannot keep is its header read: every load starts with
 *   Range requests for the header (the header and the integrity pin are checked on each load, before any cached
 *   section is trusted): 64 KiB from byte 0, and one more request when the header is longer (MobileNet's is
 *   ~81 KiB). So the worker keeps the model's Range responses that start inside its header, and lets the rest through.
 *   The same holds for the search panel's USE-lite .lrm. The models' file names carry their hash
 *   (content-addressed), so a kept range never goes stale.
 */
import { matchRange, parseRange, storeRange } from './range-cache.js';

/**
 * Replaced at build time: the build's id, the shell's files, and each model's path and header length (payload
 * start): MobileNet's, and the search panel's USE-lite when the build has one.
 */
declare const KIOSK_BUILD: string;
declare const KIOSK_SHELL: string[];
declare const KIOSK_MODELS: Array<{ path: string; headerBytes: number }>;

/** The parts of the worker scope used here (the DOM library, which the project compiles with, lacks them). */
interface ExtendableEvent extends Event {
  waitUntil(promise: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  readonly request: Request;
  respondWith(response: Promise<Response> | Response): void;
}
interface WorkerScope {
  skipWaiting(): Promise<void>;
  clients: { claim(): Promise<void> };
  location: Location;
  addEventListener(type: 'install' | 'activate', listener: (event: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', listener: (event: FetchEvent) => void): void;
}
const scope = self as unknown as WorkerScope;

const CACHE_PREFIX = 'kiosk-';
const CACHE = `${CACHE_PREFIX}${KIOSK_BUILD}`;

scope.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(KIOSK_SHELL)).then(() => scope.skipWaiting()));
});

scope.addEventListener('activate', (event) => {
  // Older builds' caches go; the runtime's own cache ('lowrank-edge') is not ours to clear.
  const old = caches.keys().then((keys) => Promise.all(keys.filter((k) => k.startsWith(CACHE_PREFIX) && k !== CACHE).map((k) => caches.delete(k))));
  event.waitUntil(old.then(() => scope.clients.claim()));
});

scope.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET' || new URL(request.url).origin !== scope.location.origin) return;
  if (request.headers.has('Range')) {
    const range = parseRange(request.headers.get('Range'));
    // Only the header reads are kept (see above); other ranges go to the network untouched.
    const model = KIOSK_MODELS.find((m) => new URL(m.path, scope.location.href).href === request.url);
    if (range && model && range.start < model.headerBytes) event.respondWith(headerRead(request, range));
    return;
  }
  event.respondWith(cacheFirst(request));
});

/** The file names are content-addressed or replaced with the build, so what is cached is served first. */
async function cacheFirst(request: Request): Promise<Response> {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(request, { ignoreSearch: request.mode === 'navigate' });
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok && response.status === 200) await cache.put(request, response.clone());
  return response;
}

async function headerRead(request: Request, range: { start: number; end: number }): Promise<Response> {
  const cache = await caches.open(CACHE);
  const hit = await matchRange(cache, request.url, range);
  if (hit) return hit;
  const response = await fetch(request);
  if (response.status === 206) await storeRange(cache, request.url, range, response.clone());
  return response;
}
