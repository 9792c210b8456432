import { onnx, type AttributeProto, type NodeProto } from '../../onnx/proto.js';
import { decodeTensorProto, type HostValue } from './host-value.js';

type LongLike = number | { toString(): string } | null | undefined;
const toNumber = (v: LongLike): number => (v == null ? 0 : typeof v === 'number' ? v : Number(v.toString()));
const utf8 = new TextDecoder();
const A = onnx.AttributeProto.AttributeType;

/** Typed reads of one node's attributes, with the ONNX defaults supplied by the caller. */
export class Attributes {
  private readonly byName: Map<string, AttributeProto>;
  private readonly decoded = new Map<string, HostValue>();

  constructor(node: NodeProto) {
    this.byName = new Map((node.attribute ?? []).map((a) => [a.name ?? '', a]));
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  int(name: string, fallback: number): number {
    const a = this.byName.get(name);
    return a ? toNumber(a.i as LongLike) : fallback;
  }

  float(name: string, fallback: number): number {
    const a = this.byName.get(name);
    return a ? a.f ?? 0 : fallback;
  }

  string(name: string, fallback: string): string {
    const a = this.byName.get(name);
    return a?.s ? utf8.decode(a.s) : fallback;
  }

  ints(name: string): number[] | undefined {
    const a = this.byName.get(name);
    return a ? (a.ints ?? []).map((v) => toNumber(v as LongLike)) : undefined;
  }

  floats(name: string): number[] | undefined {
    const a = this.byName.get(name);
    return a ? [...(a.floats ?? [])] : undefined;
  }

  /** A tensor attribute, decoded once: the same object on every call, so it can be cached as a constant. */
  tensor(name: string): HostValue | undefined {
    const a = this.byName.get(name);
    if (!a?.t) return undefined;
    let v = this.decoded.get(name);
    if (!v) {
      v = decodeTensorProto(a.t);
      this.decoded.set(name, v);
    }
    return v;
  }

  /** Names of attributes holding subgraphs (If, Loop, Scan): this engine runs none of them. */
  subgraphs(): string[] {
    return [...this.byName.values()].filter((a) => a.type === A.GRAPH || a.type === A.GRAPHS).map((a) => a.name ?? '');
  }
}
