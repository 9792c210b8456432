/**
 * The adapter session's model: the base model at the session's ranks, with every weight some loaded adapter changes
 * turned from an initializer into a graph input ("slot"), so one engine session serves every adapter (and the base
 * weights, for slots a request's adapter leaves alone) by what each request feeds.
 *
 * A factored layer that runs as two nodes and only LoRA adapters change keeps its two nodes and takes its factors
 * as inputs whose rank dimension is symbolic: A·B + s·U·D = [A | sU]·[B ; D], so adapters of any rank share it and
 * the layer stays as cheap as the base plus the adapter's rank. A LoHa or LoKr ΔW is dense (its product or Kronecker
 * structure is not a low-rank product of its factors), so such a layer runs dense with W = A·B + ΔW as its input:
 * the exact join [A | ΔW]·[B ; I] would cost (r + min(m, n))·(m + n) multiply-adds per column, always more than the
 * m·n of the dense weight.
 */
import type { ModelHeader, TierBits } from '../../formats/model.js';
import type { LayerRefit } from '../factors.js';
import { buildOnnxModel, denseNodeLayout } from '../onnx/build-model.js';
import { float32Of, onnx, type ValueInfoProto } from '../onnx/proto.js';
import type { PayloadBytes } from '../payload-view.js';
import type { HostTensor } from '../tensor.js';
import type { AdapterTarget, FactoredTarget } from './targets.js';

/** What the session builds its base model from: the adapter session is built from the same. */
export interface BaseBuild {
  payload: PayloadBytes;
  ranks: readonly number[];
  refits?: ReadonlyArray<LayerRefit | undefined>;
  bits: TierBits | undefined;
}

/** A factored layer run as two nodes whose factors are inputs: `in` is B's side, `out` A's, as factoredNodes lays them out. */
export interface JoinedSlot {
  mode: 'joined';
  site: FactoredTarget;
  names: { in: string; out: string };
  /** The dimension of each input that is the rank (symbolic in the graph). */
  rankAxis: { in: number; out: number };
  base: { in: HostTensor; out: HostTensor };
}

/** A weight taken whole as an input (a dense initializer, or a factored layer built dense). */
export interface DenseSlot {
  mode: 'dense';
  site: AdapterTarget;
  name: string;
  /** The input holds scale·Wᵀ (transposed) or scale·W, W being rows × cols. */
  transposed: boolean;
  scale: number;
  base: HostTensor;
}

export type Slot = JoinedSlot | DenseSlot;

export interface AdapterGraph {
  model: Uint8Array;
  /** By target name. */
  slots: ReadonlyMap<string, Slot>;
}

/** What each targeted weight needs: `join` when only LoRA adapters change it (see the file comment). */
export interface SlotPlan {
  site: AdapterTarget;
  join: boolean;
}

export function buildAdapterGraph(header: ModelHeader, base: BaseBuild, plan: ReadonlyMap<string, SlotPlan>): AdapterGraph {
  const denseLayers = new Set([...plan.values()].flatMap((p) => (p.site.storage === 'factored' && !p.join ? [p.site.layer] : [])));
  // No int4 kernels here: MatMulNBits takes constant weights only, and the slots are inputs.
  const built = buildOnnxModel(header, base.payload, [...base.ranks], { refits: base.refits, bits: base.bits, denseLayers });
  const proto = onnx.ModelProto.decode(built);
  const graph = proto.graph!;
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name!, t]));
  const taken = new Set<string>();
  const inputs: ValueInfoProto[] = [];
  /** Moves an initializer to the graph inputs (the rank axis, if any, symbolic) and returns its values. */
  const take = (name: string, rankAxis?: number): HostTensor => {
    const t = initializers.get(name);
    if (!t) throw new Error(`the built model has no initializer "${name}"`);
    taken.add(name);
    const dims = (t.dims ?? []).map(Number);
    const shape = dims.map((d, i) => (i === rankAxis ? { dimParam: `${name}__rank` } : { dimValue: d }));
    inputs.push({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: shape } } } });
    return { dataType: 'float32', dims, data: float32Of(t) };
  };
  const slots = new Map<string, Slot>();
  for (const [target, { site }] of plan) {
    if (site.storage === 'factored') {
      const layer = header.layers[site.layer];
      const names = { in: `${layer.weight}__lowrank_in`, out: `${layer.weight}__lowrank_out` };
      // buildOnnxModel decides whether the layer runs as two nodes (rank, stored dense M): read what it built.
      if (initializers.has(names.in)) {
        const rankAxis = { in: layer.kind === 'matmul' ? 1 : 0, out: layer.kind === 'conv' ? 1 : 0 };
        slots.set(target, { mode: 'joined', site, names, rankAxis, base: { in: take(names.in, rankAxis.in), out: take(names.out, rankAxis.out) } });
        continue;
      }
      // Built dense by denseNode: MatMul holds Mᵀ, Gemm M (alpha folded, transB=1), Conv M reshaped.
      slots.set(target, { mode: 'dense', site, name: layer.weight, transposed: denseNodeLayout(layer).transposed, scale: 1, base: take(layer.weight) });
    } else {
      slots.set(target, { mode: 'dense', site, name: target, transposed: site.transposed, scale: 1 / (site.gemm?.alpha ?? 1), base: take(target) });
    }
  }
  graph.initializer = (graph.initializer ?? []).filter((t) => !taken.has(t.name!));
  graph.input = [...(graph.input ?? []), ...inputs];
  return { model: onnx.ModelProto.encode(proto).finish(), slots };
}

/** The input names of the slots, for checks and tests. */
export function slotInputs(slot: Slot): string[] {
  return slot.mode === 'joined' ? [slot.names.in, slot.names.out] : [slot.name];
}
