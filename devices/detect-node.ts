import { arch, availableParallelism, freemem, platform, totalmem } from 'node:os';
import { EngineUnavailableError } from '../runtime/errors.js';
import { ortNodeWebgpu } from '../runtime/engines/ort-node-webgpu.js';
import { firstLine } from '../runtime/engines/ort-session.js';
import type { DeviceInfo, WebGpuAdapterSummary } from './device-info.js';
import { probeModel } from './probe-model.js';
import { wasmFeatures } from './wasm-features.js';
import { requestAdapterSummary } from './webgpu-adapter.js';

const MB = 1024 * 1024;

export interface NodeDetectOptions {
  /**
   * Look for a Dawn WebGPU adapter (the `webgpu` package when installed, else onnxruntime-node's WebGPU
   * provider on a one-node model). Costs up to a second or two, so load({ preset: 'auto' }) leaves it off.
   */
  probeGpu?: boolean;
}

/** Detect a Node host: cores, memory, onnxruntime-node's providers and, when asked, a Dawn adapter. */
export async function detectNodeDevice(options: NodeDetectOptions = {}): Promise<DeviceInfo> {
  const notes: string[] = [];
  let ortNodeProviders: DeviceInfo['ortNodeProviders'];
  try {
    const ort = (await import('onnxruntime-node')) as unknown as { listSupportedBackends?: () => Array<{ name: string; bundled: boolean }> };
    ortNodeProviders = ort.listSupportedBackends?.().map((b) => ({ name: b.name, bundled: b.bundled }));
  } catch (e) {
    notes.push(`onnxruntime-node did not load (${firstLine(e)})`);
  }
  let webgpu: WebGpuAdapterSummary | undefined;
  if (options.probeGpu) webgpu = await probeDawn(notes);
  return {
    runtime: 'node',
    platform: platform(),
    arch: arch(),
    cpuCores: availableParallelism(),
    memoryMb: Math.round(totalmem() / MB),
    freeMemoryMb: Math.round(freemem() / MB),
    wasm: wasmFeatures(undefined),
    crossOriginIsolated: undefined,
    webgpuProbed: options.probeGpu ?? false,
    webgpu,
    ortNodeProviders,
    notes,
  };
}

async function probeDawn(notes: string[]): Promise<WebGpuAdapterSummary | undefined> {
  // The `webgpu` package (Dawn for Node) tells who made the adapter; it is optional, so look it up by name.
  const dawnPackage = 'webgpu';
  try {
    const dawn = (await import(dawnPackage)) as { create(flags: string[]): { requestAdapter(o?: object): Promise<unknown> } };
    const found = await requestAdapterSummary(dawn.create([]));
    if (found) return found;
    notes.push('the webgpu package found no adapter');
    return undefined;
  } catch {
    // Not installed (or no prebuilt binary for this platform): ask onnxruntime-node's own Dawn instead.
  }
  try {
    const session = await ortNodeWebgpu.create(probeModel());
    await session.release();
    return { vendor: '', architecture: '', description: "onnxruntime-node's Dawn (it does not report the adapter's name)", isFallbackAdapter: false, features: [], limits: {} };
  } catch (e) {
    notes.push(e instanceof EngineUnavailableError ? e.message : `ort-node-webgpu probe failed: ${firstLine(e)}`);
    return undefined;
  }
}
