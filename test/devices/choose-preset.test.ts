/**
 * preset: 'auto': the best preset of the file that fits this device and budget, on a real compiled model whose
 * header carries presets measured for one device class (as `lowrank tune` will write them).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import { deviceClassId } from '../../devices/device-class.js';
import type { DeviceInfo } from '../../devices/device-info.js';
import type { ModelHeader, Preset } from '../../formats/model.js';
import { writeLrm } from '../../formats/write.js';
import { BudgetError, estimateMemory, load, LoadOptionError } from '../../runtime/node.js';
import { MODELS } from '../e2e/real-inputs.js';

const KIOSK: DeviceInfo = {
  runtime: 'node',
  platform: 'linux',
  arch: 'arm64',
  cpuCores: 4,
  memoryMb: 4096,
  wasm: { simd: true, threads: true },
  crossOriginIsolated: undefined,
  webgpuProbed: false,
  notes: [],
};
const KIOSK_CLASS = 'node-linux-arm64-4c-4g';

let lrm: Uint8Array;
let header: ModelHeader;
let payloadStart: number;
const mb = (tiers: number) => estimateMemory(header, payloadStart, tiers, 'ort-node-cpu').totalMb;

beforeAll(async () => {
  const compiled = await compileOnnx(new Uint8Array(readFileSync(join(MODELS, 'mnist-cnn-pytorch.onnx'))), { fileName: 'mnist-cnn-pytorch.onnx' });
  const measured: Preset[] = [
    // Measured on the kiosk class: 4 tiers in 3 ms. A preset for another class must never be picked here.
    { name: 'kiosk-fast', deviceClass: KIOSK_CLASS, engine: 'ort-node-cpu', tiers: 4, latencyMsP50: 3, peakMemoryMb: 40, fidelity: 0.99 },
    { name: 'phone', deviceClass: 'browser-webgpu-apple-metal-3-simd-mt-6c-4g', engine: 'ort-webgpu', tiers: 5 },
  ];
  const { payloadLength: _length, ...input } = compiled.header;
  const start = compiled.lrm.length - compiled.header.payloadLength;
  lrm = await writeLrm({ ...input, dense: { range: compiled.header.dense.range }, presets: [...compiled.header.presets, ...measured] }, compiled.lrm.subarray(start));
  header = compiled.header;
  payloadStart = lrm.length - header.payloadLength;
  header = { ...header, presets: [...header.presets, ...measured] };
});

async function choiceFor(options: Parameters<typeof load>[1]) {
  const session = await load(lrm, { device: KIOSK, ...options });
  try {
    return { preset: session.choice.preset, tiers: session.tiers, memoryMb: session.choice.memoryMb };
  } finally {
    await session.release();
  }
}

describe("preset: 'auto'", () => {
  it('the device class id is stable and readable', () => {
    expect(deviceClassId(KIOSK)).toBe(KIOSK_CLASS);
    expect(deviceClassId({ ...KIOSK, memoryMb: 3900 })).toBe(KIOSK_CLASS); // free-memory noise does not move it
  });

  it('with room for everything, the preset with the most tiers wins', async () => {
    expect(await choiceFor({ preset: 'auto' })).toMatchObject({ preset: 'full', tiers: 5 });
  });

  it('a latency budget rules out a preset measured too slow here; unmeasured ones stay in', async () => {
    expect(await choiceFor({ preset: 'auto', latencyMs: 5, memoryMb: mb(5) - 0.1 })).toMatchObject({ preset: 'kiosk-fast', tiers: 4, memoryMb: 40 });
    expect(await choiceFor({ preset: 'auto', latencyMs: 2, memoryMb: mb(5) - 0.1 })).toMatchObject({ preset: 'balanced', tiers: 3 });
  });

  it('a memory budget picks the largest preset whose estimate fits', async () => {
    expect(mb(1)).toBeLessThan(mb(3));
    // latencyMs: 2 rules out kiosk-fast (measured 3 ms), which would otherwise fit by its measured 40 MB.
    expect(await choiceFor({ preset: 'auto', latencyMs: 2, memoryMb: (mb(1) + mb(3)) / 2 })).toMatchObject({ preset: 'compact', tiers: 1 });
  });

  it('a budget nothing meets is a BudgetError saying what the smallest needs', async () => {
    const e = await load(lrm, { device: KIOSK, preset: 'auto', memoryMb: mb(1) / 2 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BudgetError);
    expect((e as BudgetError).fits).toEqual([]);
    expect((e as Error).message).toMatch(new RegExp(`nothing fits: even 1 tier needs ≈${Math.ceil(mb(1))} MB`));
  });

  it('explicit presets and tier counts still work, and are held to the memory budget', async () => {
    expect(await choiceFor({ preset: 'phone' })).toMatchObject({ preset: 'phone', tiers: 5 });
    expect(await choiceFor({ tiers: 2 })).toMatchObject({ tiers: 2 });
    const e = await load(lrm, { tiers: 5, memoryMb: mb(2) + 0.5 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BudgetError);
    expect((e as Error).message).toMatch(/5 tiers need ≈\d+ MB, over the budget of \d+ MB; what fits: .*compact \(1 tier.*tiers: 1\.\.2/);
  });

  it('a budget that is not a positive number is a LoadOptionError', async () => {
    await expect(load(lrm, { preset: 'auto', memoryMb: -1 })).rejects.toBeInstanceOf(LoadOptionError);
  });
});
