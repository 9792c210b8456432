import * as tf from '@tensorflow/tfjs-core';
import { dimsOf, KernelError, tensorValue, type OpKernel } from '../kernel.js';
import { applyActivation } from '../fuse-activations.js';
import { window2d, type Window2d } from './window.js';

/**
 * Conv, 1-D and 2-D, NHWC inside (tfjs's only conv layout): group 1 as conv2d, group = channels (depthwise,
 * any channel multiplier) as depthwiseConv2d, other groups as one conv per group. Bias and a folded activation
 * (fuse-activations.ts) are fused. Filters are rearranged to tfjs's layout once per session when the weight is a
 * constant.
 */
export const conv: OpKernel = {
  check(_node, attrs) {
    const kernel = attrs.ints('kernel_shape');
    if (kernel && kernel.length > 2) return `${kernel.length}-D convolution (only 1-D and 2-D)`;
    // tfjs's conv kernels take a stride or a dilation above 1, never both.
    if ((attrs.ints('strides') ?? []).some((s) => s > 1) && (attrs.ints('dilations') ?? []).some((d) => d > 1)) return 'Conv with both strides and dilations above 1';
    return undefined;
  },
  run(ctx) {
    const wDims = dimsOf(ctx.value(1));
    const spatial = wDims.length - 2;
    if (spatial !== 1 && spatial !== 2) throw new KernelError(ctx.node, `${spatial}-D convolution is not supported (only 1-D and 2-D)`);
    const [m, cPerGroup] = wDims;
    const kh = spatial === 1 ? 1 : wDims[2];
    const kw = wDims[wDims.length - 1];
    const group = ctx.attrs.int('group', 1);

    // 1-D: [N,C,L] runs as a 2-D conv on [N,C,1,L].
    let x: tf.Tensor4D;
    if (spatial === 1) {
      const x3 = ctx.tensor(0);
      const [n, c, l] = x3.shape as [number, number, number];
      x = tf.transpose(tf.reshape(x3, [n, c, 1, l]), [0, 2, 3, 1]) as tf.Tensor4D;
    } else {
      x = ctx.nhwc(0) as tf.Tensor4D;
    }
    const channels = x.shape[3];
    if (channels !== cPerGroup * group) {
      throw new KernelError(ctx.node, `input has ${channels} channels but the weight [${wDims}] with group ${group} expects ${cPerGroup * group}`);
    }
    const win = window2d(ctx.attrs, wDims.slice(2), spatial === 1 ? [x.shape[2]] : [x.shape[1], x.shape[2]]);
    const constant = ctx.isConstant(1);
    const prepared = (key: string, make: () => tf.Tensor): tf.Tensor => (constant ? ctx.memo(key, make) : make());
    const weight4d = (): tf.Tensor4D => tf.reshape(ctx.tensor(1), [m, cPerGroup, kh, kw]) as tf.Tensor4D;
    const bias = ctx.has(2) ? (ctx.tensor(2) as tf.Tensor1D) : undefined;
    const act = ctx.node.fused;
    const args = { x, strides: win.strides, pad: win.pad, dilations: win.dilations, bias, activation: act?.activation, leakyreluAlpha: act?.leakyreluAlpha };

    let y: tf.Tensor4D;
    if (group === 1 && (!constant || ctx.training) && spatial === 2 && isPointwise(win)) {
      // Training (compiler/distill/): 1×1 convs as matMuls, whose gradients are matMuls too: tfjs-backend-wasm has
      // no Conv2DBackpropFilter kernel and its Conv2DBackpropInput is a plain loop, ~10× slower than its matMul
      // (measured on MobileNet). No transposeB flag: see Gemm in matmul.ts (tfjs-backend-wasm adds the bias
      // wrongly with it).
      const [n, h, w] = x.shape;
      const w2 = tf.transpose(tf.reshape(ctx.tensor(1), [m, channels])) as tf.Tensor2D;
      const y2 = tf.fused.matMul({ a: tf.reshape(x, [n * h * w, channels]) as tf.Tensor2D, b: w2, bias, activation: act?.activation, leakyreluAlpha: act?.leakyreluAlpha });
      y = tf.reshape(y2, [n, h, w, m]) as tf.Tensor4D;
    } else if (group === 1 || (cPerGroup === 1 && m % group === 0)) {
      const depthwise = group !== 1;
      // Depthwise: weight [C·k, 1, kh, kw] → tfjs [kh, kw, C, k].
      const filter = (depthwise
        ? prepared('filter', () => tf.transpose(tf.reshape(weight4d(), [group, m / group, kh, kw]), [2, 3, 0, 1]))
        : prepared('filter', () => tf.transpose(weight4d(), [2, 3, 1, 0]))) as tf.Tensor4D;
      // tfjs types depthwise padding as 'same' | 'valid' | number, but its kernels take explicit padding as conv2d does.
      const pad = args.pad as unknown as number;
      if (ctx.training) {
        // Unfused under autodiff: a fused conv's gradient computes the filter's and bias's gradients whether or
        // not they are trained (constant filters cost a Conv2DBackpropFilter each); the plain ops' are lazy.
        const [f, dilations] = withoutDilation(filter, win.dilations);
        y = depthwise ? tf.depthwiseConv2d(x, f, win.strides, pad, 'NHWC', dilations) : tf.conv2d(x, f, win.strides, win.pad, 'NHWC', dilations);
        if (bias) y = tf.add(y, bias) as tf.Tensor4D;
        if (act) y = applyActivation(y, act) as tf.Tensor4D;
      } else {
        y = depthwise ? tf.fused.depthwiseConv2d({ ...args, pad, filter }) : tf.fused.conv2d({ ...args, filter });
      }
    } else {
      const perGroup = m / group;
      const xs = tf.split(x, group, 3);
      const ys = xs.map((xg, g) => {
        const filter = prepared(`filter${g}`, () => tf.transpose(tf.slice(weight4d(), [g * perGroup, 0, 0, 0], [perGroup, cPerGroup, kh, kw]), [2, 3, 1, 0])) as tf.Tensor4D;
        if (!ctx.training) return tf.conv2d(xg as tf.Tensor4D, filter, win.strides, win.pad, 'NHWC', win.dilations);
        const [f, dilations] = withoutDilation(filter, win.dilations);
        return tf.conv2d(xg as tf.Tensor4D, f, win.strides, win.pad, 'NHWC', dilations);
      });
      y = tf.concat(ys, 3);
      if (bias) y = tf.add(y, bias) as tf.Tensor4D;
      if (act) y = applyActivation(y, act) as tf.Tensor4D;
    }
    if (spatial === 1) {
      const [n, , l, c] = y.shape;
      return [tensorValue(tf.reshape(tf.transpose(y, [0, 3, 1, 2]), [n, c, l]))];
    }
    return [tensorValue(y, 'nhwc')];
  },
};

/**
 * tfjs has no gradient for dilated convolutions ("dilation rates greater than 1 are not yet supported in
 * gradients"), so in training a dilated filter [kh, kw, …] becomes the equivalent undilated one, with d−1 zeros
 * between its taps ([(kh−1)·dh+1, (kw−1)·dw+1, …]), built from differentiable ops (pad and reshape), so a
 * trained filter still gets its gradient. Costs d² more multiply-adds; training only (UltraFace's RFB blocks).
 */
export function withoutDilation(filter: tf.Tensor4D, dilations: [number, number]): [tf.Tensor4D, [number, number]] {
  if (dilations[0] === 1 && dilations[1] === 1) return [filter, dilations];
  const spread = (f: tf.Tensor4D, axis: 0 | 1, d: number): tf.Tensor4D => {
    if (d === 1) return f;
    const k = f.shape[axis];
    // [.., k, ..] → [.., k, d, ..] with zeros after each tap → [.., k·d, ..] → the first (k−1)·d+1.
    const withGap = tf.pad(tf.expandDims(f, axis + 1), Array.from({ length: 5 }, (_, i) => (i === axis + 1 ? [0, d - 1] : [0, 0])) as Array<[number, number]>);
    const shape = [...f.shape] as [number, number, number, number];
    shape[axis] = k * d;
    const begin = [0, 0, 0, 0];
    const size = [...f.shape] as [number, number, number, number];
    size[axis] = (k - 1) * d + 1;
    return tf.slice(tf.reshape(withGap, shape), begin, size) as tf.Tensor4D;
  };
  return [spread(spread(filter, 0, dilations[0]), 1, dilations[1]), [1, 1]];
}

function isPointwise(win: Window2d): boolean {
  return win.kernel.every((k) => k === 1) && win.strides.every((s) => s === 1) && win.dilations.every((d) => d === 1) && win.pad.flat().every((p) => p === 0);
}
