import * as tf from '@tensorflow/tfjs-core';
import { onnx } from '../../../onnx/proto.js';
import { hostValue, type HostValue } from '../host-value.js';
import { KernelError, tensorValue, type OpKernel } from '../kernel.js';

/** Constant: its value stays on the host until an op needs it as a tensor. */
export const constant: OpKernel = {
  check: (_node, attrs) => (attrs.has('sparse_value') ? 'sparse Constant' : undefined),
  run(ctx) {
    const a = ctx.attrs;
    const t = a.tensor('value');
    if (t) return [t];
    if (a.has('value_float')) return [hostValue('float32', [], Float32Array.of(a.float('value_float', 0)))];
    if (a.has('value_floats')) return [hostValue('float32', [a.floats('value_floats')!.length], Float32Array.from(a.floats('value_floats')!))];
    if (a.has('value_int')) return [hostValue('int', [], Float64Array.of(a.int('value_int', 0)))];
    if (a.has('value_ints')) return [hostValue('int', [a.ints('value_ints')!.length], Float64Array.from(a.ints('value_ints')!))];
    throw new KernelError(ctx.node, 'has no value attribute this engine reads');
  },
};

/** ConstantOfShape: a filled tensor (default float32 zeros). */
export const constantOfShape: OpKernel = {
  hostInputs: [0],
  run(ctx) {
    const dims = ctx.hostNumbers(0);
    const value: HostValue = ctx.attrs.tensor('value') ?? hostValue('float32', [1], Float32Array.of(0));
    return [tensorValue(tf.fill(dims, value.data[0], tfType(value.dtype)))];
  },
};

const D = onnx.TensorProto.DataType;

/** Cast between the types tfjs has: every float becomes float32, every integer int32, bool stays bool. */
export const cast: OpKernel = {
  check(_node, attrs) {
    const to = attrs.int('to', D.FLOAT);
    return targetOf(to) ? undefined : `Cast to ONNX type ${D[to] ?? to}`;
  },
  run(ctx) {
    const to = targetOf(ctx.attrs.int('to', D.FLOAT))!;
    const v = ctx.value(0);
    if (v.kind === 'host') {
      const data = to === 'float32' ? Float32Array.from(v.data) : to === 'bool' ? Uint8Array.from(v.data, (x) => (x ? 1 : 0)) : Float64Array.from(v.data, Math.trunc);
      return [hostValue(to, [...v.dims], data)];
    }
    return [tensorValue(tf.cast(v.tensor, tfType(to)), v.layout)];
  },
};

function targetOf(to: number): HostValue['dtype'] | undefined {
  if (to === D.FLOAT || to === D.DOUBLE || to === D.FLOAT16) return 'float32';
  if (to === D.BOOL) return 'bool';
  if ([D.INT64, D.INT32, D.INT16, D.INT8, D.UINT8, D.UINT16, D.UINT32].includes(to)) return 'int';
  return undefined;
}

export function tfType(dtype: HostValue['dtype']): 'float32' | 'int32' | 'bool' {
  return dtype === 'int' ? 'int32' : dtype;
}
