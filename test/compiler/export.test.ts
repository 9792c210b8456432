import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerExport } from '../../compiler/cli/export.js';
import { compileOnnx, type CompileResult } from '../../compiler/compile.js';
import { CompileOptionError } from '../../compiler/errors.js';
import { exportFactoredOnnx } from '../../compiler/export/onnx.js';
import { mergePrefactoredPairs } from '../../compiler/factorize/prefactored.js';
import { importOnnx } from '../../compiler/import/onnx.js';
import { readLrm } from '../../formats/read.js';
import { load } from '../../runtime/node.js';
import type { Feeds } from '../../runtime/tensor.js';
import { mnistDigits, MODELS } from '../e2e/real-inputs.js';

// Every SVD the compiler runs goes through orderedFactors: record the shapes it sees.
const svd = vi.hoisted(() => ({ calls: [] as Array<[number, number]> }));
vi.mock('../../compiler/linalg/svd.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../compiler/linalg/svd.js')>();
  return {
    ...actual,
    orderedFactors: (M: Float64Array, m: number, n: number) => {
      svd.calls.push([m, n]);
      return actual.orderedFactors(M, m, n);
    },
  };
});

const cnn = () => new Uint8Array(readFileSync(join(MODELS, 'mnist-cnn-pytorch.onnx')));

async function outputs(lrm: Uint8Array, tier: number, digits: Feeds[]): Promise<Float32Array[]> {
  const session = await load(lrm, { tier });
  const out: Float32Array[] = [];
  for (const d of digits) out.push(Float32Array.from((await session.run({ input: d.x })).output.data as Float32Array));
  await session.release();
  return out;
}

function expectClose(a: Float32Array[], b: Float32Array[], tolerance: number): void {
  expect(b.length).toBe(a.length);
  a.forEach((x, s) => {
    const scale = Math.max(...x.map(Math.abs));
    const diff = Math.max(...x.map((v, j) => Math.abs(v - b[s][j])));
    expect(diff).toBeLessThanOrEqual(tolerance * scale);
  });
}

describe('export → compile round trip (mnist-cnn-pytorch)', () => {
  let original: CompileResult;
  let payload: Uint8Array;
  let digits: Feeds[];
  let dir: string;

  beforeAll(async () => {
    original = await compileOnnx(cnn());
    payload = (await readLrm(original.lrm)).payload;
    digits = await mnistDigits(16, false, (v) => (v / 255 - 0.5) / 0.5);
    dir = mkdtempSync(join(tmpdir(), 'lowrank-export-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes every factored layer as two nodes with its factors, even past break-even', () => {
    const { onnx: bytes, tier, ranks } = exportFactoredOnnx(original.header, payload);
    expect(tier).toBe(original.header.tiers.length - 1);
    const model = importOnnx(bytes);
    const names = new Set(model.nodes.map((n) => n.name));
    for (const [i, layer] of original.header.layers.entries()) {
      expect(names.has(layer.name)).toBe(false);
      expect(names.has(`${layer.name}/in`) && names.has(`${layer.name}/out`)).toBe(true);
      const inW = model.initializers.find((t) => t.name === `${layer.weight}__lowrank_in`)!;
      expect(inW.dims).toContain(ranks[i]);
    }
    expect(model.nodes.length).toBe(original.header.graph.nodes.length + original.header.layers.length);
    // Past break-even too: the full tier's layers run dense in the runtime, but export keeps the factors.
    expect(original.header.layers.some((l, i) => ranks[i] * (l.rows + l.cols) >= l.rows * l.cols)).toBe(true);
  });

  it('compiles back to the same layers, σ, allocation and outputs at every tier, without decomposing anything', async () => {
    const exported = exportFactoredOnnx(original.header, payload).onnx;
    const { known } = mergePrefactoredPairs(importOnnx(exported));
    expect([...known.keys()].sort()).toEqual(original.header.layers.map((l) => l.name).sort());

    svd.calls.length = 0;
    const again = await compileOnnx(exported, { fileName: 'exported.onnx' });
    // orderedFactors ran only on each pair's r×r core, never on a layer's m×n weight.
    const layers = original.header.layers;
    expect(svd.calls).toHaveLength(layers.length);
    for (const [m, n] of svd.calls) {
      expect(m).toBe(n);
      expect(layers.some((l) => l.rows === m && l.cols === n)).toBe(false);
    }

    expect(again.header.layers.map((l) => [l.name, l.kind, l.rows, l.cols, l.weight, l.weightDims, l.maxRank])).toEqual(
      layers.map((l) => [l.name, l.kind, l.rows, l.cols, l.weight, l.weightDims, l.maxRank]),
    );
    again.header.layers.forEach((l, i) => {
      const s0 = layers[i].sigma;
      expect(l.sigma).toHaveLength(s0.length);
      l.sigma.forEach((s, j) => expect(Math.abs(s - s0[j])).toBeLessThanOrEqual(1e-5 * s0[0]));
      l.sigma.forEach((s, j) => expect(Math.abs(s - s0[j])).toBeLessThanOrEqual(1e-4 * s0[j]));
    });
    expect(again.header.tiers.map((t) => [t.budget, t.ranks, t.params])).toEqual(original.header.tiers.map((t) => [t.budget, t.ranks, t.params]));
    expect(again.header.graph.initializers.map((t) => [t.name, t.dims])).toEqual(original.header.graph.initializers.map((t) => [t.name, t.dims]));

    for (let tier = 0; tier < original.header.tiers.length; tier++) {
      expectClose(await outputs(original.lrm, tier, digits), await outputs(again.lrm, tier, digits), 1e-5);
    }
  });

  it('exports a lower tier at that tier\'s ranks, running like the .lrm at that tier', async () => {
    const tier = 1;
    const { onnx: bytes, ranks } = exportFactoredOnnx(original.header, payload, { tier });
    expect(ranks).toEqual(original.header.tiers[tier].ranks);
    const session = await ort.InferenceSession.create(bytes);
    const got: Float32Array[] = [];
    for (const d of digits) {
      const out = await session.run({ input: new ort.Tensor('float32', d.x.data as Float32Array, d.x.dims) });
      got.push(Float32Array.from(out.output.data as Float32Array));
    }
    await session.release();
    expectClose(await outputs(original.lrm, tier, digits), got, 1e-5);
  });

  it('lowrank export writes the file atomically and refuses a tier the file does not have', async () => {
    const lrmPath = join(dir, 'cnn.lrm');
    const { writeFileSync, readdirSync } = await import('node:fs');
    writeFileSync(lrmPath, original.lrm);
    const out = join(dir, 'cnn.factored.onnx');
    const program = new Command().exitOverride();
    registerExport(program);
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await program.parseAsync(['node', 'lowrank', 'export', lrmPath, '--tier', '0', '-o', out]);
      expect(log.mock.calls[0][0]).toMatch(/tier 0/);
    } finally {
      log.mockRestore();
    }
    const written = new Uint8Array(readFileSync(out));
    expect(written).toEqual(new Uint8Array(exportFactoredOnnx(original.header, payload, { tier: 0 }).onnx));
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(() => exportFactoredOnnx(original.header, payload, { tier: original.header.tiers.length })).toThrow(CompileOptionError);
  });
});
