import { maxRelativeError } from '../e2e/compare.js';
import { describe, it, expect } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { collectLayerStats, positionCap, type LayerStats } from '../../compiler/calibrate.js';
import { findCandidates, type LayerCandidate } from '../../compiler/factorize/candidates.js';
import { importOnnx } from '../../compiler/import/onnx.js';
import { feedBatches, openDataset } from '../../compiler/data/spec.js';
import { serializeNpy } from '../../compiler/data/npy.js';
import { readWav } from '../../compiler/data/wav.js';
import type { HostTensor } from '../../compiler/data/tensor.js';
import { onnx } from '../../runtime/onnx/proto.js';
import { SHARED, scratchDir } from '../data/helpers.js';

// ---------------------------------------------------------------------------------------------------------
// Tiny one-layer models built here, so every layout and padding rule is checked against a naive reference.

const FLOAT = onnx.TensorProto.DataType.FLOAT;

interface Layer {
  op: 'MatMul' | 'Gemm' | 'Conv';
  /** Shape of the layer input X, with 'N' for the batch dim. */
  input: Array<number | 'N'>;
  weight: number[];
  attributes?: Record<string, number | number[] | string>;
  /** Put a Relu between the graph input and the layer, so X is an intermediate value that must be fetched. */
  relu?: boolean;
}

let seed = 12345;
function random(): number {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31 - 0.5;
}
const randomArray = (n: number) => Float32Array.from({ length: n }, random);

function attribute(name: string, v: number | number[] | string) {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  return { name, type: T.INT, i: v };
}

function buildModel(layer: Layer, weight: Float32Array): Uint8Array {
  const valueInfo = (name: string, shape: Array<number | string>) => ({
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
  const x = layer.relu ? 'x_relu' : 'x';
  const nodes = [
    ...(layer.relu ? [{ name: 'relu', opType: 'Relu', input: ['x'], output: ['x_relu'] }] : []),
    { name: 'layer', opType: layer.op, input: [x, 'w'], output: ['y'], attribute: Object.entries(layer.attributes ?? {}).map(([k, v]) => attribute(k, v)) },
  ];
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'g',
      node: nodes,
      initializer: [{ name: 'w', dataType: FLOAT, dims: layer.weight, rawData: new Uint8Array(weight.buffer) }],
      input: [valueInfo('x', layer.input)],
      output: [{ name: 'y', type: { tensorType: { elemType: FLOAT } } }],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Batches of random inputs for the layer, of the given batch sizes; also returns the layer's view of them. */
function randomBatches(layer: Layer, sizes: number[]): { feeds: Array<Record<string, HostTensor>>; xs: Array<{ data: Float32Array; dims: number[] }> } {
  const feeds: Array<Record<string, HostTensor>> = [];
  const xs: Array<{ data: Float32Array; dims: number[] }> = [];
  for (const n of sizes) {
    const dims = layer.input.map((d) => (d === 'N' ? n : d));
    const data = randomArray(dims.reduce((a, b) => a * b, 1));
    feeds.push({ x: { dataType: 'float32', dims, data } });
    xs.push({ data: layer.relu ? data.map((v) => Math.max(v, 0)) : data, dims });
  }
  return { feeds, xs };
}

async function* iterate<T>(items: T[]): AsyncGenerator<T> {
  for (const item of items) yield item;
}

// --- naive references: explicit loops over positions, building every x ---

function naiveRows(xs: Array<{ data: Float32Array; dims: number[] }>, n: number, transposed: boolean): { g: Float64Array; samples: number } {
  const g = new Float64Array(n * n);
  let samples = 0;
  for (const { data, dims } of xs) {
    const count = data.length / n;
    for (let r = 0; r < count; r++) {
      const x = Array.from({ length: n }, (_, i) => (transposed ? data[i * dims[1] + r] : data[r * n + i]));
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) g[i * n + j] += x[i] * x[j];
      samples++;
    }
  }
  return { g, samples };
}

function naiveConv(xs: Array<{ data: Float32Array; dims: number[] }>, layer: Layer): { g: Float64Array; samples: number } {
  const [, C, ...k] = layer.weight;
  const r = k.length;
  const a = layer.attributes ?? {};
  const strides = (a.strides as number[]) ?? k.map(() => 1);
  const dilations = (a.dilations as number[]) ?? k.map(() => 1);
  const autoPad = (a.auto_pad as string) ?? 'NOTSET';
  const pads = (a.pads as number[]) ?? new Array(2 * r).fill(0);
  const n = C * k.reduce((p, q) => p * q, 1);
  const g = new Float64Array(n * n);
  let samples = 0;
  for (const { data, dims } of xs) {
    const size = dims.slice(2);
    const out: number[] = [];
    const begin: number[] = [];
    for (let d = 0; d < r; d++) {
      const span = (k[d] - 1) * dilations[d] + 1;
      if (autoPad.startsWith('SAME')) {
        out.push(Math.ceil(size[d] / strides[d]));
        const total = Math.max(0, (out[d] - 1) * strides[d] + span - size[d]);
        begin.push(autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : Math.ceil(total / 2));
      } else {
        out.push(Math.floor((size[d] + pads[d] + pads[r + d] - span) / strides[d]) + 1);
        begin.push(pads[d]);
      }
    }
    const positions = out.reduce((p, q) => p * q, 1);
    const taps = k.reduce((p, q) => p * q, 1);
    const plane = size.reduce((p, q) => p * q, 1);
    for (let img = 0; img < dims[0]; img++) {
      for (let pos = 0; pos < positions; pos++) {
        // Output coordinates of this position, last dim fastest.
        const o: number[] = [];
        for (let d = r - 1, rest = pos; d >= 0; d--) {
          o[d] = rest % out[d];
          rest = Math.floor(rest / out[d]);
        }
        const x = new Float64Array(n);
        for (let c = 0; c < C; c++) {
          for (let tap = 0; tap < taps; tap++) {
            const t: number[] = [];
            for (let d = r - 1, rest = tap; d >= 0; d--) {
              t[d] = rest % k[d];
              rest = Math.floor(rest / k[d]);
            }
            let offset = 0;
            let inside = true;
            for (let d = 0; d < r; d++) {
              const coord = o[d] * strides[d] - begin[d] + t[d] * dilations[d];
              if (coord < 0 || coord >= size[d]) inside = false;
              offset = offset * size[d] + coord;
            }
            x[c * taps + tap] = inside ? data[(img * C + c) * plane + offset] : 0;
          }
        }
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) g[i * n + j] += x[i] * x[j];
        samples++;
      }
    }
  }
  return { g, samples };
}


/** tr(M·G·Mᵀ) = Σ over all x of |M·x|²: the layer output's energy, which ORT computes independently. */
function outputEnergy(c: LayerCandidate, g: Float64Array): number {
  const M = c.matrix();
  const n = c.cols;
  let sum = 0;
  for (let o = 0; o < c.rows; o++) {
    for (let i = 0; i < n; i++) {
      let gm = 0;
      for (let j = 0; j < n; j++) gm += g[i * n + j] * M[o * n + j];
      sum += M[o * n + i] * gm;
    }
  }
  return sum;
}

async function ortOutputEnergy(model: Uint8Array, feeds: Array<Record<string, HostTensor>>): Promise<number> {
  const session = await ort.InferenceSession.create(model, { logSeverityLevel: 3 });
  let sum = 0;
  for (const f of feeds) {
    const { y } = await session.run({ x: new ort.Tensor('float32', f.x.data as Float32Array, f.x.dims) });
    for (const v of y.data as Float32Array) sum += v * v;
  }
  await session.release();
  return sum;
}

const LAYERS: Record<string, Layer> = {
  'MatMul on [N, 70, 20] rows (leading dims flattened, > one block)': { op: 'MatMul', input: ['N', 70, 20], weight: [20, 12], relu: true },
  'Gemm with transA = 1 (columns are the vectors), read from the graph input': {
    op: 'Gemm', input: [16, 'N'], weight: [10, 16], attributes: { transA: 1, transB: 1 },
  },
  'Conv 3×3 stride 2 pad 1 dilation 1': {
    op: 'Conv', input: ['N', 3, 9, 11], weight: [4, 3, 3, 3], attributes: { strides: [2, 2], pads: [1, 1, 1, 1], dilations: [1, 1] }, relu: true,
  },
  'Conv1d, stride 3, asymmetric pads, > one block of positions': {
    op: 'Conv', input: ['N', 5, 400], weight: [6, 5, 4], attributes: { strides: [3], pads: [2, 1] }, relu: true,
  },
  // onnxruntime refuses to run dilated SAME convs ("Dilation not supported for AutoPadType::SAME_UPPER"), so X is
  // the graph input here: calibration then reads it from the feeds and never runs the Conv (no ORT check below).
  'Conv dilation 2 with auto_pad SAME_UPPER, stride 2×1': {
    op: 'Conv', input: ['N', 3, 10, 7], weight: [5, 3, 3, 3], attributes: { dilations: [2, 2], strides: [2, 1], auto_pad: 'SAME_UPPER' },
  },
  'Conv 2×2 SAME_LOWER stride 3 (odd total pad)': {
    op: 'Conv', input: ['N', 2, 8, 9], weight: [3, 2, 2, 2], attributes: { strides: [3, 3], auto_pad: 'SAME_LOWER' }, relu: true,
  },
  'Conv 1×1 SAME_UPPER stride 4 on 7×7 (negative needed pad: onnxruntime pads 0)': {
    op: 'Conv', input: ['N', 2, 7, 7], weight: [3, 2, 1, 1], attributes: { strides: [4, 4], auto_pad: 'SAME_UPPER' }, relu: true,
  },
  'Conv3d with pads': {
    op: 'Conv', input: ['N', 2, 4, 5, 6], weight: [3, 2, 2, 3, 2], attributes: { pads: [1, 0, 1, 1, 1, 0] }, relu: true,
  },
  'Conv VALID, kernel without explicit attributes': {
    op: 'Conv', input: ['N', 3, 6, 6], weight: [4, 3, 3, 3], attributes: { auto_pad: 'VALID' }, relu: true,
  },
};

describe('collectLayerStats on one-layer models', () => {
  for (const [title, layer] of Object.entries(LAYERS)) {
    it(title, async () => {
      const weight = randomArray(layer.weight.reduce((a, b) => a * b, 1));
      const source = buildModel(layer, weight);
      const model = importOnnx(source);
      const [candidate, ...others] = findCandidates(model, { minParams: 1 });
      expect(others).toEqual([]);
      const batchSizes = [2, 3];
      const { feeds, xs } = randomBatches(layer, batchSizes);
      const stats = await collectLayerStats(source, model, [candidate], iterate(feeds));
      const s = stats.get('layer')!;
      const n = candidate.cols;
      expect(s.gram.length).toBe(n * n);

      const ref = layer.op === 'Conv' ? naiveConv(xs, layer) : naiveRows(xs, n, layer.attributes?.transA === 1);
      expect(s.samples).toBe(ref.samples);
      expect(s.vectors).toBe(ref.samples); // nothing subsampled on maps this small
      // Calibration's block products are float32 (linalg/blocked-gram.ts, ~2e-7): an indexing error is O(1).
      expect(maxRelativeError(ref.g, s.gram)).toBeLessThanOrEqual(1e-6);
      // Images: dim 0 of a batched input; the Gemm input's dim 0 is fixed (16), so one per run.
      expect(s.images).toBe(layer.input[0] === 'N' ? 5 : 2);
      // And independently of the reference's padding rules: G reproduces the energy of ORT's own output.
      if (layer.attributes?.auto_pad === 'SAME_UPPER' && layer.attributes.dilations) return;
      const energy = await ortOutputEnergy(source, feeds);
      expect(Math.abs(outputEnergy(candidate, s.gram) - energy) / energy).toBeLessThan(1e-5);
    });
  }

  it('shares one LayerStats between layers that read the same vectors, and reports progress per batch', async () => {
    const layer = LAYERS['MatMul on [N, 70, 20] rows (leading dims flattened, > one block)']!;
    const source = buildModel(layer, randomArray(240));
    const proto = onnx.ModelProto.decode(source);
    // A second MatMul on the same Relu output, with its own weight, whose output is also a graph output.
    proto.graph!.node!.push(onnx.NodeProto.create({ name: 'twin', opType: 'MatMul', input: ['x_relu', 'w2'], output: ['y2'] }));
    proto.graph!.initializer!.push(onnx.TensorProto.create({ name: 'w2', dataType: FLOAT, dims: [20, 12], rawData: new Uint8Array(randomArray(240).buffer) }));
    proto.graph!.output!.push(onnx.ValueInfoProto.create({ name: 'x_relu', type: { tensorType: { elemType: FLOAT } } }));
    const twin = onnx.ModelProto.encode(proto).finish();
    const model = importOnnx(twin);
    const candidates = findCandidates(model, { minParams: 1 });
    expect(candidates.map((c) => c.node.name)).toEqual(['layer', 'twin']);
    const progress: Array<[number, number | undefined]> = [];
    const { feeds } = randomBatches(layer, [2, 3]);
    const stats = await collectLayerStats(twin, model, candidates, iterate(feeds), { onProgress: (d, t) => progress.push([d, t]), total: 5 });
    expect(stats.get('twin')).toBe(stats.get('layer'));
    expect(progress).toEqual([[2, 5], [5, 5]]);
  });

  it('says which batch onnxruntime could not run', async () => {
    const layer = LAYERS['Conv 3×3 stride 2 pad 1 dilation 1']!;
    const source = buildModel(layer, randomArray(4 * 27));
    const model = importOnnx(source);
    const good = randomBatches(layer, [1]).feeds[0]!;
    const bad = { x: { dataType: 'float32' as const, dims: [1, 2, 9, 11], data: new Float32Array(198) } };
    await expect(collectLayerStats(source, model, findCandidates(model, { minParams: 1 }), iterate([good, bad]))).rejects.toThrow(
      /^calibration batch 2: onnxruntime could not run the model \(.*\); check that the data fits/,
    );
  });
});

describe('collectLayerStats subsamples the positions of large convolutions', () => {
  // 3×3 pad 1 over 16×128×128: n = 144, 16,384 positions per image, more than positionCap(144) = 9,645.
  const layer: Layer = { op: 'Conv', input: ['N', 16, 128, 128], weight: [8, 16, 3, 3], attributes: { pads: [1, 1, 1, 1] } };
  const positions = 128 * 128;
  const images = 3;

  /** Smooth, random-ish images: per channel a few random low-frequency plane waves plus a little noise. */
  function smoothImages(count: number): Float32Array {
    const data = new Float32Array(count * 16 * positions);
    for (let plane = 0; plane < count * 16; plane++) {
      const waves = Array.from({ length: 3 }, () => ({ fy: random() * 0.4, fx: random() * 0.4, phase: random() * 6.3, amp: 1 + random() }));
      for (let y = 0; y < 128; y++) {
        for (let x = 0; x < 128; x++) {
          let v = 0.1 * random() + 0.3;
          for (const w of waves) v += w.amp * Math.sin(w.fy * y + w.fx * x + w.phase);
          data[plane * positions + y * 128 + x] = v;
        }
      }
    }
    return data;
  }

  /** The same images as batches of the given sizes. */
  function batches(data: Float32Array, sizes: number[]): Array<Record<string, HostTensor>> {
    const out: Array<Record<string, HostTensor>> = [];
    let at = 0;
    for (const n of sizes) {
      const len = n * 16 * positions;
      out.push({ x: { dataType: 'float32', dims: [n, 16, 128, 128], data: data.slice(at, at + len) } });
      at += len;
    }
    return out;
  }

  /** ‖A/a − B/b‖_F / ‖B/b‖_F. */
  function relativeFrobenius(A: Float64Array, a: number, B: Float64Array, b: number): number {
    let diff = 0;
    let norm = 0;
    for (let i = 0; i < A.length; i++) {
      diff += (A[i] / a - B[i] / b) ** 2;
      norm += (B[i] / b) ** 2;
    }
    return Math.sqrt(diff / norm);
  }

  it('accumulates a deterministic subset whose normalised G matches the full one', async () => {
    const source = buildModel(layer, randomArray(8 * 144));
    const model = importOnnx(source);
    const candidates = findCandidates(model, { minParams: 1 });
    const data = smoothImages(images);
    const stats = async (sizes: number[], options = {}) => (await collectLayerStats(source, model, candidates, iterate(batches(data, sizes)), options)).get('layer')!;

    const full = await stats([images], { maxPositionsPerImage: Infinity });
    expect([full.samples, full.images]).toEqual([images * positions, images]);

    const sub = await stats([images]);
    expect(positionCap(144)).toBeLessThan(positions);
    expect([sub.samples, sub.images]).toEqual([images * positionCap(144), images]);
    // What the layer multiplied (the sensitivity limit counts it), subsampled or not.
    expect([sub.vectors, full.vectors]).toEqual([images * positions, images * positions]);
    expect(relativeFrobenius(sub.gram, sub.samples, full.gram, full.samples)).toBeLessThan(0.1);

    // Deterministic: the same G on a second run, and when the same images come in other batches.
    expect((await stats([images])).gram).toEqual(sub.gram);
    expect((await stats([1, 2])).gram).toEqual(sub.gram);

    // A tighter cap (the floor, as for wide layers) still estimates G/samples well.
    const tight = await stats([1, 1, 1], { maxPositionsPerImage: 1024 });
    expect(tight.samples).toBe(images * 1024);
    expect(relativeFrobenius(tight.gram, tight.samples, full.gram, full.samples)).toBeLessThan(0.1);
  });

  it('leaves small convolutions and MatMul rows alone, and rejects a cap below 1', async () => {
    expect(positionCap(576)).toBe(1024); // 64-channel 3×3: the floor
    expect(positionCap(27)).toBeGreaterThan(224 * 224); // RGB 3×3 stem: every position even at 224×224
    const source = buildModel(layer, randomArray(8 * 144));
    const model = importOnnx(source);
    await expect(collectLayerStats(source, model, findCandidates(model, { minParams: 1 }), iterate([]), { maxPositionsPerImage: 0 })).rejects.toThrow(
      /maxPositionsPerImage must be at least 1/,
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// Real models and data.

/** Symmetric, non-negative diagonal, and vᵀGv ≥ 0 for a few random v (up to rounding). */
function expectPsd(s: LayerStats, n: number): void {
  let trace = 0;
  let negativeDiagonal = 0;
  let asymmetric = 0;
  for (let i = 0; i < n; i++) {
    if (!(s.gram[i * n + i] >= 0)) negativeDiagonal++;
    trace += s.gram[i * n + i];
    for (let j = 0; j < i; j++) if (s.gram[i * n + j] !== s.gram[j * n + i]) asymmetric++;
  }
  expect([negativeDiagonal, asymmetric]).toEqual([0, 0]);
  expect(trace).toBeGreaterThan(0);
  for (let trial = 0; trial < 5; trial++) {
    const v = Float64Array.from({ length: n }, random);
    let q = 0;
    for (let i = 0; i < n; i++) {
      let gv = 0;
      for (let j = 0; j < n; j++) gv += s.gram[i * n + j] * v[j];
      q += v[i] * gv;
    }
    expect(q).toBeGreaterThanOrEqual(-1e-9 * trace);
  }
}

describe('collectLayerStats on real models', () => {
  it('mnist-cnn-pytorch on 64 MNIST digits: conv2 (n = 288) and fc1 (n = 3136)', async () => {
    const source = readFileSync(join(SHARED, 'models/mnist-cnn-pytorch.onnx'));
    const model = importOnnx(source);
    const candidates = findCandidates(model);
    const dataset = await openDataset(`mnist:${join(SHARED, 'mnist')}`, { layout: model.inputs[0]!.shape, mean: [0.5], std: [0.5], limit: 64 });
    const stats = await collectLayerStats(source, model, candidates, feedBatches(dataset, model.inputs, 32));
    const conv2 = stats.get('/conv2/Conv')!;
    const fc1 = stats.get('/fc1/Gemm')!;
    expect(conv2.gram.length).toBe(288 * 288);
    expect(fc1.gram.length).toBe(3136 * 3136);
    expect([fc1.samples, fc1.images]).toEqual([64, 64]);
    expect([conv2.samples, conv2.images]).toEqual([64 * 14 * 14, 64]);
    expectPsd(conv2, 288);
    expectPsd(fc1, 3136);
  });

  it('images: (unlabelled JPEGs) feed calibration too', async () => {
    const { dir, cleanup } = scratchDir();
    try {
      for (const f of ['dog.jpg', 'zidane.jpg']) writeFileSync(join(dir, f), readFileSync(join(SHARED, 'images', f)));
      const source = readFileSync(join(SHARED, 'models/mnist-cnn-pytorch.onnx'));
      const model = importOnnx(source);
      const dataset = await openDataset(`images:${dir}`, { layout: model.inputs[0]!.shape, mean: [0.5], std: [0.5] });
      const stats = await collectLayerStats(source, model, findCandidates(model), feedBatches(dataset, model.inputs, 32));
      expect([stats.get('/fc1/Gemm')!.samples, stats.get('/conv2/Conv')!.images]).toEqual([2, 2]);
      expectPsd(stats.get('/conv2/Conv')!, 288);
    } finally {
      cleanup();
    }
  });

  it('silero VAD on tensors: samples (JSON files and a folder of .npy), every candidate calibrated', async () => {
    const { dir, cleanup } = scratchDir();
    try {
      const source = readFileSync(join(SHARED, 'models/silero_vad_16k_op15.onnx'));
      const model = importOnnx(source);
      const candidates = findCandidates(model);
      expect(candidates.length).toBeGreaterThan(0);
      const audio = (await readWav(join(SHARED, 'audio/silero_test.wav'))).samples;
      const chunk = (i: number) => Array.from(audio.subarray(16000 + i * 512, 16000 + i * 512 + 576));
      for (let i = 0; i < 3; i++) {
        const doc = { input: { dims: [1, 576], data: chunk(i) }, state: { dims: [2, 1, 128], data: new Array(256).fill(0) }, sr: 16000 };
        writeFileSync(join(dir, `chunk-${i}.json`), JSON.stringify(doc));
      }
      const folder = join(dir, 'chunk-3');
      mkdirSync(folder);
      writeFileSync(join(folder, 'input.npy'), serializeNpy({ dataType: 'float32', dims: [1, 576], data: Float32Array.from(chunk(3)) }));
      writeFileSync(join(folder, 'state.npy'), serializeNpy({ dataType: 'float32', dims: [2, 1, 128], data: new Float32Array(256) }));
      writeFileSync(join(folder, 'sr.npy'), serializeNpy({ dataType: 'int64', dims: [], data: BigInt64Array.of(16000n) }));

      const dataset = await openDataset(`tensors:${dir}`, { layout: model.inputs[0]!.shape });
      expect(dataset.size).toBe(4);
      const stats = await collectLayerStats(source, model, candidates, feedBatches(dataset, model.inputs, 8));
      for (const c of candidates) {
        const s = stats.get(c.node.name)!;
        expect(s, c.node.name).toBeDefined();
        expect(s.gram.length).toBe(c.cols * c.cols);
        expect(s.images).toBe(4);
        expect(s.samples % 4).toBe(0); // the same number of vectors from every chunk
        expectPsd(s, c.cols);
      }
      // The STFT conv (kernel 256, stride 128) sees 576 + padding samples: a few frames per chunk.
      expect(stats.get('/model/stft/Conv')!.samples).toBeGreaterThanOrEqual(4 * 3);
    } finally {
      cleanup();
    }
  });
});
