import { adapterFactorShapes, type AdapterKind } from '../../formats/adapter-model.js';
import { floatAttr, intAttr } from '../../formats/attributes.js';
import { DataType, type LayerKind, type ModelHeader, type NodeDef } from '../../formats/model.js';
import { CompileOptionError } from '../errors.js';

/**
 * A weight an adapter can change, seen as a matrix the way the base sees it (formats/adapter-model.ts): a factored
 * layer (FactoredLayer.weight) or the constant weight of a dense Conv (group 1), Gemm or MatMul.
 */
export interface AdapterTarget {
  /** The weight initializer's name (AdapterLayer.target). */
  target: string;
  /** The node that reads it. */
  node: string;
  nodeIndex: number;
  kind: LayerKind;
  rows: number;
  cols: number;
  /** The weight tensor's dims as the source model has them. */
  weightDims: number[];
  /** Index in header.layers when the base stores the weight factored. */
  layer?: number;
  /** Dense Gemm only: how the stored weight maps to the matrix (M = alpha·B, or alpha·Bᵀ without transB). */
  gemm?: { alpha: number; transB: boolean };
}

/** Every weight of the base an adapter can change, in graph order. */
export function adapterTargets(header: ModelHeader): AdapterTarget[] {
  const { graph } = header;
  const factored = new Map(header.layers.map((l, i) => [l.nodeIndex, i]));
  const initializers = new Map(graph.initializers.map((t) => [t.name, t]));
  const uses = new Map<string, number>();
  for (const n of graph.nodes) for (const i of n.inputs) uses.set(i, (uses.get(i) ?? 0) + 1);
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const found: AdapterTarget[] = [];
  graph.nodes.forEach((node, nodeIndex) => {
    const i = factored.get(nodeIndex);
    if (i !== undefined) {
      const l = header.layers[i];
      found.push({ target: l.weight, node: node.name, nodeIndex, kind: l.kind, rows: l.rows, cols: l.cols, weightDims: l.weightDims, layer: i });
      return;
    }
    const w = initializers.get(node.inputs[1] ?? '');
    if (!w || w.dataType !== DataType.FLOAT || initializers.has(node.inputs[0] ?? '')) return;
    // A weight shared by several nodes, or that is itself an output, means more than one layer's matrix.
    if (uses.get(w.name) !== 1 || outputs.has(w.name)) return;
    const dense = denseTarget(node, nodeIndex, w.name, w.dims);
    if (dense) found.push(dense);
  });
  return found;
}

function denseTarget(node: NodeDef, nodeIndex: number, target: string, dims: number[]): AdapterTarget | undefined {
  if (node.domain !== '' && node.domain !== 'ai.onnx') return undefined;
  const common = { target, node: node.name, nodeIndex, weightDims: dims };
  switch (node.opType) {
    case 'MatMul':
      return dims.length === 2 ? { ...common, kind: 'matmul', rows: dims[1], cols: dims[0] } : undefined;
    case 'Gemm': {
      if (dims.length !== 2) return undefined;
      const transB = intAttr(node, 'transB', 0) === 1;
      const gemm = { alpha: floatAttr(node, 'alpha', 1), transB };
      return { ...common, kind: 'gemm', rows: transB ? dims[0] : dims[1], cols: transB ? dims[1] : dims[0], gemm };
    }
    case 'Conv': {
      if (dims.length < 3 || intAttr(node, 'group', 1) !== 1) return undefined;
      return { ...common, kind: 'conv', rows: dims[0], cols: dims.slice(1).reduce((a, b) => a * b, 1) };
    }
    default:
      return undefined;
  }
}

/** `names` (weight initializer or node names) as targets, or every target when absent; unknown names are an error. */
export function selectTargets(all: readonly AdapterTarget[], names: readonly string[] | undefined, fileName: string): AdapterTarget[] {
  if (all.length === 0) throw new CompileOptionError(`${fileName} has no weight an adapter can change (factored layers, dense Conv with group 1, Gemm or MatMul weights)`, 'adapter-targets');
  if (names === undefined) return [...all];
  if (names.length === 0) throw new CompileOptionError(`--layers lists no layer; valid: ${describe(all)}`, 'adapter-targets');
  const unknown = names.filter((n) => !all.some((t) => t.target === n || t.node === n));
  if (unknown.length > 0) {
    throw new CompileOptionError(`--layers: ${unknown.map((n) => `"${n}"`).join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not an adaptable layer of ${fileName}; valid (weight or node name): ${describe(all)}`, 'adapter-targets');
  }
  return all.filter((t) => names.includes(t.target) || names.includes(t.node));
}

/** Whether a layer takes this rank (checkRank would pass). */
export function rankFits(kind: AdapterKind, t: AdapterTarget, rank: number, kron?: [number, number]): boolean {
  if (rank > Math.min(t.rows, t.cols)) return false;
  if (kind !== 'lokr' || !kron) return true;
  return t.rows % kron[0] === 0 && t.cols % kron[1] === 0 && rank <= Math.min(t.rows / kron[0], t.cols / kron[1]);
}

/** Refuses a rank no layer of this shape can have (and, for LoKr, a Kronecker split that does not fit). */
export function checkRank(kind: AdapterKind, t: AdapterTarget, rank: number, kron?: [number, number]): void {
  const most = Math.min(t.rows, t.cols);
  if (rank > most) {
    throw new CompileOptionError(`--rank ${rank} is larger than layer "${t.target}" allows (${t.rows}×${t.cols}: at most ${most}); lower --rank or leave the layer out with --layers`, 'adapter-rank');
  }
  if (kind !== 'lokr' || !kron) return;
  const [kr, kc] = kron;
  if (t.rows % kr !== 0 || t.cols % kc !== 0) {
    throw new CompileOptionError(`LoKr factor ${kr}×${kc} does not divide layer "${t.target}" (${t.rows}×${t.cols}); pick a --lokr-factor whose divisors fit`, 'adapter-kron');
  }
  if (rank > Math.min(t.rows / kr, t.cols / kc)) {
    throw new CompileOptionError(`--rank ${rank} is larger than LoKr's low-rank part of layer "${t.target}" allows (${t.rows / kr}×${t.cols / kc}); lower --rank or --lokr-factor`, 'adapter-rank');
  }
}

function describe(all: readonly AdapterTarget[]): string {
  return all.map((t) => `${t.target} (${t.node}, ${t.rows}×${t.cols}${t.layer !== undefined ? ', factored' : ''})`).join(', ');
}

/** Factor elements of one layer's adapter. */
export function factorElements(kind: AdapterKind, t: AdapterTarget, rank: number, kron?: [number, number]): number {
  return adapterFactorShapes(kind, { rows: t.rows, cols: t.cols, rank, kron }).reduce((s, [r, c]) => s + r * c, 0);
}

/**
 * The layers adapted when none are named: cheapest first, every layer whose factors (`bytes` of each) still fit in
 * `budget` bytes, returned in graph order. On mnist-cnn-pytorch (2.34 MiB, rank 8) that is conv1, conv2 and fc2,
 * 17 KB of LoRA at fp32, and not fc1 (104 KB alone): measured, the convolutions carry the change of contrast
 * (97.9% held out without fc1, issue 17), so the 3% budget costs no accuracy there.
 * A layer whose rank cannot fit (rank > min(rows, cols)) is left out rather than refused, as it was not asked for.
 */
export function defaultTargets(all: readonly AdapterTarget[], bytes: (t: AdapterTarget) => number, budget: number, fileName: string): AdapterTarget[] {
  const chosen = new Set<AdapterTarget>();
  let used = 0;
  for (const t of [...all].sort((a, b) => bytes(a) - bytes(b))) {
    if (used + bytes(t) > budget) break;
    chosen.add(t);
    used += bytes(t);
  }
  if (chosen.size === 0) {
    const cheapest = Math.min(...all.map(bytes));
    throw new CompileOptionError(`no layer of ${fileName} fits the adapter size budget (${Math.round(budget)} bytes; the smallest layer needs ${cheapest}); raise --size-budget, lower --rank or name layers with --layers`, 'adapter-targets');
  }
  return all.filter((t) => chosen.has(t));
}
