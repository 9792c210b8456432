/**
 * Error-compensated int8 (compiler/gptq-int8.ts): on a real layer with real inputs it adds less output error than
 * rounding to nearest with the same scales; without a moment it is round-to-nearest exactly; and int8 files compiled
 * with calibration store such codes (dense weights and B factors), so their layers come closer to the original's
 * outputs than the same file rounded to nearest.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { collectLayerStats } from '../../compiler/calibrate.js';
import { compileOnnx } from '../../compiler/compile.js';
import { feedBatches, openDataset } from '../../compiler/data/spec.js';
import { findCandidates } from '../../compiler/factorize/candidates.js';
import { MAX_GPTQ_INPUTS, relativeOutputError } from '../../compiler/gptq.js';
import { roundedInt8 } from '../../compiler/gptq-int8.js';
import { importOnnx } from '../../compiler/import/onnx.js';
import { denseWeightLayers } from '../../compiler/int4-plan.js';
import { dequantizeInt8, int8Scales, quantizeInt8 } from '../../formats/int8.js';
import { readLrm } from '../../formats/read.js';

const DATA = join(import.meta.dirname, '../../../shared/data');
const MODEL = join(DATA, 'models/mnist-cnn-pytorch.onnx');

async function digits(limit: number) {
  const model = importOnnx(new Uint8Array(readFileSync(MODEL)));
  return { model, data: await openDataset(`mnist:${join(DATA, 'mnist')}`, { layout: model.inputs[0].shape, mean: [0.5], std: [0.5], limit }) };
}

describe('GPTQ int8', () => {
  it('adds less output error than rounding to nearest on mnist-cnn-pytorch conv2 with real digits, same scales', async () => {
    const source = new Uint8Array(readFileSync(MODEL));
    const { model, data } = await digits(64);
    const conv = findCandidates(model).find((c) => c.kind === 'conv')!;
    const stats = (await collectLayerStats(source, model, [conv], feedBatches(data, model.inputs, 32))).get(conv.node.name)!;
    const H = stats.gram.map((v) => v / stats.samples);
    const M = conv.matrix();
    const scales = int8Scales(M, conv.rows, conv.cols, 0);
    const values = (q: Int8Array) => Float64Array.from(dequantizeInt8(q, conv.rows, conv.cols, scales, 0));
    const nearest = relativeOutputError(M, values(quantizeInt8(M, conv.rows, conv.cols, scales, 0)), conv.rows, conv.cols, H);
    const gptq = relativeOutputError(M, values(roundedInt8(M, conv.rows, conv.cols, scales, H)), conv.rows, conv.cols, H);
    expect(nearest).toBeGreaterThan(1e-7);
    expect(gptq).toBeLessThan(0.8 * nearest);
  });

  it('is round-to-nearest, code for code, without a moment or past the widest input GPTQ takes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (rows, n, seed) => {
        let x = seed;
        const rand = () => ((x = (x * 1103515245 + 12345) | 0) / 2 ** 31) * 3;
        const M = Float64Array.from({ length: rows * n }, rand);
        if (rows > 1) M.fill(0, 0, n); // an all-zero row: scale 0, codes 0
        const scales = int8Scales(M, rows, n, 0);
        expect(Array.from(roundedInt8(M, rows, n, scales, undefined))).toEqual(Array.from(quantizeInt8(M, rows, n, scales, 0)));
        expect(Array.from(roundedInt8(M, rows, n, scales, new Float64Array(4)))).toEqual(Array.from(quantizeInt8(M, rows, n, scales, 0))); // wrong size: ignored
      }),
      { numRuns: 100 },
    );
  });

  it('int8 files compiled with calibration store GPTQ codes: every layer closer to the original than to nearest', async () => {
    const source = new Uint8Array(readFileSync(MODEL));
    const { model, data } = await digits(64);
    const calibration = () => feedBatches(data, model.inputs, 32);
    const options = { dtype: 'int8' as const, tiers: [0.5, 1], allocation: 'sigma' as const, calibration };
    const gptq = await readLrm((await compileOnnx(source, options)).lrm);
    // The same compile with the moments taken away at the point of storage: rounded to nearest.
    // Every weight layer: the factored ones and those kept dense (the first and last).
    const layers = [...findCandidates(model), ...denseWeightLayers(model, findCandidates(model))];
    const stats = await collectLayerStats(source, model, layers, calibration());
    let closer = 0;
    for (const c of layers) {
      const s = stats.get(c.node.name)!;
      const H = s.gram.map((v) => v / s.samples);
      const layer = gptq.header.layers.find((l) => l.weight === c.weight.name);
      const stored = layer ? layer.denseScales : gptq.header.graph.initializers.find((t) => t.name === c.weight.name)?.scales;
      const range = layer ? layer.dense : gptq.header.graph.initializers.find((t) => t.name === c.weight.name)?.range;
      if (!stored || !range) continue;
      // The stored codes, as the runtime reads them (channels on rows for Conv and Gemm with transB).
      const M = c.matrix();
      const bytes = gptq.payload.subarray(Number(range.offset), Number(range.offset) + Number(range.length));
      const q = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length);
      if (q.length !== c.rows * c.cols) continue;
      const scales = Float32Array.from(stored);
      const value = (codes: Int8Array) => Float64Array.from(dequantizeInt8(codes, c.rows, c.cols, scales, 0));
      const ours = relativeOutputError(M, value(q), c.rows, c.cols, H);
      const nearest = relativeOutputError(M, value(quantizeInt8(M, c.rows, c.cols, scales, 0)), c.rows, c.cols, H);
      if (c.cols > MAX_GPTQ_INPUTS) {
        expect(ours, c.weight.name).toBe(nearest); // fc1's 3136 inputs: to nearest, as the file says it does
        continue;
      }
      expect(ours, c.weight.name).toBeLessThan(nearest);
      closer++;
    }
    expect(closer).toBe(3); // conv1, conv2 (dense at full rank), fc2
  });

  it('int8 files compiled with calibration store GPTQ codes for the B factors of factored layers too', async () => {
    const source = new Uint8Array(readFileSync(MODEL));
    const { model, data } = await digits(64);
    const calibration = () => feedBatches(data, model.inputs, 32);
    const options = { tiers: [0.5, 1], allocation: 'sigma' as const, calibration };
    // The fp32 file of the same compile holds the B factors before rounding (same calibration, same ranks).
    const fp32 = await readLrm((await compileOnnx(source, { ...options, dtype: 'fp32' })).lrm);
    const int8 = await readLrm((await compileOnnx(source, { ...options, dtype: 'int8' })).lrm);
    const stats = await collectLayerStats(source, model, findCandidates(model), calibration());
    let checked = 0;
    for (const layer of int8.header.layers) {
      const cols = Number(layer.cols);
      const twin = fp32.header.layers.find((l) => l.name === layer.name)!;
      const s = stats.get(layer.name)!;
      const H = s.gram.map((v) => v / s.samples);
      layer.blocks.forEach((block, b) => {
        const rank = block.rankEnd - block.rankBegin;
        const right = twin.blocks[b].right;
        const B = Float64Array.from(new Float32Array(fp32.payload.slice(Number(right.offset), Number(right.offset) + Number(right.length)).buffer));
        const scales = Float32Array.from(block.rightScales!);
        // Same B (to float32 rounding): the int8 file's scales are the fp32 B's row maxima over 127.
        int8Scales(B, rank, cols, 0).forEach((scale, i) => expect(scale).toBeCloseTo(scales[i], 9));
        const codes = new Int8Array(int8.payload.slice(Number(block.right.offset), Number(block.right.offset) + Number(block.right.length)).buffer);
        const value = (q: Int8Array) => Float64Array.from(dequantizeInt8(q, rank, cols, scales, 0));
        const ours = relativeOutputError(B, value(codes), rank, cols, H);
        const nearest = relativeOutputError(B, value(quantizeInt8(B, rank, cols, scales, 0)), rank, cols, H);
        if (cols > MAX_GPTQ_INPUTS) return void expect(ours, `${layer.name} block ${b}`).toBe(nearest);
        expect(ours, `${layer.name} block ${b}`).toBeLessThan(nearest);
        checked++;
      });
    }
    expect(checked).toBeGreaterThan(0);
  });
});
