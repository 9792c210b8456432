/**
 * USE-lite (Universal Sentence Encoder lite, ../shared/data/models/use-lite/use_lite.onnx, opset 18), the shared
 * data's only transformer, on the tfjs engines against ort-node-cpu. Its graph builds the dense batch itself from
 * the sparse (sentence, position) input: NonZero, Gather and ScatterND on int64 data, an Expand'ed fill, GatherND,
 * a Range sequence mask, Sin/Cos timing signals, ReduceProd shape arithmetic. The batch holds sentences of 1–40
 * pseudo-random ids and one of 130, longer than the model's 128-token clip. tfjs-webgpu on SwiftShader takes
 * 25–45 s for that batch (the attention projections run on the padded [6·128] grid: one [768, 512]·[512, 1536]
 * MatMul takes 6 s there) and compiles its shaders anew for each batch shape, so by default it runs two short
 * batches of one shape; LOWRANK_WEBGPU_ALL=1 runs the single sentence and the full batch too.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { engines, type EngineId, type Feeds, type HostTensor } from '../../runtime/node.js';
import { MODELS } from '../e2e/real-inputs.js';
import { maxRelativeError } from './engine-agreement.js';

const FILE = join(MODELS, 'use-lite/use_lite.onnx');
const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
// Dawn reads the driver list when it first starts in this process (each test file runs in its own fork).
if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER)) process.env.VK_ICD_FILENAMES = SWIFTSHADER;

/** Deterministic pseudo-random token ids in 6..8001 (0–5 are reserved pieces), one list per length. */
function sentences(lengths: readonly number[], seed: number): number[][] {
  let s = seed >>> 0;
  const next = (): number => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
  return lengths.map((n) => Array.from({ length: n }, () => 6 + (next() % 7996)));
}

/** The model's sparse batch: one (sentence, position) row per token, row-major, and the ids. */
function sparseBatch(batch: readonly number[][]): Feeds {
  const rows = batch.flatMap((ids, i) => ids.map((_, j) => [i, j]));
  return {
    indices: { dataType: 'int64', dims: [rows.length, 2], data: BigInt64Array.from(rows.flat(), BigInt) },
    values: { dataType: 'int64', dims: [rows.length], data: BigInt64Array.from(batch.flat(), BigInt) },
  };
}

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

const row = (t: HostTensor, i: number): Float32Array => (t.data as Float32Array).subarray(i * 512, (i + 1) * 512);

const BATCH = sentences([1, 7, 40, 130, 23, 3], 2024);
const SHORT = sentences([3, 12, 1], 11);
/** Other ids in the same shapes: SwiftShader compiles tfjs-webgpu's shaders per shape, seconds per new batch shape. */
const SHORT_AGAIN = sentences([3, 12, 1], 12);
const SINGLE = sentences([17], 7);
const WEBGPU_ALL = process.env.LOWRANK_WEBGPU_ALL === '1';

describe.runIf(existsSync(FILE))('use-lite on the tfjs engines vs ort-node-cpu', () => {
  const bytes = existsSync(FILE) ? new Uint8Array(readFileSync(FILE)) : new Uint8Array();
  const want = new Map<number[][], HostTensor>();

  beforeAll(async () => {
    const reference = await engines.get('ort-node-cpu').create(bytes);
    for (const batch of [BATCH, SHORT, SHORT_AGAIN, SINGLE]) want.set(batch, (await reference.run(sparseBatch(batch))).embedding);
    await reference.release();
  });

  it('ort-node-cpu clips a sentence to its first 128 tokens (what the 130-token sentence exercises)', async () => {
    const session = await engines.get('ort-node-cpu').create(bytes);
    const clipped = (await session.run(sparseBatch([BATCH[3].slice(0, 128)]))).embedding;
    await session.release();
    expect(cosine(row(clipped, 0), row(want.get(BATCH)!, 3))).toBeGreaterThan(0.999999);
  });

  /** The batches run in turn on one session (shapes change between runs; the second BATCH reuses the first's cache). */
  async function agreement(engine: EngineId, batches: number[][][]): Promise<void> {
    const session = await engines.get(engine).create(bytes);
    try {
      for (const [run, batch] of batches.entries()) {
        const before = tf.memory().numTensors;
        const got = (await session.run(sparseBatch(batch))).embedding;
        const w = want.get(batch)!;
        expect(got.dims).toEqual([batch.length, 512]);
        batch.forEach((_, i) => expect(cosine(row(w, i), row(got, i)), `${engine} sentence ${i} of ${batch.length}`).toBeGreaterThanOrEqual(0.9999));
        expect(maxRelativeError(w, got), `${engine} batch of ${batch.length}`).toBeLessThanOrEqual(5e-5);
        // Weights are cached on the first run; after that nothing of a run outlives it.
        if (run > 0) expect(tf.memory().numTensors, 'tensors left after a run').toBe(before);
      }
    } finally {
      await session.release();
    }
  }

  it('tfjs-wasm: per-sentence cosine ≥ 0.9999 and max relative error ≤ 5e-5, on a batch of 6 (one clipped), of 3 and of 1', async () => {
    await agreement('tfjs-wasm', [BATCH, SHORT, SINGLE, SHORT_AGAIN, BATCH]);
  });

  it.runIf(existsSync(SWIFTSHADER))(`tfjs-webgpu (SwiftShader): the same on ${WEBGPU_ALL ? 'the batches of 3, 1 and 6' : 'two batches of 3'}`, async () => {
    await agreement('tfjs-webgpu', WEBGPU_ALL ? [SHORT, SINGLE, BATCH] : [SHORT, SHORT_AGAIN]);
  }, 300_000);
});
