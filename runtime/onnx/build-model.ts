import type { Attribute, FactoredLayer, ModelHeader, NodeDef, TierBits, ValueInfo } from '../../formats/model.js';
import { DataType, headerGrouping } from '../../formats/model.js';
import { denseWeight, factorStorage, gatherFactors, multiplyOut, transposeF32, type LayerFactors, type LayerRefit } from '../factors.js';
import type { PayloadBytes } from '../payload-view.js';
import { denseTensorBytes } from '../dense-weights.js';
import { Int4Kernels, matMulNBitsFits, MS_DOMAIN } from './int4-kernels.js';
import { onnx, type AttributeProto, type NodeProto, type TensorProto, type ValueInfoProto } from './proto.js';

/** Whether a layer at this rank runs as two thin nodes (true) or is multiplied back to one dense weight. */
export function runsFactored(layer: Pick<FactoredLayer, 'rows' | 'cols'>, rank: number): boolean {
  return rank * (layer.rows + layer.cols) < layer.rows * layer.cols;
}

/**
 * Rebuild an ONNX model from the header, the payload and one rank per factored layer.
 * Factored layers become two nodes (input-side factor first), the original node's outputs unchanged,
 * so everything downstream stays as the source model had it.
 *
 * int8 factors are dequantised to float32 here, in JS (gatherFactors), for both the factored and the dense
 * multiply-out path. Measured on mnist-cnn-pytorch (2-core x86, ORT 1.30), against DequantizeLinear nodes on
 * int8 initializers (opset bumped 11 → 13) and Cast+Mul nodes (any opset): on ort-node-cpu DequantizeLinear ran
 * every inference on non-constant weights, 0.09–0.12 ms vs 0.055 ms per digit (2.5 vs 1.4 ms per 64), while
 * Cast+Mul was constant-folded by ORT at session creation and ran exactly like JS dequantisation; on ort-wasm
 * all three were within noise (≈0.3 ms per digit). So the simplest one stays: no opset bump, identical
 * numbers on every engine, and the engine's weights are float32 as for fp32/fp16 files.
 */
export interface BuildOptions {
  /** Per layer (header.layers order): a refit left factor and bias that replace the stored ones at this rank. */
  refits?: ReadonlyArray<LayerRefit | undefined>;
  /** Build every layer as two nodes even past break-even (refit needs the middle tensor of every layer). */
  alwaysFactored?: boolean;
  /**
   * The tier's bits (Tier.bits, tierBitsAt): at 8 int4 and int3 matrices are read with their low planes, at 4 and 8
   * int3 matrices with their mid planes; absent: as stored.
   */
  bits?: TierBits;
  /**
   * onnxruntime engines: int4 MatMul weights (dense ones, and factored MatMul layers running from their int4 dense
   * M) go to the engine as MatMulNBits blocks instead of float32 (int4-kernels.ts). Ignored at 8-bit tiers, and
   * for group sizes MatMulNBits does not take.
   */
  int4Kernels?: boolean;
  /**
   * Layers (header.layers indices) multiplied out to one dense weight whatever their rank: runtime/adapters/ feeds
   * a merged W + ΔW there when a LoHa or LoKr adapter changes a factored layer.
   */
  denseLayers?: ReadonlySet<number>;
}

/** The bits tiers 0..tiers-1 run at: 8 (low planes, format v4), 4 (int3 matrices' mid planes, v6), or as stored. */
export function tierBitsAt(header: Pick<ModelHeader, 'tiers'>, tiers: number): TierBits | undefined {
  return tiers > 0 ? header.tiers[tiers - 1]?.bits : undefined;
}

/** Name of the tensor between a factored layer's two nodes (h = B·x). */
export function middleTensorName(node: Pick<NodeDef, 'outputs'>, rank: number): string {
  return `${node.outputs[0]}__lowrank_r${rank}`;
}

export function buildOnnxModel(header: ModelHeader, payload: PayloadBytes, ranks: number[], options: BuildOptions = {}): Uint8Array {
  const { graph } = header;
  const storage = factorStorage(header, options.bits);
  const kernels = options.int4Kernels && storage.bits !== 8 && matMulNBitsFits(header.int4GroupSize) ? new Int4Kernels(header) : undefined;
  const initializers: TensorProto[] = graph.initializers.filter((t) => !kernels?.weights.has(t.name)).map((t) => ({
    name: t.name,
    dataType: t.dataType,
    dims: t.dims,
    rawData: denseTensorBytes(t, payload, headerGrouping(header), storage.bits),
  }));
  const replacement = new Map<number, NodeProto[]>();
  header.layers.forEach((layer, i) => {
    const node = graph.nodes[layer.nodeIndex];
    const refit = options.refits?.[i];
    let built: NodeProto[];
    const nbits = storedDense(layer, ranks[i]) && !refit && !options.alwaysFactored ? kernels?.forLayer(layer, node, payload) : undefined;
    if (nbits) {
      built = [nbits.node];
      initializers.push(...nbits.tensors);
    } else if (storedDense(layer, ranks[i])) {
      // Format v2: past break-even the file holds M itself (its factors at this rank are not loaded at all).
      if (options.alwaysFactored) throw new RangeError(`layer "${layer.name}" is stored dense at rank ${ranks[i]}; it has no factors to build two nodes from`);
      const { node: dense, tensor } = denseNode(layer, node, refit?.dense ? refit.left : denseWeight(layer, payload, storage));
      built = [dense];
      initializers.push(tensor);
    } else if (!options.denseLayers?.has(i) && (options.alwaysFactored || runsFactored(layer, ranks[i]))) {
      const stored = gatherFactors(layer, ranks[i], payload, storage);
      const f = refit ? { ...stored, left: refit.left } : stored;
      const { nodes, tensors } = factoredNodes(layer, node, f);
      built = nodes;
      initializers.push(...tensors);
    } else {
      const stored = gatherFactors(layer, ranks[i], payload, storage);
      const f = refit ? { ...stored, left: refit.left } : stored;
      const { node: dense, tensor } = denseNode(layer, node, multiplyOut(f, layer.rows, layer.cols));
      built = [dense];
      initializers.push(tensor);
    }
    if (refit?.bias) {
      // The bias is input 2 of the node that writes the layer's output (Conv and Gemm; MatMul has none).
      const name = `${layer.weight}__lowrank_bias`;
      const last = built[built.length - 1];
      last.input = [...last.input!.slice(0, 2), name];
      const bias = graph.initializers.find((t) => t.name === node.inputs[2]);
      initializers.push(floatTensor(name, bias?.dims ?? [layer.rows], refit.bias));
    }
    replacement.set(layer.nodeIndex, built);
  });
  for (const [i, { node, tensors }] of kernels?.forNodes(payload) ?? []) {
    replacement.set(i, [node]);
    initializers.push(...tensors);
  }
  const nodes: NodeProto[] = [];
  graph.nodes.forEach((n, i) => nodes.push(...(replacement.get(i) ?? [toNodeProto(n)])));
  const opsets = header.source.opsets.map((o) => ({ domain: o.domain, version: o.version }));
  if (kernels?.used && !opsets.some((o) => o.domain === MS_DOMAIN)) opsets.push({ domain: MS_DOMAIN, version: 1 });

  const model = onnx.ModelProto.create({
    // Initializers are not graph inputs in our graphs, which IR 3 would reject.
    irVersion: Math.max(header.source.irVersion, 4),
    producerName: 'lowrank-edge',
    opsetImport: opsets,
    graph: {
      name: 'lowrank',
      node: nodes,
      initializer: initializers,
      input: graph.inputs.map(toValueInfo),
      output: graph.outputs.map(toValueInfo),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

function floatTensor(name: string, dims: number[], values: Float32Array): TensorProto {
  return { name, dataType: DataType.FLOAT, dims, rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
}

/** Two nodes: h = B·x (r outputs), y = A·h + bias, written in each op's own layout. */
export function factoredNodes(layer: Pick<FactoredLayer, 'kind' | 'rows' | 'cols' | 'weight' | 'weightDims'>, node: NodeDef, f: LayerFactors): { nodes: NodeProto[]; tensors: TensorProto[] } {
  const { rows: m, cols: n } = layer;
  const r = f.rank;
  const mid = middleTensorName(node, r);
  const inName = `${layer.weight}__lowrank_in`;
  const outName = `${layer.weight}__lowrank_out`;
  const attrs = (keep: (a: Attribute) => boolean): AttributeProto[] => node.attributes.filter(keep).map(toAttribute);
  switch (layer.kind) {
    case 'matmul':
      return {
        nodes: [
          { name: `${node.name}/in`, opType: 'MatMul', input: [node.inputs[0], inName], output: [mid] },
          { name: `${node.name}/out`, opType: 'MatMul', input: [mid, outName], output: node.outputs },
        ],
        // x·W with W = Mᵀ ≈ Bᵀ·Aᵀ: first Bᵀ (n×r), then Aᵀ (r×m), which is `left` as stored.
        tensors: [floatTensor(inName, [n, r], transposeF32(f.right, r, n)), floatTensor(outName, [r, m], f.left)],
      };
    case 'gemm': {
      const transA = node.attributes.filter((a) => a.name === 'transA').map(toAttribute);
      const beta = node.attributes.filter((a) => a.name === 'beta').map(toAttribute);
      const c = node.inputs[2];
      return {
        nodes: [
          { name: `${node.name}/in`, opType: 'Gemm', input: [node.inputs[0], inName], output: [mid], attribute: [...transA, intAttr('transB', 1)] },
          { name: `${node.name}/out`, opType: 'Gemm', input: c ? [mid, outName, c] : [mid, outName], output: node.outputs, attribute: beta },
        ],
        // alpha was folded into M at compile time.
        tensors: [floatTensor(inName, [r, n], f.right), floatTensor(outName, [r, m], f.left)],
      };
    }
    case 'conv': {
      const spatial = layer.weightDims.slice(2);
      const ones = spatial.map(() => 1);
      return {
        nodes: [
          {
            name: `${node.name}/in`, opType: 'Conv', input: [node.inputs[0], inName], output: [mid],
            attribute: attrs((a) => a.name !== 'group'),
          },
          {
            name: `${node.name}/out`, opType: 'Conv', input: node.inputs[2] ? [mid, outName, node.inputs[2]] : [mid, outName],
            output: node.outputs, attribute: [intsAttr('kernel_shape', ones)],
          },
        ],
        tensors: [
          floatTensor(inName, [r, ...layer.weightDims.slice(1)], f.right),
          floatTensor(outName, [m, r, ...ones], transposeF32(f.left, r, m)),
        ],
      };
    }
  }
}

/**
 * Whether the layer at this rank runs from the dense M the file stores (format v2: FactoredLayer.denseTier), not
 * from factors: its rank reaches the stored full rank exactly from its dense tier on.
 */
export function storedDense(layer: FactoredLayer, rank: number): boolean {
  return layer.denseTier !== undefined && rank === layer.maxRank;
}

/**
 * The weight tensor denseNode makes of M (rows × cols): its dims, and whether it holds Mᵀ (MatMul's [K, N]); a Gemm
 * holds M itself (alpha folded in, run with transB=1), a Conv M reshaped to its original dims.
 */
export function denseNodeLayout(layer: Pick<FactoredLayer, 'kind' | 'rows' | 'cols' | 'weightDims'>): { dims: number[]; transposed: boolean } {
  switch (layer.kind) {
    case 'matmul':
      return { dims: [layer.cols, layer.rows], transposed: true };
    case 'gemm':
      return { dims: [layer.rows, layer.cols], transposed: false };
    case 'conv':
      return { dims: layer.weightDims, transposed: false };
  }
}

/** Past break-even the dense weight is cheaper: M (rows×cols, row-major) back in the op's original layout. */
export function denseNode(layer: Pick<FactoredLayer, 'kind' | 'rows' | 'cols' | 'weight' | 'weightDims'>, node: NodeDef, M: Float32Array): { node: NodeProto; tensor: TensorProto } {
  const proto = toNodeProto(node);
  const { dims, transposed } = denseNodeLayout(layer);
  if (layer.kind === 'gemm') {
    // M already includes alpha: run as transB=1 with alpha 1.
    const rest = node.attributes.filter((a) => a.name !== 'alpha' && a.name !== 'transB').map(toAttribute);
    proto.attribute = [...rest, intAttr('transB', 1)];
  }
  return { node: proto, tensor: floatTensor(layer.weight, dims, transposed ? transposeF32(M, layer.rows, layer.cols) : M) };
}

const intAttr = (name: string, value: number): AttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INT, i: value });
const intsAttr = (name: string, value: number[]): AttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: value });

function toNodeProto(n: NodeDef): NodeProto {
  return { name: n.name, opType: n.opType, domain: n.domain, input: n.inputs, output: n.outputs, attribute: n.attributes.map(toAttribute) };
}

const utf8 = new TextEncoder();

function toAttribute(a: Attribute): AttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'int':
      return { name: a.name, type: T.INT, i: a.value.toString() as unknown as number };
    case 'float':
      return { name: a.name, type: T.FLOAT, f: a.value };
    case 'string':
      return { name: a.name, type: T.STRING, s: utf8.encode(a.value) };
    case 'ints':
      return { name: a.name, type: T.INTS, ints: a.value.map((v) => v.toString() as unknown as number) };
    case 'floats':
      return { name: a.name, type: T.FLOATS, floats: a.value };
    case 'strings':
      return { name: a.name, type: T.STRINGS, strings: a.value.map((s) => utf8.encode(s)) };
    case 'onnx':
      return onnx.AttributeProto.decode(a.value);
  }
}

function toValueInfo(v: ValueInfo): ValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: v.dataType,
        shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : d === '?' ? {} : { dimParam: d })) },
      },
    },
  };
}
