import * as tf from '@tensorflow/tfjs-core';
import { axisOf, tensorValue, type OpKernel } from '../kernel.js';

/** Split: sizes from the `split` attribute (before opset 13) or input (13+), else equal parts (num_outputs in 18+). */
export const split: OpKernel = {
  hostInputs: [1],
  run(ctx) {
    const x = ctx.tensor(0);
    const axis = axisOf(ctx.attrs.int('axis', 0), x.rank);
    const parts = ctx.node.outputs.length;
    const sizes = ctx.opset < 13 ? ctx.attrs.ints('split') : ctx.has(1) ? ctx.hostNumbers(1) : undefined;
    let pieces: number[];
    if (sizes && sizes.length > 0) pieces = sizes;
    else {
      // Equal parts; with num_outputs the last one may be smaller.
      const each = Math.ceil(x.shape[axis] / parts);
      pieces = Array.from({ length: parts }, (_, i) => Math.min(each, x.shape[axis] - i * each));
    }
    return tf.split(x, pieces, axis).map((t) => tensorValue(t));
  },
};
