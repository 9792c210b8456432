/**
 * int4 kernels (issue 14, "hand the engine its own quantised kernels"): with `int4Kernels: true`, onnxruntime gets
 * the int4 MatMul weights of mnist-mlp-784-128-64-10 as MatMulNBits blocks (its 784-wide first layer ends in a
 * partial block) instead of float32: the same decisions on 500 MNIST digits, logits within float rounding of the
 * float32 session, and the weights held in about a sixth of the bytes. tfjs engines, 8-bit tiers and group sizes
 * MatMulNBits does not take get float32 as before.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import { openDataset, type Dataset } from '../../compiler/data/spec.js';
import { agreement, evaluateClassifier } from '../../compiler/evaluate.js';
import { importOnnx } from '../../compiler/import/onnx.js';
import type { ModelHeader } from '../../formats/model.js';
import { buildOnnxModel } from '../../runtime/onnx/build-model.js';
import { onnx } from '../../runtime/onnx/proto.js';
import { load, type LrmSession } from '../../runtime/node.js';

const DATA = join(import.meta.dirname, '../../../shared/data');
const source = new Uint8Array(readFileSync(join(DATA, 'models/mnist-mlp-784-128-64-10.onnx')));
const inputs = importOnnx(source).inputs;
let test: Dataset;
let lrm: Uint8Array;
let header: ModelHeader;

/** Predictions and all logits of a session on the test digits. */
async function outputs(session: LrmSession): Promise<{ predictions: Int32Array; logits: number[] }> {
  const logits: number[] = [];
  const r = await evaluateClassifier({ run: async (f) => {
    const out = await session.run(f);
    logits.push(...(Object.values(out)[0]!.data as Float32Array));
    return out;
  } }, test, { inputName: inputs[0].name, batchSize: 100 });
  return { predictions: r.predictions, logits };
}

/** op types of the model a tier builds to. */
function opTypes(lrmBytes: Uint8Array, h: ModelHeader, tiers: number, int4Kernels: boolean): string[] {
  const payload = lrmBytes.subarray(lrmBytes.length - h.payloadLength);
  const model = onnx.ModelProto.decode(buildOnnxModel(h, payload, h.tiers[tiers - 1]!.ranks, { int4Kernels, bits: h.tiers[tiers - 1]!.bits }));
  return model.graph!.node!.map((n) => n.opType!);
}

beforeAll(async () => {
  test = await openDataset(`mnist:${join(DATA, 'mnist')}`, { layout: inputs[0].shape, offset: 1000, limit: 500 });
  ({ lrm, header } = await compileOnnx(source, { dtype: 'int4', tiers: [0.5, 1, { budget: 1, bits: 8 }] }));
}, 120_000);

describe('int4Kernels: MatMulNBits on onnxruntime', () => {
  it('the full int4 tier runs every MatMul as MatMulNBits, decides as the float32 session, in a sixth of the weight bytes', async () => {
    expect(opTypes(lrm, header, 2, true).filter((t) => t === 'MatMulNBits')).toHaveLength(3);
    expect(opTypes(lrm, header, 2, true)).not.toContain('MatMul');
    const plain = await load(lrm, { tiers: 2 });
    const nbits = await load(lrm, { tiers: 2, int4Kernels: true });
    try {
      const [a, b] = [await outputs(plain), await outputs(nbits)];
      expect(agreement(b.predictions, a.predictions)).toBe(100);
      const err = Math.sqrt(a.logits.reduce((s, v, i) => s + (v - b.logits[i]!) ** 2, 0) / a.logits.reduce((s, v) => s + v * v, 0));
      expect(err).toBeLessThan(1e-4);
      expect(err).toBeGreaterThan(0); // a different kernel did run
      expect(nbits.residentWeightBytes).toBeLessThan(plain.residentWeightBytes / 5);
    } finally {
      await Promise.all([plain.release(), nbits.release()]);
    }
  }, 120_000);

  it('ort-wasm runs MatMulNBits too, with the same decisions', async () => {
    const wasm = await load(lrm, { tiers: 2, int4Kernels: true, engine: 'ort-wasm' });
    const cpu = await load(lrm, { tiers: 2 });
    try {
      expect(opTypes(lrm, header, 2, true)).toContain('MatMulNBits');
      expect(agreement((await outputs(wasm)).predictions, (await outputs(cpu)).predictions)).toBe(100);
      expect(wasm.residentWeightBytes).toBeLessThan(cpu.residentWeightBytes / 5);
    } finally {
      await Promise.all([wasm.release(), cpu.release()]);
    }
  }, 120_000);

  it('not for the 8-bit tier, the factored tier\'s factor pairs, tfjs engines or a group size of 24', async () => {
    expect(opTypes(lrm, header, 3, true)).not.toContain('MatMulNBits');
    const tier0 = opTypes(lrm, header, 1, true);
    expect(tier0.filter((t) => t === 'MatMul').length).toBeGreaterThanOrEqual(2); // factor pairs stay float32
    const tfjs = await load(lrm, { tiers: 2, int4Kernels: true, engine: 'tfjs-wasm' });
    expect(tfjs.residentWeightBytes).toBe(4 * header.tiers[1]!.params);
    await tfjs.release();
    const g24 = await compileOnnx(source, { dtype: 'int4', int4GroupSize: 24, tiers: [1] });
    expect(opTypes(g24.lrm, g24.header, 1, true)).not.toContain('MatMulNBits');
  }, 120_000);
});
