import * as tf from '@tensorflow/tfjs-core';
import { tensorValue, type OpKernel } from '../kernel.js';

/**
 * BatchNormalization at inference: y = x·s + t with s = scale/√(var+ε) and t = bias − mean·s, folded once per
 * session. Channels are axis 1 in ONNX; NHWC 4-D values and [N,C] matrices have them last already.
 */
export const batchNormalization: OpKernel = {
  check: (node) => (node.outputs.filter((o) => o !== '').length > 1 ? 'BatchNormalization in training mode (running mean/var outputs)' : undefined),
  run(ctx) {
    const eps = ctx.attrs.float('epsilon', 1e-5);
    const constant = [1, 2, 3, 4].every((i) => ctx.isConstant(i));
    const folded = (key: string, make: () => tf.Tensor): tf.Tensor => (constant ? ctx.memo(key, make) : make());
    const s = folded('scale', () => tf.div(ctx.tensor(1), tf.sqrt(tf.add(ctx.tensor(4), eps))));
    const t = folded('shift', () => tf.sub(ctx.tensor(2), tf.mul(ctx.tensor(3), s)));
    const v = ctx.value(0);
    const rank = v.kind === 'host' ? v.dims.length : v.tensor.rank;
    if (rank === 4) return [tensorValue(tf.add(tf.mul(ctx.nhwc(0), s), t), 'nhwc')];
    const x = ctx.tensor(0);
    if (rank === 2) return [tensorValue(tf.add(tf.mul(x, s), t))];
    // Other ranks: [C] params broadcast as [C,1,…,1] against [N,C,…].
    const shape = [x.shape[1], ...Array(rank - 2).fill(1)];
    return [tensorValue(tf.add(tf.mul(x, tf.reshape(s, shape)), tf.reshape(t, shape)))];
  },
};
