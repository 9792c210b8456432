import { basename } from 'node:path';
import { FACTOR_ELEMENT_BYTES } from '../formats/codes.js';
import type { FactorDType, ModelHeader } from '../formats/model.js';
import type { Feeds } from '../runtime/tensor.js';
import { allocateTiers, bitsOf, DEFAULT_RANK_MULTIPLE, DEFAULT_TIER_BUDGETS, ladderCuts, rankBudgets, type TierBudget, type TierCut } from './allocate.js';
import { collectLayerStats, countImages, type LayerStats } from './calibrate.js';
import { layerCosts, type CostModel } from './costs.js';
import { CompileOptionError } from './errors.js';
import { DEFAULT_MIN_PARAMS, endLayerNames, findCandidates, isConvClassifier, withKnownCandidates, type LayerCandidate } from './factorize/candidates.js';
import { knownFactors, mergePrefactoredPairs, type KnownFactors } from './factorize/prefactored.js';
import { notFactoredReasons } from './factorize/not-factored.js';
import { importOnnx, type ImportedModel } from './import/onnx.js';
import { normaliseOnnx } from './import/normalise.js';
import { distillFactors, type DistillOptions, type DistillReport } from './distill/distill.js';
import { denseMatrix, orderedFactors, type OrderedFactors } from './linalg/svd.js';
import { shrunkSecondMoment, whitenedFactors } from './linalg/whitened.js';
import { assembleLrm, type AssembleInput, type Int4Report } from './assemble.js';
import { checkInt4Options, denseWeightLayers, inputMoments, int4Ladder, planInt4, type Int4Plan } from './int4-plan.js';
import { measureSensitivity, planSensitivity, type ErrorCurve } from './sensitivity.js';
import type { OutputMeasure } from './output-error.js';
import { decideSensitivity, DEFAULT_SENSITIVITY_MAX_MULTIPLY_ADDS, sensitivityCost } from './sensitivity-limit.js';
import { refitRanks, type RefitMode } from './refit.js';
import type { LayerRefit } from '../runtime/factors.js';
import { assertOnnxRuntimeLoads } from './validate-source.js';

export interface CompileProgress {
  phase: 'check' | 'calibrate' | 'factorize' | 'sensitivity' | 'distill' | 'precision' | 'rounding' | 'refit' | 'write';
  done: number;
  total: number;
  detail?: string;
}

export interface CompileOptions {
  /**
   * Cumulative tier budgets as fractions of the factorable layers' dense parameter count; int4 files may add
   * 8-bit steps, `{ budget, bits: 8 }` (the tier runs int4 matrices with their low planes), and 4-bit steps,
   * `{ budget, bits: 4 }` (int3 matrices with their mid planes; added after the last as-stored tier when int3 is on).
   */
  tiers?: TierBudget[];
  dtype?: FactorDType;
  /** int4 only: values per scale group (default 32; need not divide a row). */
  int4GroupSize?: number;
  /**
   * int4 only: store group scales as byte codes under a half-float row scale (format v7, formats/int4.ts; default
   * true); false: a half float per group, as format v6 readers expect.
   */
  int4ScaleCodes?: boolean;
  /**
   * int4 only: the error budget of the precision pass (compiler/precision.ts) for the 4-bit model. Each weight's error
   * with only it int4 is measured (the network's relative output error on the calibration samples); the weights with
   * the least error per byte saved are stored int4 while the sum stays within this (up to the first that does not
   * fit), the others int8.
   * Without calibration every weight is int4. Default 0.05; 0: every weight int8; Infinity: every weight int4 (depthwise kernels always stay int8).
   */
  int4MaxError?: number;
  /**
   * int4 with int3 (int4MinBits 3): the error budget of the 3-bit tiers. Of the weights stored int4, those with the
   * least error added per byte saved go int3 while the summed error (int4's and int3's) stays within this. Default 0.2.
   */
  int3MaxError?: number;
  /**
   * int4 with int3 and a 4-bit tier: how much the 4-bit tiers' error counts against the 3-bit tiers' where each int3
   * weight's values and mid bits are rounded together. 0: the best 3-bit tiers; higher: 4-bit tiers closer to int4
   * alone. Default 3.
   */
  int3MidWeight?: number;
  /**
   * int4 only: 3 lets the precision pass store a weight int3 too (format v5), refined to 4 bits by a mid plane at a
   * 4-bit tier (format v6), so the 3-bit tiers are a prefix of the int4 model. Default 3 with calibration, else 4
   * (int3 is chosen only by measurement).
   */
  int4MinBits?: 3 | 4;
  /**
   * int4 with calibration (default on): round every int4/int3 weight again in order of depth, against its inputs
   * with every weight upstream as stored, and refit its group scales (compiler/sequential-rounding.ts): one more pass
   * over the calibration data per level. MobileNet v1's int4 file: held-out logit error 0.059 → 0.044, compile 87 → 197 s.
   */
  int4Sequential?: boolean;
  /** Layers smaller than this stay dense. */
  minParams?: number;
  /**
   * Real inputs for activation-aware factorisation: the original model runs on them and each layer's
   * input second moment whitens its SVD. Without them, plain SVD of the weights.
   */
  calibration?: AsyncIterable<Feeds> | (() => AsyncIterable<Feeds>);
  /**
   * Refit each tier's left factors and biases by least squares against the original layers' outputs, with
   * inputs from the compressed model (compiler/refit.ts). Needs `calibration` as a function: refit makes
   * further passes over the data.
   */
  refit?: boolean;
  /** Passes over the calibration data per tier when refitting (default 2). */
  refitSweeps?: number;
  /** 'nonlinear' (default): match outputs after a following Relu/Clip; 'linear': match raw outputs. */
  refitMode?: RefitMode;
  /**
   * Fine-tune the factored model against the original on these unlabelled samples (compiler/distill/) before
   * writing (and before refit, which then starts from the distilled factors). `samples` starts a new pass.
   */
  distill?: DistillOptions & { samples: () => AsyncIterable<Feeds> };
  /** Ranks move in steps of this many components (default 8). */
  rankMultiple?: number;
  /** Keep the model's first and last weight layers dense (default: on for convolutional classifiers). */
  keepEnds?: boolean;
  /** What tier budgets count (default: params). */
  cost?: CostModel;
  /**
   * How steps of different layers are ordered: by each layer's σ² share ('sigma'), or by measured end-to-end
   * error on calibration samples ('sensitivity', the default when calibrating).
   */
  allocation?: 'sigma' | 'sensitivity';
  /** Calibration batches used to measure sensitivity (default 2). */
  sensitivityBatches?: number;
  /**
   * What sensitivity calls the network's error (compiler/output-error.ts): 'squared' (default) or, for models whose
   * outputs are embeddings compared by cosine, 'similarity'. The int4 precision pass keeps 'squared'.
   */
  sensitivityMeasure?: OutputMeasure;
  /**
   * When sensitivity is the default (not asked for), fall back to σ² allocation if measuring it would take more
   * than this many multiply-adds (model runs × samples × the factorable layers' multiply-adds per sample; default
   * DEFAULT_SENSITIVITY_MAX_MULTIPLY_ADDS). A count, not a time: the choice is the same on any machine and load.
   * An explicit `allocation: 'sensitivity'` is always measured.
   */
  sensitivityMaxMultiplyAdds?: number;
  /** Said as soon as it is decided, before the step it concerns (e.g. a sensitivity pass over the limit, as asked). */
  onNote?: (note: string) => void;
  /** Number of calibration samples, for the progress bar. */
  calibrationSize?: number;
  fileName?: string;
  onProgress?: (p: CompileProgress) => void;
}

export interface CompileResult {
  lrm: Uint8Array;
  header: ModelHeader;
  /** How the global order was made, and why when the default sensitivity was not measured. */
  allocation: { method: 'sigma' | 'sensitivity'; measure?: OutputMeasure; note?: string };
  /** What distillation did, when asked for. */
  distill?: DistillReport;
  /** int4 files: per dense weight, int4 or int8, how it was rounded and the error measured. */
  int4?: Int4Report;
  /** What import normalisation changed in the source graph, one line per kind (also in header.source.normalised). */
  normalised: string[];
  /**
   * Why the model's MatMul/Gemm/Conv nodes that are not factored stay dense, one line per reason with a count
   * (e.g. "2 Conv: grouped (depthwise)").
   */
  notFactored: string[];
}

/** The whole pipeline: check options → import → calibrate → factorise → allocate → (distill) → quantise → assemble (→ refit). */
export async function compileOnnx(original: Uint8Array, options: CompileOptions = {}): Promise<CompileResult> {
  const plan = planCompile(options);
  const imported = await importSource(original, plan, options);
  const calibrated = await calibrate(imported, plan, options);
  const factors = await factorize(imported, calibrated, plan.progress);
  const allocated = await allocate(imported, plan, calibrated, factors, options);
  const recovered = options.distill ? await distill(imported, plan, factors, allocated.cuts, options.distill) : { model: imported.model, factors };
  const moments = inputMoments([...imported.candidates, ...calibrated.denseLayers], calibrated.stats);
  const int4 = await planPrecision(imported, plan, calibrated, recovered, allocated.cuts, moments, options);
  const input: AssembleInput = {
    ...imported.written,
    fileName: plan.fileName,
    model: recovered.model,
    candidates: imported.candidates,
    factors: recovered.factors,
    cuts: allocated.cuts,
    dtype: plan.dtype,
    int4,
    // What int8 files round against (compiler/gptq-int8.ts). The int8 weights of int4 files stay rounded to nearest:
    // with them GPTQ-rounded too, MobileNet's int4 file came closer to the original at both bit widths (score error
    // 0.089 → 0.086 at 3 bits, 0.043 → 0.041 at 4) while top-1 on the 250 held-out images moved 79.2 → 76.4% and
    // 81.2 → 82.8%: mixed within the noise, and its precision choices were made with round-to-nearest int8.
    moments: plan.dtype === 'int8' ? moments : undefined,
  };
  plan.progress({ phase: 'write', done: 0, total: 1 });
  const assembled = options.refit && plan.calibrationPass ? await withRefits(input, imported.source, plan.calibrationPass, options) : await assembleLrm(input);
  plan.progress({ phase: 'write', done: 1, total: 1 });
  return { ...assembled, ...imported.report, allocation: allocated.used, distill: recovered.report };
}

/** compileOnnx's options as checked before any work, and what every pass reads of them. */
interface CompilePlan {
  fileName: string;
  dtype: FactorDType;
  /** int4 files: group layout, error budgets and lowest bit width (int4-plan.ts). */
  int4?: ReturnType<typeof checkInt4Options>;
  /** The tiers as asked, with the 4- and 8-bit steps int4 adds; `budgets` are their rank budgets. */
  ladder: TierBudget[];
  budgets: number[];
  allocation: 'sigma' | 'sensitivity';
  /** Calibration as a function that starts a new pass (refit and int4's sequential rounding need several). */
  calibrationPass?: () => AsyncIterable<Feeds>;
  progress: (p: CompileProgress) => void;
}

function planCompile(options: CompileOptions): CompilePlan {
  const dtype = options.dtype ?? 'fp32';
  if (!['fp32', 'fp16', 'int8', 'int4'].includes(dtype)) throw new CompileOptionError(`--dtype must be fp32, fp16, int8 or int4, not "${dtype}"`, 'dtype');
  const asked = options.tiers ?? DEFAULT_TIER_BUDGETS;
  // Checked as asked first, so an error names the user's tiers, not the steps int4Ladder adds.
  rankBudgets(asked);
  if (dtype !== 'int4' && asked.some(bitsOf)) throw new CompileOptionError(`--tiers: a 4- or 8-bit tier (budget:4, budget:8) refines int3 and int4 matrices; it needs --dtype int4, not ${dtype}`, 'tiers');
  const int4 = dtype === 'int4' ? checkInt4Options(options) : undefined;
  const ladder = int4 ? int4Ladder(asked, int4.minBits) : asked;
  const calibrationPass = typeof options.calibration === 'function' ? options.calibration : undefined;
  if (options.refit && !calibrationPass) {
    throw new CompileOptionError('--refit needs --calib: refit is fitted on real inputs (and the API needs calibration as a function that starts a new pass)', 'refit');
  }
  const allocation = options.allocation ?? (options.calibration ? 'sensitivity' : 'sigma');
  if (allocation === 'sensitivity' && !options.calibration) {
    throw new CompileOptionError('--allocate sensitivity needs --calib: sensitivity is measured on real inputs', 'allocate');
  }
  return {
    fileName: basename(options.fileName ?? 'model.onnx'),
    dtype,
    int4,
    ladder,
    budgets: rankBudgets(ladder),
    allocation,
    calibrationPass,
    progress: options.onProgress ?? (() => {}),
  };
}

/** The source as every later pass sees it, and the layers to factorise. */
interface ImportedSource {
  /** The normalised model (exporters' quirks rewritten): what calibration runs. */
  source: Uint8Array;
  /** The same with prefactored pairs merged into one node each, whose nodes match `model`: what sensitivity and the precision pass run. */
  merged: Uint8Array;
  /** What the header records: the file as the user gave it, and what normalisation changed. */
  written: { source: Uint8Array; normalised: string[] };
  model: ImportedModel;
  /** Prefactored layers (pairs of thin nodes, factorize/prefactored.ts) and their factors: no SVD runs for them. */
  known: Map<string, KnownFactors>;
  candidates: LayerCandidate[];
  report: Pick<CompileResult, 'normalised' | 'notFactored'>;
}

/** Import → normalise → merge prefactored pairs → check that onnxruntime loads it → find the layers to factorise. */
async function importSource(original: Uint8Array, plan: CompilePlan, options: CompileOptions): Promise<ImportedSource> {
  // Exporters' quirks (Constant weights, unsorted nodes, dead code, fp16 weights) are rewritten first; from here on
  // `source` is the normalised model, which every onnxruntime pass runs. The header still names `original`.
  const normalised = normaliseOnnx(original, plan.fileName, { minParams: options.minParams });
  const source = normalised.bytes;
  const prefactored = mergePrefactoredPairs(importOnnx(source, plan.fileName), { minParams: options.minParams, keepEnds: options.keepEnds });
  const { model, known } = prefactored;
  plan.progress({ phase: 'check', done: 0, total: 1 });
  await assertOnnxRuntimeLoads(source, plan.fileName);
  plan.progress({ phase: 'check', done: 1, total: 1 });
  const minParams = options.minParams ?? DEFAULT_MIN_PARAMS;
  const ends = (options.keepEnds ?? isConvClassifier(model)) ? endLayerNames(model) : new Set<string>();
  const candidates = withKnownCandidates(findCandidates(model, { minParams }), model, known).filter((c) => !ends.has(c.node.name));
  return {
    source,
    merged: prefactored.mergedSource(source),
    written: { source: original, normalised: normalised.notes },
    model,
    known,
    candidates,
    report: { normalised: normalised.notes, notFactored: notFactoredReasons(model, candidates, ends, minParams) },
  };
}

/** What one pass over the calibration data measured. */
interface Calibrated {
  /** Each measured layer's input statistics; absent without calibration. */
  stats?: Map<string, LayerStats>;
  /** The first batches, kept for sensitivity (the ranks' allocation) and int4's precision pass. */
  kept: Feeds[];
  /** Weights that stay dense but are rounded against their inputs too (int8 and int4 files: GPTQ). */
  denseLayers: LayerCandidate[];
}

async function calibrate(imported: ImportedSource, plan: CompilePlan, options: CompileOptions): Promise<Calibrated> {
  const { source, model, candidates } = imported;
  const denseLayers = plan.int4 || plan.dtype === 'int8' ? denseWeightLayers(model, candidates) : [];
  const kept: Feeds[] = [];
  if (!options.calibration) return { kept, denseLayers };
  const keep = plan.allocation === 'sensitivity' || plan.int4 ? (options.sensitivityBatches ?? 2) : 0;
  const feeds = plan.calibrationPass ? plan.calibrationPass() : (options.calibration as AsyncIterable<Feeds>);
  const stats = await collectLayerStats(source, model, [...candidates, ...denseLayers], keepFirst(feeds, keep, kept), {
    total: options.calibrationSize,
    onProgress: (done, total) => plan.progress({ phase: 'calibrate', done, total: total ?? done }),
  });
  return { stats, kept, denseLayers };
}

/** Every candidate's ordered factors: activation-aware (whitened) where calibration measured its inputs, else plain SVD. */
async function factorize(imported: ImportedSource, calibrated: Calibrated, progress: CompilePlan['progress']): Promise<OrderedFactors[]> {
  const { candidates, known } = imported;
  const factors: OrderedFactors[] = [];
  for (const [i, c] of candidates.entries()) {
    progress({ phase: 'factorize', done: i, total: candidates.length, detail: c.node.name });
    const s = calibrated.stats?.get(c.node.name);
    const k = known.get(c.node.name); // prefactored: its own factors (whitened inside their subspace when calibrating)
    if (k) {
      factors.push(await knownFactors(k, s && shrunkSecondMoment(s.gram, c.cols, s.samples)));
    } else {
      const W = c.matrix();
      const f = s ? await whitenedFactors(W, c.rows, c.cols, shrunkSecondMoment(s.gram, c.cols, s.samples)) : orderedFactors(W, c.rows, c.cols);
      // With every component the layer is the original: a tier that runs it dense there stores W itself, not the
      // product of its factors (equal only to rounding, and, for whitened factors, only on the inputs' span), so the
      // full tier runs the original weights exactly and a quantised file rounds the very matrix quantisation alone does.
      factors.push({ ...f, dense: { rank: f.rank, values: W } });
    }
    // Let the event loop breathe so a progress bar can redraw between large layers.
    await new Promise((r) => setImmediate(r));
  }
  progress({ phase: 'factorize', done: candidates.length, total: candidates.length });
  return factors;
}

/** The tiers' ranks, and how the global order was made. */
interface Allocated {
  cuts: TierCut[];
  used: CompileResult['allocation'];
}

async function allocate(imported: ImportedSource, plan: CompilePlan, calibrated: Calibrated, factors: OrderedFactors[], options: CompileOptions): Promise<Allocated> {
  const { candidates, model } = imported;
  const { stats } = calibrated;
  const positions = stats && candidates.map((c) => {
    const s = stats.get(c.node.name);
    return s && s.images > 0 ? s.samples / s.images : 1;
  });
  const costs = layerCosts(options.cost ?? 'params', candidates, FACTOR_ELEMENT_BYTES[plan.dtype], positions);
  const sensitivity = plan.allocation === 'sensitivity' ? await sensitivityErrors(imported.merged, candidates, factors, calibrated.kept, stats!, model, options) : undefined;
  const errors = sensitivity?.errors;
  const used: CompileResult['allocation'] = {
    method: errors ? 'sensitivity' : 'sigma',
    ...(errors ? { measure: options.sensitivityMeasure ?? 'squared' } : {}),
    ...(sensitivity?.note ? { note: sensitivity.note } : {}),
  };
  const cuts = ladderCuts(
    plan.ladder,
    allocateTiers(
      candidates.map((c, i) => ({ rows: c.rows, cols: c.cols, sigma: factors[i].sigma, ...costs[i], error: errors?.[i] })),
      plan.budgets,
      { rankMultiple: options.rankMultiple ?? DEFAULT_RANK_MULTIPLE },
    ),
  );
  return { cuts, used };
}

/** The factors (and biases, in the model) after recovery; distillation's report when it ran. */
interface Recovered {
  model: ImportedModel;
  factors: OrderedFactors[];
  report?: DistillReport;
}

/** Distillation: trained in fp32 against an fp32 file of these factors; quantised (if asked) when written. */
async function distill(imported: ImportedSource, plan: CompilePlan, factors: OrderedFactors[], cuts: TierCut[], options: NonNullable<CompileOptions['distill']>): Promise<Recovered> {
  const { candidates } = imported;
  const base = await assembleLrm({ ...imported.written, fileName: plan.fileName, model: imported.model, candidates, factors, cuts: cuts.map(({ bits: _, ...cut }) => cut), dtype: 'fp32', denseStorage: false });
  const result = await distillFactors(imported.source, base.header, base.lrm.subarray(base.lrm.length - base.header.payloadLength), factors, options.samples, {
    ...options,
    onProgress: (done, total, detail) => {
      options.onProgress?.(done, total, detail);
      plan.progress({ phase: 'distill', done, total, detail });
    },
  });
  return {
    model: withInitializers(imported.model, result.biases),
    factors: keepUntrainedDense(candidates, factors, result.factors, cuts, result.report.trainedTiers),
    report: result.report,
  };
}

/** int4 files: the precision pass's per-weight choice of int4, int3 or int8, and how each was rounded. */
async function planPrecision(imported: ImportedSource, plan: CompilePlan, calibrated: Calibrated, recovered: Recovered, cuts: TierCut[], moments: Map<string, Float64Array>, options: CompileOptions): Promise<Int4Plan | undefined> {
  if (!plan.int4) return undefined;
  return planInt4(imported.merged, recovered.model, imported.candidates, recovered.factors, cuts, {
    ...plan.int4,
    midPlanes: cuts.some((c) => c.bits === 4),
    moments,
    samples: calibrated.kept,
    onProgress: (done, total, detail) => plan.progress({ phase: 'precision', done, total, detail }),
    ...(options.calibration && (options.int4Sequential ?? true) ? {
      sequential: {
        denseLayers: calibrated.denseLayers,
        samples: plan.calibrationPass ?? (() => calibrated.kept),
        onProgress: (done: number, total: number, detail: string) => plan.progress({ phase: 'rounding', done, total, detail }),
      },
    } : {}),
  });
}

/**
 * The file with every tier's left factors and biases refitted (compiler/refit.ts, on the normalised `source`) against
 * the factors as they will be stored (fp16/int8 included; every component, since refit fits a left factor at every rank). assembleLrm has already
 * read its header back through every check: no need to hash the file again.
 */
async function withRefits(input: AssembleInput, source: Uint8Array, calibrationPass: () => AsyncIterable<Feeds>, options: CompileOptions): Promise<Awaited<ReturnType<typeof assembleLrm>>> {
  const assembled = await assembleLrm({ ...input, denseStorage: false });
  const { header } = assembled;
  const payload = assembled.lrm.subarray(assembled.lrm.length - header.payloadLength);
  const sweeps = options.refitSweeps ?? 2;
  const progress = options.onProgress ?? (() => {});
  const refits: Array<Array<LayerRefit | undefined>> = [];
  for (const tier of header.tiers) {
    refits.push(
      await refitRanks(source, header, payload, tier.ranks, calibrationPass, {
        sweeps,
        mode: options.refitMode,
        onProgress: (done) => progress({ phase: 'refit', done: tier.index * sweeps + done, total: header.tiers.length * sweeps, detail: `tier ${tier.index}` }),
      }),
    );
  }
  return assembleLrm({ ...input, refits });
}

/**
 * Distilled factors, with the undistilled dense matrix kept for every layer whose last-tier rank no trained tier
 * has: trained components are shared with that rank, so without this, distilling the small tiers alone would move
 * the full tier too (whose dense M would be the product of the trained components). Biases are shared by every tier and
 * still move.
 */
function keepUntrainedDense(candidates: LayerCandidate[], before: OrderedFactors[], after: OrderedFactors[], cuts: ReadonlyArray<{ ranks: number[] }>, trainedTiers: number[]): OrderedFactors[] {
  const last = cuts[cuts.length - 1].ranks;
  return after.map((f, li) => {
    const rank = last[li];
    if (rank === 0 || trainedTiers.some((t) => cuts[t].ranks[li] === rank)) return f;
    return { ...f, dense: { rank, values: denseMatrix(before[li], rank, candidates[li].rows, candidates[li].cols) } };
  });
}

/** The model with some float32 initializers replaced (distilled biases). */
function withInitializers(model: ImportedModel, values: ReadonlyMap<string, Float32Array>): ImportedModel {
  return {
    ...model,
    initializers: model.initializers.map((t) => {
      const v = values.get(t.name);
      return v ? { ...t, data: new Uint8Array(Float32Array.from(v).buffer) } : t;
    }),
  };
}

export { DEFAULT_SENSITIVITY_MAX_MULTIPLY_ADDS } from './sensitivity-limit.js';

/**
 * The sensitivity pass, if its count fits the limit or it was asked for (compiler/sensitivity-limit.ts): the error
 * curves, or none and the note that says why.
 */
async function sensitivityErrors(
  source: Uint8Array,
  candidates: LayerCandidate[],
  factors: OrderedFactors[],
  samples: Feeds[],
  stats: ReadonlyMap<string, LayerStats>,
  model: ImportedModel,
  options: CompileOptions,
): Promise<{ errors?: ErrorCurve[]; note?: string }> {
  const plan = planSensitivity(candidates, factors, options.rankMultiple ?? DEFAULT_RANK_MULTIPLE);
  const images = countImages(model);
  const cost = sensitivityCost(plan, candidates, stats, samples.reduce((n, feeds) => n + images(feeds), 0));
  const decision = decideSensitivity(cost, options.sensitivityMaxMultiplyAdds ?? DEFAULT_SENSITIVITY_MAX_MULTIPLY_ADDS, options.allocation === 'sensitivity');
  if (decision.note) options.onNote?.(decision.note);
  if (!decision.measure) return { note: decision.note };
  const progress = options.onProgress ?? (() => {});
  const errors = await measureSensitivity(source, candidates, factors, samples, plan, (done, total, detail) => progress({ phase: 'sensitivity', done, total, detail }), options.sensitivityMeasure);
  return { errors, note: decision.note };
}

export { DEFAULT_INT3_MAX_ERROR, DEFAULT_INT4_MAX_ERROR, DEFAULT_MID_WEIGHT } from './int4-plan.js';

/** Pass every item through, keeping a copy of the first `count` (sensitivity reuses them after calibration). */
async function* keepFirst<T>(items: AsyncIterable<T>, count: number, into: T[]): AsyncGenerator<T> {
  for await (const item of items) {
    if (into.length < count) into.push(item);
    yield item;
  }
}
