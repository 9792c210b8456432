/**
 * Concurrency (issue 16): 64 different digits run all at once on one session give bitwise the outputs they give one
 * at a time, on every Node engine (bench/soak.ts adds the RSS soak: bench/results/soak.md). The WebGPU engines run
 * on SwiftShader as in ort-node-webgpu.test.ts and tfjs-webgpu.test.ts, and are skipped exactly when those are (no
 * /usr/lib/chromium/vk_swiftshader_icd.json). ort-webgpu runs only in a browser: test/browser/concurrency.test.ts checks it
 * there, with the other in-page engines.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { concurrentMatchesSequential, soakCase } from '../../bench/soak.js';
import { load, type EngineId } from '../../runtime/node.js';
import type { Feeds } from '../../runtime/tensor.js';

const DATA = join(import.meta.dirname, '../../../shared/data');
const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';

async function concurrentIsSequential(c: { lrm: Uint8Array; feeds: Feeds[] }, engine: EngineId): Promise<void> {
  const session = await load(c.lrm, { engine, tiers: 1 });
  try {
    expect(session.engine).toBe(engine);
    expect(c.feeds).toHaveLength(64);
    expect(await concurrentMatchesSequential(session, c.feeds)).toBe(true);
  } finally {
    await session.release();
  }
}

const cases: Record<string, { lrm: Uint8Array; feeds: Feeds[] }> = {};

beforeAll(async () => {
  // Dawn reads the driver list when it first starts in this process (each test file runs in its own fork).
  if (existsSync(SWIFTSHADER) && !process.env.VK_ICD_FILENAMES) process.env.VK_ICD_FILENAMES = SWIFTSHADER;
  cases['mnist-cnn-pytorch.onnx'] = await soakCase(DATA, 'mnist-cnn-pytorch.onnx');
}, 120_000);

describe('64 concurrent runs on one session', () => {
  it.each(['ort-node-cpu', 'ort-wasm', 'tfjs-wasm'] as EngineId[])('%s: bitwise the sequential outputs', async (engine) => {
    await concurrentIsSequential(cases['mnist-cnn-pytorch.onnx']!, engine);
  }, 120_000);

  /**
   * mnist-8 here, still 64 digits: on SwiftShader (2 busy cores) mnist-cnn-pytorch's 64 in turn + 64 at once took
   * ~19 s on ort-node-webgpu and ~50 s on tfjs-webgpu (~0.4 s a digit); mnist-8 takes ~5 s and ~25 s. bench/soak.ts
   * checks mnist-cnn-pytorch's 64 digits on both engines after its soak (bench/results/soak.md).
   */
  describe.runIf(existsSync(SWIFTSHADER))('WebGPU engines on SwiftShader', () => {
    beforeAll(async () => {
      cases['mnist-8.onnx'] = await soakCase(DATA, 'mnist-8.onnx');
    }, 120_000);

    it.each([
      ['ort-node-webgpu', 'mnist-8.onnx'],
      ['tfjs-webgpu', 'mnist-8.onnx'],
    ] as [EngineId, string][])('%s (%s): bitwise the sequential outputs', async (engine, file) => {
      await concurrentIsSequential(cases[file]!, engine);
    }, 180_000);
  });
});
