import * as tf from '@tensorflow/tfjs-core';
import { hostValue } from '../host-value.js';
import { axisOf, dimsOf, tensorValue, type OpKernel } from '../kernel.js';

/**
 * Gather along one axis. Negative indices count from the end (ONNX allows them, tfjs does not). Picking from a
 * shape vector on the host stays on the host.
 */
export const gather: OpKernel = {
  hostInputs: [1],
  run(ctx) {
    const data = ctx.value(0);
    const dims = dimsOf(data);
    const axis = axisOf(ctx.attrs.int('axis', 0), dims.length);
    const indices = ctx.host(1);
    const picked = Array.from(indices.data, (i) => (i < 0 ? i + dims[axis] : i));
    if (data.kind === 'host' && dims.length === 1) {
      return [hostValue(data.dtype, [...indices.dims], Float64Array.from(picked, (i) => data.data[i]))];
    }
    const idx = tf.tensor(Int32Array.from(picked), [...indices.dims], 'int32');
    return [tensorValue(tf.gather(ctx.tensor(0), idx, axis))];
  },
};
