/**
 * Every fp32 model in ../shared/data/models compiles, loads and, at full rank with fp32 factors,
 * reproduces the original's outputs on real inputs on both engines (max abs error ≤ 1e-4 of the
 * output's largest magnitude). Lower tiers must also build and run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { maxRelativeError } from './compare.js';
import { describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import { load, type Feeds, type HostTensor } from '../../runtime/node.js';
import { bindInput, imagenetFiles, mnistDigits, MODELS, PHOTOS, photos, vadChunks } from './real-inputs.js';

interface Case {
  file: string;
  inputs: () => Promise<Feeds[]>;
  /** Compile options beyond the defaults. */
  minParams?: number;
  /** At least this many layers must be factored (the point of the test is to exercise factoring). */
  minLayers: number;
}

const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
const CASES: Case[] = [
  { file: 'mnist-8.onnx', minParams: 1024, minLayers: 1, inputs: () => mnistDigits(8, false, (v) => v) },
  { file: 'mnist-cnn-pytorch.onnx', minLayers: 2, inputs: () => mnistDigits(8, false, (v) => (v / 255 - 0.5) / 0.5) },
  { file: 'mnist-mlp-784-128-64-10.onnx', minLayers: 2, inputs: () => mnistDigits(8, true, (v) => v / 255) },
  { file: 'super-resolution-10.onnx', minLayers: 2, inputs: () => photos(PHOTOS.slice(2), 1, 224, 224, { resize: 'stretch' }) },
  { file: 'yolo-fastestv2-coco-352.onnx', minLayers: 5, inputs: () => photos(PHOTOS, 3, 352, 352, { resize: 'stretch', channelOrder: 'BGR' }) },
  {
    file: 'nanodet-m-coco-416.onnx', minLayers: 5,
    inputs: () => photos(PHOTOS.slice(0, 2), 3, 416, 416, { resize: 'stretch', channelOrder: 'BGR', mean: [103.53 / 255, 116.28 / 255, 123.675 / 255], std: [57.375 / 255, 57.12 / 255, 58.395 / 255] }),
  },
  { file: 'ultraface-RFB-320.onnx', minLayers: 3, inputs: () => photos(PHOTOS.slice(1, 2), 3, 240, 320, { resize: 'stretch', mean: [127 / 255], std: [128 / 255] }) },
  { file: 'silero_vad_16k_op15.onnx', minLayers: 2, inputs: () => vadChunks(6) },
  { file: 'mobilenet_v1_075_224.onnx', minLayers: 10, inputs: () => photos(imagenetFiles(3), 3, 224, 224, { mean: [0.5], std: [0.5] }) },
];


async function runOriginal(bytes: Uint8Array, feeds: Feeds[]): Promise<Array<Record<string, HostTensor>>> {
  const session = await ort.InferenceSession.create(bytes);
  const out: Array<Record<string, HostTensor>> = [];
  for (const f of feeds) {
    const r = await session.run(Object.fromEntries(Object.entries(f).map(([k, t]) => [k, new ort.Tensor(t.dataType, t.data as Float32Array, t.dims)])));
    out.push(Object.fromEntries(Object.entries(r).map(([k, t]) => [k, { dataType: 'float32', dims: [...t.dims], data: t.data as Float32Array }])));
  }
  await session.release();
  return out;
}

describe.each(CASES)('$file', (c) => {
  it('compiles, and matches the original at full rank on ort-node-cpu and ort-wasm; lower tiers run', async () => {
    const source = new Uint8Array(readFileSync(join(MODELS, c.file)));
    const { lrm, header } = await compileOnnx(source, { fileName: c.file, minParams: c.minParams });
    expect(header.layers.length).toBeGreaterThanOrEqual(c.minLayers);
    const feeds = bindInput(await c.inputs(), header.graph.inputs[0].name);
    const expected = await runOriginal(source, feeds);

    for (const engine of ['ort-node-cpu', 'ort-wasm'] as const) {
      const session = await load(lrm, { engine });
      expect(session.ranks).toEqual(header.layers.map((l) => l.maxRank));
      for (const [i, f] of feeds.entries()) {
        const got = await session.run(f);
        for (const [name, want] of Object.entries(expected[i])) {
          expect(got[name].dims, `${engine} ${name} dims`).toEqual(want.dims);
          expect(maxRelativeError(want.data as Float32Array, got[name].data as Float32Array), `${engine} ${name} sample ${i}`).toBeLessThanOrEqual(1e-4);
        }
      }
      await session.release();
    }

    // The smallest tier is a complete model of its own.
    const small = await load(lrm, { tiers: 1 });
    const out = await small.run(feeds[0]);
    for (const [name, want] of Object.entries(expected[0])) {
      expect(out[name].dims).toEqual(want.dims);
      expect(Array.from(out[name].data as Float32Array).every(Number.isFinite)).toBe(true);
    }
    await small.release();
  });
});
