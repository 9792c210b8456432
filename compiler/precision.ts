/**
 * The precision pass of an int4 compile: which weights are stored int4 and which stay int8, by measurement.
 *
 * Every weight an int4 file may store as int4 (the weights kept dense, and the dense M of each factored layer at
 * full rank) is rounded once here (GPTQ against its inputs' moment where calibration reached it, else to nearest).
 * With calibration samples, each is then put alone into the original model and the network's outputs on those
 * samples are compared with the original's: relative squared error summed over outputs, as the rank sensitivity
 * (sensitivity.ts) measures it. A layer's own output error says little about accuracy (MobileNet's pointwise
 * layers each lose < 0.3% of their output energy to int4, yet all of them together cost 7 points of top-1), the
 * network's output error says more. Errors of different weights roughly add up, so the pass keeps int4 for the
 * weights with the least error per byte saved while the sum stays within the budget; the rest stay int8.
 * Without samples nothing says what the network loses: every weight is int4, as asked (each weight's own error is
 * still reported: output error with a moment, else weight error). Depthwise and grouped conv kernels always stay int8 (`keepInt8`): a few values per channel, and fragile.
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
import { int4Bytes } from '../formats/int4.js';
import { matrixShape, weightAxes } from './quantize-dense.js';
import { networkError } from './sensitivity.js';

/** What an int4 compile does with one weight, and why. */
export interface PrecisionChoice {
  storage: 'int4' | 'int8';
  rounding: 'gptq' | 'nearest';
  /** The network's relative output error with only this weight int4 (measured), or the weight's own error. */
  error: number;
  measured: 'network' | 'layer';
  /** The weight rounded to int4, rows = output channels (stored as it is when storage is 'int4'). */
  int4: Int4Matrix;
}

export interface PrecisionInput {
  source: Uint8Array;
  model: ImportedModel;
  /** Factored layers whose dense M (full rank) the file stores, with their factors and full rank. */
  denseFactored: Array<{ candidate: LayerCandidate; factors: OrderedFactors; rank: number }>;
  /** Weights not factored, by name: the candidates set aside (factored weights are not among them). */
  factoredWeights: ReadonlySet<string>;
  groupSize: number;
  /** Summed error allowed for the weights stored int4 (see the file comment). */
  maxError: number;
  moments: ReadonlyMap<string, Float64Array>;
  keepInt8: ReadonlySet<string>;
  /** Calibration samples to measure the network's error on; empty: each weight's own error decides. */
  samples: Feeds[];
  onProgress?: (done: number, total: number, detail: string) => void;
}

/** One weight to decide: its int4 form, its bytes saved over int8, and how to put it into the source model. */
interface Trial {
  weight: string;
  rounding: 'gptq' | 'nearest';
  int4: Int4Matrix;
  layerError: number;
  saved: number;
  substitute: (base: ModelProto) => Uint8Array;
}

/** Every int4-able weight rounded, its error measured, and int4 or int8 chosen for it (see the file comment). */
export async function choosePrecision(input: PrecisionInput): Promise<Map<string, PrecisionChoice>> {
  const trials = [...denseTrials(input), ...factoredTrials(input)];
  const base = onnx.ModelProto.decode(input.source);
  const errors: number[] = [];
  const measure = input.samples.length > 0 ? await networkError(input.source, input.samples) : undefined;
  for (const [i, t] of trials.entries()) {
    input.onProgress?.(i, trials.length, t.weight);
    errors.push(measure ? await measure(t.substitute(base)) : t.layerError);
  }
  input.onProgress?.(trials.length, trials.length, '');
  // Cheapest error per byte saved first, while the summed error stays within the budget. Unmeasured (no samples):
  // every weight int4 as asked, but depthwise kernels; the weights' own errors do not say what the network loses.
  const budget = measure ? input.maxError : Infinity;
  const order = trials.map((_, i) => i).sort((a, b) => errors[a] / trials[a].saved - errors[b] / trials[b].saved);
  const int4 = new Set<number>();
  let spent = 0;
  for (const i of order) {
    if (input.keepInt8.has(trials[i].weight) || spent + errors[i] > budget) continue;
    int4.add(i);
    spent += errors[i];
  }
  return new Map(trials.map((t, i) => [t.weight, { storage: int4.has(i) ? 'int4' : 'int8', rounding: t.rounding, error: errors[i], measured: measure ? 'network' : 'layer', int4: t.int4 }]));
}

/** Int8 bytes (one per value plus a float32 scale per row) less int4 bytes of a rows×cols matrix. */
function bytesSaved(rows: number, cols: number, groupSize: number): number {
  return Math.max(1, rows * cols + rows * 4 - int4Bytes(rows, cols, groupSize));
}

/** The weights kept dense that have an output-channel axis (compiler/quantize-dense.ts's weightAxes). */
function denseTrials({ model, factoredWeights, groupSize, moments }: PrecisionInput): Trial[] {
  const axes = weightAxes(model.nodes, model.initializers);
  return model.initializers.flatMap((t): Trial[] => {
    const axis = axes.get(t.name);
    if (axis === undefined || factoredWeights.has(t.name)) return [];
    const values = float32Values(t);
    const [d0, rest] = matrixShape(t.dims);
    const [rows, cols] = axis === 1 ? [rest, d0] : [d0, rest];
    const M = Float64Array.from(axis === 1 ? transposeF32(values, d0, rest) : values);
    const H = moments.get(t.name);
    const { matrix, rounding } = roundedInt4(M, rows, cols, H, groupSize);
    const approx = int4Values(matrix);
    const rounded = Float32Array.from(approx);
    const original = axis === 1 ? transposeF32(rounded, rows, cols) : rounded;
    return [{
      weight: t.name, rounding, int4: matrix, saved: bytesSaved(rows, cols, groupSize),
      layerError: H && H.length === cols * cols ? relativeOutputError(M, approx, rows, cols, H) : relativeWeightError(M, approx),
      substitute: (base) => withInitializer(base, t.name, original),
    }];
  });
}

/** Each factored layer's dense M at full rank, which the file stores from the tier it goes dense. */
function factoredTrials({ denseFactored, groupSize, moments }: PrecisionInput): Trial[] {
  return denseFactored.map(({ candidate: c, factors, rank }) => {
    const M = denseMatrix(factors, rank, c.rows, c.cols);
    const H = moments.get(c.weight.name);
    const { matrix, rounding } = roundedInt4(M, c.rows, c.cols, H, groupSize);
    const approx = int4Values(matrix);
    return {
      weight: c.weight.name, rounding, int4: matrix, saved: bytesSaved(c.rows, c.cols, groupSize),
      layerError: H ? relativeOutputError(M, approx, c.rows, c.cols, H) : relativeWeightError(M, approx),
      substitute: (base) => withDenseLayer(base, c, Float32Array.from(approx)),
    };
  });
}

/** The model with one initializer's values replaced. */
function withInitializer(base: ModelProto, name: string, values: Float32Array): Uint8Array {
  const graph = base.graph!;
  const initializer = (graph.initializer ?? []).map((t) =>
    t.name === name ? onnx.TensorProto.create({ name, dataType: DataType.FLOAT, dims: t.dims, rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) }) : t,
  );
  return onnx.ModelProto.encode(onnx.ModelProto.create({ ...base, graph: onnx.GraphProto.create({ ...graph, initializer }) })).finish();
}

/** The model with one layer's node reading M (rows×cols) as its weight, as the runtime builds a dense layer. */
function withDenseLayer(base: ModelProto, c: LayerCandidate, M: Float32Array): Uint8Array {
  const graph = base.graph!;
  const layer = { kind: c.kind, rows: c.rows, cols: c.cols, weight: c.weight.name, weightDims: c.weight.dims } as FactoredLayer;
  const { node, tensor } = denseNode(layer, c.node, M);
  const nodes = [...(graph.node ?? [])];
  nodes.splice(c.nodeIndex, 1, node);
  const initializer = [...(graph.initializer ?? []).filter((t) => t.name !== tensor.name), tensor];
  return onnx.ModelProto.encode(onnx.ModelProto.create({ ...base, graph: onnx.GraphProto.create({ ...graph, node: nodes, initializer }) })).finish();
}
