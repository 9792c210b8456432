import * as tf from '@tensorflow/tfjs-core';
import { hostValue } from '../host-value.js';
import { axisOf, dimsOf, tensorValue, type OpKernel } from '../kernel.js';

/**
 * Concat. Shape vectors (all inputs 1-D host values) are joined on the host. A channel concat of NHWC values
 * stays NHWC (axis 1 → axis 3); anything else runs in ONNX layout.
 */
export const concat: OpKernel = {
  run(ctx) {
    const values = Array.from({ length: ctx.inputCount }, (_, i) => ctx.value(i));
    const rank = dimsOf(values[0]).length;
    const axis = axisOf(ctx.attrs.int('axis', 0), rank);
    const hostInts = values.flatMap((v) => (v.kind === 'host' && v.dtype === 'int' ? [v] : []));
    if (rank === 1 && hostInts.length === values.length) {
      const data = Float64Array.from(hostInts.flatMap((v) => Array.from(v.data)));
      return [hostValue('int', [data.length], data)];
    }
    if (rank === 4 && axis === 1 && values.every((v) => v.kind === 'tensor' && v.layout === 'nhwc')) {
      return [tensorValue(tf.concat(values.map((_, i) => ctx.nhwc(i)), 3), 'nhwc')];
    }
    // Empty inputs are allowed by ONNX and ignored (tfjs rejects them in some backends).
    const parts = values.map((_, i) => ctx.tensor(i)).filter((t) => t.size > 0);
    return [tensorValue(parts.length === 1 ? tf.clone(parts[0]) : tf.concat(parts, axis))];
  },
};
