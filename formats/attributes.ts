import type { NodeDef } from './model.js';

/** Typed reads of a node's ONNX attributes, with the ONNX default when absent or of another kind. */
export function intAttr(node: NodeDef, name: string, fallback: number): number {
  const a = node.attributes.find((x) => x.name === name);
  return a && a.kind === 'int' ? Number(a.value) : fallback;
}

export function floatAttr(node: NodeDef, name: string, fallback: number): number {
  const a = node.attributes.find((x) => x.name === name);
  return a && a.kind === 'float' ? a.value : fallback;
}

/** An ints attribute, or `undefined` when absent or empty (callers know each attribute's own default). */
export function intsAttr(node: NodeDef, name: string): number[] | undefined {
  const a = node.attributes.find((x) => x.name === name);
  return a && a.kind === 'ints' && a.value.length > 0 ? a.value.map(Number) : undefined;
}

export function stringAttr(node: NodeDef, name: string, fallback: string): string {
  const a = node.attributes.find((x) => x.name === name);
  return a && a.kind === 'string' && a.value !== '' ? a.value : fallback;
}
