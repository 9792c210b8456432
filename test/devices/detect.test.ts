/**
 * Device detection: the real Node host, and the browser detector on stand-in globals (a navigator with a
 * WebGPU adapter, isolation off), plus `lowrank devices`.
 */
import { availableParallelism, totalmem } from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { deviceClassId } from '../../devices/device-class.js';
import { detectNodeDevice } from '../../devices/detect-node.js';
import { detectWebDevice } from '../../devices/detect-web.js';
import { deviceSummary } from '../../devices/summary.js';
import { cliJson, cliOk } from '../cli/helpers.js';

describe('Node', () => {
  it('cores, memory and onnxruntime-node providers; the class id does not change between detections', async () => {
    const a = await detectNodeDevice();
    const b = await detectNodeDevice();
    expect(a.runtime).toBe('node');
    expect(a.cpuCores).toBe(availableParallelism());
    expect(a.memoryMb).toBe(Math.round(totalmem() / 2 ** 20));
    expect(a.ortNodeProviders).toContainEqual({ name: 'cpu', bundled: true });
    expect(a.wasm.simd).toBe(true);
    expect(a.webgpuProbed).toBe(false);
    expect(deviceClassId(a)).toMatch(new RegExp(`^node-${process.platform}-${process.arch}-${availableParallelism()}c-[0-9.]+g$`));
    expect(deviceClassId(b)).toBe(deviceClassId(a));
  });
});

describe('browser (stand-in globals)', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('reads the adapter, its limits and features, device memory, cores and isolation', async () => {
    vi.stubGlobal('crossOriginIsolated', false);
    vi.stubGlobal('navigator', {
      hardwareConcurrency: 8,
      deviceMemory: 4,
      userAgentData: { platform: 'macOS' },
      gpu: {
        requestAdapter: async () => ({
          features: new Set(['shader-f16', 'timestamp-query']),
          limits: { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 27, somethingElse: 1 },
          info: { vendor: 'apple', architecture: 'metal-3', description: '' },
        }),
      },
    });
    const d = await detectWebDevice();
    expect(d).toMatchObject({ runtime: 'browser', platform: 'macOS', cpuCores: 8, memoryMb: 4096, crossOriginIsolated: false });
    expect(d.wasm).toEqual({ simd: true, threads: false }); // no isolation: no SharedArrayBuffer for threads
    expect(d.webgpu).toMatchObject({ vendor: 'apple', architecture: 'metal-3', features: ['shader-f16', 'timestamp-query'] });
    expect(d.webgpu!.limits).toEqual({ maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 27 });
    expect(deviceClassId(d)).toBe('browser-webgpu-apple-metal.3-simd-8c-4g');
    expect(deviceSummary(d)).toMatch(/webgpu: apple \/ metal-3/);
  });

  it('no navigator.gpu: no adapter, and the summary says why', async () => {
    vi.stubGlobal('navigator', { hardwareConcurrency: 2 });
    const d = await detectWebDevice();
    expect(d.webgpu).toBeUndefined();
    expect(deviceClassId(d)).toBe('browser-wasm-simd-mt-2c-g');
    expect(deviceSummary(d)).toMatch(/note: no navigator.gpu/);
  });
});

describe('lowrank devices', () => {

  it('--json gives the same class id as the library; the text form leads with it', async () => {
    const json = cliJson('devices', '--no-gpu', '--json');
    expect(json.deviceClass).toBe(deviceClassId(await detectNodeDevice()));
    expect(json.cpuCores).toBe(availableParallelism());
    const text = cliOk('devices', '--no-gpu').stdout;
    expect(text.split('\n')[0]).toBe(`device class: ${json.deviceClass}`);
    expect(text).toMatch(/webgpu: not probed/);
  });
});
