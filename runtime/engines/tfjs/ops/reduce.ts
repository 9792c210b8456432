import * as tf from '@tensorflow/tfjs-core';
import { axisOf, dimsOf, tensorValue, type OpContext, type OpKernel } from '../kernel.js';

/** NHWC position of each NCHW axis. */
const NCHW_IN_NHWC = [0, 3, 1, 2];

/**
 * ReduceMean/Sum/Max/Min. Axes are an attribute until opset 13 (ReduceSum) or 18 (the others), an input after.
 * A 4-D NHWC input reduced with keepdims stays NHWC (a squeeze-excite block's spatial mean costs no transpose).
 */
function reduction(op: (x: tf.Tensor, axes: number[], keep: boolean) => tf.Tensor, axesInputFrom: number): OpKernel {
  return {
    hostInputs: [1],
    run(ctx: OpContext) {
      const v = ctx.value(0);
      const rank = dimsOf(v).length;
      const keep = ctx.attrs.int('keepdims', 1) === 1;
      const given = ctx.opset < axesInputFrom ? ctx.attrs.ints('axes') : ctx.has(1) ? ctx.hostNumbers(1) : undefined;
      const noopWhenEmpty = ctx.attrs.int('noop_with_empty_axes', 0) === 1;
      if ((!given || given.length === 0) && noopWhenEmpty) return [v.kind === 'tensor' ? tensorValue(tf.clone(v.tensor), v.layout) : v];
      const axes = given && given.length > 0 ? given.map((a) => axisOf(a, rank)) : [...Array(rank).keys()];
      if (v.kind === 'tensor' && v.layout === 'nhwc' && keep) {
        return [tensorValue(op(v.tensor, axes.map((a) => NCHW_IN_NHWC[a]), true), 'nhwc')];
      }
      return [tensorValue(op(ctx.tensor(0), axes, keep))];
    },
  };
}

export const reduceMean = reduction((x, a, k) => tf.mean(x, a, k), 18);
export const reduceSum = reduction((x, a, k) => tf.sum(x, a, k), 13);
export const reduceMax = reduction((x, a, k) => tf.max(x, a, k), 18);
export const reduceMin = reduction((x, a, k) => tf.min(x, a, k), 18);
