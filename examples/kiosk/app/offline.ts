/**
 * Offline use: the service worker (sw/service-worker.ts) keeps the page, the bundles, the engine's files and the
 * model's header read; the runtime's browserCache() keeps the verified tiers. On the first visit the page waits
 * until the worker controls it before loading the model (a few hundred ms), so every request the model and engine
 * make goes through the worker and is kept: otherwise the header read and the engine's .wasm, fetched before the
 * worker took over, would be missing offline.
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
