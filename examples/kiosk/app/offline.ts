/**
 * Offline use: the service worker (sw/service-worker.ts) keeps the page, the bundles, the engine's files and the
 * model's header read; the runtime's browserCache() keeps the verified tiers. On the first visit the page waits
 * until the worker controls it before loading the model (a few hundred ms), so every request the model and engine
 * make goes through the worker and is kept: otherwise the header read and the engine's .wasm, fetched before the
 * worker took over, would be missing offline. On WebGPU the page also has the WebAssembly fallback's binary stored
 * (keepFallbackEngine), which that engine would otherwise fetch only when the GPU is gone.
 */

/** How long to wait for the worker on a first visit before loading without it (it then works offline next time). */
const CONTROL_TIMEOUT_MS = 10_000;

export type OfflineState = { ok: true } | { ok: false; reason: string };

export async function enableOffline(workerUrl: string): Promise<OfflineState> {
  const container = navigator.serviceWorker;
  if (!container) return { ok: false, reason: 'this browser has no service workers (or the page is not served over https or localhost)' };
  try {
    await container.register(workerUrl);
  } catch (e) {
    return { ok: false, reason: `the service worker did not install (${(e as Error).message})` };
  }
  if (container.controller) return { ok: true };
  const controlled = new Promise<boolean>((resolve) => {
    container.addEventListener('controllerchange', () => resolve(true), { once: true });
    setTimeout(() => resolve(false), CONTROL_TIMEOUT_MS);
  });
  return (await controlled) ? { ok: true } : { ok: false, reason: 'the service worker did not take over in time; offline use starts from the next visit' };
}

/**
 * The fallback engine's files, fetched through the worker so that it keeps them (it stores what passes through). A
 * device that ran on WebGPU online may have none offline (a lost device, a driver update), and tfjs-wasm fetches its
 * binary only on first use. Of tfjs-backend-wasm's three binaries this is the one it picks in a browser with WebGPU
 * (every one has WebAssembly SIMD): the threaded one where SharedArrayBuffer exists, i.e. when cross-origin isolated.
 * The files sit beside the runtime bundle (index.html's import map: lowrank/).
 */
export async function keepFallbackEngine(engine: string | undefined): Promise<void> {
  if (engine !== 'tfjs-webgpu') return;
  const binary = crossOriginIsolated ? 'tfjs-backend-wasm-threaded-simd.wasm' : 'tfjs-backend-wasm-simd.wasm';
  await fetch(new URL(`lowrank/${binary}`, location.href));
}
