import { ADAPTER_KINDS, type AdapterDType, type AdapterKind, type AdapterModel } from '../../formats/adapter-model.js';
import type { ModelHeader } from '../../formats/model.js';
import { adapterTargets, type AdapterTarget } from '../../runtime/adapters/targets.js';
import { startTrainingBackend, type TrainingEngine } from '../distill/training-backend.js';
import { CompileOptionError } from '../errors.js';
import { openAdapterBase, checkTier, type AdapterBaseFile } from './base.js';
import { BestCheckpoint } from './checkpoint.js';
import { meanLoss, measureHeldOut, type Measured } from './held-out.js';
import { defaultKron, DEFAULT_LOKR_FACTOR } from './kron.js';
import type { LabelledSamples } from './labelled.js';
import { crossEntropy } from './loss.js';
import { SeededRandom } from './random.js';
import { CosineAdam } from './schedule.js';
import { adapterBytes } from './size.js';
import { checkRank, defaultTargets, factorElements, rankFits, selectTargets } from './targets.js';
import { logitName, TierGraphs } from './tier-graphs.js';
import { TrainableFactors } from './trainable-factors.js';
import { BatchSampler, collectUnits, labelsOf, splitHeldOut, type Unit } from './units.js';

export interface AdaptOptions {
  /** 'lora' (default), 'loha' or 'lokr'. */
  kind?: AdapterKind;
  /** Rank of every adapted layer (default 8). */
  rank?: number;
  /**
   * ΔW is scaled by s = alpha / rank, PEFT's and LyCORIS's convention (not rsLoRA's alpha/√rank). Default: alpha =
   * rank, so s = 1 (PEFT's default lora_alpha 8 with r 8 gives the same). Changing the rank then needs no new
   * learning rate only as far as Adam's scale invariance goes; pass alpha to pin s.
   */
  alpha?: number;
  /**
   * Weights (initializer names) or nodes to adapt. Default: of every adaptable weight (each factored layer, each
   * dense Conv (group 1), Gemm and MatMul weight), those whose factors fit in `sizeBudget` of the base file,
   * cheapest first (defaultTargets in targets.ts).
   */
  layers?: readonly string[];
  /**
   * Default layers only: the most the adapter's fp32 factors may weigh, as a fraction of the base .lrm's bytes
   * (default 0.03, issue 17's size target).
   */
  sizeBudget?: number;
  /** Tiers in the nested loss (default: all of them): the one adapter is applied at every tier a device loads. */
  tiers?: readonly number[];
  /** Optimiser steps (default 300). */
  steps?: number;
  /** Samples per step (default 32). */
  batchSize?: number;
  /** Adam's peak learning rate (default DEFAULT_LEARNING_RATE: 1e-2, LoKr 3e-2), decayed to 0 by a cosine over the steps (schedule.ts). */
  learningRate?: number;
  seed?: number;
  /** LoKr only: each side of w1 is the largest divisor of the layer's dimension up to this (default 4; kron.ts). */
  lokrFactor?: number;
  /** Samples held out to pick the best checkpoint (default: a tenth, at least 1). */
  validationSamples?: number;
  /** How the adapter file will store the factors (AdapterModel.dtype; default fp32). */
  dtype?: AdapterDType;
  /** The model output holding the class scores (default: the first; a Softmax's input is used where it has one). */
  output?: string;
  engine?: TrainingEngine;
  /** Aborting stops after the current step; the best checkpoint so far is kept. */
  signal?: AbortSignal;
  onProgress?: (step: number, steps: number, detail: string) => void;
  /** The base's file name, for messages and AdapterModel.base.fileName. */
  fileName?: string;
}

export interface AdaptReport {
  kind: AdapterKind;
  rank: number;
  alpha: number;
  engine: TrainingEngine;
  /** The adapted weights, in AdapterModel.layers order. */
  targets: string[];
  trainedTiers: number[];
  steps: number;
  /** The step whose factors were kept (0: training never beat ΔW = 0 on held-out samples). */
  bestStep: number;
  stoppedEarly: boolean;
  seconds: number;
  trainSamples: number;
  validationSamples: number;
  /** Per trained tier, on the held-out samples: cross-entropy and top-1 accuracy (%) of the base and with the kept adapter. */
  validationLossBefore: number[];
  validationLossAfter: number[];
  validationAccuracyBefore: number[];
  validationAccuracyAfter: number[];
  trainableParams: number;
  /** The factors' bytes at fp32 and fp16 (the file adds a small header) and the base file's bytes. */
  bytes: { fp32: number; fp16: number; base: number };
}

export interface AdaptResult {
  adapter: AdapterModel;
  report: AdaptReport;
}

/** Defaults, measured on mnist-cnn-pytorch with inverted-contrast digits (scripts/adapt-mnist-inverted.mjs). */
export const DEFAULT_STEPS = 300;
export const DEFAULT_BATCH = 32;
/**
 * Adam's peak rate per kind. LoKr's ΔW is a product of three factors whose first starts at 0 and whose Kronecker
 * structure ties blocks together: at 1e-2 it was still improving at step 300 (95.8% held out), at 3e-2 97.5%.
 */
export const DEFAULT_LEARNING_RATE: Readonly<Record<AdapterKind, number>> = { lora: 1e-2, loha: 1e-2, lokr: 3e-2 };
export const DEFAULT_RANK = 8;
export const DEFAULT_SIZE_BUDGET = 0.03;

/**
 * Trains an adapter (issue 17) for the base .lrm `lrmBytes` on labelled samples: the base is frozen, and each
 * targeted weight of it is fed W_base + ΔW(factors) (merged-model.ts), ΔW computed in tfjs (delta.ts) so autodiff
 * reaches the factors. Loss: cross-entropy on the labels at each trained tier in turn (each tier's base is that
 * tier's own weights, the adapter is one for all); Adam with a cosine decay; the factors with the lowest held-out
 * loss, averaged over the trained tiers, are kept.
 */
export async function trainAdapter(lrmBytes: Uint8Array, samples: LabelledSamples, options: AdaptOptions = {}): Promise<AdaptResult> {
  const started = performance.now();
  const base = await openAdapterBase(lrmBytes, options.fileName);
  const { header } = base;
  const o = checkOptions(options);
  const { targets, krons } = trainedTargets(header, lrmBytes.length, base.fileName, options);
  const trainedTiers = (options.tiers ?? header.tiers.map((t) => t.index)).map((t) => checkTier(header, t, '--tiers'));
  if (trainedTiers.length === 0) throw new CompileOptionError('--tiers lists no tier', 'adapter-tier');

  await startTrainingBackend(o.engine);
  const output = logitName(base, options.output);
  // One generator per use, so --seed reproduces each: o.seed splits the samples, o.seed + 1 draws the starting
  // factors, o.seed + 2 the batches.
  const { train, validation } = splitHeldOut(await collectUnits(samples), options.validationSamples, new SeededRandom(o.seed));
  const factors = new TrainableFactors(targets, krons, o, new SeededRandom(o.seed + 1));
  const optimizer = new CosineAdam(o.learningRate, o.steps);
  let graphs: TierGraphs | undefined;
  let best: BestCheckpoint<Measured> | undefined;
  // The factors, the optimiser, the tier graphs and the checkpoint are freed in the finally, however training ends.
  try {
    graphs = new TierGraphs(base, trainedTiers, targets, output);
    const before = measureHeldOut(graphs, factors, validation);
    best = new BestCheckpoint(factors.variables, before, meanLoss(before));
    const batches = new BatchSampler(train, new SeededRandom(o.seed + 2));
    const run = await trainSteps(o, options, { graphs, factors, optimizer, best, batches, validation });
    return adapterResult(o, { base, trainedTiers, factors, best, before, run, trainSamples: train.length, validationSamples: validation.length, started });
  } finally {
    best?.dispose();
    optimizer.dispose();
    factors.dispose();
    graphs?.dispose();
  }
}

/** What the training loop works on; trainAdapter owns (and frees) all of it. */
interface Training {
  graphs: TierGraphs;
  factors: TrainableFactors;
  optimizer: CosineAdam;
  best: BestCheckpoint<Measured>;
  batches: BatchSampler;
  validation: Unit[];
}

interface Run {
  steps: number;
  stoppedEarly: boolean;
}

/** The optimiser steps, until o.steps, an abort or a loss that is not finite, with a held-out check every tenth of the run. */
async function trainSteps(o: CheckedOptions, options: AdaptOptions, { graphs, factors, optimizer, best, batches, validation }: Training): Promise<Run> {
  const keepIfBest = (step: number): void => {
    const now = measureHeldOut(graphs, factors, validation);
    best.offer(step, now, meanLoss(now));
  };
  const evaluateEvery = Math.max(1, Math.round(o.steps / 10));
  let step = 0;
  let stoppedEarly = false;
  let recent = NaN;
  while (step < o.steps) {
    if (options.signal?.aborted) {
      stoppedEarly = true;
      break;
    }
    const batch = batches.next(o.batchSize);
    const labels = labelsOf(batch);
    // One tier per step, in turn: over the run every trained tier's loss counts equally (the nested loss in
    // expectation) at the cost of one forward and backward pass per step, not one per tier.
    const t = graphs.tiers[step % graphs.tiers.length];
    const value = optimizer.takeStep(step, factors.variables, () => crossEntropy(graphs.scores(t, batch, factors.feeds(t.base)), labels, graphs.output));
    step++;
    recent = Number.isNaN(recent) ? value : 0.9 * recent + 0.1 * value;
    if (!Number.isFinite(value)) break; // diverged: the best checkpoint stays
    if (step % evaluateEvery === 0 || step === o.steps) keepIfBest(step);
    options.onProgress?.(step, o.steps, `loss ${recent.toFixed(4)}, held-out ${best.score.toFixed(4)} (step ${best.step})`);
    await new Promise((r) => setImmediate(r)); // lets an abort (Ctrl-C) and a progress bar through
  }
  // Stopped between two held-out checks: one more, so the steps since the last one count.
  if (step > 0 && step % evaluateEvery !== 0 && step !== o.steps) keepIfBest(step);
  return { steps: step, stoppedEarly };
}

/** The kept factors as an adapter file's model, and the run's report. */
function adapterResult(
  o: CheckedOptions,
  r: { base: AdapterBaseFile; trainedTiers: number[]; factors: TrainableFactors; best: BestCheckpoint<Measured>; before: Measured; run: Run; trainSamples: number; validationSamples: number; started: number },
): AdaptResult {
  const { trainedTiers, factors, best, before } = r;
  const targets = factors.targets.map((t) => t.target);
  const tierList = trainedTiers.length === 1 ? `tier ${trainedTiers[0]}` : `tiers ${trainedTiers.join(', ')}`;
  const adapter: AdapterModel = {
    kind: o.kind,
    base: r.base.identity,
    dtype: o.dtype,
    layers: factors.adapterLayers(best.values),
    notes: [
      `${o.kind} rank ${o.rank} alpha ${o.alpha} on ${targets.join(', ')}`,
      `trained on ${r.trainSamples} samples (${tierList}), ${r.run.steps} steps of ${o.batchSize}, lr ${o.learningRate}, seed ${o.seed}; kept step ${best.step}`,
      `held-out top-1 on ${r.validationSamples} samples: ${best.measured.accuracy.map((a, k) => `tier ${trainedTiers[k]} ${a.toFixed(1)}% (base ${before.accuracy[k].toFixed(1)}%)`).join(', ')}`,
    ],
  };
  const sizes = adapterBytes(adapter);
  return {
    adapter,
    report: {
      kind: o.kind,
      rank: o.rank,
      alpha: o.alpha,
      engine: o.engine,
      targets,
      trainedTiers,
      steps: r.run.steps,
      bestStep: best.step,
      stoppedEarly: r.run.stoppedEarly,
      seconds: (performance.now() - r.started) / 1000,
      trainSamples: r.trainSamples,
      validationSamples: r.validationSamples,
      validationLossBefore: before.loss,
      validationLossAfter: best.measured.loss,
      validationAccuracyBefore: before.accuracy,
      validationAccuracyAfter: best.measured.accuracy,
      trainableParams: factors.params,
      bytes: { fp32: sizes.fp32, fp16: sizes.fp16, base: r.base.bytes.length },
    },
  };
}

interface CheckedOptions {
  kind: AdapterKind;
  rank: number;
  alpha: number;
  steps: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  lokrFactor: number;
  dtype: AdapterDType;
  sizeBudget: number;
  engine: TrainingEngine;
}

function checkOptions(options: AdaptOptions): CheckedOptions {
  const kind = options.kind ?? 'lora';
  if (!ADAPTER_KINDS.includes(kind)) throw new CompileOptionError(`--kind must be one of ${ADAPTER_KINDS.join(', ')}, got "${String(kind)}"`, 'adapter-kind');
  const whole = (flag: string, v: number, min: number) => {
    if (!Number.isSafeInteger(v) || v < min) throw new CompileOptionError(`${flag} must be a whole number ≥ ${min}, got ${v}`, 'adapter-option');
    return v;
  };
  const rank = whole('--rank', options.rank ?? DEFAULT_RANK, 1);
  const alpha = options.alpha ?? rank;
  if (!(Number.isFinite(alpha) && alpha > 0)) throw new CompileOptionError(`--alpha must be a number > 0, got ${alpha}`, 'adapter-option');
  const learningRate = options.learningRate ?? DEFAULT_LEARNING_RATE[kind];
  if (!(Number.isFinite(learningRate) && learningRate > 0)) throw new CompileOptionError(`--lr must be a number > 0, got ${learningRate}`, 'adapter-option');
  const sizeBudget = options.sizeBudget ?? DEFAULT_SIZE_BUDGET;
  if (!(Number.isFinite(sizeBudget) && sizeBudget > 0)) throw new CompileOptionError(`--size-budget must be a fraction > 0 of the base's bytes, got ${sizeBudget}`, 'adapter-option');
  const dtype = options.dtype ?? 'fp32';
  if (!['fp32', 'fp16', 'int8'].includes(dtype)) throw new CompileOptionError(`--adapter-dtype must be fp32, fp16 or int8, got "${String(dtype)}"`, 'adapter-option');
  if (options.validationSamples !== undefined) whole('--validation-samples', options.validationSamples, 1);
  return {
    kind,
    rank,
    alpha,
    steps: whole('--steps', options.steps ?? DEFAULT_STEPS, 1),
    batchSize: whole('--batch', options.batchSize ?? DEFAULT_BATCH, 1),
    learningRate,
    seed: whole('--seed', options.seed ?? 1, 0),
    lokrFactor: whole('--lokr-factor', options.lokrFactor ?? DEFAULT_LOKR_FACTOR, 1),
    dtype,
    sizeBudget,
    engine: options.engine ?? 'tfjs-wasm',
  };
}

/**
 * The layers trainAdapter adapts, each with its LoKr split: of the runtime's adaptable weights (adapterTargets), the
 * named ones, else the default selection by size budget (defaultTargets); `baseBytes` is the base file's size.
 */
export function trainedTargets(header: ModelHeader, baseBytes: number, fileName: string, options: AdaptOptions = {}): { targets: AdapterTarget[]; krons: Array<[number, number] | undefined> } {
  const o = checkOptions(options);
  const all = selectTargets(adapterTargets(header), options.layers, fileName);
  const kronOf = (t: AdapterTarget) => (o.kind === 'lokr' ? defaultKron(t.rows, t.cols, o.rank, o.lokrFactor) : undefined);
  const fits = (t: AdapterTarget) => rankFits(o.kind, t, o.rank, kronOf(t));
  // Named layers must all take the rank (checkRank below says why not); by default the ones that cannot are left out.
  const candidates = options.layers || !all.some(fits) ? all : all.filter(fits);
  const targets = options.layers ? all : defaultTargets(candidates, (t) => 4 * factorElements(o.kind, t, o.rank, kronOf(t)), o.sizeBudget * baseBytes, fileName);
  const krons = targets.map(kronOf);
  targets.forEach((t, i) => checkRank(o.kind, t, o.rank, krons[i]));
  return { targets, krons };
}
