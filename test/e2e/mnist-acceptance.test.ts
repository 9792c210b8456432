/**
 * The acceptance figures of the vertical slice, on all 10,000 MNIST test digits:
 * mnist-cnn-pytorch.onnx compiled with the defaults; the full tier agrees with the original on ≥ 99.9%
 * of digits, and some tier with ≤ 35% of the original parameters loses ≤ 0.3 points of accuracy.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import { feedBatches, openDataset } from '../../compiler/data/spec.js';
import { agreement, evaluateClassifier } from '../../compiler/evaluate.js';
import { importOnnx } from '../../compiler/import/onnx.js';
import { engines, load } from '../../runtime/node.js';
import { DATA, MODELS } from './real-inputs.js';

describe('mnist-cnn-pytorch acceptance (10,000 digits)', () => {
  it('full tier ≥ 99.9% agreement; a tier with ≤ 35% of the parameters loses ≤ 0.3 points', async () => {
    const source = new Uint8Array(readFileSync(join(MODELS, 'mnist-cnn-pytorch.onnx')));
    const started = performance.now();
    const { lrm, header } = await compileOnnx(source, { fileName: 'mnist-cnn-pytorch.onnx' });
    const compileSeconds = (performance.now() - started) / 1000;
    expect(compileSeconds).toBeLessThan(10);

    const input = header.graph.inputs[0];
    const data = await openDataset(`mnist:${join(DATA, 'mnist')}`, { layout: input.shape, mean: [0.5], std: [0.5] });
    expect(data.size).toBe(10_000);
    const options = { inputName: input.name, batchSize: 250 };

    const reference = await engines.get('ort-node-cpu').create(source);
    const original = await evaluateClassifier(reference, data, options);
    await reference.release();
    expect(original.accuracy).toBeCloseTo(99.06, 1);

    const originalParams = importOnnx(source).initializers.reduce((s, t) => s + t.dims.reduce((a, b) => a * b, 1), 0);
    const results = [];
    for (const tier of header.tiers) {
      const session = await load(lrm, { tiers: tier.index + 1 });
      const r = await evaluateClassifier(session, data, options);
      await session.release();
      results.push({ tier: tier.index, share: tier.params / originalParams, accuracy: r.accuracy!, agreement: agreement(r.predictions, original.predictions) });
    }
    const full = results[results.length - 1];
    expect(full.share).toBeCloseTo(1, 6);
    expect(full.agreement).toBeGreaterThanOrEqual(99.9);
    const small = results.filter((r) => r.share <= 0.35 && r.accuracy >= original.accuracy! - 0.3);
    expect(small.length, JSON.stringify(results)).toBeGreaterThan(0);
  });

  it('calibrated on digits 0–255, int8: a tier with ≤ 15% of the parameters loses ≤ 0.3 points on digits 1000–9999 and loads ≤ 1/20 of the ONNX file', async () => {
    const source = new Uint8Array(readFileSync(join(MODELS, 'mnist-cnn-pytorch.onnx')));
    const input = importOnnx(source).inputs;
    const calib = await openDataset(`mnist:${join(DATA, 'mnist')}`, { layout: input[0].shape, mean: [0.5], std: [0.5], limit: 256 });
    const { lrm, header } = await compileOnnx(source, { calibration: feedBatches(calib, input, 32), dtype: 'int8', tiers: [0.05, 0.1, 0.15, 0.2, 1] });
    const data = await openDataset(`mnist:${join(DATA, 'mnist')}`, { layout: input[0].shape, mean: [0.5], std: [0.5], offset: 1000 });
    const options = { inputName: input[0].name, batchSize: 250 };
    const reference = await engines.get('ort-node-cpu').create(source);
    const original = await evaluateClassifier(reference, data, options);
    await reference.release();
    const originalParams = importOnnx(source).initializers.reduce((s, t) => s + t.dims.reduce((a, b) => a * b, 1), 0);
    const rows = [];
    for (const tier of header.tiers) {
      const session = await load(lrm, { tier: tier.index });
      const r = await evaluateClassifier(session, data, options);
      rows.push({ tier: tier.index, share: tier.params / originalParams, bytes: session.bytesLoaded, loss: original.accuracy! - r.accuracy! });
      await session.release();
    }
    const good = rows.filter((r) => r.share <= 0.15 && r.loss <= 0.3 && r.bytes <= source.length / 20);
    expect(good.length, JSON.stringify(rows)).toBeGreaterThan(0);
  });
});
