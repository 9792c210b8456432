import * as tf from '@tensorflow/tfjs-core';
import { axisOf, KernelError, tensorValue, type OpKernel } from '../kernel.js';

/**
 * Slice: starts/ends/axes are attributes before opset 10, inputs (with steps) from 10 on. Bounds are clamped as
 * ONNX says (INT64_MAX means "to the end"). Positive steps only.
 */
export const slice: OpKernel = {
  hostInputs: [1, 2, 3, 4],
  run(ctx) {
    const x = ctx.tensor(0);
    const fromInputs = ctx.opset >= 10;
    const starts = fromInputs ? ctx.hostNumbers(1) : ctx.attrs.ints('starts') ?? [];
    const ends = fromInputs ? ctx.hostNumbers(2) : ctx.attrs.ints('ends') ?? [];
    const axes = (fromInputs ? (ctx.has(3) ? ctx.hostNumbers(3) : undefined) : ctx.attrs.ints('axes')) ?? starts.map((_, i) => i);
    const steps = fromInputs && ctx.has(4) ? ctx.hostNumbers(4) : starts.map(() => 1);
    const begin = x.shape.map(() => 0);
    const end = [...x.shape];
    const strides = x.shape.map(() => 1);
    axes.forEach((a, i) => {
      const axis = axisOf(a, x.rank);
      const dim = x.shape[axis];
      if (steps[i] <= 0) throw new KernelError(ctx.node, `step ${steps[i]} on axis ${axis}: only positive steps are supported`);
      const clamp = (v: number): number => Math.min(dim, Math.max(0, v < 0 ? v + dim : v));
      begin[axis] = clamp(starts[i]);
      end[axis] = Math.max(begin[axis], clamp(ends[i]));
      strides[axis] = steps[i];
    });
    const unit = strides.every((s) => s === 1);
    const y = unit ? tf.slice(x, begin, end.map((e, i) => e - begin[i])) : tf.stridedSlice(x, begin, end, strides);
    return [tensorValue(y)];
  },
};
