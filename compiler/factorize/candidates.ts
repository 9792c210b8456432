import { float32Copy } from '../../runtime/factors.js';
import type { LayerKind, NodeDef } from '../../formats/model.js';
import { DataType } from '../../formats/model.js';
import type { ImportedModel, ImportedTensor } from '../import/onnx.js';
import { floatAttr, intAttr } from '../../formats/attributes.js';

/**
 * A node whose constant weight can be written as a matrix M (rows = outputs, cols = inputs, y = M·x)
 * and therefore replaced by two thinner nodes. See formats/model.ts for the conventions.
 */
export interface LayerCandidate {
  nodeIndex: number;
  node: NodeDef;
  kind: LayerKind;
  weight: ImportedTensor;
  rows: number;
  cols: number;
  /** M in float64, row-major rows×cols (alpha of Gemm folded in). */
  matrix(): Float64Array;
}

export interface CandidateOptions {
  /** Layers with fewer weights than this stay dense: they cost more in node overhead than they save. */
  minParams: number;
}

export const DEFAULT_MIN_PARAMS = 4096;

/** Find every node we know how to factor. Anything else (quantised ops, depthwise convs, ...) stays as it is. */
export function findCandidates(model: ImportedModel, options: CandidateOptions = { minParams: DEFAULT_MIN_PARAMS }): LayerCandidate[] {
  const consts = new Map(model.initializers.map((t) => [t.name, t]));
  const uses = new Map<string, number>();
  for (const n of model.nodes) for (const i of n.inputs) uses.set(i, (uses.get(i) ?? 0) + 1);
  const graphOutputs = new Set(model.outputs.map((o) => o.name));

  const found: LayerCandidate[] = [];
  model.nodes.forEach((node, nodeIndex) => {
    const c = asCandidate(node, nodeIndex, consts);
    if (!c) return;
    // A weight shared by several nodes or exposed as an output must keep its dense form.
    if (uses.get(c.weight.name) !== 1 || graphOutputs.has(c.weight.name)) return;
    if (c.rows * c.cols < options.minParams) return;
    // Factoring pays only if some rank r ≥ 1 has r·(m+n) < m·n.
    if (c.rows + c.cols >= c.rows * c.cols) return;
    found.push(c);
  });
  return found;
}

export function float32Values(t: ImportedTensor): Float32Array {
  // Copy: the source bytes may not be 4-byte aligned inside the protobuf buffer.
  return float32Copy(t.data, 0, t.data.length / 4);
}

function asCandidate(node: NodeDef, nodeIndex: number, consts: Map<string, ImportedTensor>): LayerCandidate | undefined {
  if (node.domain !== '' && node.domain !== 'ai.onnx') return undefined;
  const isFloatConst = (name: string | undefined, rank: number): ImportedTensor | undefined => {
    const t = name === undefined ? undefined : consts.get(name);
    return t && t.dataType === DataType.FLOAT && t.dims.length === rank ? t : undefined;
  };
  switch (node.opType) {
    case 'MatMul': {
      const w = isFloatConst(node.inputs[1], 2);
      if (!w || consts.has(node.inputs[0])) return undefined;
      const [K, N] = w.dims;
      // M = Wᵀ: row j of M is column j of W.
      return {
        nodeIndex, node, kind: 'matmul', weight: w, rows: N, cols: K,
        matrix: () => transpose(float32Values(w), K, N, 1),
      };
    }
    case 'Gemm': {
      const w = isFloatConst(node.inputs[1], 2);
      if (!w || consts.has(node.inputs[0])) return undefined;
      const alpha = floatAttr(node, 'alpha', 1);
      const transB = intAttr(node, 'transB', 0) === 1;
      const [d0, d1] = w.dims;
      if (transB) {
        // B is N×K already: M = alpha·B.
        return { nodeIndex, node, kind: 'gemm', weight: w, rows: d0, cols: d1, matrix: () => scaled(float32Values(w), alpha) };
      }
      return { nodeIndex, node, kind: 'gemm', weight: w, rows: d1, cols: d0, matrix: () => transpose(float32Values(w), d0, d1, alpha) };
    }
    case 'Conv': {
      const w = consts.get(node.inputs[1]);
      if (!w || w.dataType !== DataType.FLOAT || w.dims.length < 3 || consts.has(node.inputs[0])) return undefined;
      if (intAttr(node, 'group', 1) !== 1) return undefined; // depthwise/grouped convs are out of scope
      const [O, ...rest] = w.dims;
      const cols = rest.reduce((a, b) => a * b, 1);
      return { nodeIndex, node, kind: 'conv', weight: w, rows: O, cols, matrix: () => scaled(float32Values(w), 1) };
    }
    default:
      return undefined;
  }
}

function transpose(a: Float32Array, r: number, c: number, alpha: number): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = alpha * a[i * c + j];
  return out;
}

function scaled(a: Float32Array, alpha: number): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = alpha * a[i];
  return out;
}

const WEIGHT_OPS = new Set(['MatMul', 'Gemm', 'Conv']);

/**
 * Names of the model's first and last weight layers (MatMul/Gemm/Conv), factorable or not. OIALR keeps
 * these dense: the first sees raw pixels, the last decides the class, and both are small relative to
 * what they cost in accuracy.
 */
export function endLayerNames(model: ImportedModel): Set<string> {
  const layers = model.nodes.filter((n) => WEIGHT_OPS.has(n.opType));
  return new Set(layers.length ? [layers[0].name, layers[layers.length - 1].name] : []);
}

/** A convolutional classifier: it has convolutions and one output of rank 2 ([N, classes]). */
export function isConvClassifier(model: ImportedModel): boolean {
  return model.nodes.some((n) => n.opType === 'Conv') && model.outputs.length >= 1 && model.outputs[0].shape.length === 2;
}

// ---------------------------------------------------------------------------------------------------------
// Layers that are already factored (see ./prefactored.ts).

/**
 * The candidate reading of one node, with none of findCandidates' sharing, size or break-even checks:
 * prefactored.ts uses it to read both nodes of a factored pair in the conventions of this file.
 */
export function nodeAsCandidate(model: ImportedModel, nodeIndex: number): LayerCandidate | undefined {
  return asCandidate(model.nodes[nodeIndex], nodeIndex, new Map(model.initializers.map((t) => [t.name, t])));
}

/** What a node with known factors needs to become a candidate: its layout and its factors (M = leftᵀ·right). */
export interface KnownLayer {
  kind: LayerKind;
  rows: number;
  cols: number;
  /** Synthetic weight name: it is not among the model's initializers. */
  weight: string;
  weightDims: number[];
  rank: number;
  left: Float64Array;
  right: Float64Array;
}

/**
 * `found` (from findCandidates) plus one candidate for every node in `known`, in node order. Such a node's
 * weight is not stored in the model: its `weight` has the synthetic name and dims and no data, and its
 * `matrix()` multiplies the known factors out. The compiler takes the factors from `known` instead of calling
 * matrix() (compiler/compile.ts).
 */
export function withKnownCandidates(found: LayerCandidate[], model: ImportedModel, known: ReadonlyMap<string, KnownLayer>): LayerCandidate[] {
  if (known.size === 0) return found;
  const extra: LayerCandidate[] = [];
  model.nodes.forEach((node, nodeIndex) => {
    const k = known.get(node.name);
    if (!k) return;
    extra.push({
      nodeIndex, node, kind: k.kind, rows: k.rows, cols: k.cols,
      weight: { name: k.weight, dataType: DataType.FLOAT, dims: k.weightDims, data: new Uint8Array(0) },
      matrix: () => {
        const M = new Float64Array(k.rows * k.cols);
        for (let i = 0; i < k.rank; i++) {
          for (let r = 0; r < k.rows; r++) {
            const a = k.left[i * k.rows + r];
            if (a === 0) continue;
            for (let c = 0; c < k.cols; c++) M[r * k.cols + c] += a * k.right[i * k.cols + c];
          }
        }
        return M;
      },
    });
  });
  const names = new Set(extra.map((c) => c.node.name));
  return [...found.filter((c) => !names.has(c.node.name)), ...extra].sort((a, b) => a.nodeIndex - b.nodeIndex);
}
