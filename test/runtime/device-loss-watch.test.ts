/**
 * The WebGPU engines' device-loss watch (runtime/engines/device-loss.ts, watchDeviceLoss) in Node, around a real
 * ort-node-cpu session of mnist-8: the GPU device is a stand-in whose `lost` promise the test settles (Node has no
 * navigator.gpu; test/browser/browser-bundles.test.ts destroys a real device in Chromium). A run racing a loss ends
 * with EngineDeviceLostError, and runs while the device lives leave nothing behind: the in-browser soak found each
 * run adding a never-freed reaction to the device's long-lived `lost` promise.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineSession } from '../../runtime/engines/engine.js';
import { ortNodeCpu } from '../../runtime/engines/ort-node-cpu.js';
import { watchDeviceLoss, type GpuDeviceLike } from '../../runtime/engines/device-loss.js';
import { EngineDeviceLostError, type Feeds } from '../../runtime/node.js';
import { mnistDigits, MODELS } from '../e2e/real-inputs.js';

/** A device whose loss the test triggers, as device.destroy() would. */
function standInDevice(): GpuDeviceLike & { lose(message: string): void } {
  let lose!: (info: { reason?: string; message?: string }) => void;
  const lost = new Promise<{ reason?: string; message?: string }>((resolve) => (lose = resolve));
  return { lost, destroy: () => lose({ reason: 'destroyed' }), lose: (message) => lose({ reason: 'unknown', message }) };
}

/** Node's full GC, without --expose-gc on the command line (vitest's forks start without it). */
function fullGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

describe('ort-webgpu device-loss watch', () => {
  let cpu: EngineSession;
  let feeds: Feeds;

  beforeAll(async () => {
    cpu = await ortNodeCpu.create(new Uint8Array(readFileSync(join(MODELS, 'mnist-8.onnx'))));
    const [digit] = await mnistDigits(1, false, (v) => v / 255);
    feeds = { [cpu.inputNames[0]!]: digit!.x! };
  });

  afterAll(() => cpu?.release());

  it('runs as the session does while the device lives; a loss during a run ends it with EngineDeviceLostError, and every run after', async () => {
    const device = standInDevice();
    let finishRun!: () => void;
    const hung: EngineSession = { ...cpu, run: async (f) => (await new Promise<void>((resolve) => (finishRun = resolve)), cpu.run(f)) };
    const watched = watchDeviceLoss('ort-webgpu', hung, device);
    const first = watched.run(feeds);
    finishRun();
    expect((await first)[cpu.outputNames[0]!]!.data).toEqual((await cpu.run(feeds))[cpu.outputNames[0]!]!.data);
    // ORT's pending GPU reads may never settle after a loss: the run must end without them.
    const during = watched.run(feeds);
    device.lose('simulated');
    await expect(during).rejects.toThrow(EngineDeviceLostError);
    await expect(during).rejects.toThrow(/unknown: simulated/);
    await expect(watched.run(feeds)).rejects.toThrow(EngineDeviceLostError);
  });

  it('20,000 runs on a live device leave no memory behind', async () => {
    const gc = fullGc();
    const watched = watchDeviceLoss('ort-webgpu', cpu, standInDevice());
    const heapAfter = async (runs: number): Promise<number> => {
      for (let i = 0; i < runs; i++) await watched.run(feeds);
      gc();
      return process.memoryUsage().heapUsed;
    };
    const warm = await heapAfter(2_000);
    const grown = (await heapAfter(20_000)) - warm;
    console.log(`heap after 20,000 more runs: ${(grown / 1024).toFixed(0)} KiB`);
    // With a reaction kept per run (the old watch) this grew by 13 MiB; without, it moves by a few KiB.
    expect(grown).toBeLessThan(512 * 1024);
  }, 60_000);
});
