import { Attributes } from './attributes.js';
import type { Step } from './fuse-activations.js';
import type { InterpretedGraph } from './graph.js';
import { resolveKernel } from './ops/resolve.js';

export interface Coverage {
  /** One step per node, in node order; only complete when nothing is missing or unsupported. */
  steps: Step[];
  /** Op types with no kernel, with their node count: "If ×3", "com.microsoft:FusedConv ×1". */
  missingOps: string[];
  /** Nodes whose kernel exists but refuses their attributes: "node "x" (Resize): …". */
  unsupportedNodes: string[];
}

/** Checks every node before anything runs, so a refused model names all its missing ops at once. */
export function checkCoverage(graph: InterpretedGraph): Coverage {
  const missing = new Map<string, number>();
  const unsupportedNodes: string[] = [];
  const steps: Step[] = [];
  for (const node of graph.nodes) {
    const attrs = new Attributes(node.proto);
    const kernel = resolveKernel(node.opType, node.domain);
    if (!kernel) {
      const op = node.domain ? `${node.domain}:${node.opType}` : node.opType;
      missing.set(op, (missing.get(op) ?? 0) + 1);
      continue;
    }
    const reason = kernel.check?.(node, attrs, graph.opset);
    if (reason) unsupportedNodes.push(`"${node.name}" (${node.opType}): ${reason}`);
    steps.push({ node, kernel, attrs });
  }
  const missingOps = [...missing].sort(([a], [b]) => a.localeCompare(b)).map(([op, n]) => `${op} ×${n}`);
  return { steps, missingOps, unsupportedNodes };
}
