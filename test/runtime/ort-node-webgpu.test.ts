/**
 * ort-node-webgpu: onnxruntime-node's WebGPU provider (Dawn over Vulkan). CI has no GPU, so .ci/run installs
 * Debian's chromium + libvulkan1, whose SwiftShader Vulkan driver gives Dawn a CPU adapter: this proves
 * correctness, not speed. Without a driver the engine must be "unavailable", a typed error.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import { load } from '../../runtime/node.js';
import { maxRelativeError } from '../e2e/compare.js';
import { mnistDigits, MODELS } from '../e2e/real-inputs.js';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
const ROOT = join(import.meta.dirname, '../..');

describe('ort-node-webgpu', () => {
  let lrm: Uint8Array;
  beforeAll(async () => {
    // Dawn reads the driver list when it first starts in this process (each test file runs in its own fork).
    if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER)) process.env.VK_ICD_FILENAMES = SWIFTSHADER;
    lrm = (await compileOnnx(new Uint8Array(readFileSync(join(MODELS, 'mnist-cnn-pytorch.onnx'))))).lrm;
  });

  it.runIf(existsSync(SWIFTSHADER))('agrees with ort-node-cpu at full rank and at tier 1 on real digits', async () => {
    const digits = await mnistDigits(8, false, (v) => (v / 255 - 0.5) / 0.5);
    for (const tiers of [undefined, 2]) {
      const gpu = await load(lrm, { engine: 'ort-node-webgpu', tiers });
      const cpu = await load(lrm, { engine: 'ort-node-cpu', tiers });
      expect(gpu.engine).toBe('ort-node-webgpu');
      for (const d of digits) {
        const [a, b] = [(await cpu.run({ input: d.x })).output, (await gpu.run({ input: d.x })).output];
        expect(maxRelativeError(a.data as Float32Array, b.data as Float32Array)).toBeLessThanOrEqual(1e-3);
      }
      await gpu.release();
      await cpu.release();
    }
  });

  it('without a Vulkan driver it is unavailable: a typed one-line error, and a priority order falls back', () => {
    const env = { ...process.env };
    delete env.VK_ICD_FILENAMES;
    const script = `
      import { load } from ${JSON.stringify(join(ROOT, 'dist/runtime/node.js'))};
      import { readFileSync } from 'node:fs';
      const bytes = new Uint8Array(readFileSync(process.argv[1]));
      try { await load(bytes, { engine: 'ort-node-webgpu' }); console.log('LOADED'); }
      catch (e) { console.log(e.name + ': ' + e.message); }
      process.env.LOWRANK_ENGINE = 'ort-node-webgpu,ort-node-cpu';
      const s = await load(bytes);
      console.log('FELL BACK TO ' + s.engine + ' after ' + s.fallbacks.map((f) => f.engine).join(','));`;
    const dir = mkdtempSync(join(tmpdir(), 'lowrank-webgpu-'));
    const file = join(dir, 'model.lrm');
    writeFileSync(file, lrm);
    try {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, file], { env, encoding: 'utf8', timeout: 60_000 });
      expect(r.stdout, r.stderr).toMatch(/^EngineUnavailableError: engine ort-node-webgpu is not available here: no WebGPU adapter/m);
      expect(r.stdout).toMatch(/^FELL BACK TO ort-node-cpu after ort-node-webgpu$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
