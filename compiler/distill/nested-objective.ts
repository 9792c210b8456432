/**
 * Distillation's nested loss: one student graph per trained tier (the factored model, its trained tensors fed as
 * inputs), each tier's loss against the original's outputs, their held-out values, and one optimiser step on the
 * weighted sum over the tiers, so every tier improves and every prefix stays a valid model.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ModelHeader } from '../../formats/model.js';
import { buildOnnxModel } from '../../runtime/onnx/build-model.js';
import { checkCoverage } from '../../runtime/engines/tfjs/coverage.js';
import { fuseActivations } from '../../runtime/engines/tfjs/fuse-activations.js';
import { decodeGraph, trainingGraph, type InterpretedGraph } from '../../runtime/engines/tfjs/graph.js';
import { GraphInterpreter, toTensor } from '../../runtime/engines/tfjs/interpreter.js';
import type { Feeds } from '../../runtime/tensor.js';
import { CompileOptionError } from '../errors.js';
import { distillationLoss, type DistillLoss } from './loss.js';
import type { TrainableLayer } from './nested-cores.js';

/** One forward unit: feeds the models take in one run (a single sample, or a fixed-size batch). */
export type Unit = Feeds;

/** A tensor the loss compares with the original's, its loss and its weight in a tier's loss. */
export interface ComparedTensor {
  name: string;
  loss: DistillLoss;
  weight: number;
}

/** A factored layer's trainable parameters, and the bias initializer they train when it has one. */
export interface TrainedLayer {
  cores: TrainableLayer;
  biasName?: string;
}

export interface NestedObjectiveSpec {
  /** The original model's graph: the teacher. */
  original: InterpretedGraph;
  /** An fp32 file of the factored model (the students' graphs and ranks). */
  header: ModelHeader;
  payload: Uint8Array;
  /** Per factored layer, header.layers order. */
  layers: TrainedLayer[];
  trainedTiers: number[];
  compared: ComparedTensor[];
  temperature: number;
  /** Whether units concatenate along dim 0 into one model run. */
  batchable: boolean;
  /** Units per forward and backward pass (bounds the activations autodiff keeps). */
  microBatch: number;
}

interface Student {
  tier: number;
  ranks: number[];
  interpreter: GraphInterpreter;
}

export class NestedObjective {
  readonly variables: tf.Variable[];
  private readonly teacher: GraphInterpreter;
  private readonly students: Student[];
  /** Each layer's `__lowrank_out` and `__lowrank_in` input in every student graph (build-model.ts names them). */
  private readonly outputWeightNames: string[];
  private readonly inputWeightNames: string[];
  /** Weight of each trained tier's loss in the nested loss (relativeTo sets them before training). */
  private tierWeights: number[];

  constructor(private readonly spec: NestedObjectiveSpec) {
    const { header, payload, layers, compared } = spec;
    const outputs = compared.map((c) => c.name);
    this.variables = layers.flatMap((l) => l.cores.variables);
    this.teacher = interpreterFor(trainingGraph(spec.original, { weights: [], outputs }), 'the original model');
    this.outputWeightNames = header.layers.map((l) => `${l.weight}__lowrank_out`);
    this.inputWeightNames = header.layers.map((l) => `${l.weight}__lowrank_in`);
    const trained = [
      ...this.outputWeightNames,
      ...this.inputWeightNames.filter((_, i) => layers[i].cores.trainsInput),
      ...layers.flatMap((l) => (l.biasName ? [l.biasName] : [])),
    ];
    this.students = [];
    try {
      for (const tier of spec.trainedTiers) {
        const ranks = header.tiers[tier].ranks;
        const model = buildOnnxModel(header, payload, ranks, { alwaysFactored: true });
        this.students.push({ tier, ranks, interpreter: interpreterFor(trainingGraph(decodeGraph(model), { weights: trained, outputs }), `tier ${tier}`) });
      }
    } catch (err) {
      this.dispose(); // a tier tfjs cannot run: what was built so far
      throw err;
    }
    this.tierWeights = this.students.map(() => 1);
  }

  /**
   * Each tier's loss counts relative to where it started (plus a floor, for the full tier at ~0): a plain sum is
   * dominated by the smallest tier, whose error is orders of magnitude larger, and trades the larger tiers away for
   * it (measured on MobileNet: tier 0 +4.4 points, tier 2 −1.6).
   */
  relativeTo(start: number[]): void {
    const floor = start.reduce((a, b) => a + b, 0) / start.length || 1;
    this.tierWeights = start.map((l) => 1 / (l + floor));
  }

  /** The nested loss of per-tier losses. */
  weighted(perTier: number[]): number {
    return perTier.reduce((a, l, t) => a + this.tierWeights[t] * l, 0);
  }

  /** Each trained tier's mean loss over `units` (no gradients). */
  tierLosses(units: Unit[]): number[] {
    const perTier = this.students.map(() => 0);
    for (const chunk of this.chunks(units)) {
      tf.tidy(() => {
        const groups = forwardGroups(chunk, this.spec.batchable);
        const targets = this.targetsOf(groups);
        this.students.forEach((student, s) => (perTier[s] += (this.tierLoss(student, groups, targets).dataSync()[0] * chunk.length) / units.length));
      });
    }
    return perTier;
  }

  /**
   * One optimiser step on the nested loss of `picked`; returns the loss. Autodiff keeps every activation of a pass
   * until its gradients are taken, so the loss is differentiated one tier and one micro-batch at a time and the
   * gradients summed (one tier of 32 MobileNet images at once overran WASM's memory).
   */
  step(picked: Unit[], optimizer: tf.Optimizer): number {
    let value = 0;
    const summed = new Map<string, tf.Tensor>();
    for (const chunk of this.chunks(picked)) {
      tf.tidy(() => {
        const groups = forwardGroups(chunk, this.spec.batchable);
        const targets = this.targetsOf(groups);
        for (const [s, student] of this.students.entries()) {
          const share = (this.tierWeights[s] * chunk.length) / picked.length;
          const { value: v, grads } = tf.variableGrads(() => tf.mul(this.tierLoss(student, groups, targets), share) as tf.Scalar, this.variables);
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
  }

  dispose(): void {
    this.teacher.dispose();
    for (const s of this.students) s.interpreter.dispose();
  }

  private chunks<T>(items: T[]): T[][] {
    const size = this.spec.microBatch;
    return Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));
  }

  /** The trained tensors a student graph takes as inputs. */
  private studentWeights(student: Student, prepared: tf.Tensor2D[]): Record<string, tf.Tensor> {
    const feeds: Record<string, tf.Tensor> = {};
    this.spec.layers.forEach((l, i) => {
      feeds[this.outputWeightNames[i]] = l.cores.outputWeight(prepared[i], student.ranks[i]);
      if (l.cores.trainsInput) feeds[this.inputWeightNames[i]] = l.cores.inputWeight(student.ranks[i]);
      if (l.biasName && l.cores.bias) feeds[l.biasName] = l.cores.bias;
    });
    return feeds;
  }

  /** One tier's loss against the teacher, averaged over the model runs in `groups`. */
  private tierLoss(student: Student, groups: Array<Record<string, tf.Tensor>>, targets: tf.Tensor[][]): tf.Scalar {
    const weights = this.studentWeights(student, this.spec.layers.map((l) => l.cores.prepare()));
    let total: tf.Scalar = tf.scalar(0);
    groups.forEach((inputs, u) => {
      const out = student.interpreter.forward({ ...inputs, ...weights });
      this.spec.compared.forEach((c, o) => {
        total = tf.add(total, tf.mul(distillationLoss(c.loss, out[c.name], targets[u][o], this.spec.temperature), c.weight));
      });
    });
    return tf.div(total, groups.length);
  }

  private targetsOf(groups: Array<Record<string, tf.Tensor>>): tf.Tensor[][] {
    return groups.map((inputs) => {
      const out = this.teacher.forward(inputs);
      return this.spec.compared.map((c) => out[c.name]);
    });
  }
}

function interpreterFor(graph: InterpretedGraph, what: string): GraphInterpreter {
  const coverage = checkCoverage(graph);
  if (coverage.missingOps.length > 0 || coverage.unsupportedNodes.length > 0) {
    const missing = [...coverage.missingOps, ...coverage.unsupportedNodes];
    throw new CompileOptionError(`distillation runs the model with tfjs, which cannot run ${what}: ${missing.join(', ')}; compile without --distill (calibration and --refit run on onnxruntime and still apply)`, 'distill');
  }
  return new GraphInterpreter(graph, fuseActivations(graph, coverage.steps));
}

/** Units as model runs: one concatenated batch where the model takes any batch size, else one run per unit. */
function forwardGroups(units: Unit[], batchable: boolean): Array<Record<string, tf.Tensor>> {
  const tensors = units.map((u) => Object.fromEntries(Object.entries(u).map(([k, v]) => [k, toTensor(v)])));
  if (!batchable || tensors.length === 1) return tensors;
  return [Object.fromEntries(Object.keys(tensors[0]).map((k) => [k, tf.concat(tensors.map((t) => t[k]), 0)]))];
}
