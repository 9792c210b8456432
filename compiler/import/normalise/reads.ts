import type { GraphProto, NodeProto } from '../../../runtime/onnx/proto.js';

/**
 * The value names a node reads: its inputs and, for If/Loop/Scan, the outer-scope names its subgraphs use.
 * Sorting and dead-node removal must see both, or they would move or drop the producer of a name that only a
 * branch reads. "" (an omitted optional input) is left out.
 */
export function namesRead(node: NodeProto): string[] {
  const names = new Set((node.input ?? []).filter((n) => n !== ''));
  for (const a of node.attribute ?? []) {
    for (const g of [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]) for (const n of outerNames(g)) names.add(n);
  }
  return [...names];
}

/** Names a subgraph reads but does not define itself (its own inputs, initializers and node outputs). */
function outerNames(graph: GraphProto): string[] {
  const defined = new Set([
    ...(graph.input ?? []).map((v) => v.name ?? ''),
    ...(graph.initializer ?? []).map((t) => t.name ?? ''),
    ...(graph.node ?? []).flatMap((n) => n.output ?? []),
  ]);
  const used = new Set((graph.node ?? []).flatMap(namesRead));
  // A subgraph's outputs may be outer names passed straight through.
  for (const o of graph.output ?? []) used.add(o.name ?? '');
  return [...used].filter((n) => n !== '' && !defined.has(n));
}
