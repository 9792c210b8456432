import type { ModelHeader } from '../../formats/model.js';
import type { EngineId } from '../../runtime/engines/engine.js';
import { load } from '../../runtime/node.js';
import type { Feeds } from '../../runtime/tensor.js';
import { agreement, argmaxRows } from '../evaluate.js';

/** Top-1 of the first output on every sample of `batches`, with tiers 0..tiers-1 loaded. */
async function topOne(lrm: Uint8Array, engine: EngineId, tiers: number, batches: () => AsyncIterable<Feeds>): Promise<Int32Array> {
  const session = await load(lrm, { engine, tiers });
  try {
    const parts: Int32Array[] = [];
    for await (const feeds of batches()) parts.push(argmaxRows(Object.values(await session.run(feeds))[0]));
    const out = new Int32Array(parts.reduce((s, p) => s + p.length, 0));
    let at = 0;
    for (const p of parts) (out.set(p, at), (at += p.length));
    return out;
  } finally {
    await session.release();
  }
}

/**
 * Fidelity of each asked tier count on calibration data: the share (0..1) of samples whose top-1 on the first
 * output equals the file's full model's (all tiers). Compared with the .lrm's last tier, not the source ONNX,
 * which tune does not have; with the default last budget of 1 the last tier is the original model.
 */
export async function measureFidelity(
  lrm: Uint8Array,
  header: ModelHeader,
  engine: EngineId,
  tierCounts: readonly number[],
  batches: () => AsyncIterable<Feeds>,
  onStep?: (done: number, total: number) => void,
): Promise<Map<number, number>> {
  const all = header.tiers.length;
  const reference = await topOne(lrm, engine, all, batches);
  const out = new Map<number, number>([[all, 1]]);
  const asked = [...new Set(tierCounts)].filter((t) => t !== all);
  for (const [i, tiers] of asked.entries()) {
    out.set(tiers, agreement(await topOne(lrm, engine, tiers, batches), reference) / 100);
    onStep?.(i + 1, asked.length);
  }
  return out;
}
