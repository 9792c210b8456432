import type { GraphProto } from '../../../runtime/onnx/proto.js';
import { namesRead } from './reads.js';

/**
 * Drop nodes none of whose outputs reaches a graph output, then initializers that no remaining node reads (with
 * their graph-input entries, IR 3 style, or they would turn into inputs the caller must feed). Exporters leave
 * both behind (shape computations of removed branches, weights of unused heads); the .lrm would store them for
 * nothing. Needs the nodes in topological order: one backward pass finds everything live.
 */
export function dropDeadCode(graph: GraphProto): { nodes: number; initializers: number } {
  const nodes = graph.node ?? [];
  const live = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const keep = new Array<boolean>(nodes.length).fill(false);
  for (let i = nodes.length - 1; i >= 0; i--) {
    if (!(nodes[i].output ?? []).some((o) => live.has(o))) continue;
    keep[i] = true;
    for (const name of namesRead(nodes[i])) live.add(name);
  }
  const initializers = graph.initializer ?? [];
  const unused = new Set(initializers.map((t) => t.name ?? '').filter((name) => !live.has(name)));
  const deadNodes = keep.filter((k) => !k).length;
  if (deadNodes > 0) graph.node = nodes.filter((_, i) => keep[i]);
  if (unused.size > 0) {
    graph.initializer = initializers.filter((t) => !unused.has(t.name ?? ''));
    graph.input = (graph.input ?? []).filter((v) => !unused.has(v.name ?? ''));
  }
  return { nodes: deadNodes, initializers: unused.size };
}
