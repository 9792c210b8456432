/**
 * Which of the runtime's browser bundles the kiosk loads, chosen before anything is downloaded.
 *
 * By default the tfjs bundle (`lowrank-tfjs.js`, 1.0 MB with tfjs-core and both backends inside; tfjs-webgpu where
 * WebGPU has an adapter, else tfjs-wasm, whose binary is 0.4 MB). Measured (bench/kiosk.ts, bench/results/kiosk.md):
 * onnxruntime-web's WASM binary alone is 13.6 MiB, five times the model's first tier, and it dominated the time
 * to the first result on a 10 Mbit/s link; tfjs-wasm runs MobileNet in the same order of time per photo, so
 * the kiosk stays on it rather than switching to onnxruntime-web in the background.
 * `engine=ort-wasm` or `engine=ort-webgpu` loads the onnxruntime-web bundle instead (`lowrank-webgpu.js`, with
 * onnxruntime-web from the import map), for comparison on the same engine as a plain onnxruntime-web page.
 */
import type * as Runtime from '../../../runtime/browser-webgpu.js';

export type KioskRuntime = Pick<typeof Runtime, 'load' | 'browserCache'>;

export async function loadRuntime(engine: Runtime.EngineId | undefined): Promise<KioskRuntime> {
  // Both specifiers are external (tools/build-site.ts) and mapped by index.html's import map.
  return engine?.startsWith('ort-') ? import('../../../runtime/browser-webgpu.js') : import('../../../runtime/browser-tfjs.js');
}
