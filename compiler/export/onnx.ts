/**
 * `.lrm` → ONNX with the factors as initializers: the way back to training. Every factored layer becomes two
 * nodes at its rank in the chosen tier (input-side factor first, as the runtime builds them), even past
 * break-even where the runtime would multiply it out: the factors, ordered by σ, are the spectral starting
 * point for fine-tuning elsewhere (OIALR-style training, LoRA). Everything else is as in the source model.
 * Compiling the export again recognises the pairs (compiler/factorize/prefactored.ts) and decomposes nothing.
 */
import type { FactoredLayer, ModelHeader } from '../../formats/model.js';
import { denseWeight, factorStorage, gatherFactors, type FactorStorage, type LayerFactors } from '../../runtime/factors.js';
import { orderedFactors } from '../linalg/svd.js';
import { buildOnnxModel, factoredNodes, storedDense, tierBitsAt } from '../../runtime/onnx/build-model.js';
import { onnx, type NodeProto, type TensorProto } from '../../runtime/onnx/proto.js';
import { CompileOptionError } from '../errors.js';

export interface ExportOptions {
  /** Tier index as `inspect` numbers them (tiers 0..tier are used); default: the last. */
  tier?: number;
}

export interface ExportResult {
  /** The ONNX model bytes. */
  onnx: Uint8Array;
  tier: number;
  /** Rank of every factored layer in the export (header.layers order). */
  ranks: number[];
}

/** Write the model at one tier as ONNX, every factored layer as two nodes with its factors as initializers. */
export function exportFactoredOnnx(header: ModelHeader, payload: Uint8Array, options: ExportOptions = {}): ExportResult {
  const count = header.tiers.length;
  const tier = options.tier ?? count - 1;
  if (!Number.isInteger(tier) || tier < 0 || tier >= count) {
    throw new CompileOptionError(`--tier must be a whole number from 0 to ${count - 1} (this model has ${count} tiers), got ${tier}`, 'bad-tier');
  }
  const ranks = [...header.tiers[tier].ranks];
  // An 8-bit tier exports its int4 matrices with their low planes, as the runtime runs it.
  const bits = tierBitsAt(header, tier + 1);
  const storage = factorStorage(header, bits);
  // Every node but the factored ones as the runtime writes them (dense initializers, attributes, opsets), one
  // proto per header node; then each factored layer's node is swapped for its two factor nodes.
  const base = onnx.ModelProto.decode(buildOnnxModel({ ...header, layers: [] }, payload, [], { bits }));
  const graph = base.graph!;
  const replacement = new Map<number, NodeProto[]>();
  const tensors: TensorProto[] = [];
  header.layers.forEach((layer, i) => {
    const node = header.graph.nodes[layer.nodeIndex];
    const { nodes, tensors: t } = factoredNodes(layer, node, exportedFactors(storage, payload, layer, ranks[i]));
    replacement.set(layer.nodeIndex, nodes);
    tensors.push(...t);
  });
  const model = onnx.ModelProto.create({
    ...base,
    docString: `${header.source.fileName} at tier ${tier} of ${count} (ranks ${ranks.join(',')}), factors as initializers; written by lowrank export`,
    graph: onnx.GraphProto.create({
      ...graph,
      node: (graph.node ?? []).flatMap((n, i) => replacement.get(i) ?? [n]),
      initializer: [...(graph.initializer ?? []), ...tensors],
    }),
  });
  return { onnx: onnx.ModelProto.encode(model).finish(), tier, ranks };
}

/**
 * The layer's factors at `rank`. Past break-even a v2 file stores the dense M instead of factors; the export
 * factorises it again (plain SVD, exact at full rank) so that every layer still leaves as an ordered pair.
 */
function exportedFactors(storage: FactorStorage, payload: Uint8Array, layer: FactoredLayer, rank: number): LayerFactors {
  if (!storedDense(layer, rank)) return gatherFactors(layer, rank, payload, storage);
  const f = orderedFactors(Float64Array.from(denseWeight(layer, payload, storage)), layer.rows, layer.cols);
  return { rank: f.rank, left: Float32Array.from(f.left.subarray(0, f.rank * layer.rows)), right: Float32Array.from(f.right.subarray(0, f.rank * layer.cols)) };
}
