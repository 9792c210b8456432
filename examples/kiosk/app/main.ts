/**
 * The kiosk page: checks what the browser offers (cross-origin isolation for threads, a service worker for
 * offline use), reads model.json (the model's URL, integrity pin and labels), loads the first tier and wires the
 * photo picker and camera, and the search-by-meaning panel when model.json has one (app/search.ts). URL parameters: image=<url> classifies that image at once; engine=tfjs-wasm skips
 * WebGPU; engine=ort-wasm or ort-webgpu runs on onnxruntime-web instead of tfjs (app/runtime.ts); manifest=<url>
 * reads another model.json; sw=0 skips the service worker (bench/kiosk.ts: CDP throttling does not reach a
 * worker's own requests).
 */
import type { EngineId } from '../../../runtime/browser-webgpu.js';
import { MANIFEST_FILE, parseManifest } from '../manifest.js';
import { setUpCamera } from './camera.js';
import { explainError } from './explain.js';
import { Kiosk } from './kiosk.js';
import { enableOffline, keepFallbackEngine } from './offline.js';
import { loadRuntime } from './runtime.js';
import { Screen } from './screen.js';
import { PhraseSearch } from './search.js';

const screen = new Screen();
main().catch((e: unknown) => screen.setStatus(explainError(e), 'error'));

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  if (!crossOriginIsolated) {
    screen.notice('not-isolated', 'This page is not cross-origin isolated, so WebAssembly runs on one thread (slower). Serve it with "Cross-Origin-Opener-Policy: same-origin" and "Cross-Origin-Embedder-Policy: require-corp".');
  }
  let offline = false;
  if (params.get('sw') !== '0') {
    screen.setStatus('Preparing offline use…');
    const state = await enableOffline('sw.js');
    if (!state.ok) screen.notice('offline', `This kiosk will not work offline: ${state.reason}.`);
    offline = state.ok;
  }

  const manifestUrl = new URL(params.get('manifest') ?? MANIFEST_FILE, location.href);
  const response = await fetch(manifestUrl);
  if (!response.ok) throw new Error(`cannot read ${manifestUrl.href}: HTTP ${response.status}`);
  const manifest = parseManifest(await response.json(), manifestUrl.href);
  const engine = (params.get('engine') as EngineId | null) ?? undefined;
  const runtime = await loadRuntime(engine);
  const kiosk = new Kiosk(screen, manifest, new URL(manifest.model, manifestUrl), engine, runtime);
  await kiosk.start();
  // After the model's download, so it does not delay the first result: the fallback engine, for a GPU lost or missing offline.
  if (offline) void kiosk.upgraded.then(() => keepFallbackEngine(kiosk.engineInUse)).catch(() => {});
  if (manifest.search) {
    // Lazy: the search model loads when the box is focused, or once the image model has finished downloading.
    const search = new PhraseSearch(manifest.search, manifestUrl, runtime, engine);
    void kiosk.upgraded.then(() => search.prepare()).catch(() => {});
  }

  const picker = document.getElementById('picker') as HTMLInputElement;
  picker.addEventListener('change', () => {
    const file = picker.files?.[0];
    if (file) void kiosk.classifyPhoto(file);
  });
  setUpCamera((video) => void kiosk.classifyFrame(video), (message) => screen.setStatus(message, 'error'));
  const image = params.get('image');
  if (image) {
    const photo = await fetch(new URL(image, location.href));
    if (!photo.ok) throw new Error(`cannot fetch the image ${image}: HTTP ${photo.status}`);
    await kiosk.classifyPhoto(await photo.blob());
  }
}
