import type { WebGpuAdapterSummary } from './device-info.js';

/** The parts of a GPUAdapter we read; typed loosely because Node has no WebGPU types and older browsers lack `info`. */
interface AdapterLike {
  features: Iterable<string>;
  limits: object;
  info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}

/** The limits that decide whether a model's weights and activations fit in GPU buffers. */
const LIMITS = ['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxStorageBuffersPerShaderStage'];

export function summariseAdapter(adapter: AdapterLike): WebGpuAdapterSummary {
  const limits: Record<string, number> = {};
  for (const name of LIMITS) {
    const v = (adapter.limits as Record<string, unknown>)[name];
    if (typeof v === 'number') limits[name] = v;
  }
  return {
    vendor: adapter.info?.vendor ?? '',
    architecture: adapter.info?.architecture ?? '',
    description: adapter.info?.description ?? '',
    isFallbackAdapter: Boolean(adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter),
    features: [...adapter.features].sort(),
    limits,
  };
}

/** Ask `gpu` (navigator.gpu, or a Dawn `GPU` in Node) for an adapter; undefined when there is none. */
export async function requestAdapterSummary(gpu: { requestAdapter(options?: object): Promise<unknown> }, options?: object): Promise<WebGpuAdapterSummary | undefined> {
  const adapter = (await gpu.requestAdapter(options)) as AdapterLike | null;
  return adapter ? summariseAdapter(adapter) : undefined;
}
