import * as tf from '@tensorflow/tfjs-core';
import { hostValue } from '../host-value.js';
import { axisOf, dimsOf, KernelError, tensorValue, type OpKernel } from '../kernel.js';

/**
 * Slice: starts/ends/axes are attributes before opset 10, inputs (with steps) from 10 on. Bounds are clamped as
 * ONNX says (INT64_MAX means "to the end"). A 1-D host value (a shape vector: `Shape` then `Slice [1:]`, as TF
 * exports write) is sliced on the host, any step; backend tensors take positive steps only.
 */
export const slice: OpKernel = {
  hostInputs: [1, 2, 3, 4],
  run(ctx) {
    const v = ctx.value(0);
    const dims = dimsOf(v);
    const fromInputs = ctx.opset >= 10;
    const starts = fromInputs ? ctx.hostNumbers(1) : ctx.attrs.ints('starts') ?? [];
    const ends = fromInputs ? ctx.hostNumbers(2) : ctx.attrs.ints('ends') ?? [];
    const axes = (fromInputs ? (ctx.has(3) ? ctx.hostNumbers(3) : undefined) : ctx.attrs.ints('axes')) ?? starts.map((_, i) => i);
    const steps = fromInputs && ctx.has(4) ? ctx.hostNumbers(4) : starts.map(() => 1);
    if (v.kind === 'host' && dims.length === 1) {
      const picked: number[] = [];
      const dim = dims[0];
      let [start, end, step] = [0, dim, 1];
      axes.forEach((_, i) => {
        step = steps[i];
        if (step === 0) throw new KernelError(ctx.node, 'step 0');
        const s = starts[i] < 0 ? starts[i] + dim : starts[i];
        const e = ends[i] < 0 ? ends[i] + dim : ends[i];
        // ONNX clamps to [0, dim] going forwards and to [-1, dim - 1] going backwards.
        [start, end] = step > 0 ? [Math.min(dim, Math.max(0, s)), Math.min(dim, Math.max(0, e))] : [Math.min(dim - 1, Math.max(-1, s)), Math.min(dim - 1, Math.max(-1, e))];
      });
      for (let i = start; step > 0 ? i < end : i > end; i += step) picked.push(v.data[i]);
      const data = v.dtype === 'float32' ? Float32Array.from(picked) : v.dtype === 'bool' ? Uint8Array.from(picked) : Float64Array.from(picked);
      return [hostValue(v.dtype, [picked.length], data)];
    }
    const x = ctx.tensor(0);
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
