/**
 * Every fp32 model in ../shared/data/models compiles, loads and, at full rank with fp32 factors,
 * reproduces the original's outputs on real inputs on both engines (max abs error ≤ 1e-4 of the
 * output's largest magnitude). Lower tiers must also build and run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { maxRelativeError } from './compare.js';
import { describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import { load, type Feeds, type HostTensor } from '../../runtime/node.js';
import { bindInput, MODELS, REAL_MODELS as CASES } from './real-inputs.js';


async function runOriginal(bytes: Uint8Array, feeds: Feeds[]): Promise<Array<Record<string, HostTensor>>> {
  const session = await ort.InferenceSession.create(bytes);
  const out: Array<Record<string, HostTensor>> = [];
  for (const f of feeds) {
    const r = await session.run(Object.fromEntries(Object.entries(f).map(([k, t]) => [k, new ort.Tensor(t.dataType, t.data as Float32Array, t.dims)])));
    out.push(Object.fromEntries(Object.entries(r).map(([k, t]) => [k, { dataType: 'float32', dims: [...t.dims], data: t.data as Float32Array }])));
  }
  await session.release();
  return out;
}

describe.each(CASES)('$file', (c) => {
  it('compiles, and matches the original at full rank on ort-node-cpu and ort-wasm; lower tiers run', async () => {
    const source = new Uint8Array(readFileSync(join(MODELS, c.file)));
    const { lrm, header } = await compileOnnx(source, { fileName: c.file, minParams: c.minParams });
    expect(header.layers.length).toBeGreaterThanOrEqual(c.minLayers);
    const feeds = bindInput(await c.inputs(), header.graph.inputs[0].name);
    const expected = await runOriginal(source, feeds);

    for (const engine of ['ort-node-cpu', 'ort-wasm'] as const) {
      const session = await load(lrm, { engine });
      expect(session.ranks).toEqual(header.layers.map((l) => l.maxRank));
      for (const [i, f] of feeds.entries()) {
        const got = await session.run(f);
        for (const [name, want] of Object.entries(expected[i])) {
          expect(got[name].dims, `${engine} ${name} dims`).toEqual(want.dims);
          expect(maxRelativeError(want.data as Float32Array, got[name].data as Float32Array), `${engine} ${name} sample ${i}`).toBeLessThanOrEqual(1e-4);
        }
      }
      await session.release();
    }

    // The smallest tier is a complete model of its own.
    const small = await load(lrm, { tiers: 1 });
    const out = await small.run(feeds[0]);
    for (const [name, want] of Object.entries(expected[0])) {
      expect(out[name].dims).toEqual(want.dims);
      expect(Array.from(out[name].data as Float32Array).every(Number.isFinite)).toBe(true);
    }
    await small.release();
  });
});
