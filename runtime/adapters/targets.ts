/**
 * Which weights of a base model an adapter may change, with their matrix view, and the checks that refuse an adapter
 * before anything is built: the one rule for the runtime and the adapter trainer (compiler/adapt/ builds on this
 * list), so an adapter the trainer makes is one the runtime takes, and the reverse.
 *
 * A target is the weight of exactly one node, a Conv (group 1), Gemm (alpha ≠ 0) or MatMul in the default domain:
 * a factored layer's weight (header.layers[i].weight), or a dense float initializer that is the node's input 1 (its
 * input 0 not a constant). A weight that another node also reads, or that is itself a graph output, is no target:
 * changing it would change more than that one layer's matrix. rows/cols are the matrix view of formats/model.ts.
 */
import { checkAdapterBase } from '../../formats/adapter-base.js';
import { AdapterBaseMismatchError } from '../../formats/adapter-errors.js';
import { ADAPTER_KINDS, adapterFactorShapes, type AdapterLayer, type AdapterModel } from '../../formats/adapter-model.js';
import { intAttr, floatAttr } from '../../formats/attributes.js';
import { DataType, type DenseTensor, type LayerKind, type ModelHeader, type NodeDef } from '../../formats/model.js';
import { AdapterError } from '../errors.js';

interface TargetCommon {
  /** The weight's name (AdapterLayer.target). */
  target: string;
  /** The node that reads it, and its index in header.graph.nodes. */
  node: string;
  nodeIndex: number;
  kind: LayerKind;
  /** The matrix view: rows = outputs, cols = inputs. */
  rows: number;
  cols: number;
  /** The weight tensor's dims as the source model has them. */
  weightDims: number[];
}

/** A factored base layer (header.layers[layer]). */
export interface FactoredTarget extends TargetCommon {
  storage: 'factored';
  layer: number;
}

/** A dense weight initializer, and how its stored layout relates to the rows × cols matrix W. */
export interface DenseTarget extends TargetCommon {
  storage: 'dense';
  tensor: DenseTensor;
  /** Stored as Wᵀ: a MatMul's [K, N], a Gemm's B without transB. */
  transposed: boolean;
  /** Gemm only: W = alpha·B (alpha·Bᵀ without transB), so the stored value is W / alpha. */
  gemm?: { alpha: number; transB: boolean };
}

export type AdapterTarget = FactoredTarget | DenseTarget;

const WEIGHT_OPS = new Set(['Conv', 'Gemm', 'MatMul']);

/** Every weight of the model an adapter may change, in graph order. */
export function adapterTargets(header: ModelHeader): AdapterTarget[] {
  const { graph } = header;
  const factored = new Map(header.layers.map((l, i) => [l.nodeIndex, i]));
  const initializers = new Map(graph.initializers.map((t) => [t.name, t]));
  const readers = new Map<string, number>();
  for (const n of graph.nodes) for (const i of n.inputs) readers.set(i, (readers.get(i) ?? 0) + 1);
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const found: AdapterTarget[] = [];
  graph.nodes.forEach((node, nodeIndex) => {
    const i = factored.get(nodeIndex);
    const weight = i !== undefined ? header.layers[i].weight : node.inputs[1];
    // A weight shared by several nodes, or that is itself an output, means more than one layer's matrix.
    if (weight === undefined || readers.get(weight) !== 1 || outputs.has(weight)) return;
    if (i !== undefined) {
      const l = header.layers[i];
      found.push({ storage: 'factored', target: l.weight, node: node.name, nodeIndex, kind: l.kind, rows: l.rows, cols: l.cols, weightDims: l.weightDims, layer: i });
      return;
    }
    const tensor = initializers.get(weight);
    if (!tensor || tensor.dataType !== DataType.FLOAT || initializers.has(node.inputs[0] ?? '')) return;
    const dense = denseTarget(node, nodeIndex, tensor);
    if (dense) found.push(dense);
  });
  return found;
}

/** A dense float weight as input 1 of a group-1 Conv, Gemm or MatMul: its matrix view; undefined otherwise. */
function denseTarget(node: NodeDef, nodeIndex: number, tensor: DenseTensor): DenseTarget | undefined {
  if (!WEIGHT_OPS.has(node.opType) || (node.domain !== '' && node.domain !== 'ai.onnx')) return undefined;
  const d = tensor.dims;
  const common = { storage: 'dense' as const, target: tensor.name, node: node.name, nodeIndex, weightDims: d, tensor };
  if (node.opType === 'Conv') {
    if (intAttr(node, 'group', 1) !== 1 || d.length < 3) return undefined;
    return { ...common, kind: 'conv', rows: d[0], cols: d.slice(1).reduce((a, b) => a * b, 1), transposed: false };
  }
  if (d.length !== 2) return undefined;
  if (node.opType === 'MatMul') return { ...common, kind: 'matmul', rows: d[1], cols: d[0], transposed: true };
  const transB = intAttr(node, 'transB', 0) === 1;
  const alpha = floatAttr(node, 'alpha', 1);
  if (alpha === 0) return undefined;
  return { ...common, kind: 'gemm', rows: transB ? d[0] : d[1], cols: transB ? d[1] : d[0], transposed: !transB, gemm: { alpha, transB } };
}

/** Where `target` is in the model, or an 'unknown-target' AdapterError naming what the model has. */
export function resolveTarget(header: ModelHeader, target: string, adapter: string, all: readonly AdapterTarget[] = adapterTargets(header)): AdapterTarget {
  const found = all.find((t) => t.target === target);
  if (found) return found;
  throw new AdapterError(`adapter "${adapter}" changes "${target}", which is not a weight an adapter can change in this model (a Conv (group 1), Gemm or MatMul weight that only its own node reads; it has ${all.map((t) => t.target).join(', ')}); use an adapter trained for this base`, 'unknown-target', adapter);
}

/** Refuses an adapter made for another base (compared by header hash: the base's whole content). */
export function checkBase(adapter: AdapterModel, headerSha256: string, fileName: string, name: string): void {
  if (typeof adapter.base?.headerSha256 !== 'string') throw new AdapterError(`adapter "${name}" names no base model; read it with readAdapter() or set base from adapterBaseOf()`, 'wrong-base', name);
  try {
    checkAdapterBase(adapter, headerSha256, fileName, { adapterName: `"${name}"` });
  } catch (e) {
    // The format's message, as the runtime's adapter error (one class for everything loadAdapter refuses).
    if (e instanceof AdapterBaseMismatchError) throw new AdapterError(e.message, 'wrong-base', name);
    throw e;
  }
}

/** Every check short of building: kind, one layer per target, shapes, ranks, finite values. Returns each layer's target. */
export function checkAdapter(header: ModelHeader, adapter: AdapterModel, name: string): AdapterTarget[] {
  if (!ADAPTER_KINDS.includes(adapter.kind)) {
    throw new AdapterError(`adapter "${name}" has kind ${JSON.stringify(adapter.kind)}; this runtime applies ${ADAPTER_KINDS.join(', ')}: update lowrank-edge or convert the adapter`, 'kind', name);
  }
  if (!Number.isFinite(adapter.layers?.length)) throw new AdapterError(`adapter "${name}" has no list of layers; read it with readAdapter()`, 'shape', name);
  const all = adapterTargets(header);
  const seen = new Set<string>();
  return adapter.layers.map((layer) => {
    if (seen.has(layer.target)) throw new AdapterError(`adapter "${name}" changes "${layer.target}" twice; an adapter has one layer per weight: rebuild it`, 'duplicate-target', name);
    seen.add(layer.target);
    const site = resolveTarget(header, layer.target, name, all);
    checkLayer(adapter, layer, site, name);
    return site;
  });
}

function checkLayer(adapter: AdapterModel, layer: AdapterLayer, site: AdapterTarget, name: string): void {
  const where = `adapter "${name}" layer "${layer.target}"`;
  const fail = (message: string, code: 'shape' | 'rank' | 'non-finite'): never => {
    throw new AdapterError(`${where} ${message}`, code, name);
  };
  if (layer.rows !== site.rows || layer.cols !== site.cols) {
    fail(`is ${layer.rows}×${layer.cols} but the model's weight is ${site.rows}×${site.cols} (rows = outputs, cols = inputs); use an adapter trained for this base`, 'shape');
  }
  const [kr, kc] = adapter.kind === 'lokr' ? (layer.kron ?? [1, 1]) : [1, 1];
  if (!(Number.isInteger(kr) && Number.isInteger(kc) && kr > 0 && kc > 0 && layer.rows % kr === 0 && layer.cols % kc === 0)) {
    fail(`has kron ${JSON.stringify(layer.kron)}, which must divide ${layer.rows}×${layer.cols}; the file is damaged or was written wrongly`, 'shape');
  }
  const most = Math.min(layer.rows / kr, layer.cols / kc);
  if (!Number.isInteger(layer.rank) || layer.rank < 1 || layer.rank > most) {
    fail(`has rank ${layer.rank}; it must be a whole number from 1 to ${most} (the smaller side of its ${layer.rows / kr}×${layer.cols / kc} factor product); retrain it with a smaller rank`, 'rank');
  }
  const shapes = adapterFactorShapes(adapter.kind, layer);
  if (!Array.isArray(layer.factors) || layer.factors.length !== shapes.length) {
    fail(`has ${layer.factors?.length ?? 0} factors; ${adapter.kind} needs ${shapes.length} (${shapes.map(([r, c]) => `${r}×${c}`).join(', ')}); the file is damaged or was written wrongly`, 'shape');
  }
  shapes.forEach(([r, c], i) => {
    const f = layer.factors[i];
    if (!(f instanceof Float32Array) || f.length !== r * c) fail(`factor ${i} holds ${f?.length ?? 0} values, not ${r}×${c} = ${r * c} float32; the file is damaged or was written wrongly`, 'shape');
    const at = f.findIndex((v) => !Number.isFinite(v));
    if (at >= 0) fail(`factor ${i} has ${f[at]} at index ${at}; retrain it (the training diverged)`, 'non-finite');
  });
  if (!Number.isFinite(layer.alpha)) fail(`has alpha ${layer.alpha}; it must be finite: retrain or rewrite it`, 'non-finite');
}
