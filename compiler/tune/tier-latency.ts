import type { ModelHeader } from '../../formats/model.js';
import type { EngineId } from '../../runtime/engines/engine.js';
import { estimateMemory } from '../../runtime/memory-estimate.js';
import { load } from '../../runtime/node.js';
import { runsFactored } from '../../runtime/onnx/build-model.js';
import type { Feeds } from '../../runtime/tensor.js';
import { latencyCost, type LatencyTable } from '../costs.js';
import { latencyPercentiles } from '../evaluate.js';
import type { TimingOptions } from './layer-latency.js';

/** One tier count of the file, measured end to end on this device. */
export interface TierMeasurement {
  /** Tiers 0..tiers-1 loaded. */
  tiers: number;
  /** Single-sample latency after the warm-up, ms. */
  latencyMsP50: number;
  latencyMsP95: number;
  /** What the per-layer table predicts: the full model's measured p50 plus each layer's change of cost. */
  predictedMsP50: number;
  /** runtime/memory-estimate.ts for this engine (an estimate, not a measurement). */
  memoryMb: number;
}

/**
 * Predicted p50 of every tier count from the full model's measured p50 and the per-layer table: the layers
 * outside the factored ones cost the same at every tier, so only the factored layers' differences move it.
 */
export function predictTierLatency(header: ModelHeader, table: LatencyTable, fullP50: number): number[] {
  const costs = header.layers.map((l) => latencyCost(table, l.name));
  const layerMs = (tier: number) =>
    header.layers.reduce((s, layer, i) => {
      const r = header.tiers[tier].ranks[i];
      return s + (runsFactored(layer, r) ? costs[i].cost(r) : costs[i].denseCost);
    }, 0);
  const full = layerMs(header.tiers.length - 1);
  return header.tiers.map((_, t) => Math.max(0, fullP50 + layerMs(t) - full));
}

/** Loads the file at every tier count on `engine` and times single-sample runs (warm-up, repeats, p50/p95). */
export async function measureTiers(
  lrm: Uint8Array,
  header: ModelHeader,
  engine: EngineId,
  feeds: Feeds,
  timing: TimingOptions,
  onStep?: (done: number, total: number) => void,
): Promise<Array<Omit<TierMeasurement, 'predictedMsP50'>>> {
  const payloadStart = lrm.length - header.payloadLength;
  const out: Array<Omit<TierMeasurement, 'predictedMsP50'>> = [];
  for (let tiers = 1; tiers <= header.tiers.length; tiers++) {
    const session = await load(lrm, { engine, tiers });
    try {
      const { p50, p95 } = await latencyPercentiles(session, feeds, timing.warmup, timing.runs, timing.warmupMs);
      out.push({ tiers, latencyMsP50: p50, latencyMsP95: p95, memoryMb: estimateMemory(header, payloadStart, tiers, engine).totalMb });
    } finally {
      await session.release();
    }
    onStep?.(tiers, header.tiers.length);
  }
  return out;
}
