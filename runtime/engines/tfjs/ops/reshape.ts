import * as tf from '@tensorflow/tfjs-core';
import { hostValue, sizeOf } from '../host-value.js';
import { axisOf, dimsOf, KernelError, tensorValue, type OpContext, type OpKernel, type Value } from '../kernel.js';

/** Every op here only changes dims: a host value stays on the host (shape arithmetic), a tensor is reshaped. */
function reshaped(ctx: OpContext, dims: number[]): Value {
  const v = ctx.value(0);
  if (v.kind === 'host') return hostValue(v.dtype, dims, v.data);
  return tensorValue(tf.reshape(ctx.tensor(0), dims));
}

/** ONNX Reshape: 0 copies the input's dim (unless allowzero), one -1 is inferred. */
export const reshape: OpKernel = {
  hostInputs: [1],
  run(ctx) {
    const input = dimsOf(ctx.value(0));
    const allowZero = ctx.attrs.int('allowzero', 0) === 1;
    const target = ctx.hostNumbers(1).map((d, i) => (d === 0 && !allowZero ? input[i] : d));
    const inferred = target.indexOf(-1);
    if (inferred >= 0) {
      const known = target.reduce((a, d, i) => (i === inferred ? a : a * d), 1);
      target[inferred] = known === 0 ? 0 : sizeOf(input) / known;
    }
    if (sizeOf(target) !== sizeOf(input)) throw new KernelError(ctx.node, `cannot reshape [${input}] to [${target}]`);
    return [reshaped(ctx, target)];
  },
};

/** Flatten to 2-D at `axis` (default 1). */
export const flatten: OpKernel = {
  run(ctx) {
    const input = dimsOf(ctx.value(0));
    const axis = axisOf(ctx.attrs.int('axis', 1), input.length);
    return [reshaped(ctx, [sizeOf(input.slice(0, axis)), sizeOf(input.slice(axis))])];
  },
};

/** Axes are an attribute before opset 13 and an optional input from 13 on. */
function axesOf(ctx: OpContext): number[] | undefined {
  if (ctx.opset < 13) return ctx.attrs.ints('axes');
  return ctx.has(1) ? ctx.hostNumbers(1) : undefined;
}

export const unsqueeze: OpKernel = {
  hostInputs: [1],
  run(ctx) {
    const input = dimsOf(ctx.value(0));
    const axes = axesOf(ctx);
    if (!axes) throw new KernelError(ctx.node, 'needs axes');
    const rank = input.length + axes.length;
    const inserted = new Set(axes.map((a) => axisOf(a, rank)));
    const out: number[] = [];
    let next = 0;
    for (let i = 0; i < rank; i++) out.push(inserted.has(i) ? 1 : input[next++]);
    return [reshaped(ctx, out)];
  },
};

export const squeeze: OpKernel = {
  hostInputs: [1],
  run(ctx) {
    const input = dimsOf(ctx.value(0));
    const axes = axesOf(ctx);
    const dropped = new Set(axes ? axes.map((a) => axisOf(a, input.length)) : input.flatMap((d, i) => (d === 1 ? [i] : [])));
    return [reshaped(ctx, input.filter((_, i) => !dropped.has(i)))];
  },
};
