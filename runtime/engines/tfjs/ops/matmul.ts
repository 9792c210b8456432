import * as tf from '@tensorflow/tfjs-core';
import { KernelError, tensorValue, type OpKernel } from '../kernel.js';

/**
 * MatMul with numpy semantics. The common case, x[..., K]·W[K, N] with a 2-D W, runs as one 2-D matMul on the
 * flattened rows; 1-D operands are lifted to matrices and the added dim removed again, as numpy does.
 */
export const matMul: OpKernel = {
  run(ctx) {
    let a = ctx.tensor(0);
    let b = ctx.tensor(1);
    const aVector = a.rank === 1;
    const bVector = b.rank === 1;
    if (aVector) a = tf.reshape(a, [1, a.shape[0]]);
    if (bVector) b = tf.reshape(b, [b.shape[0], 1]);
    const k = a.shape[a.rank - 1];
    if (b.shape[b.rank - 2] !== k) throw new KernelError(ctx.node, `inner dims differ: [${a.shape}] · [${b.shape}]`);
    let y: tf.Tensor;
    if (b.rank === 2) {
      const rows = a.shape.slice(0, -1);
      y = tf.reshape(tf.matMul(tf.reshape(a, [-1, k]) as tf.Tensor2D, b as tf.Tensor2D), [...rows, b.shape[1]!]);
    } else {
      y = tf.matMul(a, b);
    }
    if (aVector) y = tf.squeeze(y, [y.rank - 2]);
    if (bVector) y = tf.squeeze(y, [y.rank - 1]);
    return [tensorValue(y)];
  },
};

/**
 * Gemm: alpha·op(A)·op(B) + beta·C. op(B) is laid out [K, N] once per session and the matMul always runs without
 * transpose flags: tfjs-backend-wasm 4.22's fused matMul adds the bias wrongly when transposeB is set (measured:
 * errors of 0.4 on a 2×5·5×3 product), and a pre-transposed constant is no slower.
 */
export const gemm: OpKernel = {
  run(ctx) {
    const alpha = ctx.attrs.float('alpha', 1);
    const beta = ctx.attrs.float('beta', 1);
    const a0 = ctx.tensor(0) as tf.Tensor2D;
    const a = ctx.attrs.int('transA', 0) === 1 ? tf.transpose(a0) : a0;
    const transposeB = ctx.attrs.int('transB', 0) === 1;
    const laidOut = (): tf.Tensor2D => (transposeB ? tf.transpose(ctx.tensor(1) as tf.Tensor2D) : (ctx.tensor(1) as tf.Tensor2D));
    const b = ctx.isConstant(1) ? (ctx.memo('weight', laidOut) as tf.Tensor2D) : laidOut();
    const c = ctx.has(2) ? ctx.tensor(2) : undefined;
    const act = ctx.node.fused;
    // A folded activation comes only with alpha = beta = 1 (fuse-activations.ts).
    if (alpha === 1 && (beta === 1 || !c)) return [tensorValue(tf.fused.matMul({ a, b, bias: c, activation: act?.activation, leakyreluAlpha: act?.leakyreluAlpha }))];
    let y: tf.Tensor = tf.matMul(a, b);
    if (alpha !== 1) y = tf.mul(y, alpha);
    if (c) y = tf.add(y, beta === 1 ? c : tf.mul(c, beta));
    return [tensorValue(y)];
  },
};
