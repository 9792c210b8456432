import * as tf from '@tensorflow/tfjs-core';
import { tensorValue, type OpContext, type OpKernel } from '../kernel.js';

/** Element-wise ops of one input: the result keeps the input's layout (NHWC stays NHWC). */
function unary(op: (x: tf.Tensor, ctx: OpContext) => tf.Tensor): OpKernel {
  return {
    run(ctx) {
      const v = ctx.value(0);
      const x = v.kind === 'tensor' ? v.tensor : ctx.tensor(0);
      return [tensorValue(op(x, ctx), v.kind === 'tensor' ? v.layout : 'onnx')];
    },
  };
}

export const relu = unary((x) => tf.relu(x));
export const sigmoid = unary((x) => tf.sigmoid(x));
export const tanh = unary((x) => tf.tanh(x));
export const exp = unary((x) => tf.exp(x));
export const log = unary((x) => tf.log(x));
export const sqrt = unary((x) => tf.sqrt(x));
export const abs = unary((x) => tf.abs(x));
export const neg = unary((x) => tf.neg(x));
export const reciprocal = unary((x) => tf.reciprocal(x));
export const floor = unary((x) => tf.floor(x));
export const ceil = unary((x) => tf.ceil(x));
export const erf = unary((x) => tf.erf(x));
export const softplus = unary((x) => tf.softplus(x));
export const not = unary((x) => tf.logicalNot(x));
export const identity = unary((x) => tf.clone(x));
export const leakyRelu = unary((x, ctx) => tf.leakyRelu(x, ctx.attrs.float('alpha', 0.01)));
export const elu = unary((x, ctx) => {
  const alpha = ctx.attrs.float('alpha', 1);
  return alpha === 1 ? tf.elu(x) : tf.where(tf.greater(x, 0), x, tf.mul(tf.sub(tf.exp(x), 1), alpha));
});
export const hardSigmoid = unary((x, ctx) => tf.clipByValue(tf.add(tf.mul(x, ctx.attrs.float('alpha', 0.2)), ctx.attrs.float('beta', 0.5)), 0, 1));
export const hardSwish = unary((x) => tf.mul(x, tf.clipByValue(tf.add(tf.div(x, 6), 0.5), 0, 1)));

/** Dropout at inference is the identity; its optional mask output is not produced. */
export const dropout: OpKernel = {
  check: (node) => (node.outputs.length > 1 && node.outputs[1] !== '' ? 'Dropout with a mask output' : undefined),
  run: identity.run,
};

const LOWEST = -3.4028234663852886e38;
const HIGHEST = 3.4028234663852886e38;

/** Clip: bounds are attributes before opset 11, optional constant inputs from 11 on. ReLU6 gets tfjs's relu6. */
export const clip: OpKernel = {
  hostInputs: [1, 2],
  run(ctx) {
    const bound = (i: number, attr: string, fallback: number): number =>
      ctx.opset < 11 ? ctx.attrs.float(attr, fallback) : ctx.has(i) ? ctx.hostNumbers(i)[0] : fallback;
    const lo = bound(1, 'min', LOWEST);
    const hi = bound(2, 'max', HIGHEST);
    return unary((x) => (lo === 0 && hi === 6 ? tf.relu6(x) : tf.clipByValue(x, lo, hi))).run(ctx);
  },
};
