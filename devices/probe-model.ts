import { onnx } from '../runtime/onnx/proto.js';

/** A one-node ONNX model (y = Relu(x), float32 [1, 4]): the cheapest thing that proves an engine can build and run. */
export function probeModel(): Uint8Array {
  const io = (name: string) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }, { dimValue: 4 }] } } } });
  const model = onnx.ModelProto.create({
    irVersion: 7,
    producerName: 'lowrank-edge-probe',
    opsetImport: [{ domain: '', version: 13 }],
    graph: { name: 'probe', node: [{ opType: 'Relu', input: ['x'], output: ['y'] }], input: [io('x')], output: [io('y')] },
  });
  return onnx.ModelProto.encode(model).finish();
}
