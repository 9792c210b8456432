import { SourceGraphError } from '../../errors.js';
import type { GraphProto, NodeProto } from '../../../runtime/onnx/proto.js';
import { namesRead } from './reads.js';

/**
 * Put the graph's nodes in topological order. onnxruntime accepts any order, but the .lrm header stores nodes in
 * topological order (formats/lrm.fbs) and the compiler reads "first" and "last" layers from it. Stable: among the
 * nodes that are ready, the one earliest in the file goes first, so a file already in order is left as it is.
 * Returns how many nodes changed position. A cycle throws SourceGraphError naming its nodes.
 */
export function sortNodes(graph: GraphProto, fileName: string): number {
  const nodes = graph.node ?? [];
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => {
    for (const o of n.output ?? []) if (o !== '' && !producer.has(o)) producer.set(o, i);
  });
  // Names nobody produces are graph inputs or initializers (or missing: onnxruntime reports those).
  const deps = nodes.map((n) => new Set(namesRead(n).flatMap((name) => (producer.has(name) ? [producer.get(name)!] : []))));
  const dependents: number[][] = nodes.map(() => []);
  deps.forEach((d, i) => d.forEach((p) => dependents[p].push(i)));
  const waiting = deps.map((d) => d.size);
  const ready = new MinHeap();
  waiting.forEach((w, i) => w === 0 && ready.push(i));
  const order: number[] = [];
  while (ready.size > 0) {
    const i = ready.pop();
    order.push(i);
    for (const j of dependents[i]) if (--waiting[j] === 0) ready.push(j);
  }
  if (order.length < nodes.length) throw cycleError(nodes, deps, waiting, fileName);
  const moved = order.filter((from, to) => from !== to).length;
  if (moved > 0) graph.node = order.map((i) => nodes[i]);
  return moved;
}

/** Walk back through producers from a node left waiting: every such node waits on another, so the walk closes a cycle. */
function cycleError(nodes: NodeProto[], deps: Set<number>[], waiting: number[], fileName: string): SourceGraphError {
  const stuck = (i: number): boolean => waiting[i] > 0;
  const path: number[] = [];
  const seen = new Map<number, number>();
  let at = waiting.findIndex((w) => w > 0);
  while (!seen.has(at)) {
    seen.set(at, path.length);
    path.push(at);
    at = [...deps[at]].find(stuck)!;
  }
  // The walk went consumer → producer: reverse it so the message reads in data-flow order.
  const cycle = path.slice(seen.get(at)).reverse().map((i) => `"${nodes[i].name || `${nodes[i].opType} #${i}`}"`);
  const shown = cycle.length > 8 ? [...cycle.slice(0, 8), `… (${cycle.length} nodes)`] : cycle;
  return new SourceGraphError(
    `${fileName} has a cycle in its graph: ${shown.join(' → ')} → ${cycle[0]} (each node reads the output of the one before it, so no order can run them); the source model is invalid: fix its export (onnx.checker.check_model finds the cycle) and compile again`,
    'graph-cycle',
  );
}

/** A binary min-heap of node indices: the smallest ready index goes next, which keeps the sort stable. */
class MinHeap {
  private items: number[] = [];

  get size(): number {
    return this.items.length;
  }

  push(v: number): void {
    const a = this.items;
    a.push(v);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (a[p] <= a[i]) break;
      [a[p], a[i]] = [a[i], a[p]];
      i = p;
    }
  }

  pop(): number {
    const a = this.items;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l] < a[m]) m = l;
        if (r < a.length && a[r] < a[m]) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i], a[m]];
        i = m;
      }
    }
    return top;
  }
}
