import { onnx, type NodeProto, type ValueInfoProto } from '../../onnx/proto.js';
import { decodeTensorProto, type HostValue } from './host-value.js';

/** One ONNX node as the interpreter sees it. Empty input names (skipped optional inputs) are kept as ''. */
export interface GraphNode {
  readonly name: string;
  readonly opType: string;
  /** '' for the default ONNX domain. */
  readonly domain: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly proto: NodeProto;
}

export interface GraphIo {
  readonly name: string;
  /** ONNX TensorProto.DataType code. */
  readonly dataType: number;
}

/** An ONNX model decoded for interpretation: nodes in run order, constants in host memory. */
export interface InterpretedGraph {
  /** Version of the default ONNX opset; several ops change their inputs and attributes with it. */
  readonly opset: number;
  readonly nodes: readonly GraphNode[];
  readonly constants: ReadonlyMap<string, HostValue>;
  /** Graph inputs that are not initializers (IR 3 models list their weights as inputs too). */
  readonly inputs: readonly GraphIo[];
  readonly outputs: readonly GraphIo[];
}

/** The graph is malformed in a way the interpreter cannot work around (it says which node and value). */
export class GraphError extends Error {}

export function decodeGraph(model: Uint8Array): InterpretedGraph {
  const proto = onnx.ModelProto.decode(model);
  const graph = proto.graph;
  if (!graph) throw new GraphError('the model has no graph');
  const opset = (proto.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  const constants = new Map<string, HostValue>();
  for (const t of graph.initializer ?? []) constants.set(t.name ?? '', decodeTensorProto(t));
  const nodes: GraphNode[] = (graph.node ?? []).map((n, i) => ({
    name: n.name || `${n.opType}_${i}`,
    opType: n.opType ?? '',
    domain: n.domain === 'ai.onnx' ? '' : n.domain ?? '',
    inputs: n.input ?? [],
    outputs: n.output ?? [],
    proto: n,
  }));
  const io = (v: ValueInfoProto): GraphIo => ({ name: v.name ?? '', dataType: v.type?.tensorType?.elemType ?? onnx.TensorProto.DataType.FLOAT });
  const inputs = (graph.input ?? []).filter((v) => !constants.has(v.name ?? '')).map(io);
  const outputs = (graph.output ?? []).map(io);
  checkOrder(nodes, new Set([...constants.keys(), ...inputs.map((i) => i.name)]));
  return { opset: Number(opset?.version ?? 1), nodes, constants, inputs, outputs };
}

/** ONNX requires nodes in topological order; a graph that is not is refused here, not halfway through a run. */
function checkOrder(nodes: readonly GraphNode[], defined: Set<string>): void {
  for (const n of nodes) {
    for (const i of n.inputs) {
      if (i !== '' && !defined.has(i)) throw new GraphError(`node "${n.name}" (${n.opType}) reads "${i}" before any node produces it`);
    }
    for (const o of n.outputs) if (o !== '') defined.add(o);
  }
}

/**
 * The graph for training: the named initializers become inputs given on every run (the weights being trained)
 * and `outputs` replaces the graph's outputs (e.g. the logits before a final Softmax); nodes that no output
 * needs are dropped.
 */
export function trainingGraph(graph: InterpretedGraph, options: { weights: readonly string[]; outputs: readonly string[] }): InterpretedGraph {
  for (const w of options.weights) if (!graph.constants.has(w)) throw new GraphError(`the graph has no initializer "${w}"`);
  const needed = new Set(options.outputs);
  const producers = new Map<string, GraphNode>();
  for (const n of graph.nodes) for (const o of n.outputs) if (o) producers.set(o, n);
  for (const o of options.outputs) if (!producers.has(o) && !graph.inputs.some((i) => i.name === o)) throw new GraphError(`no node produces "${o}"`);
  const kept = new Set<GraphNode>();
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i];
    if (!n.outputs.some((o) => needed.has(o))) continue;
    kept.add(n);
    for (const input of n.inputs) if (input) needed.add(input);
  }
  const constants = new Map(graph.constants);
  for (const w of options.weights) constants.delete(w);
  const float = onnx.TensorProto.DataType.FLOAT;
  return {
    opset: graph.opset,
    nodes: graph.nodes.filter((n) => kept.has(n)),
    constants,
    inputs: [...graph.inputs, ...options.weights.map((name) => ({ name, dataType: float }))],
    outputs: options.outputs.map((name) => ({ name, dataType: float })),
  };
}

/** An activation tfjs can apply inside its fused conv and matMul kernels. */
export interface FusedActivation {
  activation: 'relu' | 'relu6' | 'leakyrelu';
  leakyreluAlpha?: number;
}

/** A node with the activation that followed it folded in (its output is then the activation's output). */
export interface FusedNode extends GraphNode {
  readonly fused?: FusedActivation;
}
