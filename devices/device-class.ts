import type { DeviceInfo } from './device-info.js';

/**
 * A stable id for a class of devices, so presets measured on one machine apply to its siblings:
 * `node-linux-x64-16c-32g`, `browser-webgpu-apple-metal-3-simd-mt-8c-8g`, `browser-wasm-simd-4c-4g`.
 * Memory is rounded to a power of two GiB (browsers already bucket navigator.deviceMemory); free memory,
 * driver versions and the like stay out so the id does not change from one run to the next.
 * In Node the GPU stays out too (finding it costs a probe): a GPU preset names its engine instead.
 */
export function deviceClassId(device: DeviceInfo): string {
  const cores = device.cpuCores === undefined ? 'c' : `${device.cpuCores}c`;
  const memory = device.memoryMb === undefined ? 'g' : `${gibBucket(device.memoryMb)}g`;
  if (device.runtime === 'node') return [device.runtime, device.platform, device.arch, cores, memory].map(part).join('-');
  const gpu = device.webgpu ? ['webgpu', device.webgpu.vendor || 'unknown', device.webgpu.architecture || 'unknown'] : ['wasm'];
  const wasm = [device.wasm.simd ? 'simd' : 'nosimd', ...(device.wasm.threads ? ['mt'] : [])];
  return [device.runtime, ...gpu, ...wasm, cores, memory].map(part).join('-');
}

/** 0.5, 1, 2, 4, 8, 16… GiB: the power of two nearest to the total. */
function gibBucket(mb: number): number {
  const gib = mb / 1024;
  if (gib <= 0.375) return 0.25;
  return 2 ** Math.round(Math.log2(gib));
}

function part(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9.]+/g, '.').replace(/^\.|\.$/g, '') || 'unknown';
}
