/**
 * `lowrank tune`: measure an .lrm on this device and engine, and write presets that meet latency (and memory)
 * budgets into its header.
 *
 * Tiers are kept as compiled: a preset is the largest existing tier count whose end-to-end p50, measured here,
 * fits the budget. Re-cutting the global order under the measured cost would re-lay out the payload and
 * invalidate per-tier refit sections; instead the per-layer latency table is written for
 * `lowrank compile --cost latency:<table>`, which cuts tiers under it from the source model, and tune uses it
 * to predict each tier's latency (shown beside the measurement).
 */
import type { ModelHeader, Preset } from '../../formats/model.js';
import { readHeader } from '../../formats/read.js';
import { engines } from '../../runtime/node.js';
import type { Feeds } from '../../runtime/tensor.js';
import type { LatencyTable } from '../costs.js';
import { measureFidelity, type FidelityMetric } from './fidelity.js';
import { measureLayerLatency, type TimingOptions } from './layer-latency.js';
import { pickTiers, type TuneBudget } from './pick-presets.js';
import { measureTiers, predictTierLatency, type TierMeasurement } from './tier-latency.js';
import { mergePresets, withPresets } from './with-presets.js';

export interface TuneOptions {
  /** Engine id (or alias) to measure on. */
  engine: string;
  /** deviceClassId() of this machine, written into each preset. */
  deviceClass: string;
  /** One preset per budget. */
  budgets: TuneBudget[];
  /** Preset names, one per budget (default from the engine and budget, e.g. ort-wasm-20ms). */
  names?: string[];
  /** Share of the latency budget kept free (0..1): a tier's p50 must be at most (1 − headroom) × budget. */
  headroom: number;
  /** End-to-end timing of each tier count. */
  timing: TimingOptions;
  /** Timing of each layer alone at each rank. */
  layerTiming: TimingOptions;
  /** One sample to time with. */
  sample: Feeds;
  /** Calibration batches for fidelity (none: presets carry no fidelity). */
  calibration?: () => AsyncIterable<Feeds>;
  /** How fidelity compares outputs (default top1; cosine for sentence encoders' embeddings). */
  fidelityMetric?: FidelityMetric;
  fileName: string;
  onProgress?: (phase: string, done: number, total: number, detail?: string) => void;
}

export interface TuneResult {
  /** The input file with the presets in its header; the payload is unchanged. */
  lrm: Uint8Array;
  header: ModelHeader;
  /** Per-layer latency, in the format `--cost latency:<table.json>` reads, plus where it was measured. */
  table: LatencyTable & { engine: string; deviceClass: string; warmup: number; runs: number };
  tiers: TierMeasurement[];
  /** Fidelity per tier count, where measured. */
  fidelity: Map<number, number>;
  /** The presets written (existing ones of other names are kept in the file). */
  presets: Preset[];
}

export function defaultPresetName(engine: string, budget: TuneBudget): string {
  const parts = [budget.latencyMs !== undefined ? `${budget.latencyMs}ms` : '', budget.memoryMb !== undefined ? `${budget.memoryMb}mb` : ''].filter(Boolean);
  return `${engine}-${parts.join('-') || 'tuned'}`;
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;

export async function tuneLrm(lrm: Uint8Array, options: TuneOptions): Promise<TuneResult> {
  const engine = engines.get(options.engine);
  if (options.budgets.length === 0) throw new RangeError('tune needs at least one budget');
  if (options.names && options.names.length !== options.budgets.length) throw new RangeError('give one preset name per budget');
  const { header } = await readHeader(lrm, { fileName: options.fileName, totalLength: lrm.length });
  const progress = options.onProgress ?? (() => {});

  // End to end first: it is what the presets are judged by, and a budget nothing meets fails before the long part.
  const measured = await measureTiers(lrm, header, engine.id, options.sample, options.timing, (d, t) => progress('tiers', d, t));
  const picks = options.budgets.map((b) => pickTiers(measured, b, options.headroom, options.fileName));

  const table = await measureLayerLatency(header, lrm.subarray(lrm.length - header.payloadLength), engine, options.sample, options.layerTiming, (d, t, layer) =>
    progress('layers', d, t, layer),
  );
  const predicted = predictTierLatency(header, table, measured[measured.length - 1].latencyMsP50);
  const tiers = measured.map((m, i) => ({ ...m, predictedMsP50: predicted[i] }));

  const fidelity = options.calibration
    ? await measureFidelity(lrm, header, engine.id, picks.map((p) => p.tiers), options.calibration, { metric: options.fidelityMetric, onStep: (d, t) => progress('fidelity', d, t) })
    : new Map<number, number>();

  const presets: Preset[] = picks.map((pick, i) => ({
    name: options.names?.[i] ?? defaultPresetName(engine.id, options.budgets[i]),
    deviceClass: options.deviceClass,
    engine: engine.id,
    tiers: pick.tiers,
    latencyMsP50: round3(pick.latencyMsP50),
    latencyMsP95: round3(pick.latencyMsP95),
    // The calibrated estimate (runtime/memory-estimate.ts), not a measurement: RSS in a process that built
    // every tier says little about one session.
    peakMemoryMb: Math.ceil(pick.memoryMb),
    ...(fidelity.has(pick.tiers) ? { fidelity: round3(fidelity.get(pick.tiers)!) } : {}),
  }));
  const out = await withPresets(lrm, header, mergePresets(header.presets, presets), options.fileName);
  return {
    lrm: out,
    header: { ...header, presets: mergePresets(header.presets, presets) },
    table: { engine: engine.id, deviceClass: options.deviceClass, warmup: options.layerTiming.warmup, runs: options.layerTiming.runs, ...table },
    tiers,
    fidelity,
    presets,
  };
}
