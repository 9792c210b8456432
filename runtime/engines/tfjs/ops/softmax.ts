import * as tf from '@tensorflow/tfjs-core';
import { sizeOf } from '../host-value.js';
import { axisOf, tensorValue, type OpContext, type OpKernel } from '../kernel.js';

/**
 * Softmax / LogSoftmax. Before opset 13 ONNX flattens the input to 2-D at `axis` (default 1) and normalises
 * over everything after it; from 13 on it normalises over the one `axis` (default -1).
 */
function softmaxLike(fn: (logits: tf.Tensor) => tf.Tensor): OpKernel {
  return {
    run(ctx: OpContext) {
      const x = ctx.tensor(0);
      if (ctx.opset < 13) {
        const axis = axisOf(ctx.attrs.int('axis', 1), x.rank);
        const flat = tf.reshape(x, [sizeOf(x.shape.slice(0, axis)), sizeOf(x.shape.slice(axis))]);
        return [tensorValue(tf.reshape(fn(flat), x.shape))];
      }
      const axis = axisOf(ctx.attrs.int('axis', -1), x.rank);
      if (axis === x.rank - 1) return [tensorValue(fn(x))];
      // tfjs normalises over the last axis only: move `axis` there and back.
      const perm = [...Array(x.rank).keys()];
      [perm[axis], perm[x.rank - 1]] = [perm[x.rank - 1], perm[axis]];
      return [tensorValue(tf.transpose(fn(tf.transpose(x, perm)), perm))];
    },
  };
}

export const softmax = softmaxLike((t) => tf.softmax(t));
export const logSoftmax = softmaxLike((t) => tf.logSoftmax(t));
