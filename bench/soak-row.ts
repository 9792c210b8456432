/** What the soak bench (soak.ts, in Node; soak-browser.ts, in headless Chromium) records per engine. */

export interface SoakRow {
  engine: string;
  runs: number;
  rssAfterWarmupMb: number;
  rssAfterSoakMb: number;
  growth: number;
  concurrentBitwiseEqual: boolean;
  /** When the run that produced this row ended (rows from before this field: the file's old top-level date). */
  date?: string;
  /** RSS every 500 soak runs (no GC before these): whether growth keeps rising or levels off. */
  rssSamplesMb?: number[];
  /** In a browser: the same samples per Chromium process type (where the growth is). */
  rssSamplesByProcessMb?: Record<string, number[]>;
  /** Warm-up runs before the first RSS reading (default 200). */
  warmupRuns?: number;
  /** Wall time of the soak runs alone (not the warm-up or the concurrency check). */
  soakSeconds?: number;
  /** What the engine says about its device memory after the warm-up and after the soak, where it says anything. */
  deviceMemory?: { afterWarmup: DeviceMemory; afterSoak: DeviceMemory } | string;
  /** Where it ran: absent for Node (the process's RSS), 'chromium' for headless Chromium (RSS summed over its processes). */
  browser?: 'chromium';
  /** The .onnx soaked, where not DEFAULT_MODEL. */
  model?: string;
  /** In a browser: RSS per Chromium process type and the page's JS heap, after the warm-up and after the soak. */
  page?: { afterWarmup: PageMemory; afterSoak: PageMemory };
  /** In a browser, on WebGPU: the adapter Chromium gave the page (vendor, architecture, description). */
  gpuAdapter?: string;
}

/** tfjs's memory() on the active backend: live tensors and bytes; on WebGPU also the GPU buffers used and allocated. */
export interface DeviceMemory {
  numTensors: number;
  numBytes: number;
  numBytesInGPU?: number;
  numBytesAllocatedInGPU?: number;
}

/** Memory of the browser at one moment. */
export interface PageMemory {
  /** VmRSS summed per Chromium process type (browser, gpu-process, renderer, utility:…, zygote). */
  rssByProcessMb: Record<string, number>;
  processes: number;
  /** PSS summed over the same processes (/proc/<pid>/smaps_rollup): shared pages split between their processes, not counted in each. */
  pssMb: number;
  /** CDP Runtime.getHeapUsage of the page (V8's heap: not WebAssembly memory). */
  jsHeapUsedMb: number;
  jsHeapTotalMb: number;
}
