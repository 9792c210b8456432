/**
 * The precision pass of an int4 compile: which weights are stored int4 and which stay int8, by measurement.
 *
 * Every weight an int4 file may store as int4 (the weights kept dense, and the dense M of each factored layer at
 * full rank) is rounded once here (GPTQ against its inputs' moment where calibration reached it, else to nearest);
 * sequential rounding (compiler/sequential-rounding.ts) may round the chosen ones again, at the same precision.
 * With calibration samples, each is then put alone into the original model and the network's outputs on those
 * samples are compared with the original's: relative squared error summed over outputs, as the rank sensitivity
 * (sensitivity.ts) measures it. A layer's own output error says little about accuracy (MobileNet's pointwise
 * layers each lose < 0.3% of their output energy to int4, yet all of them together cost 7 points of top-1), the
 * network's output error says more. Errors of different weights roughly add up, so the pass keeps int4 for the
 * weights with the least error per byte saved while the sum stays within the budget (up to the first weight that
 * does not fit, chooseSteps); the rest stay int8.
 * Without samples nothing says what the network loses: every weight is int4, as asked (each weight's own error is
 * still reported: output error with a moment, else weight error). Depthwise and grouped conv kernels always stay int8 (`keepInt8`): a few values per channel, and fragile.
 *
 * With `minBits` 3 (format v5) each weight may also go int3, measured the same way, in two stages, one per model the
 * file nests: first int8 or int4 within `maxError` (the 4-bit model), then, of the weights int4, those with the least
 * error added per byte saved go int3 while the summed error stays within `int3MaxError` (the 3-bit model; a 4-bit tier
 * takes them back to 4 bits with their mid planes, formats/int4.ts). On MobileNet v1 the classifier and the last
 * pointwise layer are the cheap int3 bytes: a fifth of the weights each, and an int3 network error under 1.5%.
 */
import { onnx, type ModelProto } from '../runtime/onnx/proto.js';
import { denseNode } from '../runtime/onnx/build-model.js';
import { transposeF32 } from '../runtime/factors.js';
import { DataType, type FactoredLayer } from '../formats/model.js';
import type { Feeds } from '../runtime/tensor.js';
import { float32Values, type LayerCandidate } from './factorize/candidates.js';
import type { ImportedModel } from './import/onnx.js';
import { denseMatrix, type OrderedFactors } from './linalg/svd.js';
import { relativeOutputError, relativeWeightError, roundedInt4 } from './gptq.js';
import { int4Values, type Int4Matrix } from './quantize-int4.js';
import { int4Bytes, type GroupedBits, type GroupLayout } from '../formats/int4.js';
import { matrixShape, weightAxes } from './quantize-dense.js';
import { networkError } from './sensitivity.js';

/** What an int4 compile does with one weight, and why. */
export interface PrecisionChoice {
  storage: 'int3' | 'int4' | 'int8';
  rounding: 'gptq' | 'nearest';
  /** The network's relative output error with only this weight int4 (measured), or the weight's own error. */
  error: number;
  /** The same with only this weight int3, when 3 bits were tried (`minBits` 3; not for kernels always kept int8). */
  int3Error?: number;
  /** Int3 weights of a file with a 4-bit tier: the layer's own output error with the mid plane (compiler/int4-plan.ts). */
  midError?: number;
  measured: 'network' | 'layer';
  /** The weight rounded as stored (int3 when storage is 'int3', else int4), rows = output channels. */
  int4: Int4Matrix;
}

export interface PrecisionInput {
  source: Uint8Array;
  model: ImportedModel;
  /** Factored layers whose dense M (full rank) the file stores, with their factors and full rank. */
  denseFactored: Array<{ candidate: LayerCandidate; factors: OrderedFactors; rank: number }>;
  /** Weights not factored, by name: the candidates set aside (factored weights are not among them). */
  factoredWeights: ReadonlySet<string>;
  grouping: GroupLayout;
  /** Summed error allowed for the weights stored int4 (see the file comment). */
  maxError: number;
  /** With minBits 3: summed error allowed for the 3-bit model, int4 and int3 weights together (default maxError). */
  int3MaxError?: number;
  /**
   * A 4-bit tier reads the int3 weights' mid planes: int3 levels are rounded with them in one pass (compiler/gptq.ts's
   * gptqNested), the 4-bit error weighted by this against the 3-bit one. Absent: plain int3.
   */
  midWeight?: number;
  /** 3: a weight may also be stored int3 (measured like int4, but for those in keepInt8); 4 (default): int4 or int8 only. */
  minBits?: GroupedBits;
  moments: ReadonlyMap<string, Float64Array>;
  keepInt8: ReadonlySet<string>;
  /** Calibration samples to measure the network's error on; empty: each weight's own error decides. */
  samples: Feeds[];
  onProgress?: (done: number, total: number, detail: string) => void;
}

/** One weight rounded at one bit width: the matrix, the layer's own error, and the stored bytes. */
interface Rounded {
  bits: GroupedBits;
  matrix: Int4Matrix;
  layerError: number;
  bytes: number;
  /** The source model with this weight replaced by its rounded values. */
  substitute: (base: ModelProto) => Uint8Array;
}

/** One weight to decide: its int4 (and, with minBits 3, int3) forms, and its int8 bytes. */
interface Trial {
  weight: string;
  rounding: 'gptq' | 'nearest';
  int8Bytes: number;
  /** int4 first, then int3 when tried. */
  levels: Rounded[];
}

/** Every int4-able weight rounded, its error measured, and int8, int4 or int3 chosen for it (see the file comment). */
export async function choosePrecision(input: PrecisionInput): Promise<Map<string, PrecisionChoice>> {
  const trials = [...denseTrials(input), ...factoredTrials(input)];
  const base = onnx.ModelProto.decode(input.source);
  const measure = input.samples.length > 0 ? await networkError(input.source, input.samples) : undefined;
  const runs = trials.reduce((n, t) => n + t.levels.length, 0);
  const errors: number[][] = [];
  let done = 0;
  for (const t of trials) {
    const measured: number[] = [];
    for (const level of t.levels) {
      input.onProgress?.(done++, runs, `${t.weight} int${level.bits}`);
      measured.push(measure ? await measure(level.substitute(base)) : level.layerError);
    }
    errors.push(measured);
  }
  input.onProgress?.(runs, runs, '');
  // Unmeasured (no samples): every weight int4 as asked, but depthwise kernels; the weights' own errors do not say
  // what the network loses (and int3 is only ever chosen by measurement: compile refuses minBits 3 without samples).
  const steps = nestedSteps(trials.map((t, i) => (input.keepInt8.has(t.weight) ? [] : [{ bytes: t.int8Bytes, error: 0 }, ...t.levels.map((l, k) => ({ bytes: l.bytes, error: errors[i][k] }))])), measure ? input.maxError : Infinity, measure ? (input.int3MaxError ?? input.maxError) : -Infinity);
  return new Map(trials.map((t, i) => {
    const level = steps[i] > 0 ? t.levels[steps[i] - 1] : undefined;
    return [t.weight, {
      storage: level ? (`int${level.bits}` as const) : 'int8',
      rounding: t.rounding,
      error: errors[i][0],
      ...(t.levels.length > 1 ? { int3Error: errors[i][1] } : {}),
      measured: measure ? 'network' : 'layer',
      int4: (level ?? t.levels[0]).matrix,
    }];
  }));
}

/**
 * The two stages of the file comment over ladders [int8, int4] or [int8, int4, int3]: int8 → int4 within `budget4`,
 * then int4 → int3 within `budget3` for the summed error of both. Returns the rung per weight (0 int8, 1 int4, 2 int3).
 */
export function nestedSteps(ladders: ReadonlyArray<ReadonlyArray<{ bytes: number; error: number }>>, budget4: number, budget3: number): number[] {
  const four = chooseSteps(ladders.map((l) => l.slice(0, 2)), budget4);
  const spent = four.reduce((s, k, i) => s + (k > 0 ? ladders[i][k].error : 0), 0);
  const three = chooseSteps(ladders.map((l, i) => (four[i] === 1 && l.length > 2 ? l.slice(1) : [])), budget3 - spent);
  return four.map((k, i) => k + three[i]);
}

/**
 * Greedy descent of every weight's ladder under an error budget. `ladders[i]` lists weight i's options from the
 * most bytes (int8, error 0) down; empty: it stays at its first rung. Each ladder is reduced to its lower convex
 * hull, whose steps have rising error per byte saved; steps are then taken cheapest first while the summed error
 * fits, and the first step that does not fit ends the descent. Every later step costs more error per byte saved, so
 * taking one would spend budget the refused step could not use on a worse trade: MobileNet's first conv (648
 * values) went int3 that way in every file, 81 bytes saved for 1% of network error, an eighth of the 3-bit model's.
 * The choice is thus a point on the lower convex hull of the model's bytes-vs-error frontier. Returns the index of
 * the option chosen per weight.
 */
export function chooseSteps(ladders: ReadonlyArray<ReadonlyArray<{ bytes: number; error: number }>>, budget: number): number[] {
  const steps = ladders.flatMap((ladder, weight) => hull(ladder).map((s) => ({ weight, ...s })));
  steps.sort((a, b) => a.slope - b.slope);
  const chosen = ladders.map(() => 0);
  let spent = 0;
  for (const s of steps) {
    const added = ladders[s.weight][s.to].error - ladders[s.weight][chosen[s.weight]].error;
    if (spent + added > budget) break;
    chosen[s.weight] = s.to;
    spent += added;
  }
  return chosen;
}

/** The steps along the lower convex hull of a ladder (bytes falling, error rising), each as error per byte saved. */
function hull(ladder: ReadonlyArray<{ bytes: number; error: number }>): Array<{ to: number; slope: number }> {
  const out: Array<{ to: number; slope: number }> = [];
  let at = 0;
  while (at < ladder.length - 1) {
    // The next rung is the one reached at the least error per byte saved (ties: the further one).
    let [to, slope] = [-1, Infinity];
    for (let k = at + 1; k < ladder.length; k++) {
      const s = (ladder[k].error - ladder[at].error) / Math.max(1, ladder[at].bytes - ladder[k].bytes);
      if (s <= slope) [to, slope] = [k, s];
    }
    out.push({ to, slope });
    at = to;
  }
  return out;
}

/** Int8 bytes of a rows×cols matrix: one per value plus a float32 scale per row. */
function int8Bytes(rows: number, cols: number): number {
  return rows * cols + rows * 4;
}

/** The bit widths a weight is tried at. */
function widths(minBits: GroupedBits | undefined): GroupedBits[] {
  return minBits === 3 ? [4, 3] : [4];
}

/** The weights kept dense that have an output-channel axis (compiler/quantize-dense.ts's weightAxes). */
function denseTrials({ model, factoredWeights, grouping, moments, minBits, keepInt8, midWeight }: PrecisionInput): Trial[] {
  const axes = weightAxes(model.nodes, model.initializers);
  return model.initializers.flatMap((t): Trial[] => {
    const axis = axes.get(t.name);
    if (axis === undefined || factoredWeights.has(t.name)) return [];
    const values = float32Values(t);
    const [d0, rest] = matrixShape(t.dims);
    const [rows, cols] = axis === 1 ? [rest, d0] : [d0, rest];
    const M = Float64Array.from(axis === 1 ? transposeF32(values, d0, rest) : values);
    const H = moments.get(t.name);
    // A kernel kept int8 is still measured at int4 (the report says what int4 would cost it), not at int3.
    const levels = widths(keepInt8.has(t.name) ? 4 : minBits).map((bits) => rounded(M, rows, cols, H?.length === cols * cols ? H : undefined, { grouping, bits, midWeight }, (approx) => {
      const original = axis === 1 ? transposeF32(approx, rows, cols) : approx;
      return (base) => withInitializer(base, t.name, original);
    }));
    return [{ weight: t.name, rounding: levels[0].rounding, int8Bytes: int8Bytes(rows, cols), levels }];
  });
}

/** Each factored layer's dense M at full rank, which the file stores from the tier it goes dense. */
function factoredTrials({ denseFactored, grouping, moments, minBits, midWeight }: PrecisionInput): Trial[] {
  return denseFactored.map(({ candidate: c, factors, rank }) => {
    const M = denseMatrix(factors, rank, c.rows, c.cols);
    const H = moments.get(c.weight.name);
    const levels = widths(minBits).map((bits) => rounded(M, c.rows, c.cols, H, { grouping, bits, midWeight }, (approx) => (base) => withDenseLayer(base, c, approx)));
    return { weight: c.weight.name, rounding: levels[0].rounding, int8Bytes: int8Bytes(c.rows, c.cols), levels };
  });
}

/** M (rows×cols, rows = output channels) rounded at `bits`, with its own error and a way to try it in the model. */
function rounded(M: Float64Array, rows: number, cols: number, H: Float64Array | undefined, how: { grouping: GroupLayout; bits: GroupedBits; midWeight?: number }, substitute: (approx: Float32Array) => Rounded['substitute']): Rounded & { rounding: 'gptq' | 'nearest' } {
  const { grouping, bits } = how;
  const { matrix, rounding } = roundedInt4(M, rows, cols, H, grouping, bits, bits === 3 ? how.midWeight : undefined);
  const approx = int4Values(matrix);
  return {
    bits, matrix, rounding, bytes: int4Bytes(rows, cols, grouping, bits),
    layerError: H ? relativeOutputError(M, approx, rows, cols, H) : relativeWeightError(M, approx),
    substitute: substitute(Float32Array.from(approx)),
  };
}

/** The model with one initializer's values replaced. */
function withInitializer(base: ModelProto, name: string, values: Float32Array): Uint8Array {
  return onnx.ModelProto.encode(withInitializerValues(base, name, values)).finish();
}

/** The model with one float32 initializer's values replaced (same dims). */
export function withInitializerValues(base: ModelProto, name: string, values: Float32Array): ModelProto {
  const graph = base.graph!;
  const initializer = (graph.initializer ?? []).map((t) =>
    t.name === name ? onnx.TensorProto.create({ name, dataType: DataType.FLOAT, dims: t.dims, rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) }) : t,
  );
  return onnx.ModelProto.create({ ...base, graph: onnx.GraphProto.create({ ...graph, initializer }) });
}

/** The model with one layer's node reading M (rows×cols) as its weight, as the runtime builds a dense layer. */
function withDenseLayer(base: ModelProto, c: LayerCandidate, M: Float32Array): Uint8Array {
  return onnx.ModelProto.encode(withDenseWeight(base, c, M)).finish();
}

/**
 * The model with one layer's node reading M (rows×cols, rows = outputs) as its weight, as the runtime builds a dense
 * layer. The node keeps its index, so several layers can be replaced one after another.
 */
export function withDenseWeight(base: ModelProto, c: LayerCandidate, M: Float32Array): ModelProto {
  const graph = base.graph!;
  const layer = { kind: c.kind, rows: c.rows, cols: c.cols, weight: c.weight.name, weightDims: c.weight.dims } as FactoredLayer;
  const { node, tensor } = denseNode(layer, c.node, M);
  const nodes = [...(graph.node ?? [])];
  nodes.splice(c.nodeIndex, 1, node);
  const initializer = [...(graph.initializer ?? []).filter((t) => t.name !== tensor.name), tensor];
  return onnx.ModelProto.create({ ...base, graph: onnx.GraphProto.create({ ...graph, node: nodes, initializer }) });
}
