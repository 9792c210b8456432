/**
 * Layers that are already low rank: two consecutive weight nodes with nothing between them, y = M₂·(M₁·x),
 * M₁ r×n and M₂ m×r with r ≤ min(m, n). That is what an OIALR-trained model exported as U·S·Vᵀ looks like,
 * a LoRA-style pair, or a model written by `lowrank export`. Recognised pairs:
 *
 *  - MatMul/Gemm(x, U) → MatMul/Gemm(h, V), constant float32 weights, the second Gemm with transA = 0;
 *  - Conv(x, W₁[r, I, k…]) → Conv(h, W₂[m, r, 1…]) with group 1, the second pointwise (strides 1, no pads);
 *
 * where h is used by the second node only (not a graph output, not read inside a subgraph) and each weight
 * is used by its node only. A bias on the first node is folded into the second's (y = M₂M₁x + M₂b₁ + b₂)
 * when it is a constant vector and the second's bias is one too (or absent); an all-zero one is dropped;
 * anything else leaves the pair alone. So do pairs that would not be factored anyway (fewer than
 * `minParams` weights in M₂M₁, no rank below break-even) and, with keep-ends, pairs holding an end layer.
 *
 * Each pair becomes one node of the merged layer (MatMul when both were MatMul, else Gemm with transB = 1;
 * Conv with the first conv's attributes) whose weight has a synthetic name and is not stored: its factors
 * are known. They are orthonormalised and ordered without touching an m×n matrix: M₂ = Q_A·R_A and
 * M₁ᵀ = Q_B·R_B (thin QR), the r×r core R_A·R_Bᵀ = U·Σ·Vᵀ (orderedFactors), M = (Q_A·U)·Σ·(Q_B·V)ᵀ, exact at
 * full rank (a side with r = m or r = n needs no QR). The compiler takes them from `known` instead of
 * decomposing (compiler/compile.ts).
 */
import type { Attribute, LayerKind, NodeDef } from '../../formats/model.js';
import { DataType } from '../../formats/model.js';
import { onnx, type AttributeProto, type NodeProto, type TensorProto } from '../../runtime/onnx/proto.js';
import type { ImportedModel, ImportedTensor } from '../import/onnx.js';
import { orderedFactors, type OrderedFactors } from '../linalg/svd.js';
import { whitenedFactors } from '../linalg/whitened.js';
import { DEFAULT_MIN_PARAMS, endLayerNames, float32Values, isConvClassifier, nodeAsCandidate, type KnownLayer, type LayerCandidate } from './candidates.js';
import { floatAttr, intAttr, intsAttr } from '../../formats/attributes.js';

/** Factors of a merged pair, σ descending, with the layout of the node that replaced the pair. */
export interface KnownFactors extends OrderedFactors, KnownLayer {
  /** Names of the two source nodes (input side first). */
  pair: [string, string];
}

export interface PrefactorOptions {
  /** Pairs whose merged layer has fewer weights stay as they are (default: the compiler's, 4096). */
  minParams?: number;
  /** Leave pairs that hold the model's first or last weight layer alone (default: on for conv classifiers, as compile). */
  keepEnds?: boolean;
}

export interface PrefactoredModel {
  /** The model with every recognised pair replaced by one node (its weight is not among the initializers). */
  model: ImportedModel;
  /** Merged node name → its factors. */
  known: Map<string, KnownFactors>;
  /**
   * The source ONNX with the same pairs merged (their weights multiplied out, dense): for onnxruntime passes
   * that address `model`'s nodes by index or weight name (sensitivity). `source` itself when nothing merged.
   */
  mergedSource(source: Uint8Array): Uint8Array;
}

interface MergedPair {
  first: number;
  second: number;
  node: NodeDef;
  known: KnownFactors;
  /** Initializers only the pair used. */
  removed: string[];
  /** A folded bias, when the first node had a non-zero one. */
  bias?: ImportedTensor;
}

/** Find the factored pairs of `model` and merge each into one node with known factors. `model` is not modified. */
export function mergePrefactoredPairs(model: ImportedModel, options: PrefactorOptions = {}): PrefactoredModel {
  const minParams = options.minParams ?? DEFAULT_MIN_PARAMS;
  // Same default as compileOnnx: with keep-ends the end layers stay dense, so their pairs stay as they are.
  const ends = (options.keepEnds ?? isConvClassifier(model)) ? endLayerNames(model) : new Set<string>();
  const index = new PairIndex(model);
  const taken = new Set<number>();
  const pairs: MergedPair[] = [];
  model.nodes.forEach((first, i) => {
    if (taken.has(i) || ends.has(first.name) || first.outputs.length !== 1) return;
    const h = first.outputs[0];
    if (!index.isPrivate(h)) return;
    const j = index.consumers.get(h)![0];
    const second = model.nodes[j];
    if (taken.has(j) || ends.has(second.name) || second.inputs[0] !== h) return;
    const pair = mergePair(model, i, j, index, minParams);
    if (!pair) return;
    pairs.push(pair);
    taken.add(i).add(j);
  });

  const firsts = new Set(pairs.map((p) => p.first));
  const bySecond = new Map(pairs.map((p) => [p.second, p]));
  const removed = new Set(pairs.flatMap((p) => p.removed));
  const merged: ImportedModel = {
    ...model,
    nodes: model.nodes.flatMap((n, i) => (firsts.has(i) ? [] : [bySecond.get(i)?.node ?? n])),
    initializers: [...model.initializers.filter((t) => !removed.has(t.name)), ...pairs.flatMap((p) => (p.bias ? [p.bias] : []))],
  };
  return {
    model: merged,
    known: new Map(pairs.map((p) => [p.node.name, p.known])),
    mergedSource: (source) => (pairs.length === 0 ? source : mergedOnnx(source, pairs, removed)),
  };
}

/** Who reads each value of a model, whether a value may be removed, and fresh names for what merging adds. */
class PairIndex {
  readonly consts: Map<string, ImportedTensor>;
  /** Node indices reading each value, once per input that names it. */
  readonly consumers = new Map<string, number[]>();
  readonly nodeNames: Set<string>;
  private readonly graphOutputs: Set<string>;
  private readonly subgraphs: Uint8Array[];
  private readonly valueNames: Set<string>;
  private readonly utf8 = new TextEncoder();

  constructor(model: ImportedModel) {
    this.consts = new Map(model.initializers.map((t) => [t.name, t]));
    model.nodes.forEach((n, i) => {
      for (const name of n.inputs) {
        if (!name) continue;
        const list = this.consumers.get(name);
        if (list) list.push(i);
        else this.consumers.set(name, [i]);
      }
    });
    this.graphOutputs = new Set(model.outputs.map((o) => o.name));
    // Subgraphs (If/Loop bodies) may read outer values by name; they travel as bytes, so look for the name there.
    this.subgraphs = model.nodes.flatMap((n) => n.attributes.flatMap((a) => (a.kind === 'onnx' ? [a.value] : [])));
    this.nodeNames = new Set(model.nodes.map((n) => n.name));
    this.valueNames = new Set([...model.initializers.map((t) => t.name), ...model.inputs.map((v) => v.name), ...model.nodes.flatMap((n) => n.outputs)]);
  }

  /** Read by one node only, and neither a graph output nor named in a subgraph: the pair may consume it. */
  isPrivate(name: string): boolean {
    return this.consumers.get(name)?.length === 1 && !this.graphOutputs.has(name) && !this.subgraphs.some((b) => contains(b, this.utf8.encode(name)));
  }

  /** `base`, or `base_k` for the first k that names no value yet; reserved. */
  fresh(base: string): string {
    let name = base;
    for (let k = 1; this.valueNames.has(name); k++) name = `${base}_${k}`;
    this.valueNames.add(name);
    return name;
  }
}

/**
 * Nodes i → j (j the only reader of i's output) as one node with known factors M₂·M₁, when both are weight layers
 * of one kind with private weights, the product is a factorisation candidate, and the biases fold; else undefined.
 */
function mergePair(model: ImportedModel, i: number, j: number, index: PairIndex, minParams: number): MergedPair | undefined {
  const [first, second] = [model.nodes[i], model.nodes[j]];
  const c1 = nodeAsCandidate(model, i);
  const c2 = nodeAsCandidate(model, j);
  if (!c1 || !c2 || !index.isPrivate(c1.weight.name) || !index.isPrivate(c2.weight.name)) return undefined;
  const [m, r, n] = [c2.rows, c1.rows, c1.cols];
  if (c2.cols !== r || r < 1 || r > Math.min(m, n)) return undefined;
  // Only pairs that become candidates: anything else must keep its stored weights.
  if (m * n < minParams || m + n >= m * n) return undefined;

  let kind: LayerKind;
  if (c1.kind === 'conv' || c2.kind === 'conv') {
    if (c1.kind !== 'conv' || c2.kind !== 'conv' || !isPointwise(second, c2.weight.dims, c1.weight.dims.length)) return undefined;
    kind = 'conv';
  } else {
    if (c2.kind === 'gemm' && intAttr(second, 'transA', 0) !== 0) return undefined;
    kind = c1.kind === 'gemm' || c2.kind === 'gemm' ? 'gemm' : 'matmul';
  }
  const b1 = readBias(first, c1, index.consts, r);
  const b2 = readBias(second, c2, index.consts, m);
  if (b1 === null || b2 === null || (b1 && !b1.vector)) return undefined;
  const b1v = b1?.vector;
  const fold = b1v !== undefined && b1v.some((v) => v !== 0);
  if (fold && b2 && !b2.vector) return undefined;

  const A = c2.matrix();
  const f = pairFactors(A, c1.matrix(), m, r, n);
  const name = stem(first.name, second.name, '/in', '/out');
  const nodeName = name !== undefined && !index.nodeNames.has(name) ? name : second.name;
  index.nodeNames.add(nodeName);
  const weight = index.fresh(stem(c1.weight.name, c2.weight.name, '__lowrank_in', '__lowrank_out') ?? `${nodeName}__prefactored`);
  const removed = [c1.weight.name, c2.weight.name];
  if (b1 && index.isPrivate(b1.name)) removed.push(b1.name);

  const inputs = [first.inputs[0], weight];
  const attributes: Attribute[] = kind === 'conv' ? [...first.attributes] : [];
  if (kind === 'gemm') {
    if (c1.kind === 'gemm' && intAttr(first, 'transA', 0) === 1) attributes.push({ name: 'transA', kind: 'int', value: 1n });
    attributes.push({ name: 'transB', kind: 'int', value: 1n });
  }
  let bias: ImportedTensor | undefined;
  if (fold) {
    // y = M₂·M₁·x + (M₂·b₁ + b₂): the bias of the merged node, beta 1.
    const values = new Float32Array(m);
    for (let o = 0; o < m; o++) {
      let s = b2?.vector?.[o] ?? 0;
      for (let k = 0; k < r; k++) s += A[o * r + k] * b1v[k];
      values[o] = s;
    }
    bias = { name: index.fresh(`${weight}__bias`), dataType: DataType.FLOAT, dims: [m], data: new Uint8Array(values.buffer) };
    inputs.push(bias.name);
    if (b2 && index.isPrivate(b2.name)) removed.push(b2.name);
  } else if (b2) {
    inputs.push(b2.name);
    const beta = second.attributes.find((a) => a.name === 'beta');
    if (kind === 'gemm' && beta) attributes.push(beta);
  }
  const weightDims = kind === 'matmul' ? [n, m] : kind === 'gemm' ? [m, n] : [m, ...c1.weight.dims.slice(1)];
  const node: NodeDef = { name: nodeName, opType: kind === 'matmul' ? 'MatMul' : kind === 'gemm' ? 'Gemm' : 'Conv', domain: '', inputs, outputs: second.outputs, attributes };
  const known: KnownFactors = { ...f, kind, rows: m, cols: n, weight, weightDims, pair: [first.name, second.name] };
  return { first: i, second: j, node, known, removed, bias };
}

/**
 * The factors to compile a known layer with. Without G: as they are (plain ordering). With the layer's input
 * second moment G (n×n, as compile passes it to whitenedFactors): the activation-aware factors of the same
 * matrix, computed inside its rank-k subspace. With M = Q_A·D·Q_Bᵀ, M·G·Mᵀ = Q_A·(D·Q_BᵀGQ_B·D)·Q_Aᵀ, so
 * whitenedFactors(D, k, k, Q_BᵀGQ_B) lifted by Q_A, Q_B equals whitenedFactors(M, m, n, G) at O(n²k).
 */
export async function knownFactors(k: KnownFactors, G?: Float64Array): Promise<OrderedFactors> {
  if (!G) return k;
  const { rank, rows: m, cols: n } = k;
  const Qa = new Float64Array(rank * m);
  const Qb = new Float64Array(rank * n);
  const D = new Float64Array(rank * rank);
  for (let i = 0; i < rank; i++) {
    const a = unit(k.left.subarray(i * m, (i + 1) * m), Qa.subarray(i * m, (i + 1) * m));
    const b = unit(k.right.subarray(i * n, (i + 1) * n), Qb.subarray(i * n, (i + 1) * n));
    D[i * rank + i] = a * b;
  }
  const QG = new Float64Array(rank * n);
  for (let i = 0; i < rank; i++) {
    for (let c = 0; c < n; c++) {
      const q = Qb[i * n + c];
      if (q === 0) continue;
      for (let d = 0; d < n; d++) QG[i * n + d] += q * G[c * n + d];
    }
  }
  const Gr = new Float64Array(rank * rank);
  for (let i = 0; i < rank; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let c = 0; c < n; c++) s += QG[i * n + c] * Qb[j * n + c];
      Gr[i * rank + j] = s;
      Gr[j * rank + i] = s;
    }
  }
  const w = await whitenedFactors(D, rank, rank, Gr);
  return { rank: w.rank, sigma: w.sigma, left: lift(w.left, w.rank, rank, Qa, m), right: lift(w.right, w.rank, rank, Qb, n) };
}

/**
 * Ordered factors of M = A·B (A m×r, B r×n, row-major, r ≤ min(m, n)) through QR of A and Bᵀ and an SVD of the
 * r×r core: σ descending, balanced like orderedFactors, no loss at full rank.
 */
export function pairFactors(A: Float64Array, B: Float64Array, m: number, r: number, n: number): OrderedFactors {
  // Householder works down columns: give it A's columns (rows of Aᵀ) and Bᵀ's columns (rows of B) contiguous.
  // A side as wide as r needs no QR (its Q would be a square rotation): A itself (or B) goes into the core.
  const a = r < m ? thinQr(transposed(A, m, r), m, r) : undefined;
  const b = r < n ? thinQr(B, n, r) : undefined;
  // core = R_A·R_Bᵀ, with R_A = A when r = m and R_Bᵀ = B when r = n.
  const X = a?.R ?? A;
  const Y = b ? transposed(b.R, r, r) : B;
  const core = new Float64Array(r * r);
  for (let i = 0; i < r; i++) {
    for (let l = 0; l < r; l++) {
      const x = X[i * r + l];
      if (x === 0) continue;
      for (let j = 0; j < r; j++) core[i * r + j] += x * Y[l * r + j];
    }
  }
  const f = orderedFactors(core, r, r);
  // Component i's vector is Q·(its r coordinates).
  return { rank: f.rank, sigma: f.sigma, left: a ? applyQ(a, f.left, f.rank, r) : f.left, right: b ? applyQ(b, f.right, f.rank, r) : f.right };
}

/**
 * Thin QR by Householder reflections of the matrix whose `cols` columns (each `len` long, len ≥ cols) lie one
 * after the other in `columns`: R (cols×cols, row-major, upper triangular) and Q as its reflectors, which
 * `applyQ` uses without ever forming Q.
 */
function thinQr(columns: Float64Array, len: number, cols: number): { R: Float64Array; reflectors: Reflector[]; len: number } {
  const W = Float64Array.from(columns);
  const reflectors: Reflector[] = [];
  for (let k = 0; k < cols; k++) {
    const col = k * len;
    let norm = 0;
    for (let i = k; i < len; i++) norm += W[col + i] ** 2;
    norm = Math.sqrt(norm);
    const v = W.slice(col + k, col + len);
    v[0] -= W[col + k] >= 0 ? -norm : norm;
    let norm2 = 0;
    for (const x of v) norm2 += x * x;
    reflectors.push({ v, norm2 });
    if (norm2 === 0) continue; // a zero column: nothing to reflect
    for (let j = k; j < cols; j++) reflect(W, j * len + k, v, norm2);
  }
  const R = new Float64Array(cols * cols);
  for (let i = 0; i < cols; i++) for (let j = i; j < cols; j++) R[i * cols + j] = W[j * len + i];
  return { R, reflectors, len };
}

interface Reflector {
  v: Float64Array;
  norm2: number;
}

/** Q·c for each of the `count` coordinate vectors (length dim) in `coords`: H₀·H₁·…·H_{dim−1}·[c; 0]. */
function applyQ(qr: { reflectors: Reflector[]; len: number }, coords: Float64Array, count: number, dim: number): Float64Array {
  const { len } = qr;
  const out = new Float64Array(count * len);
  for (let i = 0; i < count; i++) {
    out.set(coords.subarray(i * dim, (i + 1) * dim), i * len);
    for (let k = dim - 1; k >= 0; k--) {
      const { v, norm2 } = qr.reflectors[k];
      if (norm2 !== 0) reflect(out, i * len + k, v, norm2);
    }
  }
  return out;
}

/** x ← (I − 2·v·vᵀ/|v|²)·x for the v.length values of `a` from `at`. */
function reflect(a: Float64Array, at: number, v: Float64Array, norm2: number): void {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * a[at + i];
  if (s === 0) return;
  const f = (2 * s) / norm2;
  for (let i = 0; i < v.length; i++) a[at + i] -= f * v[i];
}

/** Rows of (coords (count×dim) · basis (dim×width)): coordinates in a basis given as rows, back to full vectors. */
function lift(coords: Float64Array, count: number, dim: number, basis: Float64Array, width: number): Float64Array {
  const out = new Float64Array(count * width);
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < dim; j++) {
      const c = coords[i * dim + j];
      if (c === 0) continue;
      for (let p = 0; p < width; p++) out[i * width + p] += c * basis[j * width + p];
    }
  }
  return out;
}

function transposed(a: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j];
  return out;
}

/** Write v/|v| into `into` and return |v| (a zero vector stays zero). */
function unit(v: Float64Array, into: Float64Array): number {
  let s = 0;
  for (const x of v) s += x * x;
  const norm = Math.sqrt(s);
  if (norm > 0) for (let i = 0; i < v.length; i++) into[i] = v[i] / norm;
  return norm;
}

/**
 * A node's bias: undefined when it has none; null when it has one we cannot read (not a float32 initializer);
 * else its name and, when it is a vector (or a scalar) over the outputs, its values times beta.
 */
function readBias(node: NodeDef, c: LayerCandidate, consts: Map<string, ImportedTensor>, outputs: number): { name: string; vector?: Float64Array } | null | undefined {
  if (c.kind === 'matmul' || !node.inputs[2]) return undefined;
  const t = consts.get(node.inputs[2]);
  if (!t || t.dataType !== DataType.FLOAT) return null;
  const beta = c.kind === 'gemm' ? floatAttr(node, 'beta', 1) : 1;
  const values = float32Values(t);
  const lead = t.dims.slice(0, -1);
  const vectorLike = t.dims.length <= 2 && lead.every((d) => d === 1) && (values.length === outputs || values.length === 1);
  if (c.kind === 'conv' && !(t.dims.length === 1 && values.length === outputs)) return null;
  if (!vectorLike) return { name: t.name };
  return { name: t.name, vector: Float64Array.from({ length: outputs }, (_, i) => beta * values[values.length === 1 ? 0 : i]) };
}

/** A 1×…×1 convolution that reads every position once: strides 1, no padding. */
function isPointwise(node: NodeDef, dims: number[], rank: number): boolean {
  if (dims.length !== rank || dims.slice(2).some((d) => d !== 1)) return false;
  const ints = (name: string): number[] => intsAttr(node, name) ?? [];
  return ints('strides').every((s) => s === 1) && ints('pads').every((p) => p === 0) && ints('kernel_shape').every((k) => k === 1);
}

/** `${s}${a}` and `${s}${b}` → s (the names `lowrank export` writes), else undefined. */
function stem(x: string, y: string, a: string, b: string): string | undefined {
  if (!x.endsWith(a) || !y.endsWith(b)) return undefined;
  const s = x.slice(0, -a.length);
  return s !== '' && s === y.slice(0, -b.length) ? s : undefined;
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** The source ModelProto with the pairs merged: same node order as the merged ImportedModel. */
function mergedOnnx(source: Uint8Array, pairs: MergedPair[], removed: Set<string>): Uint8Array {
  const proto = onnx.ModelProto.decode(source);
  const graph = proto.graph!;
  const src = graph.node ?? [];
  const firsts = new Set(pairs.map((p) => p.first));
  const bySecond = new Map(pairs.map((p) => [p.second, p]));
  const T = onnx.AttributeProto.AttributeType;
  const attribute = (a: Attribute): AttributeProto =>
    a.kind === 'int' ? { name: a.name, type: T.INT, i: Number(a.value) } : a.kind === 'float' ? { name: a.name, type: T.FLOAT, f: a.value } : onnx.AttributeProto.create();
  const node: NodeProto[] = src.flatMap((n, i) => {
    if (firsts.has(i)) return [];
    const p = bySecond.get(i);
    if (!p) return [n];
    // Conv keeps the first conv's attributes as they were; Gemm/MatMul attributes are the few ints/floats set above.
    const attrs = p.known.kind === 'conv' ? (src[p.first].attribute ?? []) : p.node.attributes.map(attribute);
    return [{ name: p.node.name, opType: p.node.opType, domain: '', input: p.node.inputs, output: p.node.outputs, attribute: attrs }];
  });
  const tensors: TensorProto[] = pairs.flatMap((p) => {
    const k = p.known;
    const M = new Float32Array(k.rows * k.cols);
    for (let i = 0; i < k.rank; i++) {
      for (let r = 0; r < k.rows; r++) {
        const a = k.left[i * k.rows + r];
        for (let c = 0; c < k.cols; c++) M[r * k.cols + c] += a * k.right[i * k.cols + c];
      }
    }
    // MatMul stores Mᵀ (K×N); Gemm (transB = 1) and Conv store M in their weight layout.
    const W = k.kind === 'matmul' ? Float32Array.from({ length: M.length }, (_, x) => M[(x % k.rows) * k.cols + Math.floor(x / k.rows)]) : M;
    const weight: TensorProto = { name: k.weight, dataType: DataType.FLOAT, dims: k.weightDims, rawData: new Uint8Array(W.buffer) };
    return p.bias ? [weight, { name: p.bias.name, dataType: p.bias.dataType, dims: p.bias.dims, rawData: p.bias.data }] : [weight];
  });
  const model = onnx.ModelProto.create({
    ...proto,
    graph: onnx.GraphProto.create({
      ...graph,
      node,
      initializer: [...(graph.initializer ?? []).filter((t) => !removed.has(t.name ?? '')), ...tensors],
      input: (graph.input ?? []).filter((v) => !removed.has(v.name ?? '')),
    }),
  });
  return onnx.ModelProto.encode(model).finish();
}
