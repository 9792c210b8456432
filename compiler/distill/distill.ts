import * as tf from '@tensorflow/tfjs-core';
import type { ModelHeader } from '../../formats/model.js';
import { DataType } from '../../formats/model.js';
import { float32Copy } from '../../runtime/factors.js';
import { decodeGraph, type InterpretedGraph } from '../../runtime/engines/tfjs/graph.js';
import type { Feeds } from '../../runtime/tensor.js';
import { augmentBatch } from '../data/augment.js';
import { batchItem } from '../data/tensor.js';
import { CompileOptionError } from '../errors.js';
import { followingActivation } from '../refit.js';
import type { OrderedFactors } from '../linalg/svd.js';
import type { DistillLoss } from './loss.js';
import { NestedCores, NestedFactors, type TrainableLayer } from './nested-cores.js';
import { NestedObjective, type ComparedTensor, type TrainedLayer, type Unit } from './nested-objective.js';
import { startTrainingBackend, type TrainingEngine } from './training-backend.js';

export interface DistillOptions {
  /** Optimiser steps (default 200). */
  steps?: number;
  /** Samples per step (default 8). */
  batchSize?: number;
  /** Adam's learning rate (default 1e-3: the cores start at the identity, so steps are relative). */
  learningRate?: number;
  /** Softening of the logits for the kl loss (default 2). */
  temperature?: number;
  /** 'auto' (default): kl when every output is class scores (a Softmax's input, or [N, C]), else mse. */
  loss?: DistillLoss | 'auto';
  /**
   * Intermediate features matched as well (relative MSE, added to the output loss with `featureWeight`):
   * 'none' (default), 'last' (what the last factored layer's activation hands on: the features before a
   * classifier's pooling and head), 'all' (every factored layer's activated output).
   */
  features?: DistillFeatures;
  /** Weight of the feature term against the output loss (default 1). */
  featureWeight?: number;
  /** Tiers in the nested loss (default: all of them). */
  tiers?: number[];
  engine?: TrainingEngine;
  /** 'cores' (default): triangular cores between the fixed bases (OIALR); 'factors': the factors themselves. */
  train?: 'cores' | 'factors';
  /** Random crops (and mirror images when flip is on) of the image input, new ones every pass over the data. */
  augment?: { flip: boolean };
  /** Samples held out to pick the best checkpoint (default: a tenth, at least 1 and at most 32). */
  validationSamples?: number;
  /** Aborting stops after the current step; the best checkpoint so far is kept (Ctrl-C in the CLI). */
  signal?: AbortSignal;
  onProgress?: (step: number, steps: number, detail: string) => void;
  seed?: number;
}

export type DistillFeatures = 'none' | 'last' | 'all';

export interface DistillReport {
  engine: TrainingEngine;
  loss: DistillLoss;
  trainedTiers: number[];
  /** The intermediate tensors matched besides the outputs (--distill-features). */
  features: string[];
  steps: number;
  /** The step whose parameters were kept (0: training never beat the starting point on held-out samples). */
  bestStep: number;
  stoppedEarly: boolean;
  seconds: number;
  trainSamples: number;
  validationSamples: number;
  /** Held-out loss of each trained tier, before and with the kept parameters. */
  validationBefore: number[];
  validationAfter: number[];
  trainableParams: number;
}

export interface DistillResult {
  /** Per factored layer (header.layers order): the trained factors, nested as before. */
  factors: OrderedFactors[];
  /** Trained biases by initializer name. */
  biases: Map<string, Float32Array>;
  report: DistillReport;
}

/** Input elements per micro-batch (NestedObjective.step): 6 MobileNet images at 224², a whole batch of MNIST digits. */
const MICRO_BATCH_INPUT_ELEMENTS = 2 ** 20;

/** The numbers distillation runs with, checked. */
interface DistillPlan {
  engine: TrainingEngine;
  steps: number;
  batchSize: number;
  temperature: number;
  trainedTiers: number[];
  featureWeight: number;
}

/**
 * Distillation (issue 4): fine-tunes the factored model against the original model's outputs on unlabelled
 * samples with tfjs autodiff. Trains each factored layer's bias and its triangular cores or its factors
 * (nested-cores.ts) with a nested loss, the weighted sum of the losses at every trained tier (nested-objective.ts),
 * so the tiers improve together and every prefix stays valid. The best parameters by the loss on held-out samples
 * are kept.
 *
 * `header`/`payload` are an fp32 file built from `factors` (its tiers give the ranks and the graph).
 */
export async function distillFactors(
  source: Uint8Array,
  header: ModelHeader,
  payload: Uint8Array,
  factors: OrderedFactors[],
  samples: () => AsyncIterable<Feeds>,
  options: DistillOptions = {},
): Promise<DistillResult> {
  const started = performance.now();
  const plan = planDistillation(header, options);
  await startTrainingBackend(plan.engine);
  const original = decodeGraph(source);
  const outputs = logitNames(original, header);
  const loss: DistillLoss = options.loss && options.loss !== 'auto' ? options.loss : outputs.every((o) => o.classScores) ? 'kl' : 'mse';
  const features = featureNames(header, payload, options.features ?? 'none').filter((f) => !outputs.some((o) => o.name === f));
  // Every compared tensor and its weight in a tier's loss: the outputs, then the features (their mean).
  const compared: ComparedTensor[] = [
    ...outputs.map((o) => ({ name: o.name, loss, weight: 1 })),
    ...features.map((name) => ({ name, loss: 'mse' as const, weight: plan.featureWeight / features.length })),
  ];
  // Samples concatenate along dim 0 only when every input's dim 0 is the same symbolic batch dim (a sparse batch's
  // indices and values share no batch dim: their rows are tokens).
  const batchDims = new Set(header.graph.inputs.map((i) => i.shape[0]));
  const batchable = batchDims.size === 1 && header.graph.inputs.every((i) => typeof i.shape[0] !== 'number');
  const layers = trainedLayers(header, payload, factors, plan.trainedTiers, options.train);
  let objective: NestedObjective | undefined;
  const optimizer = tf.train.adam(options.learningRate ?? 1e-3);
  try {
    // Built before the samples are read, so a graph tfjs cannot run fails at once.
    objective = new NestedObjective({ original, header, payload, layers, trainedTiers: plan.trainedTiers, compared, temperature: plan.temperature, batchable, microBatch: microBatchOf(header, plan.batchSize) });
    const { train, validation } = await splitSamples(samples, batchable, options.validationSamples);
    const run = await trainNested(objective, optimizer, train, validation, plan, options, header);
    const biases = new Map<string, Float32Array>();
    const trained = layers.map((l, i) => {
      if (l.biasName && l.cores.bias) biases.set(l.biasName, l.cores.bias.dataSync() as Float32Array);
      return l.cores.fold(factors[i]);
    });
    return {
      factors: trained,
      biases,
      report: {
        engine: plan.engine,
        loss,
        trainedTiers: plan.trainedTiers,
        features,
        steps: run.steps,
        bestStep: run.bestStep,
        stoppedEarly: run.stoppedEarly,
        seconds: (performance.now() - started) / 1000,
        trainSamples: train.length,
        validationSamples: validation.length,
        validationBefore: run.validationBefore,
        validationAfter: run.validationAfter,
        trainableParams: objective.variables.reduce((s, v) => s + v.size, 0),
      },
    };
  } finally {
    optimizer.dispose();
    for (const l of layers) l.cores.dispose();
    objective?.dispose();
  }
}

function planDistillation(header: ModelHeader, options: DistillOptions): DistillPlan {
  const steps = options.steps ?? 200;
  const batchSize = options.batchSize ?? 8;
  if (!Number.isInteger(steps) || steps < 1) throw new CompileOptionError(`--steps must be a whole number ≥ 1, got ${steps}`, 'distill');
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new CompileOptionError(`--distill-batch must be a whole number ≥ 1, got ${batchSize}`, 'distill');
  const trainedTiers = options.tiers ?? defaultTiers(header);
  for (const t of trainedTiers) {
    if (!Number.isInteger(t) || t < 0 || t >= header.tiers.length) throw new CompileOptionError(`distillation tier ${t} does not exist (the file has tiers 0–${header.tiers.length - 1})`, 'distill');
  }
  if (trainedTiers.length === 0) throw new CompileOptionError('--distill-tiers lists no tier', 'distill');
  if (options.features !== undefined && !['none', 'last', 'all'].includes(options.features)) throw new CompileOptionError(`--distill-features must be none, last or all, got ${String(options.features)}`, 'distill');
  const featureWeight = options.featureWeight ?? 1;
  if (!(featureWeight >= 0)) throw new CompileOptionError(`--distill-feature-weight must be a number ≥ 0, got ${featureWeight}`, 'distill');
  return { engine: options.engine ?? 'tfjs-wasm', steps, batchSize, temperature: options.temperature ?? 2, trainedTiers, featureWeight };
}

/** The samples in memory: the last ones held out to pick the best checkpoint, the rest trained on. */
async function splitSamples(samples: () => AsyncIterable<Feeds>, batchable: boolean, held: number | undefined): Promise<{ train: Unit[]; validation: Unit[] }> {
  const units = await collectUnits(samples, batchable);
  if (units.length < 2) throw new CompileOptionError(`distillation needs at least 2 samples, got ${units.length}`, 'distill');
  const validationCount = Math.min(units.length - 1, held ?? Math.max(1, Math.min(32, Math.round(units.length / 10))));
  return { train: units.slice(0, units.length - validationCount), validation: units.slice(units.length - validationCount) };
}

/** One trainable core (or factor pair) per factored layer, as large as the largest rank a trained tier gives it. */
function trainedLayers(header: ModelHeader, payload: Uint8Array, factors: OrderedFactors[], trainedTiers: number[], train: DistillOptions['train']): TrainedLayer[] {
  const initializers = new Map(header.graph.initializers.map((t) => [t.name, t]));
  return header.layers.map((layer, i) => {
    const ranks = trainedTiers.map((t) => header.tiers[t].ranks[i]);
    const belowFull = trainedTiers.filter((t) => !atFullRank(header, t)).map((t) => header.tiers[t].ranks[i]);
    const maxRank = Math.max(...ranks);
    // Cores cost size² per layer, so they stop below the full tier; factors train every component, so the full
    // tier's own components can compensate for what the smaller tiers change.
    const size = train !== 'factors' && belowFull.length > 0 ? Math.max(...belowFull) : maxRank;
    const biasName = biasOf(header, i);
    const b = biasName ? initializers.get(biasName) : undefined;
    const bias = b && b.dataType === DataType.FLOAT ? float32Copy(payload, b.range.offset, b.range.length / 4) : undefined;
    const cores: TrainableLayer = train === 'factors'
      ? new NestedFactors(layer.kind, layer.rows, layer.cols, size, maxRank, layer.weightDims, factors[i], bias)
      : new NestedCores(layer.kind, layer.rows, layer.cols, size, maxRank, layer.kind === 'conv' ? layer.weightDims.length - 2 : 0, factors[i], bias);
    return { cores, biasName: bias ? biasName : undefined };
  });
}

/** Units per forward and backward pass, so autodiff's kept activations stay within WASM's memory. */
function microBatchOf(header: ModelHeader, batchSize: number): number {
  const inputElements = header.graph.inputs.reduce((sum, i) => sum + i.shape.reduce<number>((a, d) => a * (typeof d === 'number' ? d : 1), 1), 0);
  return Math.max(1, Math.min(batchSize, Math.floor(MICRO_BATCH_INPUT_ELEMENTS / Math.max(1, inputElements))));
}

interface TrainingRun {
  steps: number;
  bestStep: number;
  stoppedEarly: boolean;
  validationBefore: number[];
  validationAfter: number[];
}

/**
 * The training loop: batches of shuffled samples (a new order, and new crops with augment, every epoch), the
 * held-out loss measured about 20 times, and the variables left at the best held-out point (the start included).
 */
async function trainNested(objective: NestedObjective, optimizer: tf.Optimizer, train: Unit[], validation: Unit[], plan: DistillPlan, options: DistillOptions, header: ModelHeader): Promise<TrainingRun> {
  const { variables } = objective;
  const validationBefore = objective.tierLosses(validation);
  objective.relativeTo(validationBefore);
  let best = { step: 0, loss: objective.weighted(validationBefore), values: variables.map((v) => tf.keep(v.clone())), perTier: validationBefore };
  /** Measures the held-out loss and keeps a copy of the parameters when they beat the best so far. */
  const keepIfBest = (at: number): void => {
    const perTier = objective.tierLosses(validation);
    // Written so that a NaN held-out loss (a diverged step) never counts as better.
    if (!(objective.weighted(perTier) < best.loss)) return;
    for (const t of best.values) t.dispose();
    best = { step: at, loss: objective.weighted(perTier), values: variables.map((v) => tf.keep(v.clone())), perTier };
  };
  const evaluateEvery = Math.max(1, Math.round(plan.steps / 20));
  let order = shuffled(train.length, options.seed ?? 1);
  let cursor = 0;
  let epoch = 0;
  let step = 0;
  let stoppedEarly = false;
  let recent = NaN;
  try {
    while (step < plan.steps) {
      if (options.signal?.aborted) {
        stoppedEarly = true;
        break;
      }
      const picked: Unit[] = [];
      while (picked.length < Math.min(plan.batchSize, train.length)) {
        if (cursor === order.length) {
          epoch++;
          order = shuffled(train.length, (options.seed ?? 1) + epoch);
          cursor = 0;
        }
        picked.push(options.augment ? augmentUnit(train[order[cursor]], header, epoch, order[cursor], options.augment.flip) : train[order[cursor]]);
        cursor++;
      }
      const value = objective.step(picked, optimizer);
      step++;
      recent = Number.isNaN(recent) ? value : 0.9 * recent + 0.1 * value;
      if (!Number.isFinite(value)) break; // diverged: keep the best checkpoint
      if (step % evaluateEvery === 0 || step === plan.steps) keepIfBest(step);
      options.onProgress?.(step, plan.steps, `loss ${recent.toFixed(4)}, held-out ${best.loss.toFixed(4)} (step ${best.step})`);
      // Let a Ctrl-C (and a progress bar) get through between steps.
      await new Promise((r) => setImmediate(r));
    }
    // Stopped between two held-out measurements: measure once more so the steps since the last one count.
    if (step > 0 && step % evaluateEvery !== 0 && step !== plan.steps) keepIfBest(step);
    variables.forEach((v, i) => v.assign(best.values[i]));
    return { steps: step, bestStep: best.step, stoppedEarly, validationBefore, validationAfter: best.perTier };
  } finally {
    for (const t of best.values) t.dispose();
  }
}

/**
 * Every tier. A tier at full rank has nothing to recover, but its loss holds it near the original while the
 * components it shares with smaller tiers move (cores stop below full rank, so it costs one more forward and
 * backward pass per step, not a larger core).
 */
function defaultTiers(header: ModelHeader): number[] {
  return header.tiers.map((t) => t.index);
}

function atFullRank(header: ModelHeader, tier: number): boolean {
  return header.tiers[tier].ranks.every((r, i) => r >= Math.min(header.layers[i].rows, header.layers[i].cols));
}

/** The bias initializer of factored layer i (Conv and Gemm input 2), if any. */
function biasOf(header: ModelHeader, i: number): string | undefined {
  const node = header.graph.nodes[header.layers[i].nodeIndex];
  const name = header.layers[i].kind === 'matmul' ? undefined : node.inputs[2];
  return name && header.graph.initializers.some((t) => t.name === name) ? name : undefined;
}

/** The activated outputs of the factored layers the feature term compares (graph order). */
function featureNames(header: ModelHeader, payload: Uint8Array, which: DistillFeatures): string[] {
  if (which === 'none') return [];
  const names = [...header.layers].sort((a, b) => a.nodeIndex - b.nodeIndex).map((layer) => {
    const node = header.graph.nodes[layer.nodeIndex];
    return followingActivation(header, payload, node, layer.rows)?.output ?? node.outputs[0];
  });
  return which === 'all' ? names : names.slice(-1);
}

/** What the loss compares: each graph output, or the logits when a Softmax made it. */
function logitNames(graph: InterpretedGraph, header: ModelHeader): Array<{ name: string; classScores: boolean }> {
  const producer = new Map<string, { opType: string; inputs: readonly string[] }>();
  for (const n of graph.nodes) for (const o of n.outputs) producer.set(o, n);
  const seen = new Set<string>();
  return graph.outputs.flatMap((o) => {
    const p = producer.get(o.name);
    const name = p && p.opType === 'Softmax' ? p.inputs[0] : o.name;
    // A model that outputs both its logits and their Softmax is compared once, on the logits.
    if (seen.has(name)) return [];
    seen.add(name);
    if (p && p.opType === 'Softmax') return [{ name, classScores: true }];
    // [N, C] scores of a classifier without its Softmax (mnist-cnn's logits).
    return [{ name, classScores: header.graph.outputs.find((v) => v.name === o.name)?.shape.length === 2 }];
  });
}

/** The data in memory, split into single samples where the model takes any batch size. */
async function collectUnits(samples: () => AsyncIterable<Feeds>, batchable: boolean): Promise<Unit[]> {
  const units: Unit[] = [];
  for await (const feeds of samples()) {
    const names = Object.keys(feeds);
    const n = feeds[names[0]]?.dims[0] ?? 1;
    if (!batchable || n === 1 || names.some((k) => feeds[k].dims[0] !== n)) {
      units.push(feeds);
      continue;
    }
    for (let i = 0; i < n; i++) units.push(Object.fromEntries(names.map((k) => [k, batchItem(feeds[k], i)])));
  }
  return units;
}

/** A new random crop (and flip) of the image input for every epoch. */
function augmentUnit(unit: Unit, header: ModelHeader, epoch: number, index: number, flip: boolean): Unit {
  const input = header.graph.inputs[0];
  const t = unit[input.name];
  if (!t || t.dims.length !== 4 || t.dataType !== 'float32') return unit;
  const both = augmentBatch(t, index, { copies: 1, flip, seed: 0x5eed + epoch });
  const plane = t.data.length;
  return { ...unit, [input.name]: { ...t, data: (both.data as Float32Array).slice(plane) } };
}

function shuffled(n: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  let s = seed >>> 0 || 1;
  for (let i = n - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}
