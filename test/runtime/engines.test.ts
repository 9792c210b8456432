import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import { enginePriority } from '../../runtime/engines/priority.js';
import { EngineRegistry } from '../../runtime/engines/registry.js';
import { ortNodeCpu } from '../../runtime/engines/ort-node-cpu.js';
import { unavailableEngine } from '../../runtime/engines/unavailable.js';
import { EngineRunError, EngineUnavailableError, ENGINE_ENV, ENGINE_IDS, engines, load, LoadOptionError, LrmSession, type FallbackEvent } from '../../runtime/node.js';
import { bytesSource } from '../../runtime/source/bytes.js';
import { MODELS } from '../e2e/real-inputs.js';

let lrm: Uint8Array;
beforeAll(async () => {
  lrm = (await compileOnnx(new Uint8Array(readFileSync(join(MODELS, 'mnist-cnn-pytorch.onnx'))))).lrm;
});
afterEach(() => {
  delete process.env[ENGINE_ENV];
});

describe('engine registry and priority', () => {
  it('knows every engine id; the ones not in this version throw EngineUnavailableError when asked for', async () => {
    expect(engines.ids().sort()).toEqual([...ENGINE_IDS].sort());
    for (const id of ['ort-node-cuda', 'ort-webgpu'] as const) {
      const err = await load(lrm, { engine: id }).catch((e) => e);
      expect(err).toBeInstanceOf(EngineUnavailableError);
      expect(err.message).toMatch(new RegExp(`^engine ${id} is not available here: `));
    }
  });

  it('registering an engine twice is a loud error', () => {
    expect(() => new EngineRegistry().register(ortNodeCpu).register(ortNodeCpu)).toThrow(/registered twice/);
  });

  it('an explicit engine option wins, then LOWRANK_ENGINE, then the default order', () => {
    expect(enginePriority(['ort-node-cpu', 'ort-wasm'], 'ort-wasm', 'ort-node-cpu')).toEqual(['ort-wasm']);
    expect(enginePriority(['ort-node-cpu', 'ort-wasm'], undefined, 'ort-wasm, ort-node-cpu')).toEqual(['ort-wasm', 'ort-node-cpu']);
    expect(enginePriority(['ort-node-cpu', 'ort-wasm'], undefined, '')).toEqual(['ort-node-cpu', 'ort-wasm']);
    expect(() => enginePriority(['ort-node-cpu'], undefined, 'gpu-please')).toThrow(LoadOptionError);
    expect(enginePriority(['ort-wasm'], 'node-cpu')).toEqual(['ort-node-cpu']);
    expect(engines.get('wasm').id).toBe('ort-wasm');
  });

  it('LOWRANK_ENGINE changes which engine load() uses', async () => {
    process.env[ENGINE_ENV] = 'ort-wasm';
    const session = await load(lrm, { tiers: 1 });
    expect(session.engine).toBe('ort-wasm');
    await session.release();
  });

  it('falls back to the next engine when one cannot run here, and says so', async () => {
    const registry = new EngineRegistry()
      .register(unavailableEngine('ort-node-cuda', 'cuda', 'no CUDA driver on this machine'))
      .register(ortNodeCpu);
    const events: FallbackEvent[] = [];
    const session = await LrmSession.open(bytesSource(lrm), registry, ['ort-node-cuda', 'ort-node-cpu'], { onFallback: (e) => events.push(e) });
    expect(session.engine).toBe('ort-node-cpu');
    expect(events).toEqual([{ engine: 'ort-node-cuda', reason: 'engine ort-node-cuda is not available here: no CUDA driver on this machine', next: 'ort-node-cpu' }]);
    expect(session.fallbacks).toEqual(events);
    await session.release();
  });

  it('an engine that rejects the model is not hidden behind a fallback', async () => {
    const broken = { id: 'ort-wasm' as const, description: 'broken', create: async () => { throw new EngineRunError('ort-wasm could not build the model: bad graph', 'engine-build'); } };
    const registry = new EngineRegistry().register(unavailableEngine('ort-node-cuda', 'cuda', 'no CUDA driver')).register(broken);
    await expect(LrmSession.open(bytesSource(lrm), registry, ['ort-node-cuda', 'ort-wasm'])).rejects.toThrow(EngineRunError);
  });

  it('when no engine can run, the error lists every reason', async () => {
    const registry = new EngineRegistry()
      .register(unavailableEngine('ort-node-cuda', 'cuda', 'no CUDA driver'))
      .register(unavailableEngine('ort-node-webgpu', 'webgpu', 'no Vulkan adapter'));
    const err = await LrmSession.open(bytesSource(lrm), registry, ['ort-node-cuda', 'ort-node-webgpu']).catch((e) => e);
    expect(err).toBeInstanceOf(EngineUnavailableError);
    expect(err.message).toMatch(/no CUDA driver.*no Vulkan adapter/);
  });
});
