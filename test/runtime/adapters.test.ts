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
import { randomAdapter, type TargetShape } from '../../bench/adapter-switch.js';
import { compileOnnx } from '../../compiler/compile.js';
import { openDataset } from '../../compiler/data/spec.js';
import { importOnnx } from '../../compiler/import/onnx.js';
import type { AdapterKind, AdapterModel } from '../../formats/adapter-model.js';
import type { ModelHeader } from '../../formats/model.js';
import { readLrm } from '../../formats/read.js';
import { LraFormatError } from '../../formats/adapter-errors.js';
import { writeAdapter } from '../../formats/adapter-write.js';
import { adapterDelta } from '../../runtime/adapters/delta.js';
import { buildAdapterGraph } from '../../runtime/adapters/graph.js';
import { resolveTarget } from '../../runtime/adapters/targets.js';
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
let fc1: TargetShape;
let conv2: TargetShape;
const conv1: TargetShape = { target: 'conv1.weight', rows: 32, cols: 9 };

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
 * targeted initializers in the protobuf, run by onnxruntime-node directly. A Conv weight, and a Gemm's with
 * transB=1, are stored as the rows × cols matrix itself; a MatMul's [K, N] as its transpose (no alpha here).
 */
async function reference(ranks: readonly number[], adapter: AdapterModel | undefined, feed: Feeds, base = { header, payload }): Promise<HostTensor> {
  const all = new Set(base.header.layers.map((_, i) => i));
  const model = onnx.ModelProto.decode(buildOnnxModel(base.header, base.payload, [...ranks], { denseLayers: all }));
  for (const layer of adapter?.layers ?? []) {
    const t = model.graph!.initializer!.find((i) => i.name === layer.target)!;
    const node = model.graph!.node!.find((n) => n.input![1] === layer.target)!;
    expect(node.attribute!.find((a) => a.name === 'alpha')?.f ?? 1).toBe(1);
    const transposed = node.opType === 'MatMul' || (node.opType === 'Gemm' && Number(node.attribute!.find((a) => a.name === 'transB')?.i ?? 0) === 0);
    const w = new Float32Array(Uint8Array.from(t.rawData!).buffer);
    expect(w.length).toBe(layer.rows * layer.cols);
    const delta = adapterDelta(adapter!.kind, layer);
    for (let r = 0; r < layer.rows; r++) for (let c = 0; c < layer.cols; c++) w[transposed ? c * layer.rows + r : r * layer.cols + c] += delta[r * layer.cols + c];
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

const output = async (s: LrmSession, feed: Feeds, adapter?: string): Promise<Float32Array> => Object.values(await s.run(feed, { adapter }))[0]!.data as Float32Array;

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

describe('the adapter graph', () => {
  it('takes a factored layer as two factor inputs of symbolic rank at tier 1, as one dense input where the layer runs dense', () => {
    const plan = new Map(['fc1.weight', 'conv1.weight'].map((t) => [t, { site: resolveTarget(header, t, 'a'), join: true }]));
    const inputsOf = (tiers: number) => {
      const g = buildAdapterGraph(header, { payload, ranks: header.tiers[tiers - 1]!.ranks, bits: undefined }, plan);
      const inputs = onnx.ModelProto.decode(g.model).graph!.input!.map((i) => `${i.name}[${i.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || d.dimValue).join(',')}]`);
      return { modes: [...g.slots.values()].map((v) => v.mode), inputs };
    };
    expect(inputsOf(1)).toEqual({
      modes: ['joined', 'dense'],
      inputs: ['input[batch_size,1,28,28]', 'fc1.weight__lowrank_in[fc1.weight__lowrank_in__rank,3136]', 'fc1.weight__lowrank_out[fc1.weight__lowrank_out__rank,128]', 'conv1.weight[32,1,3,3]'],
    });
    // All tiers: fc1 runs from its stored dense M.
    expect(inputsOf(5)).toEqual({ modes: ['dense', 'dense'], inputs: ['input[batch_size,1,28,28]', 'fc1.weight[128,3136]', 'conv1.weight[32,1,3,3]'] });
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

describe('MatMul layers (mnist-mlp-784-128-64-10)', () => {
  it.each(['ort-node-cpu', 'tfjs-wasm'] as EngineId[])('%s: LoRA joined into factored MatMuls and merged into a dense one, LoHa merged, match the merged dense model', async (engine) => {
    const source = new Uint8Array(readFileSync(join(DATA, 'models/mnist-mlp-784-128-64-10.onnx')));
    const input = importOnnx(source).inputs[0]!;
    const compiled = await compileOnnx(source, { fileName: 'mnist-mlp.onnx', minParams: 1024 });
    const base = { header: compiled.header, payload: (await readLrm(compiled.lrm)).payload };
    const digits = await openDataset(`mnist:${join(DATA, 'mnist')}`, { layout: input.shape, limit: 4 });
    const batches: Feeds[] = [];
    for await (const b of digits.batches(4)) batches.push({ [input.name]: b.input });
    const s = await load(compiled.lrm, { engine, tiers: 1 });
    try {
      // Two factored MatMuls (running as two nodes at tier 1) and the dense [64, 10] one, stored as Wᵀ.
      const targets = [...base.header.layers.map((l) => ({ target: l.weight, rows: l.rows, cols: l.cols })), { target: 'StatefulPartitionedCall/sequential_1/dense_2_1/Cast/ReadVariableOp:0', rows: 10, cols: 64 }];
      const lora = randomAdapter('lora', s.headerSha256, targets, { seed: 11, rank: 4, std: 0.1 });
      const loha = randomAdapter('loha', s.headerSha256, targets.slice(1), { seed: 12, rank: 2, std: 0.3 });
      const before = await output(s, batches[0]!);
      await s.loadAdapter(lora, 'lora');
      const joined = maxRelativeError((await reference(s.ranks, lora, batches[0]!, base)).data as Float32Array, await output(s, batches[0]!, 'lora'));
      await s.loadAdapter(loha, 'loha');
      const dense = Math.max(
        maxRelativeError((await reference(s.ranks, lora, batches[0]!, base)).data as Float32Array, await output(s, batches[0]!, 'lora')),
        maxRelativeError((await reference(s.ranks, loha, batches[0]!, base)).data as Float32Array, await output(s, batches[0]!, 'loha')),
      );
      expect(joined).toBeLessThanOrEqual(BOUND);
      expect(dense).toBeLessThanOrEqual(BOUND);
      expect(maxRelativeError(before, await output(s, batches[0]!, 'lora'))).toBeGreaterThan(1e-3);
      expect(bitwise(await output(s, batches[0]!), before)).toBe(true);
    } finally {
      await s.release();
    }
  }, 120_000);
});

describe('int8 file', () => {
  it('ort-node-cpu: LoRA and LoKr on the dequantised factors match the merged dense model', async () => {
    const source = new Uint8Array(readFileSync(join(DATA, 'models/mnist-cnn-pytorch.onnx')));
    const compiled = await compileOnnx(source, { fileName: 'mnist-cnn-pytorch.onnx', dtype: 'int8' });
    const base = { header: compiled.header, payload: (await readLrm(compiled.lrm)).payload };
    const s = await load(compiled.lrm, { engine: 'ort-node-cpu', tiers: 1 });
    try {
      const lora = randomAdapter('lora', s.headerSha256, [fc1, conv1, conv2], { seed: 1, rank: 8, std: 0.05 });
      const lokr = randomAdapter('lokr', s.headerSha256, [fc1], { seed: 4, rank: 4, std: 0.1 });
      await s.loadAdapter(lora, 'lora');
      await s.loadAdapter(lokr, 'lokr');
      for (const [name, a] of [['lora', lora], ['lokr', lokr]] as const) {
        expect(maxRelativeError((await reference(s.ranks, a, feeds[0]!, base)).data as Float32Array, await output(s, feeds[0]!, name)), name).toBeLessThanOrEqual(BOUND);
      }
      // Made for the fp32 file: another base.
      await expect(s.loadAdapter(all.lora, 'fp32')).rejects.toMatchObject({ code: 'wrong-base' });
    } finally {
      await s.release();
    }
  }, 120_000);
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

  it('ort-wasm: base and adapter runs at once (two onnxruntime-web sessions) give their sequential results', async () => {
    const s = await load(lrm, { engine: 'ort-wasm', tiers: 1 });
    try {
      await s.loadAdapter(all.lora, 'a');
      await s.loadAdapter(all.lora2, 'b');
      const names = [undefined, 'a', 'b'];
      const sequential: Float32Array[] = [];
      for (const name of names) sequential.push(await output(s, feeds[0]!, name));
      for (let round = 0; round < 5; round++) {
        const together = await Promise.all(names.map((name) => output(s, feeds[0]!, name)));
        together.forEach((o, k) => expect(bitwise(o, sequential[k]!), `round ${round}, ${names[k] ?? 'base'}`).toBe(true));
      }
    } finally {
      await s.release();
    }
  }, 120_000);

  it('an .lra file loads like the AdapterModel it holds; a damaged one is a typed error and changes nothing', async () => {
    const s = await load(lrm, { engine: 'ort-node-cpu', tiers: 1 });
    try {
      await s.loadAdapter(all.lora, 'object');
      const file = await writeAdapter(all.lora);
      await s.loadAdapter(file, 'file');
      expect(bitwise(await output(s, feeds[0]!, 'file'), await output(s, feeds[0]!, 'object'))).toBe(true);
      const damaged = file.slice();
      damaged[damaged.length - 1] ^= 1;
      await expect(s.loadAdapter(damaged, 'damaged')).rejects.toBeInstanceOf(LraFormatError);
      expect(s.adapters).toEqual(['object', 'file']);
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
