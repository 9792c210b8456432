import type { NodeDef } from '../../formats/model.js';
import { DataType } from '../../formats/model.js';
import type { ImportedModel, ImportedTensor } from '../import/onnx.js';
import { intAttr } from '../../formats/attributes.js';
import type { LayerCandidate } from './candidates.js';

const WEIGHT_OPS = new Set(['MatMul', 'Gemm', 'Conv']);

/**
 * Why each MatMul/Gemm/Conv node that is not factored stays dense, counted per op and reason, e.g.
 * "2 Conv: grouped or depthwise". What `lowrank compile` tells a user whose model came out with no (or few) factored
 * layers, so they know whether to re-export it, lower --min-params or expect nothing. Mirrors the rules of
 * findCandidates (candidates.ts) in the order a user can act on them.
 */
export function notFactoredReasons(model: ImportedModel, candidates: LayerCandidate[], ends: ReadonlySet<string>, minParams: number): string[] {
  const factored = new Set(candidates.map((c) => c.node.name));
  const consts = new Map(model.initializers.map((t) => [t.name, t]));
  const uses = new Map<string, number>();
  for (const n of model.nodes) for (const i of n.inputs) uses.set(i, (uses.get(i) ?? 0) + 1);
  // Constants still in the graph after normalisation hold sparse, integer or string values (import/normalise/constants.ts).
  const constantNodes = new Set(model.nodes.filter((n) => n.opType === 'Constant').flatMap((n) => n.outputs));
  const counts = new Map<string, number>();
  for (const node of model.nodes) {
    if (!WEIGHT_OPS.has(node.opType) || factored.has(node.name)) continue;
    const why = constantNodes.has(node.inputs[1]) ? 'weight in a Constant node that is not a dense float tensor (sparse or integer)' : reason(node, consts, uses, ends, minParams);
    const key = `${node.opType}: ${why}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([key, n]) => `${n} ${key}`);
}

function reason(node: NodeDef, consts: Map<string, ImportedTensor>, uses: Map<string, number>, ends: ReadonlySet<string>, minParams: number): string {
  const w = consts.get(node.inputs[1]);
  if (node.domain !== '' && node.domain !== 'ai.onnx') return `custom domain ${node.domain}`;
  if (!w) return 'weight computed at run time (not a constant)';
  if (consts.has(node.inputs[0])) return 'both operands constant';
  if (w.dataType !== DataType.FLOAT) return `weight of type ${TYPE_NAMES[w.dataType] ?? w.dataType}`;
  if (node.opType === 'Conv' && intAttr(node, 'group', 1) !== 1) return 'grouped or depthwise';
  if (node.opType === 'Conv' ? w.dims.length < 3 : w.dims.length !== 2) return `weight of rank ${w.dims.length}`;
  if (ends.has(node.name)) return 'first or last layer, kept dense (--no-keep-ends factors it)';
  if (uses.get(w.name) !== 1) return 'weight shared with other nodes';
  const rows = w.dims[0];
  const cols = w.dims.slice(1).reduce((a, b) => a * b, 1);
  if (rows * cols < minParams) return `fewer than ${minParams} weights (--min-params)`;
  return 'too thin to save anything by factoring';
}

const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(DataType).map(([k, v]) => [v, k.toLowerCase()]));
