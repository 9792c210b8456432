// onnx-proto is CommonJS; this module gives the rest of the code one typed ESM handle on it.
import Long from 'long';
import onnxProto from 'onnx-proto';
import protobuf from 'protobufjs/minimal.js';

// protobufjs finds long.js through a hidden require() that bundlers cannot see, so in a browser bundle it has none
// and reads and writes int64 values as floats: INT64_MAX (Slice's "to the end") turned into INT64_MIN and emptied
// UltraFace's outputs on ort-webgpu. Handing it long.js makes int64 exact everywhere (test/runtime/int64.test.ts).
protobuf.util.Long = Long as unknown as typeof protobuf.util.Long;
protobuf.configure();

export const onnx = onnxProto.onnx;
export type ModelProto = onnxProto.onnx.ModelProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type AttributeProto = onnxProto.onnx.IAttributeProto;
export type ValueInfoProto = onnxProto.onnx.IValueInfoProto;
export type GraphProto = onnxProto.onnx.IGraphProto;

/** A float initializer's values in a buffer of their own (rawData may be an unaligned view into the model bytes). */
export function float32Of(t: TensorProto): Float32Array {
  if (t.rawData && t.rawData.length > 0) {
    const copy = new Uint8Array(t.rawData.length);
    copy.set(t.rawData);
    return new Float32Array(copy.buffer);
  }
  return Float32Array.from(t.floatData ?? []);
}
