/**
 * tfjs-webgpu: the ONNX graph interpreted with tfjs-core ops on @tensorflow/tfjs-backend-webgpu, in Node through
 * the `webgpu` package (Dawn). CI has no GPU: Debian's chromium ships a SwiftShader Vulkan driver that gives Dawn a
 * CPU adapter (about 0.4 s per MNIST digit and 9 s per MobileNet image here), so this file checks correctness on
 * the small models, MobileNet (depthwise convs, Clip, global pooling) and 64 MNIST digits; LOWRANK_WEBGPU_ALL=1
 * adds every other supported model. Without a driver the engine must be "unavailable", a typed error.
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
const QUICK = ['mnist-8.onnx', 'mnist-cnn-pytorch.onnx', 'mnist-mlp-784-128-64-10.onnx', 'mobilenet_v1_075_224.onnx'];
const ALL = process.env.LOWRANK_WEBGPU_ALL === '1';
const CASES = REAL_MODELS.filter((m) => m.file !== 'silero_vad_16k_op15.onnx' && (ALL || QUICK.includes(m.file)));

async function compiled(file: string, minParams?: number) {
  return compileOnnx(new Uint8Array(readFileSync(join(MODELS, file))), { fileName: file, minParams });
}

describe.runIf(existsSync(SWIFTSHADER))('tfjs-webgpu on SwiftShader', () => {
  beforeAll(() => {
    // Dawn reads the driver list when it first starts in this process (each test file runs in its own fork).
    if (!process.env.VK_ICD_FILENAMES) process.env.VK_ICD_FILENAMES = SWIFTSHADER;
  });

  describe.each(CASES)('$file', (c) => {
    it('agrees with ort-node-cpu on real inputs at full rank and at tier 1 (factored)', async () => {
      const { lrm, header } = await compiled(c.file, c.minParams);
      // One input per model: SwiftShader runs the larger ones at seconds per input.
      const feeds = bindInput((await c.inputs()).slice(0, c.file.startsWith('mnist') ? 4 : 1), header.graph.inputs[0].name);
      for (const tiers of [undefined, 2]) {
        expect(await worstErrorAgainstOrt(lrm, 'tfjs-webgpu', feeds, tiers), `tiers ${tiers ?? 'all'}`).toBeLessThanOrEqual(BOUND);
      }
    }, 300_000);
  });

  it('mnist-cnn-pytorch: same top-1 as ort-node-cpu on the first 64 MNIST test digits, at full rank and at tier 1', async () => {
    const { lrm } = await compiled('mnist-cnn-pytorch.onnx');
    expect(await mnistTop1Agreement(lrm, 'tfjs-webgpu', 64, 16)).toBeGreaterThanOrEqual(99.5);
    expect(await mnistTop1Agreement(lrm, 'tfjs-webgpu', 64, 16, 2)).toBeGreaterThanOrEqual(99.5);
  }, 300_000);
});

describe('tfjs-webgpu without a Vulkan driver', () => {
  it('is unavailable: a typed one-line error, and a priority order falls back', async () => {
    const { lrm } = await compiled('mnist-8.onnx', 1024);
    const env = { ...process.env };
    delete env.VK_ICD_FILENAMES;
    const script = `
      import { load } from ${JSON.stringify(join(ROOT, 'dist/runtime/node.js'))};
      import { readFileSync } from 'node:fs';
      const bytes = new Uint8Array(readFileSync(process.argv[1]));
      try { await load(bytes, { engine: 'tfjs-webgpu' }); console.log('LOADED'); }
      catch (e) { console.log(e.name + ': ' + e.message); }
      process.env.LOWRANK_ENGINE = 'tfjs-webgpu,tfjs-wasm';
      const s = await load(bytes);
      console.log('FELL BACK TO ' + s.engine + ' after ' + s.fallbacks.map((f) => f.engine).join(','));`;
    const dir = mkdtempSync(join(tmpdir(), 'lowrank-tfjs-webgpu-'));
    const file = join(dir, 'model.lrm');
    writeFileSync(file, lrm);
    try {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, file], { env, encoding: 'utf8', timeout: 60_000 });
      expect(r.stdout, r.stderr).toMatch(/^EngineUnavailableError: engine tfjs-webgpu is not available here: no WebGPU adapter \(needs a Vulkan driver/m);
      expect(r.stdout).toMatch(/^FELL BACK TO tfjs-wasm after tfjs-webgpu$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
