/**
 * Shared by the tfjs engine tests: one engine against ort-node-cpu on the same .lrm, output by output, and top-1
 * agreement over MNIST digits.
 */
import { join } from 'node:path';
import { expect } from 'vitest';
import { openDataset } from '../../compiler/data/spec.js';
import { agreement, argmaxRows } from '../../compiler/evaluate.js';
import { load, type EngineId, type Feeds, type HostTensor } from '../../runtime/node.js';
import { maxRelativeError as relativeError } from '../e2e/compare.js';
import { DATA } from '../e2e/real-inputs.js';

/** Largest absolute difference, relative to the reference output's largest magnitude (test/e2e/compare.ts). */
export function maxRelativeError(want: HostTensor, got: HostTensor): number {
  return relativeError(want.data as Float32Array, got.data as Float32Array);
}

/** Runs every feed on `engine` and on ort-node-cpu at the same tier; returns the worst relative error seen. */
export async function worstErrorAgainstOrt(lrm: Uint8Array, engine: EngineId, feeds: Feeds[], tiers?: number): Promise<number> {
  const tested = await load(lrm, { engine, tiers });
  const reference = await load(lrm, { engine: 'ort-node-cpu', tiers });
  expect(tested.engine).toBe(engine);
  expect(tested.ranks).toEqual(reference.ranks);
  let worst = 0;
  try {
    for (const f of feeds) {
      const want = await reference.run(f);
      const got = await tested.run(f);
      for (const [name, w] of Object.entries(want)) {
        expect(got[name].dims, `${engine} ${name} dims`).toEqual(w.dims);
        worst = Math.max(worst, maxRelativeError(w, got[name]));
      }
    }
  } finally {
    await tested.release();
    await reference.release();
  }
  return worst;
}

/** Percent of MNIST test digits (the first `count`) on which `engine` and ort-node-cpu pick the same class. */
export async function mnistTop1Agreement(lrm: Uint8Array, engine: EngineId, count: number, batch: number, tiers?: number): Promise<number> {
  const tested = await load(lrm, { engine, tiers });
  const reference = await load(lrm, { engine: 'ort-node-cpu', tiers });
  const data = await openDataset(`mnist:${join(DATA, 'mnist')}`, { layout: [1, 1, 28, 28], mean: [0.5], std: [0.5], limit: count });
  const a: number[] = [];
  const b: number[] = [];
  try {
    for await (const { input } of data.batches(batch)) {
      a.push(...argmaxRows((await reference.run({ input })).output));
      b.push(...argmaxRows((await tested.run({ input })).output));
    }
  } finally {
    await tested.release();
    await reference.release();
  }
  expect(a.length).toBe(count);
  return agreement(Int32Array.from(a), Int32Array.from(b));
}
