/**
 * The quantisation-only baselines (bench/baselines.ts): every bench model gets them, and quant-int8 compiled the
 * way the bench compiles it (bench.ts compileWith) is the original with nothing factored and int8 weights.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isQuantBaseline, QUANT_BASELINE_DTYPES, quantOnly } from '../../bench/baselines.js';
import { compileWith, modelsFor, selectModels } from '../../bench/bench.js';
import { projectRoot } from '../../bench/cli.js';
import { DataType } from '../../formats/model.js';
import { importOnnx } from '../../compiler/import/onnx.js';

const root = projectRoot();
const ctx = { data: join(root, '..', 'shared', 'data'), root, quick: true };

describe('quantisation-only baselines', () => {
  it('are methods of every bench model, one per baseline dtype, after its own', () => {
    expect(QUANT_BASELINE_DTYPES).toContain('int8');
    for (const model of modelsFor(ctx)) {
      const ids = model.methods.map((x) => x.id);
      expect(ids.slice(-QUANT_BASELINE_DTYPES.length), model.id).toEqual(QUANT_BASELINE_DTYPES.map((d) => `quant-${d}`));
      expect(ids.filter((id) => isQuantBaseline(id))).toHaveLength(QUANT_BASELINE_DTYPES.length);
    }
    expect(quantOnly('fp16')).toMatchObject({ id: 'quant-fp16', dtype: 'fp16', calibrated: false, tiers: [1], minParams: Infinity });
    expect(isQuantBaseline('calibrated-int8')).toBe(false);
  });

  it('quant-int8 on mnist-cnn-pytorch: no factored layer, one tier, every Conv/Gemm weight int8 per output channel', async () => {
    const [model] = selectModels(modelsFor(ctx), ['mnist-cnn-pytorch']);
    const source = new Uint8Array(await readFile(model!.path));
    const method = model!.methods.find((x) => x.id === 'quant-int8')!;
    const { lrm, header } = await compileWith(model!, method, source, ctx, () => {});
    expect(header.layers).toHaveLength(0);
    expect(header.tiers).toHaveLength(1);
    const weights = new Set(importOnnx(source, 'mnist-cnn-pytorch.onnx').nodes.filter((n) => n.opType === 'Conv' || n.opType === 'Gemm').map((n) => n.inputs[1]!));
    expect(weights.size).toBe(4);
    for (const t of header.graph.initializers) {
      if (weights.has(t.name)) expect([t.name, t.storage, t.scales?.length]).toEqual([t.name, 'int8', t.dims[0]]);
      else expect([t.name, t.storage, t.dataType]).toEqual([t.name, undefined, DataType.FLOAT]); // biases stay fp32
    }
    // About a quarter of the float32 file: one byte a weight.
    expect(lrm.length).toBeLessThan(source.length / 3.5);
  });
});
