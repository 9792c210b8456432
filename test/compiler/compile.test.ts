import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import { CompileOptionError, ModelNotRunnableError, OnnxImportError } from '../../compiler/errors.js';
import { readLrm } from '../../formats/read.js';
import { load } from '../../runtime/node.js';
import { DATA, mnistDigits, MODELS } from '../e2e/real-inputs.js';

const cnn = () => new Uint8Array(readFileSync(join(MODELS, 'mnist-cnn-pytorch.onnx')));

describe('compileOnnx', () => {
  it('writes a file the reader accepts, with nested ranks and the source hash', async () => {
    const { lrm, header } = await compileOnnx(cnn(), { tiers: [0.05, 0.3, 1] });
    const { header: again } = await readLrm(lrm);
    expect(again).toEqual(header);
    expect(header.tiers.map((t) => t.budget)).toEqual([0.05, 0.3, 1]);
    expect(header.source.sha256).toBe('88640224' + header.source.sha256.slice(8));
    header.layers.forEach((_, i) => {
      for (let t = 1; t < header.tiers.length; t++) expect(header.tiers[t].ranks[i]).toBeGreaterThanOrEqual(header.tiers[t - 1].ranks[i]);
    });
  });

  it('fp16 factors halve the tier bytes and stay close to fp32 at full rank', async () => {
    const fp32 = await compileOnnx(cnn());
    const fp16 = await compileOnnx(cnn(), { dtype: 'fp16' });
    const tierBytes = (h: typeof fp32.header) => h.tiers.reduce((s, t) => s + t.range.length, 0);
    expect(tierBytes(fp16.header) / tierBytes(fp32.header)).toBeGreaterThan(0.45);
    expect(tierBytes(fp16.header) / tierBytes(fp32.header)).toBeLessThan(0.55);
    const [a, b] = [await load(fp32.lrm), await load(fp16.lrm)];
    for (const feeds of await mnistDigits(4, false, (v) => (v / 255 - 0.5) / 0.5)) {
      const f = { input: feeds.x };
      const x = (await a.run(f)).output.data as Float32Array;
      const y = (await b.run(f)).output.data as Float32Array;
      const scale = Math.max(...x.map(Math.abs));
      // fp16 keeps 11 significant bits; through two factored layers 1e-2 of the output range is ample.
      expect(Math.max(...x.map((v, i) => Math.abs(v - y[i])))).toBeLessThan(1e-2 * scale);
    }
    await a.release();
    await b.release();
  });

  it('refuses what it cannot compile with typed one-line errors', async () => {
    await expect(compileOnnx(new Uint8Array([1, 2, 3, 4, 5]))).rejects.toThrow(OnnxImportError);
    await expect(compileOnnx(new Uint8Array(readFileSync(join(DATA, 'negative/mnist-cntk-opset1-legacy.onnx'))))).rejects.toThrow(ModelNotRunnableError);
    await expect(compileOnnx(cnn(), { tiers: [0.5, 0.2] })).rejects.toThrow(CompileOptionError);
    await expect(compileOnnx(cnn(), { dtype: 'int3' as never })).rejects.toThrow(CompileOptionError);
  });

  it('keeps quantised models as they are', async () => {
    const source = new Uint8Array(readFileSync(join(MODELS, 'shufflenet-v2-12-int8.onnx')));
    const { header } = await compileOnnx(source);
    expect(header.layers).toHaveLength(0);
    expect(header.graph.nodes.filter((n) => n.opType === 'QLinearConv').length).toBeGreaterThan(10);
  });
});

describe('default sensitivity allocation under a multiply-add limit', () => {
  const source = new Uint8Array(readFileSync(join(MODELS, 'mnist-mlp-784-128-64-10.onnx')));
  const calibration = async () => {
    const { feedBatches, openDataset } = await import('../../compiler/data/spec.js');
    const { importOnnx } = await import('../../compiler/import/onnx.js');
    const inputs = importOnnx(source).inputs;
    const data = await openDataset(`mnist:${join(DATA, 'mnist')}`, { layout: inputs[0].shape, limit: 64 });
    return feedBatches(data, inputs, 32);
  };

  it('measures sensitivity when it fits the limit, orders by σ² (and says why) when it would not', async () => {
    const measured = await compileOnnx(source, { calibration: await calibration() });
    expect(measured.allocation).toEqual({ method: 'sensitivity', measure: 'squared' });
    const notes: string[] = [];
    const skipped = await compileOnnx(source, { calibration: await calibration(), sensitivityMaxMultiplyAdds: 0, onNote: (n) => notes.push(n) });
    expect(skipped.allocation.method).toBe('sigma');
    // 784·128 + 128·64 multiply-adds per sample (the 64×10 output layer is below --min-params), 64 samples.
    expect(skipped.allocation.note).toMatch(/^sensitivity not measured: ≈[\d.]+ G multiply-adds \(\d+ model runs × 64 samples × 0\.109 M\), over the limit of 0 G; .*--allocate sensitivity.*--sensitivity-max-gmac/);
    expect(notes).toEqual([skipped.allocation.note]);
    // Asked for explicitly, it is measured whatever it costs, and the compile says so.
    const forced = await compileOnnx(source, { calibration: await calibration(), allocation: 'sensitivity', sensitivityMaxMultiplyAdds: 0 });
    expect(forced.allocation.method).toBe('sensitivity');
    expect(forced.allocation.note).toMatch(/^measuring sensitivity as asked \(--allocate sensitivity\): .*over the limit of 0 G/);
    // σ² and sensitivity orders differ on this model, so the budget really changed the cut.
    expect(skipped.header.tiers.map((t) => t.ranks)).not.toEqual(measured.header.tiers.map((t) => t.ranks));
  });
});
