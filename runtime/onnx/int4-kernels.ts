/**
 * onnxruntime's own int4 kernel for MatMul weights (com.microsoft MatMulNBits, bits 4): the engine keeps the
 * weight as 4-bit blocks with one scale each instead of float32, 6.4× less weight memory. Measured on a
 * 768×3072 MatMul (ort-node-cpu, one thread, a loaded 2-core machine): 1.11× the float32 MatMul's latency for one
 * token, 1.05–1.32× for 32. So it is an opt-in (`load(…, { int4Kernels: true })`) for memory-bound devices, not
 * the default, and only onnxruntime engines get it (tfjs has no such kernel).
 *
 * Our int4 layout (formats/int4.ts) already is MatMulNBits' up to encoding: a MatMul weight W[K, N] is stored as
 * its N output channels, each K inputs in groups with one scale. MatMulNBits wants, per output n and block b,
 * G/2 bytes of unsigned nibbles (q + 8, low nibble first, zero point 8 by default) and a float scale; a last
 * partial block is padded with the zero point.
 */
import { DataType, headerGrouping, type FactoredLayer, type ModelHeader, type NodeDef } from '../../formats/model.js';
import { groupingOf, groupScales, int4Groups, int4RowBytes, type Grouping } from '../../formats/int4.js';
import type { PayloadBytes } from '../payload-view.js';
import type { NodeProto, TensorProto } from './proto.js';
import { onnx } from './proto.js';

/** Block sizes MatMulNBits takes: our group size must be one of them. */
const BLOCK_SIZES = new Set([16, 32, 64, 128, 256]);

export const MS_DOMAIN = 'com.microsoft';

export function matMulNBitsFits(groupSize: number | undefined): groupSize is number {
  return groupSize !== undefined && BLOCK_SIZES.has(groupSize);
}

/** Bytes the engine holds for an N×K weight as MatMulNBits: packed blocks plus float32 scales. */
export function matMulNBitsBytes(n: number, k: number, groupSize: number): number {
  const blocks = int4Groups(k, groupSize);
  return n * blocks * (groupSize / 2) + n * blocks * 4;
}

/**
 * The MatMulNBits node for y = x·W, W[K, N] given as our stored int4 bytes of its N rows of K values (group size a
 * MatMulNBits block size), and its two initializers.
 */
export function matMulNBits(name: string, input: string, output: string, weight: string, stored: Uint8Array, n: number, k: number, grouping: Grouping): { node: NodeProto; tensors: TensorProto[] } {
  const groupSize = groupingOf(grouping).size;
  const blocks = int4Groups(k, groupSize);
  const blob = groupSize / 2;
  const rowBytes = int4RowBytes(k);
  const scales = groupScales(stored, n, k, grouping);
  const packed = new Uint8Array(n * blocks * blob).fill(0x88); // zero point in both nibbles: padding reads as 0
  for (let r = 0; r < n; r++) {
    for (let kk = 0; kk < k; kk += 2) {
      const b = stored[r * rowBytes + (kk >> 1)];
      // Signed nibbles → unsigned with zero point 8: flipping the top bit adds 8 mod 16. A lone last value keeps 8 above it.
      const both = b ^ 0x88;
      packed[r * blocks * blob + (kk >> 1)] = kk + 1 < k ? both : (both & 0x0f) | 0x80;
    }
  }
  const B = `${weight}__nbits`;
  const S = `${weight}__nbits_scales`;
  const ints = (key: string, v: number) => ({ name: key, type: onnx.AttributeProto.AttributeType.INT, i: v });
  return {
    node: { name, opType: 'MatMulNBits', domain: MS_DOMAIN, input: [input, B, S], output: [output], attribute: [ints('K', k), ints('N', n), ints('bits', 4), ints('block_size', groupSize)] },
    tensors: [
      { name: B, dataType: DataType.UINT8, dims: [n, blocks, blob], rawData: packed },
      { name: S, dataType: DataType.FLOAT, dims: [n * blocks], rawData: new Uint8Array(scales.buffer, scales.byteOffset, scales.byteLength) },
    ],
  };
}

/**
 * Which int4 weights of a tier become MatMulNBits: dense int4 weights read only as the weight of MatMul nodes,
 * and factored MatMul layers that run from their stored int4 dense M. Factor pairs stay float32: A's groups run
 * along its components, not along the inputs MatMulNBits blocks.
 */
export class Int4Kernels {
  /** Dense initializers replaced by MatMulNBits blobs. */
  readonly weights: ReadonlySet<string>;
  used = false;

  constructor(private readonly header: ModelHeader) {
    const readers = new Map<string, NodeDef[]>();
    for (const n of header.graph.nodes) n.inputs.forEach((name) => readers.set(name, [...(readers.get(name) ?? []), n]));
    this.weights = new Set(
      header.graph.initializers
        .filter((t) => t.storage === 'int4' && t.scaleAxis === 1 && t.dims.length === 2)
        .filter((t) => (readers.get(t.name) ?? []).every((n) => n.opType === 'MatMul' && n.domain === '' && n.inputs[1] === t.name && n.inputs[0] !== t.name))
        .map((t) => t.name),
    );
  }

  /** A factored MatMul layer running from its int4 dense M, as one MatMulNBits node (undefined: not eligible). */
  forLayer(layer: FactoredLayer, node: NodeDef, payload: PayloadBytes): { node: NodeProto; tensors: TensorProto[] } | undefined {
    if (layer.kind !== 'matmul' || !layer.dense || layer.denseStorage !== undefined || this.header.factorDType !== 'int4') return undefined;
    this.used = true;
    const stored = payload.subarray(layer.dense.offset, layer.dense.offset + layer.dense.length);
    return matMulNBits(node.name, node.inputs[0], node.outputs[0], layer.weight, stored, layer.rows, layer.cols, headerGrouping(this.header)!);
  }

  /** The MatMul nodes that read a replaced dense weight, by node index, as MatMulNBits. */
  forNodes(payload: PayloadBytes): Map<number, { node: NodeProto; tensors: TensorProto[] }> {
    const out = new Map<number, { node: NodeProto; tensors: TensorProto[] }>();
    const byName = new Map(this.header.graph.initializers.map((t) => [t.name, t]));
    const blobs = new Map<string, TensorProto[]>();
    this.header.graph.nodes.forEach((n, i) => {
      const t = n.opType === 'MatMul' ? byName.get(n.inputs[1]) : undefined;
      if (!t || !this.weights.has(t.name)) return;
      this.used = true;
      const [k, nOut] = t.dims as [number, number];
      const built = matMulNBits(n.name, n.inputs[0], n.outputs[0], t.name, payload.subarray(t.range.offset, t.range.offset + t.range.length), nOut, k, headerGrouping(this.header)!);
      // A weight read by several MatMuls is one set of blobs.
      out.set(i, { node: built.node, tensors: blobs.has(t.name) ? [] : built.tensors });
      blobs.set(t.name, built.tensors);
    });
    return out;
  }
}
