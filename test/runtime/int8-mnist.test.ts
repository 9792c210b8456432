/**
 * `--dtype int8` on a real model: mnist-cnn-pytorch.onnx compiled with int8 factors, every tier loaded with
 * `load`, 500 MNIST test digits. The full tier must agree with the fp32 file's full tier on ≥ 99% of digits, the
 * int8 tiers must take about a quarter of the fp32 tiers' bytes, and (issue 3) some tier with ≤ 15% of the
 * original parameters must load in ≤ 1/20 of the original file's bytes. Since format v2 the weights that are not
 * factored are int8 per output channel too, so the full tier loads in < 0.27× the ONNX file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import { openDataset } from '../../compiler/data/spec.js';
import { agreement, evaluateClassifier } from '../../compiler/evaluate.js';
import { importOnnx } from '../../compiler/import/onnx.js';
import type { ModelHeader } from '../../formats/model.js';
import { runsFactored } from '../../runtime/onnx/build-model.js';
import { load } from '../../runtime/node.js';

const DATA = join(import.meta.dirname, '../../../shared/data');

async function predictions(lrm: Uint8Array, header: ModelHeader): Promise<Array<{ predictions: Int32Array; bytes: number }>> {
  const input = header.graph.inputs[0];
  const data = await openDataset(`mnist:${join(DATA, 'mnist')}`, { layout: input.shape, mean: [0.5], std: [0.5], limit: 500 });
  expect(data.size).toBe(500);
  const out = [];
  for (const tier of header.tiers) {
    const session = await load(lrm, { tiers: tier.index + 1 });
    const r = await evaluateClassifier(session, data, { inputName: input.name, batchSize: 250 });
    out.push({ predictions: r.predictions, bytes: session.bytesLoaded });
    await session.release();
  }
  return out;
}

describe('mnist-cnn-pytorch with int8 factors (500 digits)', () => {
  it('full tier agrees with fp32 on ≥ 99%, tiers are ~1/4 of the fp32 bytes, a ≤ 15% tier loads in ≤ 1/20 of the file', async () => {
    const source = new Uint8Array(readFileSync(join(DATA, 'models/mnist-cnn-pytorch.onnx')));
    const fp32 = await compileOnnx(source, { fileName: 'mnist-cnn-pytorch.onnx' });
    const int8 = await compileOnnx(source, { fileName: 'mnist-cnn-pytorch.onnx', dtype: 'int8' });
    expect(int8.header.factorDType).toBe('int8');
    expect(int8.header.tiers.map((t) => t.ranks)).toEqual(fp32.header.tiers.map((t) => t.ranks));

    // Both engine paths are exercised: the smallest tier runs factored layers, the full tier multiplies out.
    const { layers, tiers } = int8.header;
    expect(layers.some((l, i) => runsFactored(l, tiers[0].ranks[i]))).toBe(true);
    expect(layers.some((l, i) => !runsFactored(l, tiers[tiers.length - 1].ranks[i]))).toBe(true);

    const [a, b] = [await predictions(fp32.lrm, fp32.header), await predictions(int8.lrm, int8.header)];
    const perTier = a.map((t, k) => ({ tier: k, fp32Bytes: t.bytes, int8Bytes: b[k].bytes, agreement: agreement(b[k].predictions, t.predictions) }));
    expect(perTier[perTier.length - 1].agreement, JSON.stringify(perTier)).toBeGreaterThanOrEqual(99);

    // Every weight shrinks 4× (factors, dense M, and the weights that are not factored), up to the 64-byte alignment
    // of each block and the biases, which stay float32.
    const ratio = int8.header.payloadLength / fp32.header.payloadLength;
    expect(ratio).toBeGreaterThan(0.24);
    expect(ratio).toBeLessThan(0.27);
    expect(b.at(-1)!.bytes / source.length).toBeLessThan(0.27);
    const nodes = int8.header.graph.nodes;
    const weightNames = new Set(nodes.filter((n) => n.opType === 'Conv' || n.opType === 'Gemm').map((n) => n.inputs[1]));
    const stored = int8.header.graph.initializers;
    expect(stored.filter((t) => weightNames.has(t.name)).length).toBeGreaterThan(0); // the kept (not factored) weights
    for (const t of stored) {
      if (weightNames.has(t.name)) {
        expect(t.storage, t.name).toBe('int8');
        expect(t.scales).toHaveLength(t.dims[t.scaleAxis!]!);
      } else {
        expect(t.storage, `${t.name} (a bias or other constant) stays as it is`).toBeUndefined();
      }
    }

    const originalParams = importOnnx(source).initializers.reduce((s, t) => s + t.dims.reduce((x, y) => x * y, 1), 0);
    const small = tiers.filter((t, k) => t.params / originalParams <= 0.15 && b[k].bytes <= source.length / 20);
    expect(small.length, JSON.stringify(perTier)).toBeGreaterThan(0);
  });
});
