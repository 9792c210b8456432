/**
 * A GPU device lost during a run (simulated: an engine double around a real ort-node-cpu session whose runs throw
 * EngineDeviceLostError once "lost"): the run is repeated on the next engine of the priority order, built lazily.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import type { Engine, EngineId } from '../../runtime/engines/engine.js';
import { ortNodeCpu } from '../../runtime/engines/ort-node-cpu.js';
import { EngineRegistry } from '../../runtime/engines/registry.js';
import { unavailableEngine } from '../../runtime/engines/unavailable.js';
import { EngineDeviceLostError, EngineRunError, LrmSession, type FallbackEvent, type Feeds } from '../../runtime/node.js';
import { bytesSource } from '../../runtime/source/bytes.js';
import { mnistDigits, MODELS } from '../e2e/real-inputs.js';

/** A "GPU" engine that really runs on ort-node-cpu until `lose()` is called; then every run fails as a lost device does. */
function losableGpuEngine(id: EngineId = 'ort-webgpu') {
  const state = { lost: false, released: 0 };
  const engine: Engine = {
    id,
    description: 'GPU engine double',
    async create(model) {
      const inner = await ortNodeCpu.create(model);
      return {
        inputNames: inner.inputNames,
        outputNames: inner.outputNames,
        async run(feeds) {
          if (state.lost) throw new EngineDeviceLostError(id, 'destroyed: simulated');
          return inner.run(feeds);
        },
        async release() {
          state.released++;
          await inner.release();
        },
      };
    },
  };
  return { engine, lose: () => (state.lost = true), state };
}

/** Counts how often an engine builds a session. */
function counted(engine: Engine) {
  const count = { creates: 0 };
  return { engine: { ...engine, create: (m: Uint8Array, c?: Parameters<Engine['create']>[1]) => (count.creates++, engine.create(m, c)) } as Engine, count };
}

describe('device lost during a run', () => {
  let lrm: Uint8Array;
  let digits: Feeds[];
  beforeAll(async () => {
    lrm = (await compileOnnx(new Uint8Array(readFileSync(join(MODELS, 'mnist-cnn-pytorch.onnx'))))).lrm;
    digits = await mnistDigits(8, false, (v) => (v / 255 - 0.5) / 0.5);
  });

  async function referenceOutputs(): Promise<Float32Array[]> {
    const cpu = await LrmSession.open(bytesSource(lrm), new EngineRegistry().register(ortNodeCpu), ['ort-node-cpu']);
    const out = [];
    for (const d of digits) out.push((await cpu.run({ input: d.x })).output.data as Float32Array);
    await cpu.release();
    return out;
  }

  it('retries the run on the next engine, built only then, reports it, and later runs stay there', async () => {
    const gpu = losableGpuEngine();
    const cpu = counted(ortNodeCpu);
    const events: FallbackEvent[] = [];
    const registry = new EngineRegistry().register(gpu.engine).register(cpu.engine);
    const session = await LrmSession.open(bytesSource(lrm), registry, ['ort-webgpu', 'ort-node-cpu'], { onFallback: (e) => events.push(e) });
    expect(session.engine).toBe('ort-webgpu');
    expect(cpu.count.creates).toBe(0);
    const want = await referenceOutputs();
    for (const [i, d] of digits.entries()) {
      if (i === 3) gpu.lose();
      expect((await session.run({ input: d.x })).output.data).toEqual(want[i]);
    }
    expect(session.engine).toBe('ort-node-cpu');
    expect(cpu.count.creates).toBe(1);
    expect(gpu.state.released).toBe(1);
    expect(events).toEqual([{ engine: 'ort-webgpu', reason: expect.stringMatching(/^engine ort-webgpu lost its GPU device \(destroyed: simulated\)/), next: 'ort-node-cpu' }]);
    expect(session.fallbacks).toEqual(events);
    await session.release();
  });

  it('runs in flight when the device is lost all complete, after one switch', async () => {
    const gpu = losableGpuEngine();
    const cpu = counted(ortNodeCpu);
    const registry = new EngineRegistry().register(gpu.engine).register(cpu.engine);
    const session = await LrmSession.open(bytesSource(lrm), registry, ['ort-webgpu', 'ort-node-cpu']);
    const want = await referenceOutputs();
    gpu.lose();
    const outs = await Promise.all(digits.map((d) => session.run({ input: d.x })));
    expect(outs.map((o) => o.output.data)).toEqual(want);
    expect(cpu.count.creates).toBe(1);
    expect(session.fallbacks).toHaveLength(1);
    await session.release();
  });

  it('skips a next engine that cannot run here, and says why', async () => {
    const gpu = losableGpuEngine();
    const registry = new EngineRegistry().register(gpu.engine).register(unavailableEngine('ort-node-cuda', 'cuda', 'no CUDA driver')).register(ortNodeCpu);
    const session = await LrmSession.open(bytesSource(lrm), registry, ['ort-webgpu', 'ort-node-cuda', 'ort-node-cpu']);
    gpu.lose();
    await session.run({ input: digits[0].x });
    expect(session.engine).toBe('ort-node-cpu');
    expect(session.fallbacks.map((f) => [f.engine, f.next])).toEqual([['ort-webgpu', 'ort-node-cuda'], ['ort-node-cuda', 'ort-node-cpu']]);
    expect(session.fallbacks[1].reason).toMatch(/no CUDA driver/);
    await session.release();
  });

  it('with no engine left, the caller gets the typed device-lost error', async () => {
    const gpu = losableGpuEngine();
    const session = await LrmSession.open(bytesSource(lrm), new EngineRegistry().register(gpu.engine), ['ort-webgpu']);
    gpu.lose();
    const err = await session.run({ input: digits[0].x }).catch((e) => e);
    expect(err).toBeInstanceOf(EngineDeviceLostError);
    expect(err).toBeInstanceOf(EngineRunError);
    expect(err.code).toBe('device-lost');
    expect(session.engine).toBe('ort-webgpu');
    await session.release();
  });

  it('any other run failure is the caller\'s to see, not a fallback', async () => {
    const failing: Engine = {
      id: 'ort-webgpu',
      description: 'fails',
      async create(model) {
        const inner = await ortNodeCpu.create(model);
        return { ...inner, run: async () => { throw new EngineRunError('ort-webgpu failed to run: out of memory', 'engine-run'); } };
      },
    };
    const session = await LrmSession.open(bytesSource(lrm), new EngineRegistry().register(failing).register(ortNodeCpu), ['ort-webgpu', 'ort-node-cpu']);
    await expect(session.run({ input: digits[0].x })).rejects.toThrow(/out of memory/);
    expect(session.engine).toBe('ort-webgpu');
    expect(session.fallbacks).toEqual([]);
    await session.release();
  });
});
