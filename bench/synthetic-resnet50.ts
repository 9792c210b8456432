/**
 * A ResNet-50 v1 shaped ONNX model (25.5M weights: 53 group-1 convs with bias, batch norm folded, and the
 * 2048→1000 Gemm) with random He-initialised weights, built in memory. For compile *time* only: calibration,
 * factorisation and sensitivity cost depends on the layer shapes and the feature-map sizes, not on what the
 * weights learned. No npm package we could find ships a ~25M-parameter fp32 ONNX classifier, and a real one
 * would be ~100 MB to fetch; this needs nothing.
 */
import { onnx, type NodeProto, type TensorProto } from '../runtime/onnx/proto.js';

/** Deterministic normal numbers (Box–Muller over an LCG), so every run compiles the same model. */
function gaussian(seed: number): () => number {
  let s = seed >>> 0 || 1;
  const uniform = () => ((s = (s * 1664525 + 1013904223) >>> 0) + 1) / 2 ** 32;
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

export function syntheticResnet50(): Uint8Array {
  const rnd = gaussian(50);
  const nodes: NodeProto[] = [];
  const initializers: TensorProto[] = [];
  let id = 0;
  const ints = (name: string, values: number[]) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: values });
  const tensor = (name: string, dims: number[], data: Float32Array) => initializers.push(onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(data.buffer) }));

  /** `gain` < 1 on a block's last conv keeps the residual sum's scale steady without batch norm. */
  function conv(input: string, cin: number, cout: number, k: number, stride: number, relu: boolean, gain = 1): string {
    const name = `conv${id++}`;
    const fan = cin * k * k;
    const std = gain * Math.sqrt(2 / fan);
    tensor(`${name}.w`, [cout, cin, k, k], Float32Array.from({ length: cout * fan }, () => rnd() * std));
    tensor(`${name}.b`, [cout], new Float32Array(cout));
    const pad = (k - 1) >> 1;
    nodes.push(onnx.NodeProto.create({ name, opType: 'Conv', input: [input, `${name}.w`, `${name}.b`], output: [`${name}.y`], attribute: [ints('kernel_shape', [k, k]), ints('strides', [stride, stride]), ints('pads', [pad, pad, pad, pad])] }));
    if (!relu) return `${name}.y`;
    nodes.push(onnx.NodeProto.create({ name: `${name}.relu`, opType: 'Relu', input: [`${name}.y`], output: [`${name}.r`] }));
    return `${name}.r`;
  }

  let x = conv('input', 3, 64, 7, 2, true);
  nodes.push(onnx.NodeProto.create({ name: 'pool', opType: 'MaxPool', input: [x], output: ['pool.y'], attribute: [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1])] }));
  x = 'pool.y';
  let channels = 64;
  for (const [stage, [blocks, width]] of [[3, 64], [4, 128], [6, 256], [3, 512]].entries()) {
    for (let b = 0; b < blocks; b++) {
      const stride = b === 0 && stage > 0 ? 2 : 1;
      const out = width * 4;
      const a = conv(x, channels, width, 1, stride, true); // v1: the stride is in the first 1×1
      const m = conv(a, width, width, 3, 1, true);
      const c = conv(m, width, out, 1, 1, false, 0.2);
      const shortcut = b === 0 ? conv(x, channels, out, 1, stride, false) : x;
      const sum = `add${id++}`;
      nodes.push(onnx.NodeProto.create({ name: sum, opType: 'Add', input: [c, shortcut], output: [`${sum}.y`] }));
      nodes.push(onnx.NodeProto.create({ name: `${sum}.relu`, opType: 'Relu', input: [`${sum}.y`], output: [`${sum}.r`] }));
      x = `${sum}.r`;
      channels = out;
    }
  }
  nodes.push(onnx.NodeProto.create({ name: 'gap', opType: 'GlobalAveragePool', input: [x], output: ['gap.y'] }));
  nodes.push(onnx.NodeProto.create({ name: 'flat', opType: 'Flatten', input: ['gap.y'], output: ['flat.y'] }));
  tensor('fc.w', [1000, 2048], Float32Array.from({ length: 2048 * 1000 }, () => rnd() * Math.sqrt(1 / 2048)));
  tensor('fc.b', [1000], new Float32Array(1000));
  nodes.push(onnx.NodeProto.create({ name: 'fc', opType: 'Gemm', input: ['flat.y', 'fc.w', 'fc.b'], output: ['logits'], attribute: [onnx.AttributeProto.create({ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 1 })] }));

  const value = (name: string, dims: Array<number | string>) => onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
  const graph = onnx.GraphProto.create({ name: 'resnet50-synthetic', node: nodes, initializer: initializers, input: [value('input', ['N', 3, 224, 224])], output: [value('logits', ['N', 1000])] });
  return onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], producerName: 'lowrank-edge bench', graph })).finish();
}
