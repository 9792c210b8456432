/**
 * Paired calibration: the same samples through two networks (the original, and one whose weights are already
 * rounded as they will be stored), and for each layer the moments of its inputs in both, position by position:
 *
 *   stored = Σ x̃·x̃ᵀ   (x̃: the layer's input in the rounded network)
 *   cross  = Σ x·x̃ᵀ   (x: the same input in the original network; row i is component i of x)
 *
 * What sequential rounding (compiler/sequential-rounding.ts) needs to round a layer so that its output on x̃ matches
 * the original layer's output on x. Vectors are cut from the tensors exactly as calibrate.ts cuts them (im2col
 * patches, the same subset of positions per image in both networks), stacked [x̃; x] into one BlockedGram that
 * skips the Σ x·xᵀ block.
 */
import * as ort from 'onnxruntime-node';
import { compilerSessionOptions } from './ort-options.js';
import { toOrtFeeds } from './ort-feeds.js';
import type { Feeds } from '../runtime/tensor.js';
import { layerVectors, positionCap, withOutputs, type LayerVectors } from './calibrate.js';
import { CompileError } from './errors.js';
import type { LayerCandidate } from './factorize/candidates.js';
import type { ImportedModel } from './import/onnx.js';
import { BlockedGram, type Vectors } from './linalg/blocked-gram.js';

export interface PairedStats {
  /** Σ x̃·x̃ᵀ, n×n row-major (n = the layer's cols). */
  stored: Float64Array;
  /** Σ x·x̃ᵀ, n×n row-major. */
  cross: Float64Array;
  /** Vectors accumulated. */
  samples: number;
}

/** Streams `feeds` through both models once; the stats of each layer, keyed by node name. */
export async function collectPairedStats(
  original: Uint8Array,
  rounded: Uint8Array,
  model: ImportedModel,
  layers: readonly LayerCandidate[],
  feeds: Iterable<Feeds> | AsyncIterable<Feeds>,
): Promise<Map<string, PairedStats>> {
  // Layers that multiply the same vectors (Q, K and V of one input) share one accumulator, as in calibrate.ts.
  const shared = new Map<string, { c: LayerCandidate; a: LayerVectors; b: LayerVectors; gram: BlockedGram }>();
  const byLayer = new Map<string, string>();
  for (const c of layers) {
    const a = layerVectors(c, positionCap(c.cols));
    if (!shared.has(a.key)) shared.set(a.key, { c, a, b: layerVectors(c, positionCap(c.cols)), gram: new BlockedGram(2 * c.cols, c.cols) });
    byLayer.set(c.node.name, a.key);
  }
  const pairs = [...shared.values()];
  const graphInputs = new Set(model.inputs.map((i) => i.name));
  const fetched = [...new Set(layers.map((c) => c.node.inputs[0]))].filter((n) => !graphInputs.has(n));
  const [want, got] = await Promise.all([session(original, fetched, 'the original model'), session(rounded, fetched, 'the rounded model')]);
  try {
    for await (const batch of feeds) {
      const ortFeeds = toOrtFeeds(batch);
      const [x, xr] = await Promise.all([layerInputs(want, ortFeeds, fetched), layerInputs(got, ortFeeds, fetched)]);
      for (const p of pairs) {
        const name = p.c.node.inputs[0];
        const [tr, to] = [xr[name] ?? ortFeeds[name], x[name] ?? ortFeeds[name]];
        const runsRounded = p.a.split(tr.data as Float32Array, tr.dims as number[]).runs;
        const runsOriginal = p.b.split(to.data as Float32Array, to.dims as number[]).runs;
        for (const [k, run] of runsRounded.entries()) await p.gram.add(stacked(run, runsOriginal[k], p.c.cols));
      }
    }
  } finally {
    await Promise.all([want.release(), got.release()]);
  }
  const stats = new Map<string, PairedStats>();
  for (const [key, p] of shared) {
    const n = p.c.cols;
    const G = await p.gram.finish();
    const stored = new Float64Array(n * n);
    const cross = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      stored.set(G.subarray(i * 2 * n, i * 2 * n + n), i * n);
      cross.set(G.subarray((n + i) * 2 * n, (n + i) * 2 * n + n), i * n);
    }
    stats.set(key, { stored, cross, samples: p.gram.samples });
  }
  return new Map([...byLayer].map(([name, key]) => [name, stats.get(key)!]));
}

/** Vectors [x̃; x]: the two runs cover the same positions, so vector v of one pairs with vector v of the other. */
function stacked(rounded: Vectors, original: Vectors, n: number): Vectors {
  if (rounded.count !== original.count) throw new CompileError(`paired calibration: the two networks gave ${rounded.count} and ${original.count} vectors`, 'calibration-run');
  return {
    count: rounded.count,
    gather(block, stride, col, from, cnt) {
      rounded.gather(block, stride, col, from, cnt);
      original.gather(block.subarray(n * stride), stride, col, from, cnt);
    },
  };
}

/** The fetched tensors; a layer that reads a graph input sees the same values in both networks (nothing to run). */
async function layerInputs(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, fetched: string[]): Promise<Record<string, ort.Tensor>> {
  return fetched.length === 0 ? {} : ((await session.run(feeds, fetched)) as Record<string, ort.Tensor>);
}

async function session(model: Uint8Array, fetched: string[], what: string): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(withOutputs(model, fetched), compilerSessionOptions());
  } catch (e) {
    throw new CompileError(`paired calibration could not build ${what}: ${String((e as Error).message).split('\n')[0]}`, 'calibration-run');
  }
}
