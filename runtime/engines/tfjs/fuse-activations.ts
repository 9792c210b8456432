import * as tf from '@tensorflow/tfjs-core';
import type { Attributes } from './attributes.js';
import type { FusedActivation, FusedNode, GraphNode, InterpretedGraph } from './graph.js';
import type { OpKernel } from './kernel.js';

/** One node to run, with its kernel and attributes. */
export interface Step {
  readonly node: FusedNode;
  readonly kernel: OpKernel;
  readonly attrs: Attributes;
}

const FUSABLE_PRODUCERS = new Set(['Conv', 'Gemm']);

/**
 * Folds Relu, ReLU6-style Clip and LeakyRelu into the Conv or Gemm before them when nothing else reads the
 * conv's output: tfjs applies them in the same kernel, which saves a pass over the activations (most CNN layers).
 * `steps` are the graph's nodes in order; the result drops the folded activations.
 */
export function fuseActivations(graph: InterpretedGraph, steps: readonly Step[]): Step[] {
  const attributes = steps.map((s) => s.attrs);
  const readers = new Map<string, number>();
  for (const n of graph.nodes) for (const i of n.inputs) if (i) readers.set(i, (readers.get(i) ?? 0) + 1);
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const producerOf = new Map<string, number>();
  graph.nodes.forEach((n, i) => n.outputs.forEach((o) => o && producerOf.set(o, i)));

  const nodes: FusedNode[] = steps.map((s) => s.node);
  const removed = new Set<number>();
  graph.nodes.forEach((act, i) => {
    const fused = activationOf(act, attributes[i], graph);
    if (!fused || act.inputs.length === 0) return;
    const source = act.inputs[0];
    const p = producerOf.get(source);
    if (p === undefined || removed.has(p) || !FUSABLE_PRODUCERS.has(graph.nodes[p].opType) || readers.get(source) !== 1 || outputs.has(source)) return;
    const producer = nodes[p];
    if (producer.opType === 'Gemm' && !plainGemm(attributes[p])) return;
    nodes[p] = { ...producer, outputs: [act.outputs[0]], fused };
    removed.add(i);
  });
  return steps.flatMap((s, i) => (removed.has(i) ? [] : [{ ...s, node: nodes[i] }]));
}

function activationOf(node: GraphNode, attrs: Attributes, graph: InterpretedGraph): FusedActivation | undefined {
  if (node.domain !== '') return undefined;
  if (node.opType === 'Relu') return { activation: 'relu' };
  if (node.opType === 'LeakyRelu') return { activation: 'leakyrelu', leakyreluAlpha: attrs.float('alpha', 0.01) };
  if (node.opType === 'Clip') {
    const bound = (i: number, attr: string): number | undefined => {
      if (graph.opset < 11) return attrs.has(attr) ? attrs.float(attr, 0) : undefined;
      const c = node.inputs[i] ? graph.constants.get(node.inputs[i]) : undefined;
      return c && c.data.length === 1 ? c.data[0] : undefined;
    };
    if (bound(1, 'min') === 0 && bound(2, 'max') === 6) return { activation: 'relu6' };
  }
  return undefined;
}

/** The Gemm kernel fuses only when it runs as one fused matMul: alpha and beta 1. */
function plainGemm(attrs: Attributes): boolean {
  return attrs.float('alpha', 1) === 1 && attrs.float('beta', 1) === 1;
}

/** The activation on its own, for kernels that cannot fuse it (grouped convs run as several convs). */
export function applyActivation(x: tf.Tensor, f: FusedActivation): tf.Tensor {
  if (f.activation === 'relu') return tf.relu(x);
  if (f.activation === 'relu6') return tf.relu6(x);
  return tf.leakyRelu(x, f.leakyreluAlpha);
}
