/**
 * Where every stored byte of an .lrm goes (formats/lrm.fbs): the dense section (weights that are not factored), then
 * each tier's section (its new components per layer, and the dense M of every layer that runs dense from that tier
 * on), then the transient sections (the components of layers that go dense later, needed only below that tier), then
 * the refit sections in tier order; every block 64-byte aligned. Components beyond the last tier's ranks are not
 * stored. assembleLrm (assemble.ts) calls the sections in that order and writes the header around them.
 */
import { encodeHalf } from '../formats/float16.js';
import type { ByteRange, DenseTensor, FactorBlock, FactorDType, FactoredLayer, LayerRefitEntry } from '../formats/model.js';
import { groupedBits } from '../formats/model.js';
import { PayloadBuilder, type LrmHeaderInput } from '../formats/write.js';
import type { LayerRefit } from '../runtime/factors.js';
import { runsFactored } from '../runtime/onnx/build-model.js';
import { runtimeParams, type TierCut } from './allocate.js';
import type { ImportedModel } from './import/onnx.js';
import type { LayerCandidate } from './factorize/candidates.js';
import type { Int4Plan } from './int4-plan.js';
import { roundedInt4 } from './gptq.js';
import { roundedInt8 } from './gptq-int8.js';
import { denseMatrix, productOfFactors, type OrderedFactors } from './linalg/svd.js';
import { roundedLowPlane } from './low-plane.js';
import { int8Scales, quantizeFactors, quantizeInt8, type Int8Factors } from './quantize.js';
import { storeDense, weightAxes } from './quantize-dense.js';
import { int4RowSlice, packInt4, packMidPlane, quantizeInt4Nearest, type Int4Matrix } from './quantize-int4.js';

/** What the payload holds: the model's weights, factors and ranks, and how each is stored. */
export interface LayoutInput {
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

type TierEntry = LrmHeaderInput['tiers'][number];

export class PayloadLayout {
  readonly payload = new PayloadBuilder();
  /** The graph's stored initializers (every weight that is not factored), with their ranges once laid out. */
  readonly initializers: DenseTensor[] = [];
  /** One entry per factored layer; blocks and dense ranges are filled in as sections are laid out. */
  readonly layers: FactoredLayer[];
  private readonly input: LayoutInput;
  private readonly plan?: Int4Plan;
  /** The first 8-bit tier (int4 files): from it on every int4 matrix is read with its low plane; −1: none. */
  private readonly firstEightBit: number;
  /** The first 4-bit tier (format v6): from it on every int3 matrix is read with its mid plane; −1: none. */
  private readonly firstFourBit: number;
  private readonly lowInts = new Map<string, Int4Matrix>();
  private readonly midInts = new Map<string, Int4Matrix>();
  private readonly fullRanks: number[];
  /** The tier from which each layer runs dense (at its full rank, past break-even), or −1. */
  private readonly denseTier: number[];
  private readonly int8: Int8Factors[];
  private readonly int4: Array<{ left: Int4Matrix; right: Int4Matrix }>;
  /** Weights the factors replace: not stored in the dense section. */
  private readonly factoredWeights: Set<string>;
  /** Elements of the weights that are not factored: every tier's parameter count starts from them. */
  private readonly denseParams: number;

  constructor(input: LayoutInput) {
    const { candidates, factors, cuts, dtype, denseStorage, int4: plan, moments } = input;
    if (dtype === 'int4' && !plan) throw new RangeError('an int4 file needs its int4 plan (group size, moments)');
    this.input = input;
    this.plan = plan;
    // 8-bit tiers (int4 files): from the first one (b) on, every int4 matrix is read with its low plane, which lies
    // in tier max(b, where its int4 values lie) (formats/lrm.fbs), so a device at a 4-bit tier never fetches one.
    this.firstEightBit = cuts.findIndex((c) => c.bits === 8);
    if (this.firstEightBit >= 0 && !plan) throw new RangeError('8-bit tiers refine int4 matrices: they need an int4 file');
    // 4-bit tiers (format v6): from the first one (m) on, every int3 matrix is read with its mid plane, in tier
    // max(m, where its int3 values lie); the precision plan set each int3 matrix's mid bits (compiler/int4-plan.ts).
    this.firstFourBit = cuts.findIndex((c) => c.bits === 4);
    if (this.firstFourBit >= 0 && !plan) throw new RangeError('4-bit tiers refine int3 matrices: they need an int4 file');
    // The header says one scale storage for every grouped matrix; sizes alone cannot tell them apart at 2 groups a row.
    for (const [name, c] of plan?.choices ?? []) {
      if (c.storage !== 'int8' && !!c.int4.rowScales !== !!plan!.grouping.scaleCodes) throw new Error(`compiler error: "${name}" was rounded with ${c.int4.rowScales ? 'scale codes' : 'half-float scales'}, the file stores the other`);
    }
    this.factoredWeights = new Set(candidates.map((c) => c.weight.name));
    this.denseParams = input.model.initializers.filter((t) => !this.factoredWeights.has(t.name)).reduce((sum, t) => sum + t.dims.reduce((a, b) => a * b, 1), 0);
    this.fullRanks = cuts[cuts.length - 1].ranks;
    const full = this.fullRanks;
    // From a layer's dense tier on the file stores the dense weight and the device reads it instead of the factors,
    // so no tier costs more than dense.
    this.denseTier = candidates.map((c, i) =>
      (denseStorage ?? true) ? cuts.findIndex((cut) => cut.ranks[i] === full[i] && full[i] > 0 && !runsFactored(c, cut.ranks[i])) : -1,
    );
    // Components stored as factors: up to the rank of the tier before the layer goes dense.
    const storedRanks = candidates.map((_, i) => (this.denseTier[i] < 0 ? full[i] : this.denseTier[i] === 0 ? 0 : cuts[this.denseTier[i] - 1].ranks[i]));
    // int8: each layer's stored components are quantised once (A per output over all of them, B per component),
    // so every tier's block is a slice with the same scales; see compiler/quantize.ts.
    this.int8 = dtype === 'int8' ? candidates.map((c, i) => quantizeFactors(factors[i].left, factors[i].right, storedRanks[i], c.rows, c.cols, moments?.get(c.weight.name))) : [];
    // int4: likewise once per layer; B against the layer's inputs (GPTQ), A (whose inputs B·x are decorrelated by the
    // whitened SVD) to nearest; a block is a slice of rows with their own group scales.
    this.int4 = plan ? candidates.map((c, i) => int4Factors(factors[i], storedRanks[i], c.rows, c.cols, plan, plan.moments.get(c.weight.name))) : [];
    this.layers = candidates.map((c, i) => ({
      name: c.node.name,
      nodeIndex: c.nodeIndex,
      kind: c.kind,
      weight: c.weight.name,
      weightDims: c.weight.dims,
      rows: c.rows,
      cols: c.cols,
      maxRank: full[i],
      // σ of the components stored as factors: past them the layer is read as its dense weight.
      sigma: Array.from(factors[i].sigma.subarray(0, storedRanks[i])),
      blocks: [] as FactorBlock[],
      ...(dtype === 'int8' ? { leftScales: Array.from(this.int8[i].leftScales) } : {}),
    }));
  }

  /**
   * The dense section: every weight that is not factored, stored at the file's precision (fp16/int8/int4 files
   * quantise them too, compiler/quantize-dense.ts). Laid out first.
   */
  denseSection(): ByteRange {
    const { model, dtype, moments } = this.input;
    const axes = dtype === 'fp32' ? new Map<string, number>() : weightAxes(model.nodes, model.initializers);
    for (const t of model.initializers) {
      if (this.factoredWeights.has(t.name)) continue;
      const choice = this.plan?.choices.get(t.name);
      const { bytes, fields } = storeDense(t, axes.get(t.name), dtype, choice, moments?.get(t.name));
      this.initializers.push({ name: t.name, dataType: t.dataType, dims: t.dims, range: this.payload.append(bytes), ...fields });
      if (this.firstEightBit >= 0 && groupedBits(fields.storage) !== undefined) this.lowInts.set(t.name, choice!.int4);
      if (this.firstFourBit >= 0 && fields.storage === 'int3') this.midInts.set(t.name, choice!.int4);
    }
    return this.payload.seal(0);
  }

  /**
   * Tier t's own section: the dense weights of layers going dense there, then the blocks of layers that never do.
   * An 8-bit tier stores its own matrices with their low planes; the first one also the low planes of everything
   * stored before it that its ranks still read. 4-bit tiers do the same with int3 matrices' mid planes.
   */
  tierSection(cut: TierCut, t: number): TierEntry {
    const { candidates } = this.input;
    const [b, m] = [this.firstEightBit, this.firstFourBit];
    const start = this.payload.length;
    candidates.forEach((_, li) => {
      if (this.denseTier[li] === t) {
        this.appendDense(li);
        if (m >= 0 && t >= m) this.appendDenseMid(li);
        if (b >= 0 && t >= b) this.appendDenseLow(li);
      } else if (this.denseTier[li] < 0) {
        this.appendBlock(t, li);
        if (b >= 0 && t >= b) this.appendBlockLow(t, li);
      }
    });
    if (t === m) {
      for (const w of this.initializers) if (this.midInts.has(w.name)) w.mid = this.payload.append(packedMidPlane(this.midInts.get(w.name)!));
      candidates.forEach((_, li) => {
        if (this.denseTier[li] >= 0 && this.denseTier[li] < m) this.appendDenseMid(li);
      });
    }
    if (t === b) {
      for (const w of this.initializers) if (this.lowInts.has(w.name)) w.low = this.payload.append(roundedLowPlane(this.lowInts.get(w.name)!));
      candidates.forEach((_, li) => {
        if (this.denseTier[li] >= 0 && this.denseTier[li] < b) this.appendDenseLow(li);
        else if (this.denseTier[li] < 0) for (let earlier = 0; earlier < b; earlier++) this.appendBlockLow(earlier, li);
      });
    }
    return {
      index: t,
      budget: cut.budget,
      range: this.payload.seal(start),
      ranks: cut.ranks,
      params: this.denseParams + cut.ranks.reduce((sum, r, i) => sum + runtimeParams(candidates[i].rows, candidates[i].cols, r), 0),
      ...(cut.bits ? { bits: cut.bits } : {}),
    };
  }

  /**
   * Transient sections: tier t's blocks of layers dense from tier d > t, read only below d. Dense tier descending,
   * then tier ascending, so what a device at tier k needs (d > k, t ≤ k) starts right after the last tier.
   */
  transientSections(tiers: TierEntry[]): void {
    const b = this.firstEightBit;
    for (let d = tiers.length - 1; d > 0; d--) {
      for (let t = 0; t < d; t++) {
        const start = this.payload.length;
        this.input.candidates.forEach((_, li) => {
          if (this.denseTier[li] !== d) return;
          this.appendBlock(t, li);
          if (b >= 0 && t >= b) this.appendBlockLow(t, li);
          if (t === b) for (let earlier = 0; earlier < b; earlier++) this.appendBlockLow(earlier, li);
        });
        if (this.payload.length === start) continue;
        (tiers[t].transient ??= []).push({ denseTier: d, range: this.payload.seal(start) });
      }
    }
  }

  /** Tier t's refit section (compiler/refit.ts): per refitted layer, its left factor (or dense M) and bias. */
  refitSection(perLayer: Array<LayerRefit | undefined>, t: number): NonNullable<TierEntry['refit']> {
    const { candidates, factors, cuts, dtype, moments } = this.input;
    const start = this.payload.length;
    const entries: LayerRefitEntry[] = [];
    perLayer.forEach((r, li) => {
      if (!r) return;
      const { rows, cols } = candidates[li];
      const rank = cuts[t].ranks[li];
      const bias = r.bias && this.payload.append(new Uint8Array(Float32Array.from(r.bias).buffer));
      if (this.denseTier[li] >= 0 && t >= this.denseTier[li]) {
        // The layer runs dense here: store the refitted M = A'·B, which is all the device reads of it.
        const M = productOfFactors({ left: Float64Array.from(r.left), right: factors[li].right }, rank, rows, cols);
        const scales = dtype === 'int8' ? int8Scales(M, rows, cols, 0) : undefined;
        const left = this.payload.append(scales ? this.encode(roundedInt8(M, rows, cols, scales, moments?.get(candidates[li].weight.name))) : this.encode(M));
        entries.push({ layer: li, left, dense: true, ...(bias ? { bias } : {}), ...(scales ? { leftScales: Array.from(scales) } : {}) });
        return;
      }
      // int8: one scale per output over this refit's own components (it is used only at this tier's rank).
      const scales = dtype === 'int8' ? int8Scales(r.left, rank, rows, 1) : undefined;
      const left = this.payload.append(scales ? this.encode(quantizeInt8(r.left, rank, rows, scales, 1)) : this.encode(Float64Array.from(r.left)));
      entries.push({ layer: li, left, ...(bias ? { bias } : {}), ...(scales ? { leftScales: Array.from(scales) } : {}) });
    });
    return { range: this.payload.seal(start), layers: entries };
  }

  /** Values in the file's factor dtype: int8 codes as they are, else fp16 or fp32. */
  private encode(values: Float64Array | Int8Array): Uint8Array {
    if (values instanceof Int8Array) return new Uint8Array(values.buffer, values.byteOffset, values.length);
    return this.input.dtype === 'fp16' ? encodeHalf(values) : new Uint8Array(Float32Array.from(values).buffer);
  }

  /** Appends a layer's components of tier t (if it adds any) as one block. */
  private appendBlock(t: number, li: number): void {
    const { candidates, factors, cuts, dtype } = this.input;
    const c = candidates[li];
    const [begin, end] = [t === 0 ? 0 : cuts[t - 1].ranks[li], cuts[t].ranks[li]];
    if (end <= begin) return;
    if (this.plan) {
      const left = this.payload.append(packInt4(int4RowSlice(this.int4[li].left, begin, end)));
      const right = this.payload.append(packInt4(int4RowSlice(this.int4[li].right, begin, end)));
      this.layers[li].blocks.push({ tier: t, rankBegin: begin, rankEnd: end, left, right });
      return;
    }
    const f = dtype === 'int8' ? this.int8[li] : factors[li];
    const left = this.payload.append(this.encode(f.left.subarray(begin * c.rows, end * c.rows)));
    const right = this.payload.append(this.encode(f.right.subarray(begin * c.cols, end * c.cols)));
    const scales = dtype === 'int8' ? { rightScales: Array.from(this.int8[li].rightScales.subarray(begin, end)) } : {};
    this.layers[li].blocks.push({ tier: t, rankBegin: begin, rankEnd: end, left, right, ...scales });
  }

  /** Appends the low planes of a layer's block of tier t, if it has one (int4 files with an 8-bit tier). */
  private appendBlockLow(t: number, li: number): void {
    const block = this.layers[li].blocks.find((blk) => blk.tier === t);
    if (!block) return;
    block.leftLow = this.payload.append(roundedLowPlane(int4RowSlice(this.int4[li].left, block.rankBegin, block.rankEnd)));
    block.rightLow = this.payload.append(roundedLowPlane(int4RowSlice(this.int4[li].right, block.rankBegin, block.rankEnd)));
  }

  /** Appends the low plane of a layer's dense M where it is stored int4 (or int3). */
  private appendDenseLow(li: number): void {
    const choice = this.plan?.choices.get(this.input.candidates[li].weight.name);
    if (choice && choice.storage !== 'int8') this.layers[li].denseLow = this.payload.append(roundedLowPlane(choice.int4));
  }

  /** Appends the mid plane of a layer's dense M where it is stored int3 (int4 files with a 4-bit tier). */
  private appendDenseMid(li: number): void {
    const choice = this.plan?.choices.get(this.input.candidates[li].weight.name);
    if (choice?.storage === 'int3') this.layers[li].denseMid = this.payload.append(packedMidPlane(choice.int4));
  }

  /** The dense M of a layer at its full rank, in the file's dtype (int8: one scale per row). */
  private appendDense(li: number): void {
    const { candidates, factors, dtype, moments } = this.input;
    const c = candidates[li];
    const layer = this.layers[li];
    layer.denseTier = this.denseTier[li];
    const choice = this.plan?.choices.get(c.weight.name);
    // int4 files: M as the precision pass rounded it (from the same factors; int4 or int3), or int8 where it chose int8.
    if (choice && choice.storage !== 'int8') {
      layer.dense = this.payload.append(packInt4(choice.int4));
      if (choice.storage === 'int3') layer.denseStorage = 'int3';
      return;
    }
    const M = denseMatrix(factors[li], this.fullRanks[li], c.rows, c.cols);
    if (dtype === 'int8' || this.plan) {
      const scales = int8Scales(M, c.rows, c.cols, 0);
      layer.dense = this.payload.append(this.encode(roundedInt8(M, c.rows, c.cols, scales, moments?.get(c.weight.name))));
      layer.denseScales = Array.from(scales);
      if (this.plan) layer.denseStorage = 'int8';
    } else {
      layer.dense = this.payload.append(this.encode(M));
    }
  }
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
