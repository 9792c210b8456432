import * as tf from '@tensorflow/tfjs-core';
import { hostValue, sizeOf, type HostValue } from '../host-value.js';
import { axisOf, dimsOf, tensorValue, type OpContext, type OpKernel } from '../kernel.js';

/** NHWC position of each NCHW axis. */
const NCHW_IN_NHWC = [0, 3, 1, 2];

/** How an integer reduction combines on the host, for shape arithmetic (a product of dims, a sum of sizes). */
interface HostReduce {
  readonly init: number;
  combine(acc: number, x: number): number;
}

/**
 * ReduceMean/Sum/Max/Min/Prod. Axes are an attribute until opset 13 (ReduceSum) or 18 (the others), an input after.
 * A 4-D NHWC input reduced with keepdims stays NHWC (a squeeze-excite block's spatial mean costs no transpose).
 * An integer host value (a shape, as in a Tensordot's ReduceProd of dims) is reduced on the host, exactly in
 * float64, so the shape arithmetic after it never touches the backend.
 */
function reduction(op: (x: tf.Tensor, axes: number[], keep: boolean) => tf.Tensor, axesInputFrom: number, host?: HostReduce): OpKernel {
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
      if (host && v.kind === 'host' && v.dtype === 'int') return [reduceOnHost(v, axes, keep, host)];
      if (v.kind === 'tensor' && v.layout === 'nhwc' && keep) {
        return [tensorValue(op(v.tensor, axes.map((a) => NCHW_IN_NHWC[a]), true), 'nhwc')];
      }
      return [tensorValue(op(ctx.tensor(0), axes, keep))];
    },
  };
}

function reduceOnHost(v: HostValue, axes: readonly number[], keep: boolean, how: HostReduce): HostValue {
  const reduced = new Set(axes);
  const outDims = v.dims.map((d, i) => (reduced.has(i) ? 1 : d));
  const out = new Float64Array(sizeOf(outDims)).fill(how.init);
  const count = sizeOf(v.dims);
  const index = v.dims.map(() => 0);
  for (let i = 0; i < count; i++) {
    let o = 0;
    for (let a = 0; a < v.dims.length; a++) o = o * outDims[a] + (reduced.has(a) ? 0 : index[a]);
    out[o] = how.combine(out[o], v.data[i]);
    // Row-major increment of the input index.
    for (let a = v.dims.length - 1; a >= 0 && ++index[a] === v.dims[a]; a--) index[a] = 0;
  }
  return hostValue('int', keep ? outDims : v.dims.filter((_, i) => !reduced.has(i)), out);
}

export const reduceMean = reduction((x, a, k) => tf.mean(x, a, k), 18);
export const reduceSum = reduction((x, a, k) => tf.sum(x, a, k), 13, { init: 0, combine: (s, x) => s + x });
export const reduceMax = reduction((x, a, k) => tf.max(x, a, k), 18, { init: -Infinity, combine: Math.max });
export const reduceMin = reduction((x, a, k) => tf.min(x, a, k), 18, { init: Infinity, combine: Math.min });
export const reduceProd = reduction((x, a, k) => tf.prod(x, a, k), 18, { init: 1, combine: (p, x) => p * x });
