import * as tf from '@tensorflow/tfjs-core';
import { dimsOf, KernelError, tensorValue, type OpKernel } from '../kernel.js';

/**
 * Expand: numpy broadcasting of the input against the given shape, in both directions (a 1 in the shape keeps
 * the input's dim, unlike tf.broadcastTo, which only grows the input), so the output shape is worked out here
 * first. The shape is read on the host (downloaded when computed, as in a TF SparseToDense's dense shape).
 */
export const expand: OpKernel = {
  hostInputs: [1],
  run(ctx) {
    const input = dimsOf(ctx.value(0));
    const shape = ctx.hostNumbers(1);
    const rank = Math.max(input.length, shape.length);
    const a = [...Array(rank - input.length).fill(1), ...input];
    const b = [...Array(rank - shape.length).fill(1), ...shape];
    const out = a.map((d, i) => {
      if (d === b[i] || b[i] === 1) return d;
      if (d === 1) return b[i];
      throw new KernelError(ctx.node, `cannot broadcast [${input}] to [${shape}]`);
    });
    const x = ctx.tensor(0);
    if (out.every((d, i) => d === a[i])) return [tensorValue(x.rank === rank ? tf.clone(x) : tf.reshape(x, out))];
    return [tensorValue(tf.broadcastTo(x, out))];
  },
};
