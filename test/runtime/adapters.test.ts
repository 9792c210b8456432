/**
 * Adapters (issue 17) on mnist-cnn-pytorch: LoRA, LoHa and LoKr on a factored layer (fc1, conv2) and a dense one
 * (conv1), checked on each engine against the same weights merged into a dense ONNX model run by onnxruntime-node;
 * runs without an adapter stay bitwise the base; concurrent runs with different adapters; switching builds no engine
 * session; refused adapters leave the session serving; upgrade() keeps adapters working.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { Matrix } from 'ml-matrix';
import { beforeAll, describe, expect, it } from 'vitest';
import { randomAdapter, type AdapterTarget } from '../../bench/adapter-switch.js';
import { compileOnnx } from '../../compiler/compile.js';
import { openDataset } from '../../compiler/data/spec.js';
import { importOnnx } from '../../compiler/import/onnx.js';
import type { AdapterKind, AdapterModel } from '../../formats/adapter-model.js';
import type { ModelHeader } from '../../formats/model.js';
import { readLrm } from '../../formats/read.js';
import { adapterDelta } from '../../runtime/adapters/delta.js';
import type { Engine } from '../../runtime/engines/engine.js';
import { ortNodeCpu } from '../../runtime/engines/ort-node-cpu.js';
import { EngineRegistry } from '../../runtime/engines/registry.js';
import { AdapterError, load, LrmSession, type EngineId, type Feeds, type HostTensor } from '../../runtime/node.js';
import { buildOnnxModel } from '../../runtime/onnx/build-model.js';
import { onnx } from '../../runtime/onnx/proto.js';
import { bytesSource } from '../../runtime/source/bytes.js';
import { maxRelativeError } from '../e2e/compare.js';

const DATA = join(import.meta.dirname, '../../../shared/data');
const BOUND = 1e-4;
const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';

let lrm: Uint8Array;
let header: ModelHeader;
let payload: Uint8Array;
let hash: string;
/** Batches of 4 digits. */
const feeds: Feeds[] = [];
let fc1: AdapterTarget;
let conv2: AdapterTarget;
const conv1: AdapterTarget = { target: 'conv1.weight', rows: 32, cols: 9 };

beforeAll(async () => {
  const source = new Uint8Array(readFileSync(join(DATA, 'models/mnist-cnn-pytorch.onnx')));
  const input = importOnnx(source).inputs[0]!;
  ({ lrm } = await compileOnnx(source, { fileName: 'mnist-cnn-pytorch.onnx' }));
  ({ header, payload } = await readLrm(lrm));
  const digits = await openDataset(`mnist:${join(DATA, 'mnist')}`, { layout: input.shape, mean: [0.5], std: [0.5], limit: 12 });
  for await (const b of digits.batches(4)) feeds.push({ [input.name]: b.input });
  const layer = (w: string) => header.layers.find((l) => l.weight === w)!;
  fc1 = { target: 'fc1.weight', rows: layer('fc1.weight').rows, cols: layer('fc1.weight').cols };
  conv2 = { target: 'conv2.weight', rows: layer('conv2.weight').rows, cols: layer('conv2.weight').cols };
  const probe = await load(lrm, { engine: 'ort-node-cpu', tiers: 1 });
  hash = probe.headerSha256;
  await probe.release();
  all = {
    lora: randomAdapter('lora', hash, [fc1, conv1, conv2], { seed: 1, rank: 8, std: 0.05 }),
    lora2: randomAdapter('lora', hash, [fc1], { seed: 2, rank: 3, std: 0.08, alpha: 6 }),
    loha: randomAdapter('loha', hash, [fc1, conv1], { seed: 3, rank: 4, std: 0.25 }),
    lokr: randomAdapter('lokr', hash, [conv2, fc1], { seed: 4, rank: 4, std: 0.1 }),
  };
}, 120_000);

/** The adapters every engine is checked with: LoRA joins factored layers; LoHa and LoKr make them dense. */
let all: Record<'lora' | 'lora2' | 'loha' | 'lokr', AdapterModel>;
const references = new Map<string, Float32Array>();

/** reference() of one of `all` (or the base) on feeds[i], computed once per ranks. */
async function referenceOf(ranks: readonly number[], name: keyof typeof all | undefined, i: number): Promise<Float32Array> {
  const key = `${ranks.join(',')}|${name}|${i}`;
  if (!references.has(key)) references.set(key, (await reference(ranks, name && all[name], feeds[i]!)).data as Float32Array);
  return references.get(key)!;
}

/**
 * The reference: the base at `ranks` with every factored layer multiplied out (buildOnnxModel), ΔW added to the
 * targeted initializers in the protobuf, run by onnxruntime-node directly. The targets here are Conv weights and
 * a Gemm weight with transB=1, alpha=1: all stored as the rows × cols matrix itself.
 */
async function reference(ranks: readonly number[], adapter: AdapterModel | undefined, feed: Feeds): Promise<HostTensor> {
  const model = onnx.ModelProto.decode(buildOnnxModel(header, payload, [...ranks], { denseLayers: new Set(header.layers.map((_, i) => i)) }));
  for (const layer of adapter?.layers ?? []) {
    const t = model.graph!.initializer!.find((i) => i.name === layer.target)!;
    const w = new Float32Array(Uint8Array.from(t.rawData!).buffer);
    expect(w.length).toBe(layer.rows * layer.cols);
    const delta = adapterDelta(adapter!.kind, layer);
    for (let i = 0; i < w.length; i++) w[i] += delta[i];
    t.rawData = new Uint8Array(w.buffer);
  }
  const session = await ort.InferenceSession.create(onnx.ModelProto.encode(model).finish());
  try {
    const [name, x] = Object.entries(feed)[0]!;
    const out = await session.run({ [name]: new ort.Tensor('float32', x.data as Float32Array, x.dims) });
    const y = out[session.outputNames[0]!]!;
    return { dataType: 'float32', dims: [...y.dims], data: y.data as Float32Array };
  } finally {
    await session.release();
  }
}

const output = async (s: LrmSession, feed: Feeds, adapter?: string): Promise<Float32Array> => (await s.run(feed, { adapter })).output!.data as Float32Array;

/** Each named adapter's outputs on every batch against the merged reference; returns the worst relative error. */
async function worstAgainstReference(s: LrmSession, names: Array<keyof typeof all>): Promise<number> {
  let worst = 0;
  for (const name of names) {
    for (const [i, feed] of feeds.entries()) {
      const want = await referenceOf(s.ranks, name, i);
      worst = Math.max(worst, maxRelativeError(want, await output(s, feed, name)));
      // The adapter does change the outputs (else the check above would prove nothing).
      expect(maxRelativeError(await referenceOf(s.ranks, undefined, i), want), name).toBeGreaterThan(1e-3);
    }
  }
  return worst;
}

const bitwise = (a: Float32Array, b: Float32Array): boolean => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

describe('adapterDelta: the ΔW reference', () => {
  it.each(['lora', 'loha', 'lokr'] as AdapterKind[])('%s matches ml-matrix products', (kind) => {
    const adapter = randomAdapter(kind, hash, [{ target: 'w', rows: 12, cols: 18 }], { seed: 7, rank: 3, std: 0.5, alpha: 5 });
    const l = adapter.layers[0]!;
    const m = (i: number, r: number, c: number) => new Matrix(Array.from({ length: r }, (_, k) => Array.from(l.factors[i]!.subarray(k * c, (k + 1) * c))));
    const s = l.alpha / l.rank;
    let want: Matrix;
    if (kind === 'lora') want = m(0, 12, 3).mmul(m(1, 3, 18));
    else if (kind === 'loha') want = Matrix.mul(m(0, 12, 3).mmul(m(1, 3, 18)), m(2, 12, 3).mmul(m(3, 3, 18)));
    else {
      const [kr, kc] = l.kron!;
      want = m(0, kr, kc).kroneckerProduct(m(1, 12 / kr, 3).mmul(m(2, 3, 18 / kc)));
    }
    const got = adapterDelta(kind, l);
    want.mul(s).to1DArray().forEach((v, i) => expect(got[i]).toBeCloseTo(v, 5));
  });
});

describe.each([1, 5])('tiers %i', (tiers) => {
  it.each(['ort-node-cpu', 'ort-wasm', 'tfjs-wasm'] as EngineId[])('%s: every kind matches the merged dense model; the base stays bitwise', async (engine) => {
    const s = await load(lrm, { engine, tiers });
    try {
      const before = await Promise.all(feeds.map((f) => output(s, f)));
      // LoRA alone first: at tier 1 its factored layers join ([A | sU]·[B ; D]); LoHa/LoKr then make them dense.
      await s.loadAdapter(all.lora, 'lora');
      await s.loadAdapter(all.lora2, 'lora2');
      const joined = await worstAgainstReference(s, ['lora', 'lora2']);
      await s.loadAdapter(all.loha, 'loha');
      await s.loadAdapter(all.lokr, 'lokr');
      expect(s.adapters).toEqual(['lora', 'lora2', 'loha', 'lokr']);
      const dense = await worstAgainstReference(s, ['lora', 'lora2', 'loha', 'lokr']);
      console.log(`${engine} tiers ${tiers}: worst relative error ${joined.toExponential(2)} (LoRA only), ${dense.toExponential(2)} (all kinds)`);
      expect(joined).toBeLessThanOrEqual(BOUND);
      expect(dense).toBeLessThanOrEqual(BOUND);
      for (const [i, f] of feeds.entries()) expect(bitwise(await output(s, f), before[i]!)).toBe(true);
    } finally {
      await s.release();
    }
  }, 300_000);
});

describe('per-request adapters', () => {
  it('concurrent runs with different adapters each get their own result, bitwise their sequential one', async () => {
    const s = await load(lrm, { engine: 'ort-node-cpu', tiers: 1 });
    try {
      for (const [name, a] of Object.entries(all)) await s.loadAdapter(a, name);
      const names = [undefined, ...Object.keys(all)];
      const jobs = names.flatMap((name) => feeds.map((feed) => ({ name, feed })));
      const sequential: Float32Array[] = [];
      for (const j of jobs) sequential.push(await output(s, j.feed, j.name));
      // Interleaved: neighbours in the batch use different adapters.
      const order = jobs.map((_, i) => i).sort((a, b) => (a % feeds.length) - (b % feeds.length) || a - b);
      const concurrent = await Promise.all(order.map((i) => output(s, jobs[i]!.feed, jobs[i]!.name)));
      order.forEach((i, k) => expect(bitwise(concurrent[k]!, sequential[i]!), `job ${i}`).toBe(true));
      const two = await Promise.all([output(s, feeds[0]!, 'lora'), output(s, feeds[0]!, 'loha')]);
      expect(maxRelativeError(await referenceOf(s.ranks, 'lora', 0), two[0]!)).toBeLessThanOrEqual(BOUND);
      expect(maxRelativeError(await referenceOf(s.ranks, 'loha', 0), two[1]!)).toBeLessThanOrEqual(BOUND);
    } finally {
      await s.release();
    }
  }, 120_000);

  it('switching adapters creates no engine session; new targets, a joined layer going dense and upgrade() do; release() frees all', async () => {
    let created = 0;
    let released = 0;
    const counting: Engine = {
      ...ortNodeCpu,
      async create(model, context) {
        created++;
        const session = await ortNodeCpu.create(model, context);
        return { ...session, inputNames: session.inputNames, outputNames: session.outputNames, run: (f) => session.run(f), release: () => (released++, session.release()) };
      },
    };
    const s = await LrmSession.open(bytesSource(lrm), new EngineRegistry().register(counting), ['ort-node-cpu'], { tiers: 1 });
    expect(created).toBe(1);
    await s.loadAdapter(all.lora, 'lora');
    expect(created).toBe(2);
    // Same weights, LoRA of another rank: fed through the same inputs.
    await s.loadAdapter(all.lora2, 'lora2');
    await s.loadAdapter(randomAdapter('loha', hash, [conv1], { seed: 5, rank: 3, std: 0.3 }), 'loha-conv1');
    expect(created).toBe(2);
    for (let i = 0; i < 10; i++) for (const name of [undefined, 'lora', 'lora2', 'loha-conv1']) await s.run(feeds[0]!, { adapter: name });
    expect(created).toBe(2);
    // fc2 had no input: one rebuild; LoHa on fc1 (joined so far) needs it dense: one more.
    await s.loadAdapter(randomAdapter('lora', hash, [{ target: 'fc2.weight', rows: 10, cols: 128 }], { seed: 6, rank: 2, std: 0.1 }), 'lora-fc2');
    expect(created).toBe(3);
    await s.loadAdapter(all.loha, 'loha');
    expect(created).toBe(4);
    // LoKr on conv2 (joined for LoRA so far): dense too; then another LoKr on the now dense layers is only fed.
    await s.loadAdapter(all.lokr, 'lokr');
    expect(created).toBe(5);
    await s.loadAdapter(randomAdapter('lokr', hash, [fc1, conv2], { seed: 8, rank: 2, std: 0.2 }), 'lokr2');
    expect(created).toBe(5);
    // upgrade(): the base and the adapter session are rebuilt for the new ranks, and adapters still match.
    await s.upgrade(3);
    expect(created).toBe(7);
    expect(s.ranks).toEqual(header.tiers[2]!.ranks);
    expect(await worstAgainstReference(s, ['lora', 'loha', 'lokr'])).toBeLessThanOrEqual(BOUND);
    for (const name of s.adapters) s.unloadAdapter(name);
    expect(s.adapters).toEqual([]);
    await s.release();
    expect(released).toBe(created);
  }, 120_000);
});

describe('refused adapters', () => {
  it('each is a typed AdapterError, and the session keeps serving its base and its adapters', async () => {
    const s = await load(lrm, { engine: 'ort-node-cpu', tiers: 1 });
    try {
      await s.loadAdapter(all.lora, 'good');
      const base = await output(s, feeds[0]!);
      const withGood = await output(s, feeds[0]!, 'good');
      const bad = (mutate: (a: AdapterModel) => void): AdapterModel => {
        const a = randomAdapter('lora', hash, [fc1, conv1], { seed: 9, rank: 4, std: 0.05 });
        mutate(a);
        return a;
      };
      const cases: Array<[string, () => Promise<unknown>]> = [
        ['wrong-base', () => s.loadAdapter(bad((a) => (a.base = { headerSha256: 'ab'.repeat(32), fileName: 'other.lrm' })), 'x')],
        ['unknown-target', () => s.loadAdapter(bad((a) => (a.layers[0]!.target = 'fc9.weight')), 'x')],
        ['shape', () => s.loadAdapter(bad((a) => (a.layers[1]!.cols = 10)), 'x')],
        ['shape', () => s.loadAdapter(bad((a) => (a.layers[0]!.factors[1] = new Float32Array(3))), 'x')],
        // conv1 is 32×9: rank 10 > 9 (randomAdapter caps the rank, so it is set afterwards).
        ['rank', () => s.loadAdapter(bad((a) => (a.layers[1]!.rank = 10)), 'x')],
        ['kind', () => s.loadAdapter(bad((a) => (a.kind = 'ia3' as AdapterKind)), 'x')],
        ['duplicate-target', () => s.loadAdapter(bad((a) => a.layers.push(a.layers[0]!)), 'x')],
        ['non-finite', () => s.loadAdapter(bad((a) => (a.layers[0]!.factors[0]![5] = NaN)), 'x')],
        ['duplicate-name', () => s.loadAdapter(bad(() => {}), 'good')],
        ['unknown-adapter', () => s.run(feeds[0]!, { adapter: 'nope' })],
        ['unknown-adapter', async () => s.unloadAdapter('nope')],
      ];
      for (const [code, attempt] of cases) {
        const error = await attempt().then(() => undefined, (e: unknown) => e);
        expect(error, code).toBeInstanceOf(AdapterError);
        expect((error as AdapterError).code, (error as Error).message).toBe(code);
        expect((error as Error).message).not.toContain('\n');
        expect(bitwise(await output(s, feeds[0]!), base), code).toBe(true);
        expect(bitwise(await output(s, feeds[0]!, 'good'), withGood), code).toBe(true);
        expect(s.adapters).toEqual(['good']);
      }
      // And the session still takes good adapters.
      await s.loadAdapter(bad(() => {}), 'fine');
      expect(s.adapters).toEqual(['good', 'fine']);
    } finally {
      await s.release();
    }
  }, 120_000);
});

describe.runIf(existsSync(SWIFTSHADER))('WebGPU engines on SwiftShader', () => {
  beforeAll(() => {
    // Dawn reads the driver list when it first starts in this process (each test file runs in its own fork).
    if (!process.env.VK_ICD_FILENAMES) process.env.VK_ICD_FILENAMES = SWIFTSHADER;
  });

  it.each(['ort-node-webgpu', 'tfjs-webgpu'] as EngineId[])('%s: LoRA (joined) and LoHa (dense) match the merged dense model', async (engine) => {
    const s = await load(lrm, { engine, tiers: 1 });
    try {
      const error = async (name: 'lora' | 'loha') => maxRelativeError(await referenceOf(s.ranks, name, 0), await output(s, feeds[0]!, name));
      await s.loadAdapter(all.lora, 'lora');
      let worst = await error('lora');
      await s.loadAdapter(all.loha, 'loha');
      worst = Math.max(worst, await error('lora'), await error('loha'));
      console.log(`${engine}: worst relative error ${worst.toExponential(2)}`);
      expect(worst).toBeLessThanOrEqual(BOUND);
    } finally {
      await s.release();
    }
  }, 300_000);
});
