import { createHash } from 'node:crypto';
import { encodeHalf } from '../formats/float16.js';
import type { DenseTensor, FactorBlock, FactorDType, FactoredLayer, LayerRefitEntry, ModelHeader, Preset } from '../formats/model.js';
import type { LayerRefit } from '../runtime/factors.js';
import { FORMAT_VERSION } from '../formats/model.js';
import { readHeader } from '../formats/read.js';
import { PayloadBuilder, writeLrm, type LrmHeaderInput } from '../formats/write.js';
import { runtimeParams, type TierCut } from './allocate.js';
import type { LayerCandidate } from './factorize/candidates.js';
import type { ImportedModel } from './import/onnx.js';
import type { OrderedFactors } from './linalg/svd.js';
import { int8Scales, quantizeFactors, quantizeInt8 } from './quantize.js';
import { COMPILER_VERSION } from './version.js';

export interface AssembleInput {
  source: Uint8Array;
  fileName: string;
  model: ImportedModel;
  candidates: LayerCandidate[];
  factors: OrderedFactors[];
  /** Ranks per tier; the last tier's ranks are what gets stored. */
  cuts: TierCut[];
  dtype: FactorDType;
  /** Per tier (cuts order), per layer: refitted left factors and biases (compiler/refit.ts), stored after every tier. */
  refits?: Array<Array<LayerRefit | undefined>>;
}

/**
 * Lay out the payload (dense weights, then each tier's new components per layer, 64-byte aligned) and write
 * the header. Components beyond the last tier's ranks are not stored. Refit sections, when given, follow the last
 * tier in tier order.
 */
export async function assembleLrm({ source, fileName, model, candidates, factors, cuts, dtype, refits }: AssembleInput): Promise<{ lrm: Uint8Array; header: ModelHeader }> {
  const factoredWeights = new Set(candidates.map((c) => c.weight.name));
  const payload = new PayloadBuilder();
  const initializers: DenseTensor[] = [];
  for (const t of model.initializers) {
    if (factoredWeights.has(t.name)) continue;
    initializers.push({ name: t.name, dataType: t.dataType, dims: t.dims, range: payload.append(t.data) });
  }
  const denseRange = payload.seal(0);
  const denseParams = model.initializers
    .filter((t) => !factoredWeights.has(t.name))
    .reduce((s, t) => s + t.dims.reduce((a, b) => a * b, 1), 0);

  // int8: each layer's stored components are quantised once (A per output over all of them, B per component),
  // so every tier's block is a slice with the same scales; see compiler/quantize.ts.
  const int8 = dtype === 'int8' ? candidates.map((c, i) => quantizeFactors(factors[i].left, factors[i].right, cuts[cuts.length - 1].ranks[i], c.rows, c.cols)) : [];
  const encode = (values: Float64Array | Int8Array): Uint8Array =>
    values instanceof Int8Array ? new Uint8Array(values.buffer, values.byteOffset, values.length) : dtype === 'fp16' ? encodeHalf(values) : new Uint8Array(Float32Array.from(values).buffer);
  const layers: FactoredLayer[] = candidates.map((c, i) => ({
    name: c.node.name,
    nodeIndex: c.nodeIndex,
    kind: c.kind,
    weight: c.weight.name,
    weightDims: c.weight.dims,
    rows: c.rows,
    cols: c.cols,
    maxRank: cuts[cuts.length - 1].ranks[i],
    sigma: Array.from(factors[i].sigma.subarray(0, cuts[cuts.length - 1].ranks[i])),
    blocks: [] as FactorBlock[],
  }));
  const tiers: LrmHeaderInput['tiers'] = [];
  let previous = candidates.map(() => 0);
  cuts.forEach((cut, t) => {
    const start = payload.length;
    candidates.forEach((c: LayerCandidate, li) => {
      const [begin, end] = [previous[li], cut.ranks[li]];
      if (t === 0 && dtype === 'int8') layers[li].leftScales = Array.from(int8[li].leftScales);
      if (end <= begin) return;
      const f = dtype === 'int8' ? int8[li] : factors[li];
      const left = payload.append(encode(f.left.subarray(begin * c.rows, end * c.rows)));
      const right = payload.append(encode(f.right.subarray(begin * c.cols, end * c.cols)));
      const scales = dtype === 'int8' ? { rightScales: Array.from(int8[li].rightScales.subarray(begin, end)) } : {};
      layers[li].blocks.push({ tier: t, rankBegin: begin, rankEnd: end, left, right, ...scales });
    });
    tiers.push({ index: t, budget: cut.budget, range: payload.seal(start), ranks: cut.ranks, params: denseParams + cut.ranks.reduce((sum, r, i) => sum + runtimeParams(candidates[i].rows, candidates[i].cols, r), 0) });
    previous = cut.ranks;
  });
  refits?.forEach((perLayer, t) => {
    const start = payload.length;
    const entries: LayerRefitEntry[] = [];
    perLayer.forEach((r, li) => {
      if (!r) return;
      const rows = candidates[li].rows;
      const rank = cuts[t].ranks[li];
      // int8: one scale per output over this refit's own components (it is used only at this tier's rank).
      const scales = dtype === 'int8' ? int8Scales(r.left, rank, rows, 1) : undefined;
      const left = payload.append(scales ? encode(quantizeInt8(r.left, rank, rows, scales, 1)) : encode(Float64Array.from(r.left)));
      const bias = r.bias && payload.append(new Uint8Array(Float32Array.from(r.bias).buffer));
      entries.push({ layer: li, left, ...(bias ? { bias } : {}), ...(scales ? { leftScales: Array.from(scales) } : {}) });
    });
    tiers[t].refit = { range: payload.seal(start), layers: entries };
  });

  const header = {
    formatVersion: FORMAT_VERSION,
    compilerVersion: COMPILER_VERSION,
    source: {
      sha256: createHash('sha256').update(source).digest('hex'),
      fileName,
      bytes: source.length,
      irVersion: model.irVersion,
      producer: model.producer,
      opsets: model.opsets,
    },
    graph: { inputs: model.inputs, outputs: model.outputs, nodes: model.nodes, initializers },
    factorDType: dtype,
    layers,
    dense: { range: denseRange },
    tiers,
    presets: defaultPresets(tiers.length),
  };
  const lrm = await writeLrm(header, payload.finish());
  return { lrm, header: (await readHeader(lrm)).header };
}


/** Unmeasured presets by tier count; `lowrank tune` replaces them with measured ones. */
function defaultPresets(tierCount: number): Preset[] {
  return [
    { name: 'compact', deviceClass: 'any', engine: 'any', tiers: 1 },
    { name: 'balanced', deviceClass: 'any', engine: 'any', tiers: Math.max(1, Math.ceil(tierCount / 2)) },
    { name: 'full', deviceClass: 'any', engine: 'any', tiers: tierCount },
  ];
}
