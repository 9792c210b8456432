import { createHash } from 'node:crypto';
import { encodeHalf } from '../formats/float16.js';
import type { GroupLayout } from '../formats/int4.js';
import type { DenseTensor, FactorBlock, FactorDType, FactoredLayer, LayerRefitEntry, ModelHeader, Preset } from '../formats/model.js';
import type { LayerRefit } from '../runtime/factors.js';
import { formatVersionFor, groupedBits, usesInt4 } from '../formats/model.js';
import { readHeader } from '../formats/read.js';
import { PayloadBuilder, writeLrm, type LrmHeaderInput } from '../formats/write.js';
import { runtimeParams, type TierCut } from './allocate.js';
import type { LayerCandidate } from './factorize/candidates.js';
import type { ImportedModel } from './import/onnx.js';
import { denseMatrix, productOfFactors, type OrderedFactors } from './linalg/svd.js';
import { runsFactored } from '../runtime/onnx/build-model.js';
import { int8Scales, quantizeFactors, quantizeInt8 } from './quantize.js';
import { storeDense, weightAxes } from './quantize-dense.js';
import type { PrecisionChoice } from './precision.js';
import { roundedInt4 } from './gptq.js';
import { roundedInt8 } from './gptq-int8.js';
import { roundedLowPlane } from './low-plane.js';
import { int4RowSlice, packInt4, packMidPlane, quantizeInt4Nearest, type Int4Matrix } from './quantize-int4.js';
import { COMPILER_VERSION } from './version.js';
import type { SequentialReport } from './sequential-rounding.js';

export interface AssembleInput {
  /** The model file as the user gave it: the header records its hash and size. */
  source: Uint8Array;
  /** What import normalisation changed (compiler/import/normalise.ts), kept in the header's source info. */
  normalised?: string[];
  fileName: string;
  model: ImportedModel;
  candidates: LayerCandidate[];
  factors: OrderedFactors[];
  /** Ranks per tier; the last tier's ranks are what gets stored. */
  cuts: TierCut[];
  dtype: FactorDType;
  /** Per tier (cuts order), per layer: refitted left factors and biases (compiler/refit.ts), stored after every tier. */
  refits?: Array<Array<LayerRefit | undefined>>;
  /**
   * Store the dense weight of a layer from the tier where it runs dense (default true). False keeps every
   * component as factors: what distillation and refit train and fit on, since they need the factors at every rank.
   */
  denseStorage?: boolean;
  /** int4 files: how to round (compiler/gptq.ts, compiler/quantize-int4.ts). Required when dtype is 'int4'. */
  int4?: Int4Plan;
  /**
   * E[x·xᵀ] of each weight's inputs, by weight name, where calibration measured it: what is stored int8 is rounded
   * against it (compiler/gptq-int8.ts), else to nearest. compileOnnx gives it to int8 files only (compile.ts says why).
   */
  moments?: ReadonlyMap<string, Float64Array>;
}

export interface Int4Plan {
  /** Group size and scale storage of every grouped matrix (formats/int4.ts). */
  grouping: GroupLayout;
  /** E[x·xᵀ] of each weight's inputs, by weight name, where calibration reached it: GPTQ rounds B against it. */
  moments: ReadonlyMap<string, Float64Array>;
  /**
   * The precision pass's choice (compiler/precision.ts) for every weight kept dense and every factored layer's
   * dense M: int4 (already rounded) or int8. A weight it has no choice for is stored int8.
   */
  choices: ReadonlyMap<string, PrecisionChoice>;
  /** What sequential rounding (compiler/sequential-rounding.ts) did, when it ran. */
  sequential?: SequentialReport[];
}

/**
 * What an int4 file did with each weight: int4 or int8, how it was rounded, the error measured, and (when it ran) its
 * layer's output error before and after sequential rounding.
 */
export type Int4Report = Array<{ weight: string; sequential?: Omit<SequentialReport, 'weight'> } & Omit<PrecisionChoice, 'int4'>>;

/**
 * Lay out the payload and write the header: the dense section (weights that are not factored), then each tier's
 * section (its new components per layer, and the dense M of every layer that runs dense from that tier on), then
 * the transient sections (the components of layers that go dense later, needed only below that tier), then the
 * refit sections in tier order; every block 64-byte aligned. Components beyond the last tier's ranks are not stored.
 */
export async function assembleLrm({ source, normalised, fileName, model, candidates, factors, cuts, dtype, refits, denseStorage, int4: plan, moments }: AssembleInput): Promise<{ lrm: Uint8Array; header: ModelHeader; int4?: Int4Report }> {
  if (dtype === 'int4' && !plan) throw new RangeError('an int4 file needs its int4 plan (group size, moments)');
  const factoredWeights = new Set(candidates.map((c) => c.weight.name));
  const payload = new PayloadBuilder();
  const initializers: DenseTensor[] = [];
  // fp16/int8/int4 files store the weights that are not factored at that precision too (compiler/quantize-dense.ts).
  const axes = dtype === 'fp32' ? new Map<string, number>() : weightAxes(model.nodes, model.initializers);
  // 8-bit tiers (int4 files): from the first one (b) on, every int4 matrix is read with its low plane, which lies
  // in tier max(b, where its int4 values lie) (formats/lrm.fbs), so a device at a 4-bit tier never fetches one.
  const b = cuts.findIndex((c) => c.bits === 8);
  if (b >= 0 && !plan) throw new RangeError('8-bit tiers refine int4 matrices: they need an int4 file');
  // 4-bit tiers (format v6): from the first one (m) on, every int3 matrix is read with its mid plane, in tier
  // max(m, where its int3 values lie); the precision plan set each int3 matrix's mid bits (compiler/int4-plan.ts).
  const m = cuts.findIndex((c) => c.bits === 4);
  if (m >= 0 && !plan) throw new RangeError('4-bit tiers refine int3 matrices: they need an int4 file');
  const lowInts = new Map<string, Int4Matrix>();
  const midInts = new Map<string, Int4Matrix>();
  // The header says one scale storage for every grouped matrix; sizes alone cannot tell them apart at 2 groups a row.
  for (const [name, c] of plan?.choices ?? []) {
    if (c.storage !== 'int8' && !!c.int4.rowScales !== !!plan!.grouping.scaleCodes) throw new Error(`compiler error: "${name}" was rounded with ${c.int4.rowScales ? 'scale codes' : 'half-float scales'}, the file stores the other`);
  }
  for (const t of model.initializers) {
    if (factoredWeights.has(t.name)) continue;
    const choice = plan?.choices.get(t.name);
    const { bytes, fields } = storeDense(t, axes.get(t.name), dtype, choice, moments?.get(t.name));
    initializers.push({ name: t.name, dataType: t.dataType, dims: t.dims, range: payload.append(bytes), ...fields });
    if (b >= 0 && groupedBits(fields.storage) !== undefined) lowInts.set(t.name, choice!.int4);
    if (m >= 0 && fields.storage === 'int3') midInts.set(t.name, choice!.int4);
  }
  const denseRange = payload.seal(0);
  const denseParams = model.initializers
    .filter((t) => !factoredWeights.has(t.name))
    .reduce((s, t) => s + t.dims.reduce((a, b) => a * b, 1), 0);

  const fullRanks = cuts[cuts.length - 1].ranks;
  // The tier from which each layer runs dense (at its full rank, past break-even), or -1: from there on the file
  // stores the dense weight and the device reads it instead of the factors, so no tier costs more than dense.
  const denseTier = candidates.map((c, i) =>
    (denseStorage ?? true) ? cuts.findIndex((cut) => cut.ranks[i] === fullRanks[i] && fullRanks[i] > 0 && !runsFactored(c, cut.ranks[i])) : -1,
  );
  // Components stored as factors: up to the rank of the tier before the layer goes dense.
  const storedRanks = candidates.map((_, i) => (denseTier[i] < 0 ? fullRanks[i] : denseTier[i] === 0 ? 0 : cuts[denseTier[i] - 1].ranks[i]));

  // int8: each layer's stored components are quantised once (A per output over all of them, B per component),
  // so every tier's block is a slice with the same scales; see compiler/quantize.ts.
  const int8 = dtype === 'int8' ? candidates.map((c, i) => quantizeFactors(factors[i].left, factors[i].right, storedRanks[i], c.rows, c.cols, moments?.get(c.weight.name))) : [];
  // int4: likewise once per layer; B against the layer's inputs (GPTQ), A (whose inputs B·x are decorrelated by the
  // whitened SVD) to nearest; a block is a slice of rows with their own group scales.
  const int4 = plan ? candidates.map((c, i) => int4Factors(factors[i], storedRanks[i], c.rows, c.cols, plan, plan.moments.get(c.weight.name))) : [];
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
    maxRank: fullRanks[i],
    // σ of the components stored as factors: past them the layer is read as its dense weight.
    sigma: Array.from(factors[i].sigma.subarray(0, storedRanks[i])),
    blocks: [] as FactorBlock[],
    ...(dtype === 'int8' ? { leftScales: Array.from(int8[i].leftScales) } : {}),
  }));
  const rankBefore = (t: number, li: number) => (t === 0 ? 0 : cuts[t - 1].ranks[li]);
  /** Appends a layer's components of tier t (if it adds any) as one block. */
  const appendBlock = (t: number, li: number): void => {
    const c = candidates[li];
    const [begin, end] = [rankBefore(t, li), cuts[t].ranks[li]];
    if (end <= begin) return;
    if (plan) {
      const left = payload.append(packInt4(int4RowSlice(int4[li].left, begin, end)));
      const right = payload.append(packInt4(int4RowSlice(int4[li].right, begin, end)));
      layers[li].blocks.push({ tier: t, rankBegin: begin, rankEnd: end, left, right });
      return;
    }
    const f = dtype === 'int8' ? int8[li] : factors[li];
    const left = payload.append(encode(f.left.subarray(begin * c.rows, end * c.rows)));
    const right = payload.append(encode(f.right.subarray(begin * c.cols, end * c.cols)));
    const scales = dtype === 'int8' ? { rightScales: Array.from(int8[li].rightScales.subarray(begin, end)) } : {};
    layers[li].blocks.push({ tier: t, rankBegin: begin, rankEnd: end, left, right, ...scales });
  };
  /** Appends the low planes of a layer's block of tier t, if it has one (int4 files with an 8-bit tier). */
  const appendBlockLow = (t: number, li: number): void => {
    const block = layers[li].blocks.find((blk) => blk.tier === t);
    if (!block) return;
    block.leftLow = payload.append(roundedLowPlane(int4RowSlice(int4[li].left, block.rankBegin, block.rankEnd)));
    block.rightLow = payload.append(roundedLowPlane(int4RowSlice(int4[li].right, block.rankBegin, block.rankEnd)));
  };
  /** Appends the low plane of a layer's dense M where it is stored int4 (or int3). */
  const appendDenseLow = (li: number): void => {
    const choice = plan?.choices.get(candidates[li].weight.name);
    if (choice && choice.storage !== 'int8') layers[li].denseLow = payload.append(roundedLowPlane(choice.int4));
  };
  /** Appends the mid plane of a layer's dense M where it is stored int3 (int4 files with a 4-bit tier). */
  const appendDenseMid = (li: number): void => {
    const choice = plan?.choices.get(candidates[li].weight.name);
    if (choice?.storage === 'int3') layers[li].denseMid = payload.append(packedMidPlane(choice.int4));
  };
  /** The dense M of a layer from its full-rank factors, in the file's dtype (int8: one scale per row). */
  const appendDense = (li: number): void => {
    const c = candidates[li];
    layers[li].denseTier = denseTier[li];
    const choice = plan?.choices.get(c.weight.name);
    // int4 files: M as the precision pass rounded it (from the same factors; int4 or int3), or int8 where it chose int8.
    if (choice && choice.storage !== 'int8') {
      layers[li].dense = payload.append(packInt4(choice.int4));
      if (choice.storage === 'int3') layers[li].denseStorage = 'int3';
      return;
    }
    const M = denseMatrix(factors[li], fullRanks[li], c.rows, c.cols);
    if (dtype === 'int8' || plan) {
      const scales = int8Scales(M, c.rows, c.cols, 0);
      layers[li].dense = payload.append(encode(roundedInt8(M, c.rows, c.cols, scales, moments?.get(c.weight.name))));
      layers[li].denseScales = Array.from(scales);
      if (plan) layers[li].denseStorage = 'int8';
    } else {
      layers[li].dense = payload.append(encode(M));
    }
  };

  // Each tier's own section: the dense weights of layers going dense there, then the blocks of layers that never do.
  // An 8-bit tier stores its own matrices with their low planes; the first one also the low planes of everything
  // stored before it that its ranks still read. 4-bit tiers do the same with int3 matrices' mid planes.
  const tiers: LrmHeaderInput['tiers'] = cuts.map((cut, t) => {
    const start = payload.length;
    candidates.forEach((_, li) => {
      if (denseTier[li] === t) {
        appendDense(li);
        if (m >= 0 && t >= m) appendDenseMid(li);
        if (b >= 0 && t >= b) appendDenseLow(li);
      } else if (denseTier[li] < 0) {
        appendBlock(t, li);
        if (b >= 0 && t >= b) appendBlockLow(t, li);
      }
    });
    if (t === m) {
      for (const w of initializers) if (midInts.has(w.name)) w.mid = payload.append(packedMidPlane(midInts.get(w.name)!));
      candidates.forEach((_, li) => {
        if (denseTier[li] >= 0 && denseTier[li] < m) appendDenseMid(li);
      });
    }
    if (t === b) {
      for (const w of initializers) if (lowInts.has(w.name)) w.low = payload.append(roundedLowPlane(lowInts.get(w.name)!));
      candidates.forEach((_, li) => {
        if (denseTier[li] >= 0 && denseTier[li] < b) appendDenseLow(li);
        else if (denseTier[li] < 0) for (let earlier = 0; earlier < b; earlier++) appendBlockLow(earlier, li);
      });
    }
    return {
      index: t,
      budget: cut.budget,
      range: payload.seal(start),
      ranks: cut.ranks,
      params: denseParams + cut.ranks.reduce((sum, r, i) => sum + runtimeParams(candidates[i].rows, candidates[i].cols, r), 0),
      ...(cut.bits ? { bits: cut.bits } : {}),
    };
  });
  // Transient sections: tier t's blocks of layers dense from tier d > t, read only below d. Dense tier descending,
  // then tier ascending, so what a device at tier k needs (d > k, t ≤ k) starts right after the last tier.
  for (let d = cuts.length - 1; d > 0; d--) {
    for (let t = 0; t < d; t++) {
      const start = payload.length;
      const before = payload.length;
      candidates.forEach((_, li) => {
        if (denseTier[li] !== d) return;
        appendBlock(t, li);
        if (b >= 0 && t >= b) appendBlockLow(t, li);
        if (t === b) for (let earlier = 0; earlier < b; earlier++) appendBlockLow(earlier, li);
      });
      if (payload.length === before) continue;
      (tiers[t].transient ??= []).push({ denseTier: d, range: payload.seal(start) });
    }
  }
  refits?.forEach((perLayer, t) => {
    const start = payload.length;
    const entries: LayerRefitEntry[] = [];
    perLayer.forEach((r, li) => {
      if (!r) return;
      const { rows, cols } = candidates[li];
      const rank = cuts[t].ranks[li];
      const bias = r.bias && payload.append(new Uint8Array(Float32Array.from(r.bias).buffer));
      if (denseTier[li] >= 0 && t >= denseTier[li]) {
        // The layer runs dense here: store the refitted M = A'·B, which is all the device reads of it.
        const M = productOfFactors({ left: Float64Array.from(r.left), right: factors[li].right }, rank, rows, cols);
        const scales = dtype === 'int8' ? int8Scales(M, rows, cols, 0) : undefined;
        const left = payload.append(scales ? encode(roundedInt8(M, rows, cols, scales, moments?.get(candidates[li].weight.name))) : encode(M));
        entries.push({ layer: li, left, dense: true, ...(bias ? { bias } : {}), ...(scales ? { leftScales: Array.from(scales) } : {}) });
        return;
      }
      // int8: one scale per output over this refit's own components (it is used only at this tier's rank).
      const scales = dtype === 'int8' ? int8Scales(r.left, rank, rows, 1) : undefined;
      const left = payload.append(scales ? encode(quantizeInt8(r.left, rank, rows, scales, 1)) : encode(Float64Array.from(r.left)));
      entries.push({ layer: li, left, ...(bias ? { bias } : {}), ...(scales ? { leftScales: Array.from(scales) } : {}) });
    });
    tiers[t].refit = { range: payload.seal(start), layers: entries };
  });

  const grouped = usesInt4({ factorDType: dtype, graph: { initializers } });
  const int4ScaleCodes = grouped && plan!.grouping.scaleCodes === true;
  const header = {
    formatVersion: formatVersionFor({ factorDType: dtype, layers, graph: { initializers }, tiers, int4ScaleCodes: int4ScaleCodes || undefined }),
    compilerVersion: COMPILER_VERSION,
    source: {
      sha256: createHash('sha256').update(source).digest('hex'),
      fileName,
      bytes: source.length,
      irVersion: model.irVersion,
      producer: model.producer,
      opsets: model.opsets,
      ...(normalised?.length ? { normalised } : {}),
    },
    graph: { inputs: model.inputs, outputs: model.outputs, nodes: model.nodes, initializers },
    factorDType: dtype,
    layers,
    dense: { range: denseRange },
    tiers,
    presets: defaultPresets(tiers.length),
    ...(grouped ? { int4GroupSize: plan!.grouping.size, ...(int4ScaleCodes ? { int4ScaleCodes } : {}) } : {}),
  };
  const lrm = await writeLrm(header, payload.finish());
  const sequential = new Map(plan?.sequential?.map(({ weight, ...entry }) => [weight, entry]));
  const report: Int4Report | undefined = plan && [...plan.choices].map(([weight, { int4: _, ...choice }]) => ({ weight, ...choice, ...(sequential.has(weight) ? { sequential: sequential.get(weight) } : {}) }));
  return { lrm, header: (await readHeader(lrm)).header, ...(report ? { int4: report } : {}) };
}

/** A layer's first `rank` components as int4: A's columns as rows of `rows` values, B's rows of `cols` values. */
function int4Factors(f: OrderedFactors, rank: number, rows: number, cols: number, plan: Int4Plan, moment: Float64Array | undefined): { left: Int4Matrix; right: Int4Matrix } {
  const B = f.right.subarray(0, rank * cols);
  return {
    left: quantizeInt4Nearest(f.left.subarray(0, rank * rows), rank, rows, plan.grouping),
    right: roundedInt4(Float64Array.from(B), rank, cols, moment, plan.grouping).matrix,
  };
}


/** The packed mid plane of an int3 matrix (formats/int4.ts); the precision plan must have rounded its bits. */
function packedMidPlane(matrix: Int4Matrix): Uint8Array {
  if (!matrix.mid) throw new RangeError('an int3 matrix in a file with a 4-bit tier needs its mid plane rounded (compiler/int4-plan.ts)');
  return packMidPlane(matrix, matrix.mid);
}

/** Unmeasured presets by tier count; `lowrank tune` replaces them with measured ones. */
function defaultPresets(tierCount: number): Preset[] {
  return [
    { name: 'compact', deviceClass: 'any', engine: 'any', tiers: 1 },
    { name: 'balanced', deviceClass: 'any', engine: 'any', tiers: Math.max(1, Math.ceil(tierCount / 2)) },
    { name: 'full', deviceClass: 'any', engine: 'any', tiers: tierCount },
  ];
}
