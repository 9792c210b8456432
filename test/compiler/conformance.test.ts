/**
 * The conformance table in the README ("Conformance"), one test per row that no other test file covers: which ops
 * are factored, which are kept as they are (depthwise convs, control flow, a weight read by two nodes), which models
 * are refused and why, and the opset range of the models we carry. The exporter patterns (Constant weights, node
 * order, fp16/bf16, dead code, cycles) are test/compiler/normalise.test.ts; symbolic dims test/cli/cli.test.ts;
 * already-quantised models test/cli/cli.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import { OnnxImportError } from '../../compiler/errors.js';
import { findCandidates } from '../../compiler/factorize/candidates.js';
import { importOnnx } from '../../compiler/import/onnx.js';
import { load } from '../../runtime/node.js';
import { onnx } from '../../runtime/onnx/proto.js';

const MODELS = join(import.meta.dirname, '../../../shared/data/models');
const read = (name: string) => new Uint8Array(readFileSync(join(MODELS, name)));

/** A float32 MatMul chain built in the test: y = (x·W1)·W2, W2 given, both as initializers. */
function chain(w1: string, w2: string, external = false): Uint8Array {
  const n = 96;
  const weight = (name: string) => onnx.TensorProto.create({
    name, dataType: 1, dims: [n, n],
    ...(external
      ? { dataLocation: onnx.TensorProto.DataLocation.EXTERNAL, externalData: [{ key: 'location', value: 'weights.bin' }] }
      : { rawData: new Uint8Array(Float32Array.from({ length: n * n }, (_, i) => Math.sin(i * 0.37) * 0.1).buffer) }),
  });
  const io = (name: string) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }, { dimValue: n }] } } } });
  return onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 8, opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'chain',
      node: [{ opType: 'MatMul', input: ['x', w1], output: ['h'] }, { opType: 'MatMul', input: ['h', w2], output: ['y'] }],
      initializer: [...new Set([w1, w2])].map(weight),
      input: [io('x')], output: [io('y')],
    },
  })).finish();
}

describe('conformance', () => {
  it('factored: MatMul (mnist-mlp), Gemm and group-1 Conv (mnist-cnn), Conv at opset 8 (mnist-8)', () => {
    const kinds = (name: string) => findCandidates(importOnnx(read(name)), { minParams: 1000 }).map((c) => c.kind);
    expect(kinds('mnist-mlp-784-128-64-10.onnx')).toEqual(['matmul', 'matmul']);
    expect(kinds('mnist-cnn-pytorch.onnx').sort()).toEqual(['conv', 'gemm', 'gemm']); // conv1 (288 weights) is below --min-params
    expect(kinds('mnist-8.onnx')).toContain('conv');
  });

  it('kept: depthwise convs (MobileNet: 13 with group = channels), never candidates', () => {
    const model = importOnnx(read('mobilenet_v1_075_224.onnx'));
    const grouped = model.nodes.filter((n) => n.opType === 'Conv' && n.attributes.some((a) => a.name === 'group' && a.kind === 'int' && a.value > 1n));
    expect(grouped).toHaveLength(13);
    const candidates = new Set(findCandidates(model).map((c) => c.node.name));
    for (const n of grouped) expect(candidates.has(n.name)).toBe(false);
  });

  it('kept: control flow (silero-vad opset 15, 3 If nodes): compiles and its full tier runs as the original', async () => {
    const source = read('silero_vad_16k_op15.onnx');
    expect(importOnnx(source).nodes.filter((n) => n.opType === 'If')).toHaveLength(3);
    const { lrm } = await compileOnnx(source, { tiers: [1] });
    const feeds = {
      input: new ort.Tensor('float32', Float32Array.from({ length: 512 }, (_, i) => Math.sin(i / 9) * 0.3), [1, 512]),
      state: new ort.Tensor('float32', new Float32Array(256), [2, 1, 128]),
      sr: new ort.Tensor('int64', BigInt64Array.from([16000n]), []),
    };
    const original = await ort.InferenceSession.create(source);
    const want = (await original.run(feeds)).output.data as Float32Array;
    const session = await load(lrm);
    const got = (await session.run(Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, { dataType: t.type as 'float32', dims: [...t.dims], data: t.data as Float32Array }])))).output.data as Float32Array;
    await session.release();
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-5);
  }, 120_000);

  it('kept: a weight read by two nodes is one tensor, not factored twice (or at all), and the model runs as before', async () => {
    const source = chain('W', 'W');
    const { header, lrm } = await compileOnnx(source, { tiers: [0.5, 1], minParams: 1000 });
    expect(header.layers).toHaveLength(0);
    expect(header.graph.initializers.map((t) => t.name)).toEqual(['W']);
    const x = Float32Array.from({ length: 96 }, (_, i) => i / 96);
    const want = (await (await ort.InferenceSession.create(source)).run({ x: new ort.Tensor('float32', x, [1, 96]) })).y.data as Float32Array;
    const session = await load(lrm);
    const got = (await session.run({ x: { dataType: 'float32', dims: [1, 96], data: x } })).y.data as Float32Array;
    await session.release();
    expect(Array.from(got)).toEqual(Array.from(want));
    // The same graph with two different weights: both are candidates.
    expect(findCandidates(importOnnx(chain('W1', 'W2')), { minParams: 1000 })).toHaveLength(2);
  }, 60_000);

  it('refused: weights in an external data file, with the re-export to do', async () => {
    await expect(compileOnnx(chain('W1', 'W2', true))).rejects.toThrow(OnnxImportError);
    await expect(compileOnnx(chain('W1', 'W2', true))).rejects.toThrow(/stored in an external data file; re-export the model with weights embedded/);
  });

  it('refused: an initializer whose dims do not match its data, naming the weight', () => {
    const model = onnx.ModelProto.decode(chain('W1', 'W2'));
    model.graph!.initializer![0]!.dims = [96, 95];
    expect(() => importOnnx(onnx.ModelProto.encode(model).finish(), 'bad.onnx')).toThrow(/^bad\.onnx: weight "W1" holds 36864 bytes but its shape \[96,95\] needs 36480$/);
  });

  it('opsets: the models we carry span default-domain opsets 8 to 15, all compile-checked by onnxruntime', () => {
    const versions = ['mnist-8.onnx', 'super-resolution-10.onnx', 'mnist-cnn-pytorch.onnx', 'mobilenet_v1_075_224.onnx', 'silero_vad_16k_op15.onnx']
      .map((m) => importOnnx(read(m)).opsets.find((o) => o.domain === '')!.version);
    expect(versions).toEqual([8, 10, 11, 13, 15]);
  });
});
