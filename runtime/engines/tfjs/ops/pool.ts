import * as tf from '@tensorflow/tfjs-core';
import { KernelError, tensorValue, type OpContext, type OpKernel } from '../kernel.js';
import { window2d } from './window.js';

function pooled(ctx: OpContext, pool: (x: tf.Tensor4D, kernel: [number, number], strides: [number, number], pad: ReturnType<typeof window2d>['pad']) => tf.Tensor4D) {
  const x = ctx.nhwc(0) as tf.Tensor4D;
  const kernel = ctx.attrs.ints('kernel_shape');
  if (!kernel || kernel.length !== 2) throw new KernelError(ctx.node, `needs a 2-D kernel_shape, got [${kernel ?? ''}]`);
  const win = window2d(ctx.attrs, kernel, [x.shape[1], x.shape[2]], ctx.attrs.int('ceil_mode', 0) === 1);
  return [tensorValue(pool(x, win.kernel, win.strides, win.pad), 'nhwc')];
}

function checkPool(attrs: { ints(name: string): number[] | undefined }): string | undefined {
  const kernel = attrs.ints('kernel_shape');
  if (kernel && kernel.length !== 2) return `${kernel.length}-D pooling (only 2-D)`;
  if ((attrs.ints('dilations') ?? []).some((d) => d !== 1)) return 'dilated pooling';
  return undefined;
}

/** MaxPool, 2-D, NHWC. tfjs ignores padded cells, as ONNX does. The optional Indices output is not produced. */
export const maxPool: OpKernel = {
  check(node, attrs) {
    if (node.outputs.length > 1 && node.outputs[1] !== '') return 'MaxPool with an Indices output';
    return checkPool(attrs);
  },
  run: (ctx) => pooled(ctx, (x, k, s, pad) => tf.maxPool(x, k, s, pad)),
};

/**
 * AveragePool, 2-D, NHWC. tfjs leaves padded cells out of the average (ONNX count_include_pad=0, the default);
 * with count_include_pad=1 the input is zero-padded first so the zeros count.
 */
export const averagePool: OpKernel = {
  check: (_node, attrs) => checkPool(attrs),
  run(ctx) {
    if (ctx.attrs.int('count_include_pad', 0) === 0) return pooled(ctx, (x, k, s, pad) => tf.avgPool(x, k, s, pad));
    return pooled(ctx, (x, k, s, pad) => tf.avgPool(tf.pad(x, pad), k, s, 'valid'));
  },
};

/** GlobalAveragePool / GlobalMaxPool: a reduction over H and W, kept 4-D and NHWC. */
export const globalAveragePool: OpKernel = {
  run: (ctx) => [tensorValue(tf.mean(ctx.nhwc(0), [1, 2], true), 'nhwc')],
};

export const globalMaxPool: OpKernel = {
  run: (ctx) => [tensorValue(tf.max(ctx.nhwc(0), [1, 2], true), 'nhwc')],
};
