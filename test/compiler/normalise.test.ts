/**
 * Import normalisation (compiler/import/normalise.ts) on real exporters' quirks, each a copy of
 * mnist-cnn-pytorch.onnx built in test/compiler/mnist-variants.ts, compiled with compileOnnx and run with `load`
 * on 200 MNIST test digits:
 * - nodes in reverse order (plus a dead branch and an unused initializer) compile to the original's layers, and the
 *   full tier gives exactly the original compile's predictions;
 * - weights in Constant nodes compile to the same factored layers as the original;
 * - fp16 weights are factored (their layers run in float32 between Casts) and the file runs and agrees;
 * - a bf16 MatMul weight (a synthetic graph: onnxruntime's CPU has no bf16 MatMul) is factored and the file runs;
 * - a cycle is a one-line SourceGraphError that names its nodes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileOnnx, type CompileResult } from '../../compiler/compile.js';
import { feedBatches, openDataset, type Dataset } from '../../compiler/data/spec.js';
import { SourceGraphError } from '../../compiler/errors.js';
import { agreement, evaluateClassifier } from '../../compiler/evaluate.js';
import { importOnnx } from '../../compiler/import/onnx.js';
import { ortNodeCpu } from '../../runtime/engines/ort-node-cpu.js';
import { load } from '../../runtime/node.js';
import { onnx } from '../../runtime/onnx/proto.js';
import { halfPrecision, reversedWithDeadCode, weightsAsConstants, withCycle } from './mnist-variants.js';

const DATA = join(import.meta.dirname, '../../../shared/data');
const source = new Uint8Array(readFileSync(join(DATA, 'models/mnist-cnn-pytorch.onnx')));
const inputs = importOnnx(source).inputs;
const TIERS = [0.5, 1];
let digits: Dataset;
/** Top-1 of the source model and of the original's own compile (full tier). */
let reference: Int32Array;
let original: CompileResult;
let originalFull: Int32Array;

async function predictions(bytes: Uint8Array, tiers?: number): Promise<Int32Array> {
  const session = tiers === undefined ? await ortNodeCpu.create(bytes) : await load(bytes, { tiers });
  const r = await evaluateClassifier(session, digits, { inputName: inputs[0].name, batchSize: 100 });
  await session.release();
  return r.predictions;
}

/** What tests compare between compiles: the factored layers and their stored ranks. */
const layers = (r: CompileResult) => r.header.layers.map((l) => ({ name: l.name, weight: l.weight, kind: l.kind, rows: l.rows, cols: l.cols, maxRank: l.maxRank }));

/** Every node reads only graph inputs, initializers and outputs of nodes before it. */
function inTopologicalOrder(r: CompileResult): boolean {
  const { graph, layers: factored } = r.header;
  const known = new Set([...graph.inputs.map((v) => v.name), ...graph.initializers.map((t) => t.name), ...factored.map((l) => l.weight)]);
  return graph.nodes.every((n) => {
    const ok = n.inputs.every((i) => i === '' || known.has(i));
    for (const o of n.outputs) known.add(o);
    return ok;
  });
}

beforeAll(async () => {
  digits = await openDataset(`mnist:${join(DATA, 'mnist')}`, { layout: inputs[0].shape, mean: [0.5], std: [0.5], offset: 1000, limit: 200 });
  reference = await predictions(source);
  original = await compileOnnx(source, { tiers: TIERS });
  originalFull = await predictions(original.lrm, TIERS.length);
});

describe('import normalisation on mnist-cnn-pytorch variants', () => {
  it('a clean model is not touched: nothing listed, no header field', () => {
    expect(original.normalised).toEqual([]);
    expect(original.header.source.normalised).toBeUndefined();
    expect(original.header.layers.length).toBe(2);
  });

  it('nodes in reverse order with a dead branch: sorted, dead code dropped, same layers, same predictions', async () => {
    const r = await compileOnnx(reversedWithDeadCode(source), { tiers: TIERS, fileName: 'reversed.onnx' });
    expect(r.normalised).toEqual([expect.stringMatching(/^nodes sorted \(\d+ moved\)$/), '1 dead node dropped', '1 unused initializer dropped']);
    expect(r.header.source.normalised).toEqual(r.normalised);
    expect(r.header.graph.nodes.map((n) => n.name).sort()).toEqual(original.header.graph.nodes.map((n) => n.name).sort());
    expect(inTopologicalOrder(r)).toBe(true);
    expect(layers(r)).toEqual(layers(original));
    const full = await predictions(r.lrm, TIERS.length);
    expect(agreement(full, originalFull)).toBe(100);
    expect(agreement(full, reference)).toBeGreaterThanOrEqual(98);
  });

  it('weights in Constant nodes: moved to initializers and factored as in the original', async () => {
    const r = await compileOnnx(weightsAsConstants(source), { tiers: TIERS });
    expect(r.normalised).toEqual(['8 float Constants → initializers']);
    expect(layers(r)).toEqual(layers(original));
    expect(agreement(await predictions(r.lrm, TIERS.length), originalFull)).toBe(100);
  });

  it('fp16 weights: the large ones run in float32 between Casts, are factored, and the file runs', async () => {
    const half = halfPrecision(source);
    const r = await compileOnnx(half, { tiers: TIERS });
    // conv1 (288 values) and fc2 (1280) are under --min-params and stay fp16; conv2 and fc1 are converted.
    expect(r.normalised).toEqual(['2 fp16 weights → float32 (their layers run in float32 between Casts)']);
    expect(layers(r)).toEqual(layers(original));
    expect(r.header.graph.initializers.find((t) => t.name === 'conv1.weight')?.dataType).toBe(10);
    const full = await predictions(r.lrm, TIERS.length);
    expect(agreement(full, await predictions(half))).toBeGreaterThanOrEqual(99);
    expect(agreement(full, reference)).toBeGreaterThanOrEqual(98);
  });

  it('fp16 weights with calibration: the converted layers\' inputs are float32 (Cast outputs), sensitivity measured', async () => {
    const calib = await openDataset(`mnist:${join(DATA, 'mnist')}`, { layout: inputs[0].shape, mean: [0.5], std: [0.5], offset: 0, limit: 64 });
    const r = await compileOnnx(halfPrecision(source), { tiers: TIERS, calibration: () => feedBatches(calib, inputs, 32) });
    expect(r.allocation.method).toBe('sensitivity');
    expect(layers(r)).toEqual(layers(original));
    expect(agreement(await predictions(r.lrm, TIERS.length), reference)).toBeGreaterThanOrEqual(98);
  });

  it('a bf16 MatMul weight (onnxruntime\'s CPU has no bf16 MatMul) is factored and the file runs', async () => {
    const [K, N] = [96, 64];
    // bf16 bits of a smooth weight; its float value is the bits shifted into the top of a float32.
    const bits = Uint16Array.from({ length: K * N }, (_, i) => new Uint32Array(Float32Array.of(Math.sin(i * 0.7) * 0.1).buffer)[0] >>> 16);
    const w = new Float32Array(Uint32Array.from(bits, (b) => b << 16).buffer);
    const T = onnx.TensorProto.DataType;
    const cast = (from: string, to: string, type: number) => ({ name: `cast ${to}`, opType: 'Cast', input: [from], output: [to], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: type }] });
    const model = onnx.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'bf16',
        node: [cast('x', 'x16', T.BFLOAT16), { name: 'mm', opType: 'MatMul', input: ['x16', 'w'], output: ['y16'] }, cast('y16', 'y', T.FLOAT)],
        initializer: [{ name: 'w', dataType: T.BFLOAT16, dims: [K, N], rawData: new Uint8Array(bits.buffer) }],
        input: [{ name: 'x', type: { tensorType: { elemType: T.FLOAT, shape: { dim: [{ dimParam: 'n' }, { dimValue: K }] } } } }],
        output: [{ name: 'y', type: { tensorType: { elemType: T.FLOAT } } }],
      },
    }).finish();
    const r = await compileOnnx(model, { tiers: [0.5, 1] });
    expect(r.normalised).toEqual(['1 bf16 weight → float32 (their layers run in float32 between Casts)']);
    expect(r.header.layers.map((l) => l.name)).toEqual(['mm']);
    const x = Float32Array.from({ length: 2 * K }, (_, i) => (i % 7) / 7); // exact in bf16
    const session = await load(r.lrm, { tiers: 2 });
    const y = (await session.run({ x: { dataType: 'float32', dims: [2, K], data: x } })).y.data as Float32Array;
    await session.release();
    for (let row = 0; row < 2; row++) {
      for (let j = 0; j < N; j++) {
        let expected = 0;
        for (let k = 0; k < K; k++) expected += x[row * K + k] * w[k * N + j];
        expect(Math.abs(y[row * N + j] - expected)).toBeLessThanOrEqual(0.01 * Math.abs(expected) + 1e-3);
      }
    }
  });

  it('a cycle is the source model\'s fault: one line naming its nodes', async () => {
    const error = await compileOnnx(withCycle(source), { fileName: 'cycle.onnx' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceGraphError);
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    expect(message).toMatch(/^cycle\.onnx has a cycle in its graph: /);
    for (const node of ['/conv1/Conv', '/relu/Relu', '/pool/MaxPool', '/conv2/Conv', '/relu_1/Relu', '/pool_1/MaxPool']) expect(message).toContain(`"${node}"`);
    expect(message).not.toContain('/fc1/Gemm');
  });
});
