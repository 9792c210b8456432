/**
 * Where each adapter layer lands in the base model, and the checks that refuse an adapter before anything is built.
 * A target is a factored layer's weight (header.layers[i].weight) or a dense float weight initializer that is input
 * 1 of a Conv (group 1), Gemm or MatMul in header.graph; its rows/cols are the matrix view of formats/model.ts.
 */
import { checkAdapterBase } from '../../formats/adapter-base.js';
import { AdapterBaseMismatchError } from '../../formats/adapter-errors.js';
import { ADAPTER_KINDS, adapterFactorShapes, type AdapterLayer, type AdapterModel } from '../../formats/adapter-model.js';
import { intAttr, floatAttr } from '../../formats/attributes.js';
import { DataType, type DenseTensor, type ModelHeader, type NodeDef } from '../../formats/model.js';
import { AdapterError } from '../errors.js';

/** A factored base layer (header.layers[layerIndex]). */
export interface FactoredSite {
  kind: 'factored';
  target: string;
  layerIndex: number;
  rows: number;
  cols: number;
}

/** A dense weight initializer, and how its stored layout relates to the rows × cols matrix W. */
export interface DenseSite {
  kind: 'dense';
  target: string;
  tensor: DenseTensor;
  rows: number;
  cols: number;
  /** Stored as Wᵀ: a MatMul's [K, N], a Gemm's B without transB. */
  transposed: boolean;
  /** Stored value = scale·W: 1/alpha for a Gemm (W includes alpha), else 1. */
  scale: number;
}

export type AdapterSite = FactoredSite | DenseSite;

const WEIGHT_OPS = new Set(['Conv', 'Gemm', 'MatMul']);

/** The weight names an adapter may target in this model, factored layers first. */
export function adapterTargets(header: ModelHeader): string[] {
  const dense = header.graph.nodes.filter((n) => denseLayout(header, n) !== undefined).map((n) => n.inputs[1]);
  return [...new Set([...header.layers.map((l) => l.weight), ...dense])];
}

/** Where `target` is in the model, or an 'unknown-target' AdapterError naming what the model has. */
export function resolveTarget(header: ModelHeader, target: string, adapter: string): AdapterSite {
  const layerIndex = header.layers.findIndex((l) => l.weight === target);
  if (layerIndex >= 0) {
    const { rows, cols } = header.layers[layerIndex];
    return { kind: 'factored', target, layerIndex, rows, cols };
  }
  for (const node of header.graph.nodes) {
    if (node.inputs[1] !== target) continue;
    const site = denseLayout(header, node);
    if (site) return site;
  }
  const known = adapterTargets(header);
  throw new AdapterError(`adapter "${adapter}" changes "${target}", which is not a Conv (group 1), Gemm or MatMul weight of this model (it has ${known.join(', ')}); use an adapter trained for this base`, 'unknown-target', adapter);
}

/** A dense float weight as input 1 of a group-1 Conv, Gemm or MatMul: its matrix view; undefined otherwise. */
function denseLayout(header: ModelHeader, node: NodeDef): DenseSite | undefined {
  if (!WEIGHT_OPS.has(node.opType) || (node.domain !== '' && node.domain !== 'ai.onnx')) return undefined;
  const tensor = header.graph.initializers.find((t) => t.name === node.inputs[1]);
  if (!tensor || tensor.dataType !== DataType.FLOAT) return undefined;
  const d = tensor.dims;
  const base = { kind: 'dense' as const, target: tensor.name, tensor };
  if (node.opType === 'Conv') {
    if (intAttr(node, 'group', 1) !== 1 || d.length < 3) return undefined;
    return { ...base, rows: d[0], cols: d.slice(1).reduce((a, b) => a * b, 1), transposed: false, scale: 1 };
  }
  if (d.length !== 2) return undefined;
  if (node.opType === 'MatMul') return { ...base, rows: d[1], cols: d[0], transposed: true, scale: 1 };
  const transB = intAttr(node, 'transB', 0) === 1;
  const alpha = floatAttr(node, 'alpha', 1);
  if (alpha === 0) return undefined;
  return { ...base, rows: transB ? d[0] : d[1], cols: transB ? d[1] : d[0], transposed: !transB, scale: 1 / alpha };
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

/** Every check short of building: kind, one layer per target, shapes, ranks, finite values. Returns each layer's site. */
export function checkAdapter(header: ModelHeader, adapter: AdapterModel, name: string): AdapterSite[] {
  if (!ADAPTER_KINDS.includes(adapter.kind)) {
    throw new AdapterError(`adapter "${name}" has kind ${JSON.stringify(adapter.kind)}; this runtime applies ${ADAPTER_KINDS.join(', ')}: update lowrank-edge or convert the adapter`, 'kind', name);
  }
  if (!Number.isFinite(adapter.layers?.length)) throw new AdapterError(`adapter "${name}" has no list of layers; read it with readAdapter()`, 'shape', name);
  const seen = new Set<string>();
  return adapter.layers.map((layer) => {
    if (seen.has(layer.target)) throw new AdapterError(`adapter "${name}" changes "${layer.target}" twice; an adapter has one layer per weight: rebuild it`, 'duplicate-target', name);
    seen.add(layer.target);
    const site = resolveTarget(header, layer.target, name);
    checkLayer(adapter, layer, site, name);
    return site;
  });
}

function checkLayer(adapter: AdapterModel, layer: AdapterLayer, site: AdapterSite, name: string): void {
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
