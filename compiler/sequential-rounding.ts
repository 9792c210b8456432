/**
 * Sequential rounding, the recover step of a calibrated int4 compile. The precision pass (compiler/precision.ts)
 * rounds each weight by GPTQ against its inputs x in the ORIGINAL network; in the file, a layer sees inputs x̃ that
 * every rounded layer upstream has already moved. Here the weights stored int4 or int3 are rounded again, in order of
 * depth, each against the network with everything upstream already as stored, for the original layer's output:
 *
 *   min over rounded Ŵ of  Σ ‖W·x − Ŵ·x̃‖²  =  Σ ‖(W* − Ŵ)·x̃‖² + const,
 *   W* = W·Σx·x̃ᵀ·(Σx̃·x̃ᵀ)⁻¹      (ridge-pulled towards W: W* = W·(Σx·x̃ᵀ + λI)·(Σx̃·x̃ᵀ + λI)⁻¹, λ = tr(Σx̃·x̃ᵀ)/N)
 *
 * so GPTQ of W* against x̃'s moment is the answer (the GPTQ paper's sequential variant with the original layer's output
 * as target; GPTAQ, Li et al. 2025, derives the same asymmetric objective). λ is refit's shrinkage (compiler/refit.ts):
 * negligible for convolutions, which see thousands of positions, and it holds layers after global pooling (one vector
 * per image) near W. After GPTQ each row's group scales are refitted for the same objective (compiler/fit-scales.ts).
 * A layer keeps its first rounding when the new one does not lower the objective on these samples (its constant,
 * Σ‖W·x‖², comes from calibration's moment of x).
 *
 * Measured (MobileNet v1 0.75, held-out images 250–499, relative squared error of the logits against the original):
 * the int4 file's full tier 0.059 → 0.044, the int3 file (`--min-bits 3`, budget 0.12) 0.115 → 0.088; mnist-cnn's
 * int3 file 0.0091 → 0.0034 (test/runtime/int4-mnist.test.ts). Bytes and precision choices are unchanged.
 *
 * Depth: a layer's level is the number of re-rounded layers on the longest path to it. One paired pass over the
 * samples per level (compiler/paired-stats.ts) serves all of that level's layers (e.g. Q, K and V of one block).
 * The weights it does not round again (int8 ones, int4 ones rounded to nearest) are in the rounded network as stored
 * too, so the layers after them compensate their error as well.
 * The low plane of an 8-bit tier still refines towards W with the original moment: that tier runs without the 4-bit
 * error upstream that W* compensates.
 *
 * Nested files (int3 weights and a 4-bit tier, formats/int4.ts): the two tiers run two networks, the 3-bit one (int3
 * weights as q·scale) and the 4-bit one (with their mid planes), and a layer downstream of an int3 weight sees different
 * inputs in each. Compensating only the 3-bit network's error would overcompensate at 4 bits: on mnist-cnn the 4-bit
 * tier's held-out logit error came out above the 3-bit tier's. So each level takes paired stats of both networks. An
 * int3 weight's values and mid bits are rounded together (compiler/gptq.ts's gptqNested), each against its own
 * network's W* and x̃; an int4 weight runs in both, and is rounded for the sum of both objectives, which has the same
 * form with the moments summed (the 4-bit one weighted by midWeight). Its before/after are that weighted mean.
 */
import type { GroupLayout } from '../formats/int4.js';
import type { Feeds } from '../runtime/tensor.js';
import { onnx, type ModelProto } from '../runtime/onnx/proto.js';
import { floatAttr } from '../formats/attributes.js';
import type { LayerCandidate } from './factorize/candidates.js';
import { transposeF32 } from '../runtime/factors.js';
import type { ImportedModel } from './import/onnx.js';
import { choleskyWithRidge, solveCholesky } from './linalg/cholesky.js';
import { gptqInt4, gptqNested, quadratic } from './gptq.js';
import { fitGroupScales } from './fit-scales.js';
import { collectPairedStats, type PairedStats } from './paired-stats.js';
import { withDenseWeight, withInitializerValues, type PrecisionChoice } from './precision.js';
import { int8RoundTrip, weightAxes } from './quantize-dense.js';
import { int4Values, type Int4Matrix } from './quantize-int4.js';

export interface SequentialInput {
  /** The model every pass runs (compile's merged source); its nodes match `model`'s. */
  source: Uint8Array;
  model: ImportedModel;
  /** The layers whose weights the precision pass decided (dense weights and factored layers' dense M). */
  layers: readonly LayerCandidate[];
  /** Weights of factored layers among `layers`: the file stores their dense M (the node runs it as its weight). */
  factored: ReadonlySet<string>;
  choices: ReadonlyMap<string, PrecisionChoice>;
  grouping: GroupLayout;
  /** A fresh pass over the calibration samples, once per level (twice with nested int3). */
  samples: () => Iterable<Feeds> | AsyncIterable<Feeds>;
  /**
   * The file has a 4-bit tier and its int3 choices carry mid planes (compiler/gptq.ts's gptqNested): the pass tracks
   * the 4-bit tier's network too, and weighs its error by this against the 3-bit tier's.
   */
  midWeight?: number;
  onProgress?: (done: number, total: number, detail: string) => void;
}

/** What the pass did to one weight: its output error against the original layer, before and after. */
export interface SequentialReport {
  weight: string;
  level: number;
  /**
   * Σ‖W·x − Ŵ·x̃‖² / Σ‖W·x‖² with the first rounding, and with the new one (kept only when lower). Nested: the mean
   * over the 3-bit and the 4-bit tiers' networks, the 4-bit one weighted by midWeight.
   */
  before: number;
  after: number;
  kept: 'sequential' | 'first';
}

/** The choices with every int4/int3 GPTQ weight rounded again against its inputs as stored upstream (file comment). */
export async function roundSequentially(input: SequentialInput): Promise<{ choices: Map<string, PrecisionChoice>; report: SequentialReport[] }> {
  const choices = new Map(input.choices);
  const layers = input.layers.filter((c) => redoable(c, choices.get(c.weight.name)));
  const levels = depthLevels(input.model, new Set(layers.map((c) => c.nodeIndex)));
  const deepest = Math.max(-1, ...layers.map((c) => levels.get(c.nodeIndex)!));
  const redone = new Set(layers.map((c) => c.weight.name));
  const base = onnx.ModelProto.decode(input.source);
  // The network of the tiers run as stored (int3 weights at 3 bits) and, nested, that of the 4-bit tiers.
  const nested = input.midWeight !== undefined && [...choices.values()].some((c) => c.int4.mid);
  let rounded = withStoredWeights(base, input, redone, false);
  let rounded4 = nested ? withStoredWeights(base, input, redone, true) : undefined;
  const report: SequentialReport[] = [];
  for (let level = 0; level <= deepest; level++) {
    input.onProgress?.(level, deepest + 1, `level ${level + 1}/${deepest + 1}`);
    const here = layers.filter((c) => levels.get(c.nodeIndex) === level);
    const stats = await collectPairedStats(input.source, onnx.ModelProto.encode(rounded).finish(), input.model, here, input.samples());
    const stats4 = rounded4 && (await collectPairedStats(input.source, onnx.ModelProto.encode(rounded4).finish(), input.model, here, input.samples()));
    for (const c of here) {
      const first = choices.get(c.weight.name)!;
      const tiers = { three: stats.get(c.node.name)!, four: stats4?.get(c.node.name), midWeight: input.midWeight ?? 0 };
      const { matrix, entry } = reround(c, first.int4, tiers, input.grouping, level);
      report.push(entry);
      if (entry.kept === 'sequential') choices.set(c.weight.name, { ...first, int4: matrix });
      const stored = choices.get(c.weight.name)!.int4;
      rounded = withDenseWeight(rounded, c, Float32Array.from(int4Values(stored)));
      if (rounded4) rounded4 = withDenseWeight(rounded4, c, Float32Array.from(int4Values(stored, true)));
    }
  }
  input.onProgress?.(deepest + 1, deepest + 1, '');
  return { choices, report };
}

/**
 * The model with every weight this pass does not round again as the file stores it: int8 ones (depthwise kernels,
 * sensitive layers) per channel to nearest, int4 ones rounded to nearest (tables, inputs too wide for GPTQ). Their
 * error is small or fixed, but every layer downstream sees it, and sequential rounding can compensate it.
 * `withMid`: as the 4-bit tiers run them (int3 weights with their mid planes).
 */
function withStoredWeights(base: ModelProto, { model, layers, factored, choices }: SequentialInput, redone: ReadonlySet<string>, withMid: boolean): ModelProto {
  const axes = weightAxes(model.nodes, model.initializers);
  let out = base;
  for (const [weight, choice] of choices) {
    if (redone.has(weight)) continue;
    // As stored, rows = output channels (int8: the same per-channel quantiser the file uses).
    const m = choice.int4;
    const values = choice.storage === 'int8' ? int8RoundTrip(Float32Array.from(m.target!), [m.rows, m.length], 0) : Float32Array.from(int4Values(m, withMid));
    const layer = factored.has(weight) ? layers.find((c) => c.weight.name === weight) : undefined;
    if (layer) {
      out = withDenseWeight(out, layer, values);
      continue;
    }
    const axis = axes.get(weight);
    if (axis !== undefined) out = withInitializerValues(out, weight, axis === 1 ? transposeF32(values, m.rows, m.length) : values);
  }
  return out;
}

/** Stored int4/int3 after GPTQ (so a moment reached it), and not a Gemm whose alpha the rounded values leave out. */
function redoable(c: LayerCandidate, choice: PrecisionChoice | undefined): boolean {
  return !!choice && choice.storage !== 'int8' && choice.rounding === 'gptq' && !(c.kind === 'gemm' && floatAttr(c.node, 'alpha', 1) !== 1);
}

/** Level of each marked node: how many marked nodes lie on the longest path into it (nodes in topological order). */
export function depthLevels(model: ImportedModel, marked: ReadonlySet<number>): Map<number, number> {
  const tensorLevel = new Map<string, number>();
  const out = new Map<number, number>();
  model.nodes.forEach((node, i) => {
    const level = Math.max(0, ...node.inputs.map((t) => tensorLevel.get(t) ?? 0));
    if (marked.has(i)) out.set(i, level);
    for (const t of node.outputs) tensorLevel.set(t, level + (marked.has(i) ? 1 : 0));
  });
  return out;
}

/** One layer's objective in one network: its inputs' moment H, the cross term Cᵀ·W, the target W*, and Σ‖W·x‖². */
interface LayerObjective {
  H: Float64Array;
  CtW: Float64Array;
  target: Float64Array;
  scale: number;
}

/** The objective of the file comment for weights W (rows×n) from one network's paired stats. */
function layerObjective(W: Float64Array, rows: number, n: number, stats: PairedStats, original: Float64Array | undefined): LayerObjective {
  const N = Math.max(1, stats.samples);
  const H = stats.stored.map((v) => v / N);
  const CtW = crossTimesWeights(W, rows, n, stats.cross.map((v) => v / N));
  let scale = 0;
  for (let r = 0; r < rows; r++) scale += quadratic(W.subarray(r * n, (r + 1) * n), original ?? H, n);
  return { H, CtW, target: asymmetricTarget(W, rows, n, H, CtW, N), scale: scale || 1 };
}

/**
 * Σ‖W·x − Ŵ·x̃₃‖² + w·Σ‖W·x − Ŵ·x̃₄‖² over the two tiers' networks is one objective of the same form, with the
 * moments summed: a weight stored int4 runs at both tiers, and its rounding serves both.
 */
function combined(three: PairedStats, four: PairedStats, w: number): PairedStats {
  const mix = (a: Float64Array, b: Float64Array) => a.map((v, i) => (v + w * b[i]) / (1 + w));
  return { stored: mix(three.stored, four.stored), cross: mix(three.cross, four.cross), samples: three.samples };
}

/**
 * One layer rounded again against its paired stats; the first rounding stays if the new one is not better. With the
 * 4-bit tiers' stats (nested): an int3 weight's values and mid bits are rounded for both networks (gptqNested), an
 * int4 one for their combined objective.
 */
function reround(c: LayerCandidate, first: Int4Matrix, tiers: { three: PairedStats; four?: PairedStats; midWeight: number }, grouping: GroupLayout, level: number): { matrix: Int4Matrix; entry: SequentialReport } {
  const { rows, length: n } = first;
  const W = first.target!;
  const { three, four, midWeight: w } = tiers;
  let again: Int4Matrix;
  let error: (m: Int4Matrix) => number;
  if (four && first.mid) {
    const [o3, o4] = [layerObjective(W, rows, n, three, first.moment), layerObjective(W, rows, n, four, first.moment)];
    // No scale refit here: refitted for e₃ + w·e₄, the larger 3-bit error decides the scales and the 4-bit tier lost
    // (mnist-cnn, mid weight 1: its held-out logit error 0.00175 → 0.00202, the 3-bit tier's 0.0038 → 0.0035).
    again = gptqNested({ M: o3.target, H: o3.H }, { M: o4.target, H: o4.H }, rows, n, grouping, w);
    error = (m) => (objective(int4Values(m), rows, n, o3) + w * objective(int4Values(m, true), rows, n, o4)) / (1 + w);
  } else {
    const o = layerObjective(W, rows, n, four ? combined(three, four, w) : three, first.moment);
    again = fitGroupScales(gptqInt4(o.target, rows, n, o.H, grouping, first.bits ?? 4), o.target, o.H);
    error = (m) => objective(int4Values(m), rows, n, o);
  }
  // The low plane (8-bit tier) refines towards W against the original inputs, as before.
  const matrix: Int4Matrix = { ...again, target: W, moment: first.moment };
  const [before, after] = [error(first), error(again)];
  const kept = after < before ? 'sequential' : 'first';
  return { matrix: kept === 'sequential' ? matrix : first, entry: { weight: c.weight.name, level, before, after, kept } };
}

/**
 * Row r: Cᵀ·W[r] = E[x̃·(W[r]·x)] (C = E[x·x̃ᵀ], a moment per vector), rows×n: the cross term both the target and the
 * objective need, computed once.
 */
function crossTimesWeights(W: Float64Array, rows: number, n: number, C: Float64Array): Float64Array {
  const out = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    const [w, o] = [W.subarray(r * n, (r + 1) * n), out.subarray(r * n, (r + 1) * n)];
    for (let j = 0; j < n; j++) {
      if (w[j] === 0) continue;
      for (let i = 0; i < n; i++) o[i] += C[j * n + i] * w[j];
    }
  }
  return out;
}

/** W* = W·(C + λI)·(H + λI)⁻¹ with λ = tr(H)/N (H, C: moments per vector, N vectors; CtW: row r = Cᵀ·W[r]), rows×n. */
function asymmetricTarget(W: Float64Array, rows: number, n: number, H: Float64Array, CtW: Float64Array, N: number): Float64Array {
  let trace = 0;
  for (let i = 0; i < n; i++) trace += H[i * n + i];
  const lambda = trace / N;
  const S = Float64Array.from(H);
  for (let i = 0; i < n; i++) S[i * n + i] += lambda;
  // Right-hand sides n×rows: column r = (Cᵀ + λI)·W[r].
  const R = new Float64Array(n * rows);
  for (let r = 0; r < rows; r++) for (let i = 0; i < n; i++) R[i * rows + r] = CtW[r * n + i] + lambda * W[r * n + i];
  const X = solveCholesky(choleskyWithRidge(S, n).L, n, R, rows);
  const out = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) for (let i = 0; i < n; i++) out[r * n + i] = X[i * rows + r];
  return out;
}

/**
 * E‖W·x − Ŵ·x̃‖² / scale, with scale = E‖W·x‖² standing for the term every Ŵ shares: Σ_r (Ŵ[r]ᵀ·H·Ŵ[r] − 2·Ŵ[r]·Cᵀ·W[r])
 * plus scale, over scale.
 */
function objective(approx: Float64Array, rows: number, n: number, { H, CtW, scale }: LayerObjective): number {
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const a = approx.subarray(r * n, (r + 1) * n);
    let cross = 0;
    for (let i = 0; i < n; i++) cross += a[i] * CtW[r * n + i];
    total += quadratic(a, H, n) - 2 * cross;
  }
  return (total + scale) / scale;
}
