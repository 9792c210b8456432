/**
 * int8 factors at run time: gathering a rank prefix from per-tier blocks gives the same values as quantising
 * once and slicing (no re-quantisation per tier), and the rebuilt ONNX model runs both the factored and the
 * dense multiply-out path.
 */
import { describe, expect, it } from 'vitest';
import { dequantizeInt8, quantizeFactors } from '../../compiler/quantize.js';
import type { FactoredLayer, ModelHeader } from '../../formats/model.js';
import { DataType, FORMAT_VERSION } from '../../formats/model.js';
import { readLrm } from '../../formats/read.js';
import { PayloadBuilder, writeLrm, type LrmHeaderInput } from '../../formats/write.js';
import { dequantizeFactors, gatherFactors, gatherInt8Factors, multiplyOut } from '../../runtime/factors.js';
import { runsFactored } from '../../runtime/onnx/build-model.js';
import { load } from '../../runtime/node.js';

const [rows, cols] = [6, 10];
/** Components of each tier: 2, then 2 more, then 2 more (full rank 6, past break-even from rank 4). */
const cuts = [2, 4, 6];

function pseudoRandom(length: number, seed: number): Float64Array {
  let s = seed;
  return Float64Array.from({ length }, () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 30 - 1));
}

/** A one-layer MatMul model y = x·W, W ≈ Mᵀ, with int8 factors in three tiers. */
async function int8Model(): Promise<{ file: Uint8Array; header: ModelHeader; payload: Uint8Array; left: Float64Array; right: Float64Array }> {
  const left = pseudoRandom(6 * rows, 1);
  const right = pseudoRandom(6 * cols, 2);
  const q = quantizeFactors(left, right, 6, rows, cols);
  const p = new PayloadBuilder();
  const dense = p.seal(0);
  const layer: FactoredLayer = {
    name: 'fc', nodeIndex: 0, kind: 'matmul', weight: 'W', weightDims: [cols, rows], rows, cols, maxRank: 6,
    sigma: [6, 5, 4, 3, 2, 1], blocks: [], leftScales: Array.from(q.leftScales),
  };
  let begin = 0;
  const tiers = cuts.map((end, t) => {
    const start = p.length;
    const bytes = (a: Int8Array) => new Uint8Array(a.buffer, a.byteOffset, a.length);
    layer.blocks.push({
      tier: t, rankBegin: begin, rankEnd: end,
      left: p.append(bytes(q.left.subarray(begin * rows, end * rows))),
      right: p.append(bytes(q.right.subarray(begin * cols, end * cols))),
      rightScales: Array.from(q.rightScales.subarray(begin, end)),
    });
    begin = end;
    return { index: t, budget: end / 6, range: p.seal(start), ranks: [end], params: end * (rows + cols) };
  });
  const input: LrmHeaderInput = {
    formatVersion: FORMAT_VERSION,
    compilerVersion: 'test',
    source: { sha256: '00'.repeat(32), fileName: 'fc.onnx', bytes: 1, irVersion: 8, producer: 'test', opsets: [{ domain: '', version: 11 }] },
    graph: {
      inputs: [{ name: 'x', dataType: DataType.FLOAT, shape: [1, cols] }],
      outputs: [{ name: 'y', dataType: DataType.FLOAT, shape: [1, rows] }],
      nodes: [{ name: 'fc', opType: 'MatMul', domain: '', inputs: ['x', 'W'], outputs: ['y'], attributes: [] }],
      initializers: [],
    },
    factorDType: 'int8',
    layers: [layer],
    dense: { range: dense },
    tiers,
    presets: [],
  };
  const file = await writeLrm(input, p.finish());
  const read = await readLrm(file);
  return { file, header: read.header, payload: read.payload, left, right };
}

describe('int8 factors at run time', () => {
  it('every rank prefix gathers the quantise-once slice, with the layer scales and each block\'s scales', async () => {
    const { header, payload } = await int8Model();
    const layer = header.layers[0];
    const full = gatherInt8Factors(layer, 6, payload);
    const fullF = dequantizeFactors(full, rows, cols);
    for (let rank = 0; rank <= 6; rank++) {
      const q = gatherInt8Factors(layer, rank, payload);
      expect(q.left).toEqual(full.left.subarray(0, rank * rows));
      expect(q.right).toEqual(full.right.subarray(0, rank * cols));
      expect(q.leftScales).toEqual(full.leftScales);
      expect(q.rightScales).toEqual(full.rightScales.subarray(0, rank));
      const f = gatherFactors(layer, rank, payload, { factorDType: 'int8' });
      expect(f.left).toEqual(fullF.left.subarray(0, rank * rows));
      expect(f.right).toEqual(fullF.right.subarray(0, rank * cols));
    }
    expect(fullF.left).toEqual(dequantizeInt8(full.left, 6, rows, full.leftScales, 1));
  });

  it('runs factored below break-even and dense above it, both matching the dequantised factors', async () => {
    const { file, header, payload } = await int8Model();
    const layer = header.layers[0];
    expect(cuts.map((r) => runsFactored(layer, r))).toEqual([true, false, false]);
    const x = Float32Array.from(pseudoRandom(cols, 3));
    for (let tiers = 1; tiers <= cuts.length; tiers++) {
      const rank = cuts[tiers - 1];
      const M = multiplyOut(gatherFactors(layer, rank, payload, { factorDType: 'int8' }), rows, cols);
      const expected = Array.from({ length: rows }, (_, r) => x.reduce((s, v, c) => s + M[r * cols + c] * v, 0));
      const session = await load(file, { tiers });
      const y = (await session.run({ x: { dataType: 'float32', dims: [1, cols], data: x } })).y.data as Float32Array;
      await session.release();
      y.forEach((v, r) => expect(v).toBeCloseTo(expected[r], 5));
    }
  });

  it('stays within the quantisation error of the float factors at full rank', async () => {
    const { header, payload, left, right } = await int8Model();
    const layer = header.layers[0];
    const exact = multiplyOut({ rank: 6, left: Float32Array.from(left), right: Float32Array.from(right) }, rows, cols);
    const approx = multiplyOut(gatherFactors(layer, 6, payload, { factorDType: 'int8' }), rows, cols);
    // |ΔM| ≤ Σᵢ (|a|·sB/2 + |b|·sA/2 + sA·sB/4) ≤ 6 · (1/127 + 1/127 + 1/127²) for values in [-1, 1].
    const bound = 6 * (2 / 127 + 1 / 127 ** 2);
    exact.forEach((v, i) => expect(Math.abs(approx[i] - v)).toBeLessThanOrEqual(bound));
  });
});
