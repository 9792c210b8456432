import * as tf from '@tensorflow/tfjs-core';
import { checkCoverage } from '../../runtime/engines/tfjs/coverage.js';
import { fuseActivations } from '../../runtime/engines/tfjs/fuse-activations.js';
import { decodeGraph, trainingGraph } from '../../runtime/engines/tfjs/graph.js';
import { GraphInterpreter, toTensor } from '../../runtime/engines/tfjs/interpreter.js';
import type { AdapterTarget } from '../../runtime/adapters/targets.js';
import { CompileOptionError } from '../errors.js';
import type { AdapterBaseFile } from './base.js';
import { baseMatrices, mergedOnnx } from './merged-model.js';
import { stack, type Unit } from './units.js';

/** One trained tier: its frozen graph, which takes the adapted weights as inputs, and its W_base of each target. */
export interface TierGraph {
  tier: number;
  interpreter: GraphInterpreter;
  base: tf.Tensor2D[];
}

/** The base at every trained tier as tfjs graphs that run to the class scores (`output`). */
export class TierGraphs {
  readonly tiers: TierGraph[] = [];
  private readonly inputNames: string[];
  private readonly batchable: boolean;

  constructor(
    base: AdapterBaseFile,
    trainedTiers: readonly number[],
    targets: readonly AdapterTarget[],
    /** The tensor holding the class scores (logitName). */
    readonly output: string,
  ) {
    const inputs = base.header.graph.inputs;
    this.inputNames = inputs.map((i) => i.name);
    // Samples concatenate along dim 0 only when every input's dim 0 is the same symbolic batch dim.
    this.batchable = new Set(inputs.map((i) => i.shape[0])).size === 1 && inputs.every((i) => typeof i.shape[0] !== 'number');
    try {
      for (const tier of trainedTiers) {
        const interpreter = interpreterFor(base, tier, targets, output);
        this.tiers.push({ tier, interpreter, base: baseMatrices(base, tier, targets).map((m, i) => tf.tensor2d(m, [targets[i].rows, targets[i].cols])) });
      }
    } catch (e) {
      this.dispose(); // the tiers built before the one that failed
      throw e;
    }
  }

  /** Scores of tier `t` on `batch` with `weights` fed (one run, or one per sample where the model takes a fixed batch). */
  scores(t: TierGraph, batch: Unit[], weights: Record<string, tf.Tensor>): tf.Tensor2D {
    const groups = this.batchable ? [batch] : batch.map((u) => [u]);
    const outs = groups.map((g) => {
      const inputs = Object.fromEntries(this.inputNames.map((name) => [name, toTensor(stack(g.map((u) => u.feeds[name])))]));
      return tf.reshape(t.interpreter.forward({ ...inputs, ...weights })[this.output], [g.length, -1]);
    });
    return (outs.length === 1 ? outs[0] : tf.concat(outs, 0)) as tf.Tensor2D;
  }

  dispose(): void {
    for (const t of this.tiers) {
      t.interpreter.dispose();
      for (const b of t.base) b.dispose();
    }
  }
}

/** The class scores the loss reads: the chosen (default first) output, or the input of the Softmax that made it. */
export function logitName(base: AdapterBaseFile, output: string | undefined): string {
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
