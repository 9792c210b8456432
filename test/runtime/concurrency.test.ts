/**
 * Concurrency (issue 16): 64 different digits run all at once on one session give bitwise the outputs they give one
 * at a time, on every Node CPU engine (bench/soak.ts adds the 5,000-run RSS soak: bench/results/soak.md).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { concurrentMatchesSequential } from '../../bench/soak.js';
import { compileOnnx } from '../../compiler/compile.js';
import { openDataset } from '../../compiler/data/spec.js';
import { importOnnx } from '../../compiler/import/onnx.js';
import { load, type EngineId } from '../../runtime/node.js';
import type { Feeds } from '../../runtime/tensor.js';

const DATA = join(import.meta.dirname, '../../../shared/data');
let lrm: Uint8Array;
const feeds: Feeds[] = [];

beforeAll(async () => {
  const source = new Uint8Array(readFileSync(join(DATA, 'models/mnist-cnn-pytorch.onnx')));
  const input = importOnnx(source).inputs[0]!;
  ({ lrm } = await compileOnnx(source, { dtype: 'int8', tiers: [0.5, 1] }));
  const digits = await openDataset(`mnist:${join(DATA, 'mnist')}`, { layout: input.shape, mean: [0.5], std: [0.5], limit: 64 });
  for await (const b of digits.batches(1)) feeds.push({ [input.name]: b.input });
}, 120_000);

describe('64 concurrent runs on one session', () => {
  it.each(['ort-node-cpu', 'ort-wasm', 'tfjs-wasm'] as EngineId[])('%s: bitwise the sequential outputs', async (engine) => {
    const session = await load(lrm, { engine, tiers: 1 });
    try {
      expect(feeds).toHaveLength(64);
      expect(await concurrentMatchesSequential(session, feeds)).toBe(true);
    } finally {
      await session.release();
    }
  }, 120_000);
});
