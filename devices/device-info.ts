/** What a device offers, as detected at run time (devices/detect-*.ts). Plain data: it can be printed or sent as JSON. */

/** A WebGPU adapter: who made it and what it allows. */
export interface WebGpuAdapterSummary {
  vendor: string;
  architecture: string;
  description: string;
  /** Software adapters (SwiftShader) say so: their timings say nothing about a GPU. */
  isFallbackAdapter: boolean;
  features: string[];
  /** The limits that decide what fits: buffer and binding sizes, workgroup sizes. */
  limits: Record<string, number>;
}

export interface DeviceInfo {
  runtime: 'node' | 'browser' | 'other';
  /** OS platform (Node) or the browser's platform string. */
  platform: string;
  arch: string;
  cpuCores: number | undefined;
  /** Total memory in MB: os.totalmem() in Node, navigator.deviceMemory (bucketed by the browser) in browsers. */
  memoryMb: number | undefined;
  /** Node only: free memory when detected. */
  freeMemoryMb?: number;
  wasm: { simd: boolean; threads: boolean };
  /** Browsers: threads in WASM need cross-origin isolation (COOP/COEP headers). */
  crossOriginIsolated: boolean | undefined;
  /** Whether a WebGPU adapter was looked for; `webgpu` is the adapter found, if any. */
  webgpuProbed: boolean;
  webgpu?: WebGpuAdapterSummary;
  /** Node only: onnxruntime-node's execution providers, and whether each is bundled in the installed binary. */
  ortNodeProviders?: Array<{ name: string; bundled: boolean }>;
  /** Why a probe found nothing (no adapter, package missing), for the summary. */
  notes: string[];
}
