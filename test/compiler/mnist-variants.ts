/**
 * Copies of mnist-cnn-pytorch.onnx as real exporters write them, built with onnx-proto so the tests need no Python:
 * nodes out of order (with a dead branch), weights in Constant nodes, fp16 weights, and a graph with a cycle.
 */
import { DataType } from '../../formats/model.js';
import { encodeHalf } from '../../formats/float16.js';
import { onnx, type ModelProto, type NodeProto } from '../../runtime/onnx/proto.js';

function edit(source: Uint8Array, change: (model: ModelProto) => void): Uint8Array {
  const model = onnx.ModelProto.decode(source);
  change(model);
  return onnx.ModelProto.encode(model).finish();
}

/** Float32 values of an initializer (copied: rawData may sit unaligned inside the file's buffer). */
function floats(raw: Uint8Array): Float32Array {
  return new Float32Array(Uint8Array.prototype.slice.call(raw).buffer);
}

/** Every node in reverse order, plus a dead Relu branch off fc1 and an initializer nothing reads. */
export function reversedWithDeadCode(source: Uint8Array): Uint8Array {
  return edit(source, (m) => {
    const g = m.graph!;
    g.node = [...g.node!, { name: 'dead/Relu', opType: 'Relu', input: ['/fc1/Gemm_output_0'], output: ['dead_out'] }].reverse();
    g.initializer!.push({ name: 'unused.weight', dataType: DataType.FLOAT, dims: [4], rawData: new Uint8Array(16) });
  });
}

/** Every initializer as a Constant node (as paddle2onnx writes weights), each just before its first reader. */
export function weightsAsConstants(source: Uint8Array): Uint8Array {
  return edit(source, (m) => {
    const g = m.graph!;
    const constants = new Map(g.initializer!.map((t) => [t.name!, t]));
    const nodes: NodeProto[] = [];
    for (const n of g.node!) {
      for (const name of n.input!) {
        const t = constants.get(name);
        if (!t) continue;
        constants.delete(name);
        nodes.push({ name: `const/${name}`, opType: 'Constant', input: [], output: [name], attribute: [{ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: { ...t, name: '' } }] });
      }
      nodes.push(n);
    }
    g.node = nodes;
    g.initializer = [];
  });
}

/**
 * Computes in fp16: every float32 initializer is converted, and Casts at the input and output keep the
 * interface float32 (the public API has no float16 tensors).
 */
export function halfPrecision(source: Uint8Array): Uint8Array {
  return edit(source, (m) => {
    const g = m.graph!;
    for (const t of g.initializer!) {
      if (t.dataType !== DataType.FLOAT) continue;
      t.rawData = encodeHalf(floats(t.rawData!));
      t.dataType = DataType.FLOAT16;
    }
    const input = g.input![0].name!;
    const output = g.output![0].name!;
    for (const n of g.node!) {
      n.input = n.input!.map((x) => (x === input ? `${input}_fp16` : x));
      n.output = n.output!.map((x) => (x === output ? `${output}_fp16` : x));
    }
    const cast = (from: string, to: string, type: number): NodeProto => ({
      name: `cast/${to}`, opType: 'Cast', input: [from], output: [to], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: type }],
    });
    g.node = [cast(input, `${input}_fp16`, DataType.FLOAT16), ...g.node!, cast(`${output}_fp16`, output, DataType.FLOAT)];
  });
}

/** conv1 reads pool_1's output: conv1 → relu → pool → conv2 → relu_1 → pool_1 → conv1 is a cycle. */
export function withCycle(source: Uint8Array): Uint8Array {
  return edit(source, (m) => {
    const conv1 = m.graph!.node!.find((n) => n.name === '/conv1/Conv')!;
    conv1.input = ['/pool_1/MaxPool_output_0', ...conv1.input!.slice(1)];
  });
}
