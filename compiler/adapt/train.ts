import * as tf from '@tensorflow/tfjs-core';
import { ADAPTER_KINDS, adapterFactorShapes, type AdapterDType, type AdapterKind, type AdapterLayer, type AdapterModel } from '../../formats/adapter-model.js';
import type { ModelHeader } from '../../formats/model.js';
import { checkCoverage } from '../../runtime/engines/tfjs/coverage.js';
import { fuseActivations } from '../../runtime/engines/tfjs/fuse-activations.js';
import { decodeGraph, trainingGraph } from '../../runtime/engines/tfjs/graph.js';
import { GraphInterpreter, toTensor } from '../../runtime/engines/tfjs/interpreter.js';
import { adapterTargets, type AdapterTarget } from '../../runtime/adapters/targets.js';
import { denseNodeLayout } from '../../runtime/onnx/build-model.js';
import type { HostTensor } from '../../runtime/tensor.js';
import { batchItem } from '../data/tensor.js';
import { startTrainingBackend, type TrainingEngine } from '../distill/training-backend.js';
import { CompileOptionError } from '../errors.js';
import { openAdapterBase, checkTier, type AdapterBaseFile } from './base.js';
import { adapterDelta } from './delta.js';
import { initialFactors } from './init.js';
import { defaultKron, DEFAULT_LOKR_FACTOR } from './kron.js';
import type { LabelledSamples } from './labelled.js';
import { baseMatrices, mergedOnnx } from './merged-model.js';
import { SeededRandom } from './random.js';
import { CosineAdam } from './schedule.js';
import { adapterBytes } from './size.js';
import { checkRank, defaultTargets, factorElements, rankFits, selectTargets } from './targets.js';

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
  const logits = logitName(base, options.output);
  const units = await collectUnits(samples);
  if (units.length < 2) throw new CompileOptionError(`adapter training needs at least 2 labelled samples, got ${units.length}`, 'adapter-data');
  const validationCount = Math.min(units.length - 1, options.validationSamples ?? Math.max(1, Math.round(units.length / 10)));
  // A seeded split, not the last samples: labelled folders are often sorted by class.
  const split = new SeededRandom(o.seed).permutation(units.length);
  const validation = split.slice(units.length - validationCount).map((i) => units[i]);
  const train = split.slice(0, units.length - validationCount).map((i) => units[i]);

  const random = new SeededRandom(o.seed + 1);
  const layers = targets.map((t, i) => {
    const shapes = adapterFactorShapes(o.kind, { rows: t.rows, cols: t.cols, rank: o.rank, kron: krons[i] });
    const values = initialFactors(o.kind, shapes, random);
    // tidy frees the starting tensor each variable copies (a variable outlives tidy).
    return shapes.map(([r, c], k) => tf.tidy(() => tf.variable(tf.tensor2d(values[k], [r, c]), true, `adapter/${i}/${k}`)));
  });
  const variables = layers.flat();
  const scale = o.alpha / o.rank;

  // Everything below is freed in the finally at the end, however training ends.
  const tiers: Array<{ tier: number; interpreter: GraphInterpreter; base: tf.Tensor2D[] }> = [];
  const optimizer = new CosineAdam(o.learningRate, o.steps);
  let best: { step: number; loss: number; measured: Measured; values: tf.Tensor[] } | undefined;
  try {
    for (const tier of trainedTiers) {
      const interpreter = interpreterFor(base, tier, targets, logits);
      tiers.push({ tier, interpreter, base: baseMatrices(base, tier, targets).map((m, i) => tf.tensor2d(m, [targets[i].rows, targets[i].cols])) });
    }
    const inputNames = header.graph.inputs.map((i) => i.name);
    const batchable = new Set(header.graph.inputs.map((i) => i.shape[0])).size === 1 && header.graph.inputs.every((i) => typeof i.shape[0] !== 'number');

    /** The merged weights a tier's graph is fed: W_base + ΔW in each op's layout. */
    const weightFeeds = (t: (typeof tiers)[number]): Record<string, tf.Tensor> => {
      const feeds: Record<string, tf.Tensor> = {};
      targets.forEach((target, i) => {
        const merged = tf.add(t.base[i], adapterDelta(o.kind, layers[i], scale));
        const { dims, transposed } = denseNodeLayout(target);
        feeds[target.target] = tf.reshape(transposed ? tf.transpose(merged) : merged, dims);
      });
      return feeds;
    };
    /** Logits of a tier on `batch` (one run, or one per sample where the model takes a fixed batch). */
    const forward = (t: (typeof tiers)[number], batch: Unit[]): tf.Tensor2D => {
      const weights = weightFeeds(t);
      const groups = batchable ? [batch] : batch.map((u) => [u]);
      const outs = groups.map((g) => {
        const inputs = Object.fromEntries(inputNames.map((name) => [name, toTensor(stack(g.map((u) => u.feeds[name])))]));
        return tf.reshape(t.interpreter.forward({ ...inputs, ...weights })[logits], [g.length, -1]);
      });
      return (outs.length === 1 ? outs[0] : tf.concat(outs, 0)) as tf.Tensor2D;
    };
    const crossEntropy = (scores: tf.Tensor2D, labels: Int32Array): tf.Scalar => {
      const classes = scores.shape[1];
      const bad = labels.find((l) => l < 0 || l >= classes);
      if (bad !== undefined) throw new CompileOptionError(`label ${bad} is not a class of the model's output "${logits}" (${classes} scores); train on data labelled for this model`, 'adapter-data');
      return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(tf.tensor1d(labels, 'int32'), classes), tf.logSoftmax(scores)), 1))) as tf.Scalar;
    };
    const labelsOf = (batch: Unit[]) => Int32Array.from(batch, (u) => u.label);

    const measure = (): Measured => {
      const loss = tiers.map(() => 0);
      const correct = tiers.map(() => 0);
      for (let start = 0; start < validation.length; start += 256) {
        const chunk = validation.slice(start, start + 256);
        const labels = labelsOf(chunk);
        tf.tidy(() => {
          tiers.forEach((t, k) => {
            const scores = forward(t, chunk);
            loss[k] += crossEntropy(scores, labels).dataSync()[0] * chunk.length;
            const predicted = tf.argMax(scores, 1).dataSync();
            for (let j = 0; j < chunk.length; j++) if (predicted[j] === labels[j]) correct[k]++;
          });
        });
      }
      return { loss: loss.map((l) => l / validation.length), accuracy: correct.map((c) => (100 * c) / validation.length) };
    };
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

    const before = measure();
    const snapshot = () => variables.map((v) => tf.keep(v.clone()));
    let kept = { step: 0, loss: mean(before.loss), measured: before, values: snapshot() };
    best = kept;
    const keepIfBest = (step: number): void => {
      const now = measure();
      if (!(mean(now.loss) < kept.loss)) return;
      for (const t of kept.values) t.dispose();
      kept = best = { step, loss: mean(now.loss), measured: now, values: snapshot() };
    };
    const evaluateEvery = Math.max(1, Math.round(o.steps / 10));
    const order = new SeededRandom(o.seed + 2);
    let queue: number[] = [];
    let step = 0;
    let stoppedEarly = false;
    let recent = NaN;
    while (step < o.steps) {
      if (options.signal?.aborted) {
        stoppedEarly = true;
        break;
      }
      const batch: Unit[] = [];
      while (batch.length < Math.min(o.batchSize, train.length)) {
        if (queue.length === 0) queue = order.permutation(train.length);
        batch.push(train[queue.pop()!]);
      }
      const labels = labelsOf(batch);
      // One tier per step, in turn: over the run every trained tier's loss counts equally (the nested loss in
      // expectation) at the cost of one forward and backward pass per step, not one per tier.
      const t = tiers[step % tiers.length];
      // variableGrads runs the loss in its own tidy scope and hands back only the loss and the gradients.
      const { value: loss, grads } = tf.variableGrads(() => crossEntropy(forward(t, batch), labels), variables);
      optimizer.at(step);
      optimizer.applyGradients(grads as Parameters<typeof optimizer.applyGradients>[0]);
      const value = loss.dataSync()[0];
      tf.dispose([loss, ...Object.values(grads)]);
      step++;
      recent = Number.isNaN(recent) ? value : 0.9 * recent + 0.1 * value;
      if (!Number.isFinite(value)) break; // diverged: the best checkpoint stays
      if (step % evaluateEvery === 0 || step === o.steps) keepIfBest(step);
      options.onProgress?.(step, o.steps, `loss ${recent.toFixed(4)}, held-out ${kept.loss.toFixed(4)} (step ${kept.step})`);
      await new Promise((r) => setImmediate(r)); // lets an abort (Ctrl-C) and a progress bar through
    }
    if (step > 0 && step % evaluateEvery !== 0 && step !== o.steps) keepIfBest(step);

    const values = kept.values.map((t) => t.dataSync() as Float32Array);
    let at = 0;
    const adapterLayers: AdapterLayer[] = targets.map((t, i) => {
      const factors = layers[i].map(() => Float32Array.from(values[at++]));
      return { target: t.target, rows: t.rows, cols: t.cols, rank: o.rank, alpha: o.alpha, factors, ...(krons[i] ? { kron: krons[i] } : {}) };
    });
    const measured = kept.measured;
    const tierList = trainedTiers.length === 1 ? `tier ${trainedTiers[0]}` : `tiers ${trainedTiers.join(', ')}`;
    const adapter: AdapterModel = {
      kind: o.kind,
      base: base.identity,
      dtype: o.dtype,
      layers: adapterLayers,
      notes: [
        `${o.kind} rank ${o.rank} alpha ${o.alpha} on ${targets.map((t) => t.target).join(', ')}`,
        `trained on ${train.length} samples (${tierList}), ${step} steps of ${o.batchSize}, lr ${o.learningRate}, seed ${o.seed}; kept step ${kept.step}`,
        `held-out top-1 on ${validation.length} samples: ${measured.accuracy.map((a, k) => `tier ${trainedTiers[k]} ${a.toFixed(1)}% (base ${before.accuracy[k].toFixed(1)}%)`).join(', ')}`,
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
        targets: targets.map((t) => t.target),
        trainedTiers,
        steps: step,
        bestStep: kept.step,
        stoppedEarly,
        seconds: (performance.now() - started) / 1000,
        trainSamples: train.length,
        validationSamples: validation.length,
        validationLossBefore: before.loss,
        validationLossAfter: measured.loss,
        validationAccuracyBefore: before.accuracy,
        validationAccuracyAfter: measured.accuracy,
        trainableParams: variables.reduce((s, v) => s + v.size, 0),
        bytes: { fp32: sizes.fp32, fp16: sizes.fp16, base: lrmBytes.length },
      },
    };
  } finally {
    for (const t of best?.values ?? []) t.dispose();
    optimizer.dispose();
    for (const v of variables) v.dispose();
    for (const t of tiers) {
      t.interpreter.dispose();
      for (const b of t.base) b.dispose();
    }
  }
}

/** Held-out cross-entropy and top-1 accuracy (%) per trained tier. */
interface Measured {
  loss: number[];
  accuracy: number[];
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

/** One labelled sample: its feeds (dim 0 of 1) and its class. */
interface Unit {
  feeds: Record<string, HostTensor>;
  label: number;
}

async function collectUnits(samples: LabelledSamples): Promise<Unit[]> {
  const units: Unit[] = [];
  for await (const { feeds, labels } of samples()) {
    const names = Object.keys(feeds);
    for (const name of names) {
      if (feeds[name].dims[0] !== labels.length) {
        throw new CompileOptionError(`input "${name}" holds ${feeds[name].dims[0]} samples but the batch has ${labels.length} labels`, 'adapter-data');
      }
    }
    for (let i = 0; i < labels.length; i++) units.push({ feeds: Object.fromEntries(names.map((k) => [k, batchItem(feeds[k], i)])), label: labels[i] });
  }
  return units;
}

/** Samples' tensors of one input, concatenated along dim 0. */
function stack(parts: HostTensor[]): HostTensor {
  if (parts.length === 1) return parts[0];
  const total = parts.reduce((s, p) => s + p.data.length, 0);
  const data = new (parts[0].data.constructor as new (n: number) => HostTensor['data'])(total);
  let at = 0;
  for (const p of parts) {
    (data as Float32Array).set(p.data as Float32Array, at);
    at += p.data.length;
  }
  return { ...parts[0], dims: [parts.reduce((s, p) => s + p.dims[0], 0), ...parts[0].dims.slice(1)], data };
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

/** The class scores the loss reads: the chosen (default first) output, or the input of the Softmax that made it. */
function logitName(base: AdapterBaseFile, output: string | undefined): string {
  const { graph } = base.header;
  const name = output ?? graph.outputs[0]?.name;
  if (!name || !graph.outputs.some((o) => o.name === name)) {
    throw new CompileOptionError(`--output "${output}" is not an output of ${base.fileName}; it has ${graph.outputs.map((o) => o.name).join(', ')}`, 'adapter-output');
  }
  const producer = graph.nodes.find((n) => n.outputs.includes(name));
  return producer && (producer.opType === 'Softmax' || producer.opType === 'LogSoftmax') ? producer.inputs[0] : name;
}

/** The tfjs interpreter of a tier's merged graph with the adapted weights as inputs. */
function interpreterFor(base: AdapterBaseFile, tier: number, targets: readonly AdapterTarget[], logits: string): GraphInterpreter {
  const onnxModel = mergedOnnx(base, tier, targets, baseMatrices(base, tier, targets));
  const graph = trainingGraph(decodeGraph(onnxModel), { weights: targets.map((t) => t.target), outputs: [logits] });
  const coverage = checkCoverage(graph);
  if (coverage.missingOps.length > 0 || coverage.unsupportedNodes.length > 0) {
    const missing = [...coverage.missingOps, ...coverage.unsupportedNodes];
    throw new CompileOptionError(`adapter training runs the model with tfjs, which cannot run ${base.fileName} (tier ${tier}): ${missing.join(', ')}`, 'adapter-engine');
  }
  return new GraphInterpreter(graph, fuseActivations(graph, coverage.steps));
}
