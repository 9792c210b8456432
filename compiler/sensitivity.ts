import * as ort from 'onnxruntime-node';
import { compilerSessionOptions } from './ort-options.js';
import { toOrtFeeds } from './ort-feeds.js';
import { onnx, type ModelProto } from '../runtime/onnx/proto.js';
import { factoredNodes } from '../runtime/onnx/build-model.js';
import type { Feeds } from '../runtime/tensor.js';
import { CompileError } from './errors.js';
import type { LayerCandidate } from './factorize/candidates.js';
import type { OrderedFactors } from './linalg/svd.js';
import { outputError, type OutputMeasure, type SampleOutputs } from './output-error.js';

/** Measured end-to-end error of one layer as a function of its rank (all other layers exact). */
export type ErrorCurve = (rank: number) => number;

/** Which ranks of which layers sensitivity measures: decided before anything runs, from shapes alone. */
export interface SensitivityPlan {
  /** Per candidate: the ranks measured, and the rank from which the layer is exact (break-even, or its full rank). */
  layers: Array<{ breakEven: number; ranks: number[] }>;
  /** Truncated models built and run on the samples: one per layer and measured rank. */
  runs: number;
}

/** Fractions of the break-even rank at which each layer is measured; denser at low rank, where error moves fastest. */
const GRID = [1 / 16, 1 / 8, 1 / 4, 1 / 2, 3 / 4];

/** The grid of ranks per layer: GRID × break-even in steps of `rankMultiple`, below break-even and full rank. */
export function planSensitivity(candidates: LayerCandidate[], factors: OrderedFactors[], rankMultiple: number): SensitivityPlan {
  const layers = candidates.map((c, i) => {
    const breakEven = Math.ceil((c.rows * c.cols) / (c.rows + c.cols));
    const full = factors[i].rank;
    const ranks = [...new Set(GRID.map((g) => Math.max(rankMultiple, Math.round((g * breakEven) / rankMultiple) * rankMultiple)))]
      .filter((r) => r < Math.min(breakEven, full))
      .sort((a, b) => a - b);
    return { breakEven: Math.min(breakEven, full), ranks };
  });
  return { layers, runs: layers.reduce((s, p) => s + p.ranks.length, 0) };
}

/**
 * Per-layer sensitivity: truncate one layer at a time to the plan's ranks inside the original model, run the
 * calibration samples, and measure how far the network's outputs move (`outputMeasure`: the squared error of every
 * output relative to its energy, or for embeddings the error of their pairwise cosines; compiler/output-error.ts).
 * Per-layer output error (σ²) says how much a layer's own output moves; this says how much the network's
 * output moves, which is what accuracy depends on (compact CNNs amplify some layers' errors and absorb others').
 * Past break-even a layer runs dense at full rank, so its error there is 0. Whether to run it at all is decided
 * by count, not by clock, before calling this (compiler/sensitivity-limit.ts).
 */
export async function measureSensitivity(
  source: Uint8Array,
  candidates: LayerCandidate[],
  factors: OrderedFactors[],
  samples: Feeds[],
  plan: SensitivityPlan,
  onProgress?: (done: number, total: number, detail: string) => void,
  outputMeasure: OutputMeasure = 'squared',
): Promise<ErrorCurve[]> {
  const base = onnx.ModelProto.decode(source);
  const measure = await networkError(source, samples, outputMeasure);
  let done = 0;
  const curves: ErrorCurve[] = [];
  for (const [i, c] of candidates.entries()) {
    const points: Array<[number, number]> = [];
    for (const r of plan.layers[i].ranks) {
      onProgress?.(done++, plan.runs, `${c.node.name} r=${r}`);
      points.push([r, await measure(withLayerAtRank(base, c, factors[i], r))]);
    }
    curves.push(interpolate(points, plan.layers[i].breakEven));
  }
  onProgress?.(plan.runs, plan.runs, '');
  return curves;
}

/**
 * How far a changed model's outputs on `samples` move from `source`'s, by `measure` (compiler/output-error.ts;
 * default: the squared error of every output relative to its energy). Also the int4 precision pass's measure
 * (compiler/precision.ts).
 */
export async function networkError(source: Uint8Array, samples: Feeds[], measure: OutputMeasure = 'squared'): Promise<(model: Uint8Array) => Promise<number>> {
  const error = outputError(measure, await runAll(source, samples));
  return async (model) => error(await runAll(model, samples));
}

/** Piecewise linear through the measured points, falling to 0 at break-even (the layer then runs dense, exact). */
function interpolate(points: Array<[number, number]>, breakEven: number): ErrorCurve {
  // Errors must not rise with rank for the allocator's ordering: keep a running minimum from low rank up.
  let low = Infinity;
  const pts = points.map(([r, e]) => [r, (low = Math.min(low, e))] as [number, number]);
  pts.push([breakEven, 0]);
  return (rank) => {
    if (rank >= breakEven) return 0;
    if (rank <= pts[0][0]) return pts[0][1] * (pts[0][0] / Math.max(rank, 1));
    for (let k = 1; k < pts.length; k++) {
      const [r0, e0] = pts[k - 1];
      const [r1, e1] = pts[k];
      if (rank <= r1) return e0 + ((rank - r0) / (r1 - r0)) * (e1 - e0);
    }
    return 0;
  };
}

/** The source model with one layer replaced by its rank-r factors (everything else untouched). */
function withLayerAtRank(base: ModelProto, c: LayerCandidate, f: OrderedFactors, rank: number): Uint8Array {
  const graph = base.graph!;
  const left = Float32Array.from(f.left.subarray(0, rank * c.rows));
  const right = Float32Array.from(f.right.subarray(0, rank * c.cols));
  const { nodes, tensors } = factoredNodes(
    { kind: c.kind, rows: c.rows, cols: c.cols, weight: c.weight.name, weightDims: c.weight.dims },
    c.node,
    { rank, left, right },
  );
  const nodeList = [...(graph.node ?? [])];
  nodeList.splice(c.nodeIndex, 1, ...nodes);
  const model = onnx.ModelProto.create({
    ...base,
    graph: onnx.GraphProto.create({
      ...graph,
      node: nodeList,
      initializer: [...(graph.initializer ?? []).filter((t) => t.name !== c.weight.name), ...tensors],
      input: (graph.input ?? []).filter((v) => v.name !== c.weight.name),
    }),
  });
  return onnx.ModelProto.encode(model).finish();
}

async function runAll(model: Uint8Array, samples: Feeds[]): Promise<SampleOutputs[]> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(model, compilerSessionOptions());
  } catch (e) {
    throw new CompileError(`sensitivity measurement could not build a truncated model: ${String((e as Error).message).split('\n')[0]}`, 'sensitivity');
  }
  const out: SampleOutputs[] = [];
  for (const feeds of samples) {
    const result = await session.run(toOrtFeeds(feeds));
    const outputs = session.outputNames.map((n) => result[n]);
    out.push({ data: outputs.map((t) => Float32Array.from(t.data as Float32Array)), dims: outputs.map((t) => [...t.dims]) });
  }
  await session.release();
  return out;
}
