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
 */
import type { Feeds } from '../runtime/tensor.js';
import { onnx, type ModelProto } from '../runtime/onnx/proto.js';
import { floatAttr } from '../formats/attributes.js';
import type { LayerCandidate } from './factorize/candidates.js';
import { transposeF32 } from '../runtime/factors.js';
import type { ImportedModel } from './import/onnx.js';
import { choleskyWithRidge, solveCholesky } from './linalg/cholesky.js';
import { gptqInt4, quadratic } from './gptq.js';
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
  groupSize: number;
  /** A fresh pass over the calibration samples, once per level. */
  samples: () => Iterable<Feeds> | AsyncIterable<Feeds>;
  onProgress?: (done: number, total: number, detail: string) => void;
}

/** What the pass did to one weight: its output error against the original layer, before and after. */
export interface SequentialReport {
  weight: string;
  level: number;
  /** Σ‖W·x − Ŵ·x̃‖² / Σ‖W·x‖² with the first rounding, and with the new one (kept only when lower). */
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
  let rounded = withStoredWeights(onnx.ModelProto.decode(input.source), input, new Set(layers.map((c) => c.weight.name)));
  const report: SequentialReport[] = [];
  for (let level = 0; level <= deepest; level++) {
    input.onProgress?.(level, deepest + 1, `level ${level + 1}/${deepest + 1}`);
    const here = layers.filter((c) => levels.get(c.nodeIndex) === level);
    const stats = await collectPairedStats(input.source, onnx.ModelProto.encode(rounded).finish(), input.model, here, input.samples());
    for (const c of here) {
      const first = choices.get(c.weight.name)!;
      const { matrix, entry } = reround(c, first.int4, stats.get(c.node.name)!, input.groupSize, level);
      report.push(entry);
      if (entry.kept === 'sequential') choices.set(c.weight.name, { ...first, int4: matrix });
      rounded = withDenseWeight(rounded, c, Float32Array.from(int4Values(choices.get(c.weight.name)!.int4)));
    }
  }
  input.onProgress?.(deepest + 1, deepest + 1, '');
  return { choices, report };
}

/**
 * The model with every weight this pass does not round again as the file stores it: int8 ones (depthwise kernels,
 * sensitive layers) per channel to nearest, int4 ones rounded to nearest (tables, inputs too wide for GPTQ). Their
 * error is small or fixed, but every layer downstream sees it, and sequential rounding can compensate it.
 */
function withStoredWeights(base: ModelProto, { model, layers, factored, choices }: SequentialInput, redone: ReadonlySet<string>): ModelProto {
  const axes = weightAxes(model.nodes, model.initializers);
  let out = base;
  for (const [weight, choice] of choices) {
    if (redone.has(weight)) continue;
    // As stored, rows = output channels (int8: the same per-channel quantiser the file uses).
    const m = choice.int4;
    const values = choice.storage === 'int8' ? int8RoundTrip(Float32Array.from(m.target!), [m.rows, m.length], 0) : Float32Array.from(int4Values(m));
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

/** One layer rounded again against its paired stats; the first rounding stays if the new one is not better. */
function reround(c: LayerCandidate, first: Int4Matrix, stats: PairedStats, groupSize: number, level: number): { matrix: Int4Matrix; entry: SequentialReport } {
  const { rows, length: n } = first;
  const W = first.target!;
  const N = Math.max(1, stats.samples);
  const H = stats.stored.map((v) => v / N);
  const CtW = crossTimesWeights(W, rows, n, stats.cross.map((v) => v / N));
  const target = asymmetricTarget(W, rows, n, H, CtW, N);
  const again = fitGroupScales(gptqInt4(target, rows, n, H, groupSize, first.bits ?? 4), target, H);
  // The low plane (8-bit tier) refines towards W against the original inputs, as before.
  const matrix: Int4Matrix = { ...again, target: W, moment: first.moment };
  let scale = 0;
  for (let r = 0; r < rows; r++) scale += quadratic(W.subarray(r * n, (r + 1) * n), first.moment ?? H, n);
  scale ||= 1;
  const before = objective(int4Values(first), rows, n, H, CtW, scale);
  const after = objective(int4Values(again), rows, n, H, CtW, scale);
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
function objective(approx: Float64Array, rows: number, n: number, H: Float64Array, CtW: Float64Array, scale: number): number {
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const a = approx.subarray(r * n, (r + 1) * n);
    let cross = 0;
    for (let i = 0; i < n; i++) cross += a[i] * CtW[r * n + i];
    total += quadratic(a, H, n) - 2 * cross;
  }
  return (total + scale) / scale;
}
