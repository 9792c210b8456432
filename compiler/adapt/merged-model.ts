import type { AdapterTarget } from '../../runtime/adapters/targets.js';
import { decodeRefits, denseWeight, factorStorage, float32Copy, gatherFactors, multiplyOut, transposeF32, type LayerRefit } from '../../runtime/factors.js';
import { denseTensorBytes } from '../../runtime/dense-weights.js';
import { buildOnnxModel, denseNode, middleTensorName, storedDense, tierBitsAt } from '../../runtime/onnx/build-model.js';
import { onnx, type NodeProto, type TensorProto } from '../../runtime/onnx/proto.js';
import type { AdapterBaseFile } from './base.js';
import { headerGrouping, type TierBits } from '../../formats/model.js';

/**
 * The base at one tier (tiers 0..tier loaded, as the runtime builds it: that tier's ranks, its refits when the file
 * has them, its low planes at an 8-bit tier) as an ONNX model in which every adapted weight is one dense node with
 * a given matrix M (rows × cols). The trainer builds it with the base's own matrices and turns those initializers
 * into inputs (fed W_base + ΔW); the measurement builds it with W_base + ΔW merged.
 *
 * A factored layer runs dense here even where the runtime would run it as two thin nodes: W_base + ΔW is a full
 * matrix for LoHa and LoKr anyway (and for LoRA it is rank r_tier + r, not worth two branches on a model this
 * size), one matrix per layer keeps the three kinds one code path, and it is the merged form an adapter is
 * measured in, so training and measurement run the same graph.
 */
export function mergedOnnx(base: AdapterBaseFile, tier: number, targets: readonly AdapterTarget[], matrices: readonly Float32Array[]): Uint8Array {
  const { header, payload } = base;
  const build = tierBuild(base, tier);
  const model = onnx.ModelProto.decode(buildOnnxModel(header, payload, build.ranks, { refits: build.refits, bits: build.bits }));
  const graph = model.graph!;
  targets.forEach((t, k) => {
    const source = header.graph.nodes[t.nodeIndex];
    const out = source.outputs[0];
    // The middle tensor of a factored layer's two nodes, whatever its rank (middleTensorName).
    const middle = middleTensorName(source, 0).slice(0, -1);
    // What buildOnnxModel made of the node: itself, one dense node, or two thin ones (`…/in` writes the middle tensor).
    const built = (n: NodeProto) => n.output?.[0] === out || (t.storage === 'factored' && (n.output?.[0] ?? '').startsWith(middle));
    const at = graph.node!.findIndex(built);
    const last = graph.node!.find((n) => n.output?.[0] === out)!;
    const { node, tensor } = denseNode({ ...t, weight: t.target }, source, matrices[k]);
    // Keep the bias the built node reads (a refit bias replaces the source's).
    if (last.input && last.input.length > 2) node.input = [...node.input!.slice(0, 2), last.input[2]];
    graph.node = graph.node!.filter((n) => !built(n));
    graph.node.splice(at, 0, node);
    const replaced = new Set([t.target, `${t.target}__lowrank_in`, `${t.target}__lowrank_out`]);
    graph.initializer = [...graph.initializer!.filter((i) => !replaced.has(i.name ?? '')), tensor as TensorProto];
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Each target's weight at `tier` as the base runs it, as a rows × cols matrix (float32, row-major). */
export function baseMatrices(base: AdapterBaseFile, tier: number, targets: readonly AdapterTarget[]): Float32Array[] {
  const { header, payload } = base;
  const build = tierBuild(base, tier);
  const storage = factorStorage(header, build.bits);
  return targets.map((t) => {
    if (t.storage === 'factored') {
      // As buildOnnxModel builds the layer at this rank (runtime/onnx/build-model.ts).
      const layer = header.layers[t.layer];
      const rank = build.ranks[t.layer];
      const refit = build.refits?.[t.layer];
      if (storedDense(layer, rank)) return refit?.dense ? refit.left : denseWeight(layer, payload, storage);
      const stored = gatherFactors(layer, rank, payload, storage);
      return multiplyOut(refit ? { ...stored, left: refit.left } : stored, layer.rows, layer.cols);
    }
    // The inverse of the runtime's dense slot (runtime/adapters/feeds.ts adds ΔW in the stored layout instead).
    const bytes = denseTensorBytes(t.tensor, payload, headerGrouping(header), build.bits);
    const values = float32Copy(bytes, 0, bytes.length / 4);
    const m = t.transposed ? transposeF32(values, t.cols, t.rows) : values;
    const alpha = t.gemm?.alpha ?? 1;
    if (alpha !== 1) for (let i = 0; i < m.length; i++) m[i] *= alpha;
    return m;
  });
}

interface TierBuild {
  ranks: number[];
  refits?: Array<LayerRefit | undefined>;
  bits: TierBits | undefined;
}

function tierBuild(base: AdapterBaseFile, tier: number): TierBuild {
  const { header, bytes, payloadStart } = base;
  const t = header.tiers[tier];
  const refits = t.refit ? decodeRefits(header, tier, bytes.subarray(payloadStart + t.refit.range.offset, payloadStart + t.refit.range.offset + t.refit.range.length)) : undefined;
  return { ranks: t.ranks, refits, bits: tierBitsAt(header, tier + 1) };
}
