import type { DeviceInfo } from './device-info.js';
import { wasmFeatures } from './wasm-features.js';
import { requestAdapterSummary } from './webgpu-adapter.js';

/** The browser globals we read, all optional: this also runs (and detects little) in workers and non-browser hosts. */
interface WebGlobals {
  navigator?: {
    hardwareConcurrency?: number;
    deviceMemory?: number;
    platform?: string;
    userAgentData?: { platform?: string };
    gpu?: { requestAdapter(options?: object): Promise<unknown> };
  };
  crossOriginIsolated?: boolean;
  document?: unknown;
}

/**
 * Detect what a browser (or any host with web globals) offers: the WebGPU adapter with its features and
 * limits, WASM SIMD and threads, cross-origin isolation, device memory and core count. No Node imports here.
 */
export async function detectWebDevice(options: { probeGpu?: boolean } = {}): Promise<DeviceInfo> {
  const g = globalThis as WebGlobals;
  const nav = g.navigator;
  const notes: string[] = [];
  let webgpu: DeviceInfo['webgpu'];
  const probe = options.probeGpu ?? true;
  if (probe) {
    if (!nav?.gpu) notes.push('no navigator.gpu: this browser has WebGPU off or does not support it');
    else {
      try {
        webgpu = await requestAdapterSummary(nav.gpu);
        if (!webgpu) notes.push('navigator.gpu returned no adapter (blocklisted GPU or no driver)');
      } catch (e) {
        notes.push(`WebGPU adapter request failed: ${(e as Error).message}`);
      }
    }
  }
  const deviceMemory = nav?.deviceMemory;
  return {
    runtime: g.document !== undefined || nav !== undefined ? 'browser' : 'other',
    platform: nav?.userAgentData?.platform || nav?.platform || 'unknown',
    arch: 'unknown',
    cpuCores: nav?.hardwareConcurrency,
    memoryMb: typeof deviceMemory === 'number' ? deviceMemory * 1024 : undefined,
    wasm: wasmFeatures(g.crossOriginIsolated),
    crossOriginIsolated: g.crossOriginIsolated,
    webgpuProbed: probe,
    webgpu,
    notes,
  };
}
