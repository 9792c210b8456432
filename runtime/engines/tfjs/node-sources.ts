import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import type { WebGpuSource } from './webgpu.js';

/** tfjs's WASM backend fetches its .wasm files from a folder: in Node, the installed package's dist/. */
export const tfjsWasmFiles = (): string => join(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + sep;

/**
 * WebGPU in Node is Dawn from the `webgpu` package. tfjs's WebGPU backend uses the WebGPU globals (GPUBufferUsage, …)
 * and refuses to start without navigator.gpu, so both are put where a browser has them.
 */
export const nodeWebgpu: WebGpuSource = {
  async gpu() {
    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals);
    const gpu = create([]);
    if (!globalThis.navigator) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
    Object.defineProperty(globalThis.navigator, 'gpu', { value: gpu, configurable: true });
    return gpu;
  },
  allowFallbackAdapter: true,
  hint: "needs a Vulkan driver; on a machine without a GPU, Debian's chromium + libvulkan1 with VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json give a CPU one",
};
