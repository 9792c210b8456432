/**
 * Sequential rounding's parts on mnist-cnn-pytorch with real digits:
 * - paired statistics of the network with itself: Σ x·x̃ᵀ equals Σ x̃·x̃ᵀ, and both equal calibration's Σ x·xᵀ
 *   (same vectors, same positions);
 * - with conv1 rounded, conv2's inputs differ, and its stored moment is calibration's on the rounded model;
 * - group scales refitted after GPTQ lower no row's output error, keep q, are half floats, and lower the total;
 * - depth levels count the marked layers upstream.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { collectLayerStats } from '../../compiler/calibrate.js';
import { feedBatches, openDataset, type Dataset } from '../../compiler/data/spec.js';
import { findCandidates, type LayerCandidate } from '../../compiler/factorize/candidates.js';
import { fitGroupScales } from '../../compiler/fit-scales.js';
import { gptqInt4, relativeOutputError } from '../../compiler/gptq.js';
import { importOnnx } from '../../compiler/import/onnx.js';
import { collectPairedStats } from '../../compiler/paired-stats.js';
import { withDenseWeight } from '../../compiler/precision.js';
import { int4Values, quantizeInt4Nearest } from '../../compiler/quantize-int4.js';
import { depthLevels } from '../../compiler/sequential-rounding.js';
import { fromHalfBits, toHalfBits } from '../../formats/float16.js';
import { int4Groups } from '../../formats/int4.js';
import { onnx } from '../../runtime/onnx/proto.js';

const DATA = join(import.meta.dirname, '../../../shared/data');
const source = new Uint8Array(readFileSync(join(DATA, 'models/mnist-cnn-pytorch.onnx')));
const model = importOnnx(source);
const layers = findCandidates(model, { minParams: 0 });
const byName = (kind: string, k: number): LayerCandidate => layers.filter((c) => c.kind === kind)[k];
let digits: Dataset;

beforeAll(async () => {
  digits = await openDataset(`mnist:${join(DATA, 'mnist')}`, { layout: model.inputs[0].shape, mean: [0.5], std: [0.5], limit: 64 });
});

/** Largest |a − b| relative to the largest |b|. */
function relativeGap(a: Float64Array, b: Float64Array): number {
  let [gap, top] = [0, 0];
  for (let i = 0; i < a.length; i++) [gap, top] = [Math.max(gap, Math.abs(a[i] - b[i])), Math.max(top, Math.abs(b[i]))];
  return gap / top;
}

describe('paired statistics', () => {
  it('of a network with itself: cross equals stored, and both equal calibration\'s moment', async () => {
    const [conv2, fc2] = [byName('conv', 1), byName('gemm', 1)];
    const paired = await collectPairedStats(source, source, model, [conv2, fc2], feedBatches(digits, model.inputs, 32));
    const plain = await collectLayerStats(source, model, [conv2, fc2], feedBatches(digits, model.inputs, 32));
    for (const c of [conv2, fc2]) {
      const p = paired.get(c.node.name)!;
      const s = plain.get(c.node.name)!;
      expect(p.samples).toBe(s.samples);
      expect(p.samples).toBeGreaterThanOrEqual(64);
      expect(relativeGap(p.cross, p.stored)).toBeLessThan(1e-6);
      expect(relativeGap(p.stored, s.gram)).toBeLessThan(1e-6);
    }
  }, 120_000);

  it('with conv1 rounded to int3, conv2 sees other inputs, and its stored moment is the rounded model\'s', async () => {
    const [conv1, conv2] = [byName('conv', 0), byName('conv', 1)];
    const rounded = int4Values(quantizeInt4Nearest(conv1.matrix(), conv1.rows, conv1.cols, 8, 3));
    const changed = onnx.ModelProto.encode(withDenseWeight(onnx.ModelProto.decode(source), conv1, Float32Array.from(rounded))).finish();
    const p = (await collectPairedStats(source, changed, model, [conv2], feedBatches(digits, model.inputs, 32))).get(conv2.node.name)!;
    const s = (await collectLayerStats(changed, model, [conv2], feedBatches(digits, model.inputs, 32))).get(conv2.node.name)!;
    expect(relativeGap(p.stored, s.gram)).toBeLessThan(1e-6);
    expect(relativeGap(p.cross, p.stored)).toBeGreaterThan(1e-3);
  }, 120_000);
});

describe('group scales refitted after rounding', () => {
  it('lower the output error of conv2 at 3 bits, row by row never higher, with q unchanged and half-float scales', async () => {
    const conv = byName('conv', 1);
    const stats = (await collectLayerStats(source, model, [conv], feedBatches(digits, model.inputs, 32))).get(conv.node.name)!;
    const H = stats.gram.map((v) => v / stats.samples);
    const M = conv.matrix();
    const { rows, cols: n } = conv;
    for (const bits of [3, 4] as const) {
      const first = gptqInt4(M, rows, n, H, 32, bits);
      const fitted = fitGroupScales(first, M, H);
      expect(Array.from(fitted.q)).toEqual(Array.from(first.q));
      expect(fitted.scales.every((s) => s >= 0 && fromHalfBits(toHalfBits(s)) === s)).toBe(true);
      const rowError = (m: typeof first, r: number) => relativeOutputError(M.subarray(r * n, (r + 1) * n), int4Values(m).subarray(r * n, (r + 1) * n), 1, n, H);
      for (let r = 0; r < rows; r++) expect(rowError(fitted, r)).toBeLessThanOrEqual(rowError(first, r) * (1 + 1e-9));
      const [before, after] = [first, fitted].map((m) => relativeOutputError(M, int4Values(m), rows, n, H));
      expect(after).toBeLessThan(before * (bits === 3 ? 0.98 : 1));
      expect(fitted.scales.length).toBe(rows * int4Groups(n, 32));
    }
  }, 120_000);
});

describe('depth levels', () => {
  it('count the marked layers on the longest path into each', () => {
    const all = new Set(layers.map((c) => c.nodeIndex));
    expect(layers.map((c) => depthLevels(model, all).get(c.nodeIndex))).toEqual(layers.map((_, i) => i));
    const some = new Set([layers[1].nodeIndex, layers[3].nodeIndex]);
    const levels = depthLevels(model, some);
    expect([levels.get(layers[1].nodeIndex), levels.get(layers[3].nodeIndex), levels.get(layers[0].nodeIndex)]).toEqual([0, 1, undefined]);
  });
});
