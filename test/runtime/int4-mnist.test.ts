/**
 * `--dtype int4` on a real model: mnist-cnn-pytorch.onnx calibrated on MNIST test digits 0–255, every tier loaded
 * with `load` and evaluated on 500 other digits (1000–1499). GPTQ int4 must keep the full tier within one digit of
 * the fp32 original's agreement bar (≥ 99% same predictions) at under 0.16× the ONNX file's bytes, and without
 * calibration the compile still works (round to nearest) and says so in its report.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import { feedBatches, openDataset } from '../../compiler/data/spec.js';
import { agreement, evaluateClassifier } from '../../compiler/evaluate.js';
import { importOnnx } from '../../compiler/import/onnx.js';
import { ortNodeCpu } from '../../runtime/engines/ort-node-cpu.js';
import { load } from '../../runtime/node.js';

const DATA = join(import.meta.dirname, '../../../shared/data');

describe('mnist-cnn-pytorch with int4 weights', () => {
  it('GPTQ-calibrated full tier agrees with the original on ≥ 99% of held-out digits at < 0.16× the bytes', async () => {
    const source = new Uint8Array(readFileSync(join(DATA, 'models/mnist-cnn-pytorch.onnx')));
    const inputs = importOnnx(source).inputs;
    const digits = (offset: number, limit: number) => openDataset(`mnist:${join(DATA, 'mnist')}`, { layout: inputs[0].shape, mean: [0.5], std: [0.5], offset, limit });
    const calib = await digits(0, 256);
    const { lrm, header, int4 } = await compileOnnx(source, { dtype: 'int4', tiers: [0.2, 1], calibration: () => feedBatches(calib, inputs, 32) });
    expect(header.factorDType).toBe('int4');
    expect(int4!.length).toBeGreaterThan(0);
    expect(int4!.every((r) => r.rounding === 'gptq')).toBe(true);

    const test = await digits(1000, 500);
    const original = await ortNodeCpu.create(source);
    const reference = await evaluateClassifier(original, test, { inputName: inputs[0].name, batchSize: 250 });
    await original.release();
    const session = await load(lrm, { tiers: header.tiers.length });
    const full = await evaluateClassifier(session, test, { inputName: inputs[0].name, batchSize: 250 });
    expect(session.bytesLoaded).toBeLessThan(0.16 * source.length);
    await session.release();
    expect(agreement(full.predictions, reference.predictions)).toBeGreaterThanOrEqual(0.99);
  }, 240_000);

  it('without calibration it rounds to nearest and says so', async () => {
    const source = new Uint8Array(readFileSync(join(DATA, 'models/mnist-cnn-pytorch.onnx')));
    const { int4 } = await compileOnnx(source, { dtype: 'int4', tiers: [1] });
    expect(int4!.length).toBeGreaterThan(0);
    expect(int4!.every((r) => r.rounding === 'nearest')).toBe(true);
  }, 120_000);
});
