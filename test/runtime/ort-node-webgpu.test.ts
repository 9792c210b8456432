/**
 * ort-node-webgpu: onnxruntime-node's WebGPU provider (Dawn over Vulkan). CI has no GPU, so .ci/run installs
 * Debian's chromium + libvulkan1, whose SwiftShader Vulkan driver gives Dawn a CPU adapter: this proves
 * correctness, not speed. Every fp32 model of REAL_MODELS is checked against ort-node-cpu on real inputs at full
 * rank and at tier 1; the two slowest on SwiftShader (~50 s each here) only with LOWRANK_WEBGPU_ALL=1. Silero VAD
 * needs runtime/onnx/pad-conv-channels.ts (onnxruntime's WebGPU Conv is wrong for some input-channel counts).
 * Without a driver the engine must be "unavailable", a typed error.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import { bindInput, MODELS, REAL_MODELS } from '../e2e/real-inputs.js';
import { mnistTop1Agreement, worstErrorAgainstOrt } from './engine-agreement.js';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
const ROOT = join(import.meta.dirname, '../..');
const BOUND = 1e-3;
const ALL = process.env.LOWRANK_WEBGPU_ALL === '1';
const SLOW = ['super-resolution-10.onnx', 'nanodet-m-coco-416.onnx'];
const CASES = REAL_MODELS.filter((m) => ALL || !SLOW.includes(m.file));

async function compiled(file: string, minParams?: number) {
  return compileOnnx(new Uint8Array(readFileSync(join(MODELS, file))), { fileName: file, minParams });
}

describe.runIf(existsSync(SWIFTSHADER))('ort-node-webgpu on SwiftShader', () => {
  beforeAll(() => {
    // Dawn reads the driver list when it first starts in this process (each test file runs in its own fork).
    if (!process.env.VK_ICD_FILENAMES) process.env.VK_ICD_FILENAMES = SWIFTSHADER;
  });

  describe.each(CASES)('$file', (c) => {
    it('agrees with ort-node-cpu on real inputs at full rank and at tier 1 (factored)', async () => {
      const { lrm, header } = await compiled(c.file, c.minParams);
      // Two inputs per model; one photo for the image models, which SwiftShader runs at seconds each.
      const feeds = bindInput((await c.inputs()).slice(0, c.file.startsWith('mnist') ? 2 : 1), header.graph.inputs[0].name);
      for (const tiers of [undefined, 2]) {
        const t0 = performance.now();
        const worst = await worstErrorAgainstOrt(lrm, 'ort-node-webgpu', feeds, tiers);
        console.log(`ort-node-webgpu ${c.file} tiers=${tiers ?? 'all'}: max relative error ${worst.toExponential(2)}, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        expect(worst, `tiers ${tiers ?? 'all'}`).toBeLessThanOrEqual(BOUND);
      }
    }, 300_000);
  });

  it('mnist-cnn-pytorch: same top-1 as ort-node-cpu on the first 200 MNIST test digits, at full rank and at tier 1', async () => {
    const { lrm } = await compiled('mnist-cnn-pytorch.onnx');
    expect(await mnistTop1Agreement(lrm, 'ort-node-webgpu', 200, 50)).toBeGreaterThanOrEqual(99.5);
    expect(await mnistTop1Agreement(lrm, 'ort-node-webgpu', 200, 50, 2)).toBeGreaterThanOrEqual(99.5);
  }, 300_000);
});

describe('ort-node-webgpu without a Vulkan driver', () => {
  it('is unavailable: a typed one-line error, and a priority order falls back', async () => {
    const { lrm } = await compiled('mnist-cnn-pytorch.onnx');
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
