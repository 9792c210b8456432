/**
 * What a shape rule of the graph check is (shape-inference.ts): from what is known of a node's inputs, what is known
 * of its outputs. A shape is fully known or not at all; a value is known only for small constants and the shape
 * arithmetic done on them (constant-folding.ts). Unknown stays unknown: a rule that cannot be sure returns nothing.
 */
import type { NodeDef } from '../../formats/model.js';
import { elementCount, foldable } from './constant-folding.js';

export interface Known {
  shape?: number[];
  /** Row-major values, only with a shape of at most MAX_CONSTANT_VALUES elements. */
  value?: number[];
  /** The tensor's type is an integer one (integer Div truncates; Cast says which). */
  integer?: boolean;
}

export interface RuleContext {
  fail(problem: string): never;
  /** The output is at least this shape (its input's shape is unknown, a constant input sets its size): hold it to the cap. */
  atLeast(shape: number[]): void;
}

/** Outputs in order; `undefined` (or a missing entry) for what cannot be known. */
export type ShapeRule = (n: NodeDef, input: Array<Known | undefined>, ctx: RuleContext) => Known | Known[] | undefined;

/** An ONNX axis (negative counts from the end) as an index, or undefined when out of range. */
export function axisOf(axis: number, rank: number): number | undefined {
  const a = axis < 0 ? axis + rank : axis;
  return Number.isInteger(a) && a >= 0 && a < rank ? a : undefined;
}

export const isShape = (shape: readonly number[]): boolean => shape.every((d) => Number.isSafeInteger(d) && d >= 0);

/** A value computed only for a valid shape small enough to fold, and only when every element came out finite. */
export function fold(shape: number[], compute: () => number[] | undefined): number[] | undefined {
  if (!isShape(shape) || !foldable(shape)) return undefined;
  const values = compute();
  return values && values.length === elementCount(shape) && values.every(Number.isFinite) ? values : undefined;
}

/** Numpy broadcasting of known shapes; undefined when one is unknown or they do not broadcast (the engine says so). */
export function broadcastShapes(shapes: ReadonlyArray<readonly number[] | undefined>): number[] | undefined {
  const known = shapes.filter((s): s is readonly number[] => s !== undefined);
  if (known.length !== shapes.length || known.length === 0) return undefined;
  const rank = Math.max(...known.map((s) => s.length));
  const out: number[] = [];
  for (let k = 0; k < rank; k++) {
    const dims = known.map((s) => s[s.length - rank + k] ?? 1);
    const big = dims.filter((d) => d !== 1);
    if (new Set(big).size > 1) return undefined;
    out.push(big[0] ?? 1);
  }
  return out;
}

/** An int list given as an attribute (older opsets) or as input `k` (newer): null when neither is given, undefined when the input's value is unknown. */
export function intsFrom(n: NodeDef, attribute: string, input: Array<Known | undefined>, k: number): number[] | null | undefined {
  const a = n.attributes.find((x) => x.name === attribute);
  if (a?.kind === 'ints') return a.value.map(Number);
  if (!n.inputs[k]) return null;
  return input[k]?.value;
}
