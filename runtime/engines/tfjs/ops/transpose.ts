import * as tf from '@tensorflow/tfjs-core';
import { tensorValue, type OpKernel } from '../kernel.js';

/** NHWC position of each NCHW axis. */
const NCHW_IN_NHWC = [0, 3, 1, 2];

/**
 * Transpose. An NHWC input is not turned back to NCHW first: the two permutations are composed into one, so a
 * detector head's NCHW→NHWC Transpose after a conv is free (the composed permutation is the identity).
 */
export const transpose: OpKernel = {
  run(ctx) {
    const v = ctx.value(0);
    const x = v.kind === 'tensor' && v.layout === 'nhwc' ? v.tensor : ctx.tensor(0);
    const perm = ctx.attrs.ints('perm') ?? [...Array(x.rank).keys()].reverse();
    const composed = v.kind === 'tensor' && v.layout === 'nhwc' ? perm.map((p) => NCHW_IN_NHWC[p]) : perm;
    const isIdentity = composed.every((p, i) => p === i);
    return [tensorValue(isIdentity ? tf.clone(x) : tf.transpose(x, composed))];
  },
};
