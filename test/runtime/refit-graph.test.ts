/**
 * A refitted tier runs the same graph as the plain tier of the same ranks: refit changes weight values, never the
 * nodes, the shapes of their weights, or what onnxruntime's optimiser turns them into (issue 14: refit tiers were
 * reported at 2.4–5.5× the original's latency; this pins the structure, so a slower refit tier cannot come from the
 * graph the runtime builds). Checked without timing, on every tier of a real model: the graph as built, and the
 * graph onnxruntime-node actually runs (its optimised model, with fused Conv/Gemm + activation).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import { feedBatches, openDataset } from '../../compiler/data/spec.js';
import { importOnnx } from '../../compiler/import/onnx.js';
import type { ModelHeader } from '../../formats/model.js';
import { decodeRefits, type LayerRefit } from '../../runtime/factors.js';
import { buildOnnxModel, runsFactored, storedDense } from '../../runtime/onnx/build-model.js';
import { onnx } from '../../runtime/onnx/proto.js';
import { DATA, MODELS } from '../e2e/real-inputs.js';

let header: ModelHeader;
let payload: Uint8Array;
const dir = mkdtempSync(join(tmpdir(), 'refit-graph-'));

beforeAll(async () => {
  const source = new Uint8Array(readFileSync(join(MODELS, 'mnist-cnn-pytorch.onnx')));
  const inputs = importOnnx(source).inputs;
  const calib = await openDataset(`mnist:${join(DATA, 'mnist')}`, { layout: inputs[0].shape, mean: [0.5], std: [0.5], limit: 64 });
  // Low tiers run the layers factored, the last one dense (stored dense from its tier, with dense refits).
  const compiled = await compileOnnx(source, { calibration: () => feedBatches(calib, inputs, 32), tiers: [0.05, 0.15, 1], refit: true, refitSweeps: 1 });
  header = compiled.header;
  payload = compiled.lrm.subarray(compiled.lrm.length - header.payloadLength);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function refitsOf(tier: number): Array<LayerRefit | undefined> {
  const r = header.tiers[tier].refit!;
  return decodeRefits(header, tier, payload.subarray(r.range.offset, r.range.offset + r.range.length));
}

/** Each node as op, attributes and, per input, the initializer's dims (weights) or `x` (activations). */
function structure(model: Uint8Array): string[] {
  const m = onnx.ModelProto.decode(model);
  const dims = new Map(m.graph!.initializer!.map((t) => [t.name!, `[${t.dims!.join('×')}]`]));
  return m.graph!.node!.map((n) => {
    const attrs = n.attribute!.map((a) => `${a.name}=${JSON.stringify(onnx.AttributeProto.toObject(onnx.AttributeProto.create(a), { longs: String, bytes: String }))}`);
    return `${n.domain || ''}:${n.opType}(${n.input!.map((i) => (i === '' ? '-' : (dims.get(i) ?? 'x'))).join(', ')}) ${attrs.sort().join(' ')}`;
  });
}

/** The graph onnxruntime-node runs on the CPU after its optimiser (what the ort-node-cpu engine gets). */
async function optimised(model: Uint8Array, name: string): Promise<string[]> {
  const file = join(dir, `${name}.onnx`);
  const session = await ort.InferenceSession.create(model, { logSeverityLevel: 3, executionProviders: ['cpu'], optimizedModelFilePath: file });
  await session.release();
  return structure(new Uint8Array(readFileSync(file)));
}

describe('refit keeps the graph of its tier', () => {
  it('covers factored layers with factor refits and dense layers with dense refits', () => {
    const kinds = header.tiers.flatMap((t) =>
      header.layers.map((layer, i) => {
        const refit = refitsOf(t.index)[i];
        if (!refit) return 'none';
        if (storedDense(layer, t.ranks[i])) return refit.dense ? 'stored dense, dense refit' : 'stored dense, factor refit';
        return runsFactored(layer, t.ranks[i]) ? 'factored' : 'multiplied out';
      }),
    );
    expect(kinds).toContain('factored');
    expect(kinds).toContain('stored dense, dense refit');
    expect(kinds).not.toContain('stored dense, factor refit');
  });

  it('builds the same nodes, weight shapes and optimised graph with and without the refit, on every tier', async () => {
    for (const tier of header.tiers) {
      const plain = buildOnnxModel(header, payload, tier.ranks);
      const refitted = buildOnnxModel(header, payload, tier.ranks, { refits: refitsOf(tier.index) });
      expect(structure(refitted), `tier ${tier.index} as built`).toEqual(structure(plain));
      const [a, b] = [await optimised(plain, `plain-${tier.index}`), await optimised(refitted, `refit-${tier.index}`)];
      expect(b, `tier ${tier.index} after onnxruntime's optimiser`).toEqual(a);
      // The optimiser fused every activation into its Conv/Gemm: no node runs on its own that the original fuses.
      expect(b.some((s) => /:(Relu|Clip)\(/.test(s)), `tier ${tier.index}: an unfused activation`).toBe(false);
    }
  });
});
