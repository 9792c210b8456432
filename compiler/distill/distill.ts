import * as tf from '@tensorflow/tfjs-core';
import type { ModelHeader } from '../../formats/model.js';
import { DataType } from '../../formats/model.js';
import { float32Copy } from '../../runtime/factors.js';
import { buildOnnxModel } from '../../runtime/onnx/build-model.js';
import { checkCoverage } from '../../runtime/engines/tfjs/coverage.js';
import { fuseActivations } from '../../runtime/engines/tfjs/fuse-activations.js';
import { decodeGraph, trainingGraph, type InterpretedGraph } from '../../runtime/engines/tfjs/graph.js';
import { GraphInterpreter, toTensor } from '../../runtime/engines/tfjs/interpreter.js';
import type { Feeds } from '../../runtime/tensor.js';
import { augmentBatch } from '../data/augment.js';
import { batchItem } from '../data/tensor.js';
import { CompileOptionError } from '../errors.js';
import { followingActivation } from '../refit.js';
import type { OrderedFactors } from '../linalg/svd.js';
import { distillationLoss, type DistillLoss } from './loss.js';
import { NestedCores, NestedFactors, type TrainableLayer } from './nested-cores.js';
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

/** Input elements per micro-batch (see trainStep): 6 MobileNet images at 224², a whole batch of MNIST digits. */
const MICRO_BATCH_INPUT_ELEMENTS = 2 ** 20;

/** One forward unit: feeds the models take in one run (a single sample, or a fixed-size batch). */
type Unit = Feeds;

/**
 * Distillation (issue 4): fine-tunes the factored model against the original model's outputs on unlabelled
 * samples with tfjs autodiff. Trains each factored layer's bias and its triangular cores or its factors
 * (nested-cores.ts) with a nested loss, the weighted sum of the losses at every trained tier, so the tiers
 * improve together and every prefix stays valid. The best parameters by the loss on held-out samples are kept.
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
  const engine = options.engine ?? 'tfjs-wasm';
  const steps = options.steps ?? 200;
  const batchSize = options.batchSize ?? 8;
  const temperature = options.temperature ?? 2;
  if (!Number.isInteger(steps) || steps < 1) throw new CompileOptionError(`--steps must be a whole number ≥ 1, got ${steps}`, 'distill');
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new CompileOptionError(`--distill-batch must be a whole number ≥ 1, got ${batchSize}`, 'distill');
  const trainedTiers = options.tiers ?? defaultTiers(header);
  for (const t of trainedTiers) {
    if (!Number.isInteger(t) || t < 0 || t >= header.tiers.length) throw new CompileOptionError(`distillation tier ${t} does not exist (the file has tiers 0–${header.tiers.length - 1})`, 'distill');
  }
  if (trainedTiers.length === 0) throw new CompileOptionError('--distill-tiers lists no tier', 'distill');

  await startTrainingBackend(engine);
  const original = decodeGraph(source);
  const outputs = logitNames(original, header);
  const loss: DistillLoss = options.loss && options.loss !== 'auto' ? options.loss : outputs.every((o) => o.classScores) ? 'kl' : 'mse';
  if (options.features !== undefined && !['none', 'last', 'all'].includes(options.features)) throw new CompileOptionError(`--distill-features must be none, last or all, got ${String(options.features)}`, 'distill');
  const features = featureNames(header, payload, options.features ?? 'none').filter((f) => !outputs.some((o) => o.name === f));
  const featureWeight = options.featureWeight ?? 1;
  if (!(featureWeight >= 0)) throw new CompileOptionError(`--distill-feature-weight must be a number ≥ 0, got ${featureWeight}`, 'distill');
  /** Every compared tensor and its weight in a tier's loss: the outputs, then the features (their mean). */
  const compared = [
    ...outputs.map((o) => ({ name: o.name, loss, weight: 1 })),
    ...features.map((name) => ({ name, loss: 'mse' as const, weight: featureWeight / features.length })),
  ];
  const outputNames = compared.map((c) => c.name);
  const teacher = interpreterFor(trainingGraph(original, { weights: [], outputs: outputNames }), 'the original model');

  // Samples concatenate along dim 0 only when every input's dim 0 is the same symbolic batch dim (a sparse batch's
  // indices and values share no batch dim: their rows are tokens).
  const batchDims = new Set(header.graph.inputs.map((i) => i.shape[0]));
  const batchable = batchDims.size === 1 && header.graph.inputs.every((i) => typeof i.shape[0] !== 'number');
  const units = await collectUnits(samples, batchable);
  if (units.length < 2) throw new CompileOptionError(`distillation needs at least 2 samples, got ${units.length}`, 'distill');
  const validationCount = Math.min(units.length - 1, options.validationSamples ?? Math.max(1, Math.min(32, Math.round(units.length / 10))));
  const validation = units.slice(units.length - validationCount);
  const train = units.slice(0, units.length - validationCount);

  // One core per factored layer, as large as the largest rank a trained tier gives it.
  const initializers = new Map(header.graph.initializers.map((t) => [t.name, t]));
  const cores = header.layers.map((layer, i) => {
    const ranks = trainedTiers.map((t) => header.tiers[t].ranks[i]);
    const belowFull = trainedTiers.filter((t) => !atFullRank(header, t)).map((t) => header.tiers[t].ranks[i]);
    const maxRank = Math.max(...ranks);
    // Cores cost size² per layer, so they stop below the full tier; factors train every component, so the full
    // tier's own components can compensate for what the smaller tiers change.
    const size = options.train !== 'factors' && belowFull.length > 0 ? Math.max(...belowFull) : maxRank;
    const biasName = biasOf(header, i);
    const b = biasName ? initializers.get(biasName) : undefined;
    const bias = b && b.dataType === DataType.FLOAT ? float32Copy(payload, b.range.offset, b.range.length / 4) : undefined;
    const trainable: TrainableLayer = options.train === 'factors'
      ? new NestedFactors(layer.kind, layer.rows, layer.cols, size, maxRank, layer.weightDims, factors[i], bias)
      : new NestedCores(layer.kind, layer.rows, layer.cols, size, maxRank, layer.kind === 'conv' ? layer.weightDims.length - 2 : 0, factors[i], bias);
    return { cores: trainable, biasName: bias ? biasName : undefined };
  });
  const variables = cores.flatMap((c) => c.cores.variables);
  const students = trainedTiers.map((t) => {
    const ranks = header.tiers[t].ranks;
    const model = buildOnnxModel(header, payload, ranks, { alwaysFactored: true });
    const weights = header.layers.map((l) => `${l.weight}__lowrank_out`);
    const inputs = header.layers.map((l) => `${l.weight}__lowrank_in`);
    const trained = [...weights, ...inputs.filter((_, i) => cores[i].cores.trainsInput), ...cores.flatMap((c) => (c.biasName ? [c.biasName] : []))];
    return { tier: t, ranks, interpreter: interpreterFor(trainingGraph(decodeGraph(model), { weights: trained, outputs: outputNames }), `tier ${t}`), weights, inputs };
  });

  /** The trained tensors every student graph takes as inputs. */
  const studentWeights = (student: (typeof students)[number], folded: tf.Tensor2D[]): Record<string, tf.Tensor> => {
    const feeds: Record<string, tf.Tensor> = {};
    cores.forEach((c, i) => {
      feeds[student.weights[i]] = c.cores.outputWeight(folded[i], student.ranks[i]);
      if (c.cores.trainsInput) feeds[student.inputs[i]] = c.cores.inputWeight(student.ranks[i]);
      if (c.biasName && c.cores.bias) feeds[c.biasName] = c.cores.bias;
    });
    return feeds;
  };
  /** One tier's loss against the teacher, averaged over the model runs in `groups`. */
  const tierLoss = (student: (typeof students)[number], groups: Array<Record<string, tf.Tensor>>, targets: tf.Tensor[][]): tf.Scalar => {
    const weights = studentWeights(student, cores.map((c) => c.cores.prepare()));
    let total: tf.Scalar = tf.scalar(0);
    groups.forEach((inputs, u) => {
      const out = student.interpreter.forward({ ...inputs, ...weights });
      compared.forEach((c, o) => {
        total = tf.add(total, tf.mul(distillationLoss(c.loss, out[c.name], targets[u][o], temperature), c.weight));
      });
    });
    return tf.div(total, groups.length);
  };
  const targetsOf = (groups: Array<Record<string, tf.Tensor>>): tf.Tensor[][] =>
    groups.map((inputs) => {
      const out = teacher.forward(inputs);
      return outputNames.map((n) => out[n]);
    });
  // Autodiff keeps every activation of a pass until its gradients are taken: the nested loss is differentiated
  // one tier and one micro-batch at a time and the gradients summed (one tier of 32 MobileNet images at once
  // overran WASM's memory).
  const inputElements = header.graph.inputs.reduce((sum, i) => sum + i.shape.reduce<number>((a, d) => a * (typeof d === 'number' ? d : 1), 1), 0);
  const microBatch = Math.max(1, Math.min(batchSize, Math.floor(MICRO_BATCH_INPUT_ELEMENTS / Math.max(1, inputElements))));
  const chunks = <T>(items: T[]): T[][] => Array.from({ length: Math.ceil(items.length / microBatch) }, (_, i) => items.slice(i * microBatch, (i + 1) * microBatch));
  const validationLoss = (): number[] => {
    const perTier = students.map(() => 0);
    for (const chunk of chunks(validation)) {
      tf.tidy(() => {
        const groups = forwardGroups(chunk, batchable);
        const targets = targetsOf(groups);
        students.forEach((student, s) => (perTier[s] += (tierLoss(student, groups, targets).dataSync()[0] * chunk.length) / validation.length));
      });
    }
    return perTier;
  };
  /** Weight of each trained tier's loss in the nested loss (set from the held-out losses before training). */
  const tierWeights: number[] = students.map(() => 1);
  /** One optimiser step on the nested loss of `picked`; returns the loss. */
  const trainStep = (picked: Unit[]): number => {
    let value = 0;
    const summed = new Map<string, tf.Tensor>();
    for (const chunk of chunks(picked)) {
      tf.tidy(() => {
        const groups = forwardGroups(chunk, batchable);
        const targets = targetsOf(groups);
        for (const [s, student] of students.entries()) {
          const { value: v, grads } = tf.variableGrads(() => tf.mul(tierLoss(student, groups, targets), (tierWeights[s] * chunk.length) / picked.length) as tf.Scalar, variables);
          value += v.dataSync()[0];
          for (const [name, g] of Object.entries(grads)) {
            const previous = summed.get(name);
            summed.set(name, tf.keep(previous ? tf.add(previous, g) : g));
            previous?.dispose();
          }
        }
      });
    }
    optimizer.applyGradients(Object.fromEntries(summed) as Parameters<typeof optimizer.applyGradients>[0]);
    for (const g of summed.values()) g.dispose();
    return value;
  };

  const optimizer = tf.train.adam(options.learningRate ?? 1e-3);
  const validationBefore = validationLoss();
  // Each tier's loss counts relative to where it started (plus a floor, for the full tier at ~0): a plain sum is
  // dominated by the smallest tier, whose error is orders of magnitude larger, and trades the larger tiers away
  // for it (measured on MobileNet: tier 0 +4.4 points, tier 2 −1.6).
  const floor = sum(validationBefore) / validationBefore.length || 1;
  tierWeights.splice(0, tierWeights.length, ...validationBefore.map((l) => 1 / (l + floor)));
  const weighted = (perTier: number[]): number => perTier.reduce((a, l, t) => a + tierWeights[t] * l, 0);
  let best = { step: 0, loss: weighted(validationBefore), values: variables.map((v) => tf.keep(v.clone())) };
  let bestPerTier = validationBefore;
  /** Measures the held-out loss and keeps a copy of the parameters when they beat the best so far. */
  const keepIfBest = (at: number): void => {
    const perTier = validationLoss();
    // Written so that a NaN held-out loss (a diverged step) never counts as better.
    if (!(weighted(perTier) < best.loss)) return;
    for (const t of best.values) t.dispose();
    best = { step: at, loss: weighted(perTier), values: variables.map((v) => tf.keep(v.clone())) };
    bestPerTier = perTier;
  };
  const evaluateEvery = Math.max(1, Math.round(steps / 20));
  let order = shuffled(train.length, options.seed ?? 1);
  let cursor = 0;
  let epoch = 0;
  let step = 0;
  let stoppedEarly = false;
  let recent = NaN;
  try {
    while (step < steps) {
      if (options.signal?.aborted) {
        stoppedEarly = true;
        break;
      }
      const picked: Unit[] = [];
      while (picked.length < Math.min(batchSize, train.length)) {
        if (cursor === order.length) {
          epoch++;
          order = shuffled(train.length, (options.seed ?? 1) + epoch);
          cursor = 0;
        }
        picked.push(options.augment ? augmentUnit(train[order[cursor]], header, epoch, order[cursor], options.augment.flip) : train[order[cursor]]);
        cursor++;
      }
      const value = trainStep(picked);
      step++;
      recent = Number.isNaN(recent) ? value : 0.9 * recent + 0.1 * value;
      if (!Number.isFinite(value)) break; // diverged: keep the best checkpoint
      if (step % evaluateEvery === 0 || step === steps) keepIfBest(step);
      options.onProgress?.(step, steps, `loss ${recent.toFixed(4)}, held-out ${best.loss.toFixed(4)} (step ${best.step})`);
      // Let a Ctrl-C (and a progress bar) get through between steps.
      await new Promise((r) => setImmediate(r));
    }
    // Stopped between two held-out measurements: measure once more so the steps since the last one count.
    if (step > 0 && step % evaluateEvery !== 0 && step !== steps) keepIfBest(step);
    variables.forEach((v, i) => v.assign(best.values[i]));
    const biases = new Map<string, Float32Array>();
    const trained = header.layers.map((_, i) => {
      const c = cores[i];
      if (c.biasName && c.cores.bias) biases.set(c.biasName, c.cores.bias.dataSync() as Float32Array);
      return c.cores.fold(factors[i]);
    });
    return {
      factors: trained,
      biases,
      report: {
        engine,
        loss,
        trainedTiers,
        features,
        steps: step,
        bestStep: best.step,
        stoppedEarly,
        seconds: (performance.now() - started) / 1000,
        trainSamples: train.length,
        validationSamples: validation.length,
        validationBefore,
        validationAfter: bestPerTier,
        trainableParams: variables.reduce((s, v) => s + v.size, 0),
      },
    };
  } finally {
    for (const t of best.values) t.dispose();
    optimizer.dispose();
    for (const c of cores) c.cores.dispose();
    teacher.dispose();
    for (const s of students) s.interpreter.dispose();
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

function interpreterFor(graph: InterpretedGraph, what: string): GraphInterpreter {
  const coverage = checkCoverage(graph);
  if (coverage.missingOps.length > 0 || coverage.unsupportedNodes.length > 0) {
    const missing = [...coverage.missingOps, ...coverage.unsupportedNodes];
    throw new CompileOptionError(`distillation runs the model with tfjs, which cannot run ${what}: ${missing.join(', ')}; compile without --distill (calibration and --refit run on onnxruntime and still apply)`, 'distill');
  }
  return new GraphInterpreter(graph, fuseActivations(graph, coverage.steps));
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

/** Units as model runs: one concatenated batch where the model takes any batch size, else one run per unit. */
function forwardGroups(units: Unit[], batchable: boolean): Array<Record<string, tf.Tensor>> {
  const tensors = units.map((u) => Object.fromEntries(Object.entries(u).map(([k, v]) => [k, toTensor(v)])));
  if (!batchable || tensors.length === 1) return tensors;
  return [Object.fromEntries(Object.keys(tensors[0]).map((k) => [k, tf.concat(tensors.map((t) => t[k]), 0)]))];
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

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
