/**
 * A workaround for onnxruntime 1.30's WebGPU Conv: with C input channels that are a multiple of 3 but not of 4
 * (C = 6, 9, 15, …, 33, …, 129), its output is wrong (relative error ~1, on onnxruntime-node's WebGPU provider,
 * Dawn on SwiftShader; Silero VAD's first encoder Conv has C = 129). Measured with a lone Conv for C = 1..160 and
 * kernels 2, 3, 5, 1-D and 2-D; every C padded to a multiple of 4 was right (test/runtime/pad-conv-channels.test.ts
 * keeps a failing case). Zero channels change nothing mathematically, so every group-1 Conv with a constant weight
 * and C > 4 not a multiple of 4 gets its input zero-padded (a Pad node) and its weight widened with zeros. The
 * onnxruntime WebGPU engines apply it to the graphs they are given; other engines never see it.
 */
import { float32Copy } from '../factors.js';
import { onnx, type ModelProto, type NodeProto, type TensorProto } from './proto.js';

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

export function padConvChannels(bytes: Uint8Array): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph!;
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name!, t]));
  const opset = Number(model.opsetImport?.find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 1);
  const nodes: NodeProto[] = [];
  let changed = false;
  for (const node of graph.node ?? []) {
    const weight = node.opType === 'Conv' && (!node.domain || node.domain === 'ai.onnx') ? initializers.get(node.input?.[1] ?? '') : undefined;
    const group = Number(node.attribute?.find((a) => a.name === 'group')?.i ?? 1);
    const dims = weight?.dims?.map(Number);
    const channels = dims?.[1] ?? 0;
    if (!weight || !dims || group !== 1 || weight.dataType !== FLOAT || channels <= 4 || channels % 4 === 0) {
      nodes.push(node);
      continue;
    }
    const padded = Math.ceil(channels / 4) * 4;
    const name = `${node.name || node.output![0]}__c${padded}`;
    const widened = widenChannels(weight, dims, padded, `${weight.name}__c${padded}`);
    graph.initializer!.push(widened);
    const rank = dims.length;
    const pads = Array.from({ length: 2 * rank }, (_, i) => (i === rank + 1 ? padded - channels : 0));
    const padNode: NodeProto = { name: `${name}/pad`, opType: 'Pad', input: [node.input![0]], output: [`${name}/x`] };
    if (opset >= 11) {
      graph.initializer!.push({ name: `${name}/pads`, dataType: INT64, dims: [2 * rank], int64Data: pads });
      padNode.input!.push(`${name}/pads`);
    } else {
      padNode.attribute = [{ name: 'pads', type: onnx.AttributeProto.AttributeType.INTS, ints: pads }];
    }
    nodes.push(padNode, { ...node, input: [`${name}/x`, widened.name!, ...node.input!.slice(2)] });
    changed = true;
  }
  if (!changed) return bytes;
  graph.node = nodes;
  return onnx.ModelProto.encode(model as ModelProto).finish();
}

/** The weight [O, C, k…] as [O, padded, k…] with zeros in the new channels (float32). */
function widenChannels(weight: TensorProto, dims: number[], padded: number, name: string): TensorProto {
  const [out, channels, ...kernel] = dims;
  const taps = kernel.reduce((a, b) => a * b, 1);
  const values = weight.rawData && weight.rawData.length > 0
    ? float32Copy(weight.rawData, 0, out * channels * taps)
    : Float32Array.from(weight.floatData ?? []);
  const wide = new Float32Array(out * padded * taps);
  for (let o = 0; o < out; o++) wide.set(values.subarray(o * channels * taps, (o + 1) * channels * taps), o * padded * taps);
  return { name, dataType: FLOAT, dims: [out, padded, ...kernel], rawData: new Uint8Array(wide.buffer) };
}
