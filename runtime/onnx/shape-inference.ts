/**
 * The graph check's shape inference (check-graph.ts): every tensor's shape from the graph inputs (a symbolic batch
 * taken as 1: any size is a valid input, 1 included), the weights' dims and, where the caller has them, the values
 * of small constants, through the rules of shape-rules-*.ts. Each shape it infers (and each size constants force
 * on an output whose input is unknown) goes to the caller to hold to the tensor cap. Unknown stays unknown: an op
 * without a rule, or whose inputs are not known well enough, leaves its outputs unknown, and so everything after them.
 */
import type { Graph, NodeDef } from '../../formats/model.js';
import { elementCount } from './constant-folding.js';
import { isIntegerType, type ConstantLookup } from './constant-values.js';
import type { Known, ShapeRule } from './shape-rule.js';
import { COMPUTE_RULES } from './shape-rules-compute.js';
import { LAYOUT_RULES } from './shape-rules-layout.js';
import { SIZED_RULES } from './shape-rules-sized.js';
import { SPATIAL_RULES } from './shape-rules-spatial.js';

// A Map, so that an op type named like an Object property ("constructor") finds no rule.
const RULES = new Map<string, ShapeRule>(Object.entries({ ...COMPUTE_RULES, ...SPATIAL_RULES, ...LAYOUT_RULES, ...SIZED_RULES }));
/** onnxruntime's contrib ops with the standard semantics of their names (the int8 ShuffleNet uses them). */
const CONTRIB_RULES = new Set(['QLinearAdd', 'QLinearMul']);

export interface ShapeCheck {
  fail(i: number, n: NodeDef, problem: string): never;
  /** Node i outputs `shape`, or (atLeast) at least that much where its input's shape is unknown. */
  size(i: number, n: NodeDef, shape: number[], atLeast: boolean): void;
}

/** Shapes by tensor name (unknown ones absent or empty); throws through `check` on the first impossible node. */
export function inferShapes(graph: Graph, weights: ReadonlyArray<{ name: string; dims: number[] }>, constants: ConstantLookup | undefined, check: ShapeCheck): Map<string, Known> {
  const known = new Map<string, Known>();
  for (const v of graph.inputs) {
    const dims = v.shape.map((d, k) => (typeof d === 'number' ? d : k === 0 ? 1 : NaN));
    known.set(v.name, dims.every(Number.isFinite) ? { shape: dims, integer: isIntegerType(v.dataType) } : {});
  }
  for (const t of graph.initializers) {
    const value = constants?.(t.name);
    known.set(t.name, { shape: t.dims, value: value?.length === elementCount(t.dims) ? value : undefined, integer: isIntegerType(t.dataType) });
  }
  for (const w of weights) known.set(w.name, { shape: w.dims });
  graph.nodes.forEach((n, i) => {
    const standard = n.domain === '' || n.domain === 'ai.onnx' || (n.domain === 'com.microsoft' && CONTRIB_RULES.has(n.opType));
    const rule = standard ? RULES.get(n.opType) : undefined;
    const input = n.inputs.map((name) => (name === '' ? undefined : known.get(name)));
    const ctx = { fail: (problem: string) => check.fail(i, n, problem), atLeast: (shape: number[]) => check.size(i, n, shape, true) };
    const result = rule?.(n, input, ctx);
    const outputs = Array.isArray(result) ? result : [result];
    n.outputs.forEach((name, k) => {
      const out = outputs[k];
      if (out?.shape) check.size(i, n, out.shape, false);
      known.set(name, out?.shape ? out : {});
    });
  });
  return known;
}
