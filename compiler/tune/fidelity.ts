import type { ModelHeader } from '../../formats/model.js';
import type { EngineId } from '../../runtime/engines/engine.js';
import { load } from '../../runtime/node.js';
import type { Feeds } from '../../runtime/tensor.js';
import { cosineSimilarity } from '../../runtime/text/embed.js';

/**
 * How a tier's first output is compared with the full model's, per sample: 'top1' (same arg-max: classifiers) or
 * 'cosine' (cosine similarity of the rows: embeddings, where the arg-max means nothing).
 */
export type FidelityMetric = 'top1' | 'cosine';

/** The first output's rows on every sample of `batches`, with tiers 0..tiers-1 loaded. */
async function firstOutputRows(lrm: Uint8Array, engine: EngineId, tiers: number, batches: () => AsyncIterable<Feeds>): Promise<Float32Array[]> {
  const session = await load(lrm, { engine, tiers });
  try {
    const rows: Float32Array[] = [];
    for await (const feeds of batches()) {
      const out = Object.values(await session.run(feeds))[0]!;
      const data = Float32Array.from(out.data as ArrayLike<number>);
      const n = out.dims[0] ?? 1;
      const width = data.length / n;
      for (let i = 0; i < n; i++) rows.push(data.subarray(i * width, (i + 1) * width));
    }
    return rows;
  } finally {
    await session.release();
  }
}

/** Share (0..1) of rows whose arg-max matches, or their mean cosine similarity. */
function compareRows(rows: Float32Array[], reference: Float32Array[], metric: FidelityMetric): number {
  if (rows.length === 0) return 1;
  if (metric === 'cosine') return rows.reduce((s, r, i) => s + cosineSimilarity(r, reference[i]!), 0) / rows.length;
  const top = (r: Float32Array) => r.reduce((best, v, j) => (v > r[best]! ? j : best), 0);
  return rows.filter((r, i) => top(r) === top(reference[i]!)).length / rows.length;
}

/**
 * Fidelity of each asked tier count on calibration data, 0..1: the share of samples whose top-1 on the first
 * output equals the file's full model's (all tiers), or for embeddings their mean cosine similarity to it.
 * Compared with the .lrm's last tier, not the source ONNX, which tune does not have; with the default last
 * budget of 1 the last tier is the original model.
 */
export async function measureFidelity(
  lrm: Uint8Array,
  header: ModelHeader,
  engine: EngineId,
  tierCounts: readonly number[],
  batches: () => AsyncIterable<Feeds>,
  options: { metric?: FidelityMetric; onStep?: (done: number, total: number) => void } = {},
): Promise<Map<number, number>> {
  const all = header.tiers.length;
  const metric = options.metric ?? 'top1';
  const reference = await firstOutputRows(lrm, engine, all, batches);
  const out = new Map<number, number>([[all, 1]]);
  const asked = [...new Set(tierCounts)].filter((t) => t !== all);
  for (const [i, tiers] of asked.entries()) {
    out.set(tiers, compareRows(await firstOutputRows(lrm, engine, tiers, batches), reference, metric));
    options.onStep?.(i + 1, asked.length);
  }
  return out;
}
