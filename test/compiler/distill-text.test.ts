/**
 * Distillation of the transformer (USE-lite) on unlabelled STS-B train sentences: the training graph runs on
 * tfjs-wasm through the token packing (GatherND/ScatterND gradients), sparse batches stay whole, and the loss on
 * embeddings is the relative squared error. A few steps at a high rate must lower the 50% tier's held-out loss.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import { feedBatches, openDataset } from '../../compiler/data/spec.js';
import { loadVocabulary } from '../../compiler/data/text.js';
import { importOnnx } from '../../compiler/import/onnx.js';
import { SHARED } from '../data/helpers.js';

const USE = join(SHARED, 'models/use-lite/use_lite.onnx');
const TRAIN = join(SHARED, 'text/stsbenchmark/sts-train.csv');

describe('distillation on USE-lite', () => {
  it('trains the 50% tier on sentence batches with the mse loss and lowers its held-out loss; the untrained full tier stays as without distillation', async () => {
    const source = new Uint8Array(readFileSync(USE));
    const inputs = importOnnx(source, 'use_lite.onnx').inputs;
    const tokenizer = await loadVocabulary(undefined, [USE]);
    const pairs = (offset: number, limit: number) => openDataset(`sts:${TRAIN}`, { layout: [], inputs, tokenizer, offset, limit });
    const calib = await pairs(0, 16);
    const distill = await pairs(16, 24); // three batches of 8 pairs: two to train on, one held out
    const options = { fileName: 'use_lite.onnx', tiers: [0.5, 1], calibration: () => feedBatches(calib, inputs, 16), allocation: 'sigma' as const };
    const { distill: report, header, lrm } = await compileOnnx(source, {
      ...options,
      distill: { samples: () => feedBatches(distill, inputs, 8), steps: 6, batchSize: 1, learningRate: 2e-4, train: 'factors', engine: 'tfjs-wasm', loss: 'mse', tiers: [0] },
    });
    expect(header.tiers).toHaveLength(2);
    expect(report!.loss).toBe('mse');
    expect([report!.trainSamples, report!.validationSamples]).toEqual([2, 1]); // batches of sentences, not token rows
    expect(report!.bestStep).toBeGreaterThan(0);
    expect(report!.validationAfter[0]!).toBeLessThan(report!.validationBefore[0]!);
    // Tier 1 was not trained: the dense M of every layer below its full rank at tier 0 is the undistilled one, byte for
    // byte, while tier 0's factors moved (a layer tier 0 already runs at full rank shares its one dense M with tier 1).
    const plain = await compileOnnx(source, options);
    const payload = (file: { lrm: Uint8Array; header: typeof header }) => file.lrm.subarray(file.lrm.length - file.header.payloadLength);
    const dense = (file: { lrm: Uint8Array; header: typeof header }, i: number) => {
      const r = file.header.layers[i].dense!;
      return payload(file).subarray(r.offset, r.offset + r.length);
    };
    const denseLayers = header.layers.flatMap((l, i) => (l.dense && header.tiers[0].ranks[i] < header.tiers[1].ranks[i] ? [i] : []));
    expect(denseLayers.length).toBeGreaterThan(0);
    for (const i of denseLayers) expect(Buffer.compare(dense({ lrm, header }, i), dense(plain, i))).toBe(0);
    const block = (file: { lrm: Uint8Array; header: typeof header }) => {
      const r = file.header.layers.find((l) => l.blocks.length > 0)!.blocks[0].left;
      return payload(file).subarray(r.offset, r.offset + r.length);
    };
    expect(Buffer.compare(block({ lrm, header }), block(plain))).not.toBe(0);
  }, 300_000);
});
