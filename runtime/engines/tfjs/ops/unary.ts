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
export const sin = unary((x) => (tf.getBackend() === 'webgpu' ? sinByPolynomial(x, false) : tf.sin(x)));
export const cos = unary((x) => (tf.getBackend() === 'webgpu' ? sinByPolynomial(x, true) : tf.cos(x)));
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

/** 2π = C1 + C2 + 1.0e-11: C1 has 8 significant bits, so k·C1 and x − k·C1 are exact for |k| < 2^16. */
const TWO_PI = [6.28125, Math.fround(2 * Math.PI - 6.28125)];
const HALF_PI = Math.fround(Math.PI / 2);
const PI = Math.fround(Math.PI);

/**
 * sin(x) (or cos(x)) from elementary float32 ops, within 2.4e-7 for |x| ≤ 2000 and 1.2e-6 at 10^5 (measured on
 * SwiftShader; tfjs-wasm's own: 3.3e-7): WGSL's sin/cos, which
 * tfjs-webgpu calls, are specified only to 2^-11 on [-π, π] and SwiftShader's are off by 1.9e-4 (measured over
 * [-130, 130], the range of a transformer's sinusoidal timing signal: USE-lite's embeddings moved by 6e-4). The
 * argument is reduced to r in [-π, π] (Cody–Waite: x − k·C1 − k·C2, off by about |k|·1e-10), folded to [-π/2, π/2]
 * (sin r = sin(±π − r); cos r = sin(π/2 − |r|)), where Taylor to r^11 is within 6e-8.
 */
function sinByPolynomial(x: tf.Tensor, cosine: boolean): tf.Tensor {
  const k = tf.round(tf.mul(x, 1 / (2 * Math.PI)));
  const r = TWO_PI.reduce((acc, part) => tf.sub(acc, tf.mul(k, part)), x);
  const s = cosine
    ? tf.sub(HALF_PI, tf.abs(r))
    : tf.where(tf.greater(tf.abs(r), HALF_PI), tf.sub(tf.mul(tf.sign(r), PI), r), r);
  const s2 = tf.mul(s, s);
  let p: tf.Tensor = tf.scalar(-1 / 39916800);
  for (const c of [1 / 362880, -1 / 5040, 1 / 120, -1 / 6, 1]) p = tf.add(tf.mul(p, s2), c);
  return tf.mul(p, s);
}

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
