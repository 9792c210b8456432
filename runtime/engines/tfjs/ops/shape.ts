import { hostValue, sizeOf } from '../host-value.js';
import { axisOf, dimsOf, type OpKernel } from '../kernel.js';

/** Shape and Size are known without touching the data: host results for the shape arithmetic that follows. */
export const shape: OpKernel = {
  run(ctx) {
    const dims = dimsOf(ctx.value(0));
    const start = axisOf(ctx.attrs.int('start', 0), dims.length);
    const end = ctx.attrs.has('end') ? axisOf(ctx.attrs.int('end', dims.length), dims.length) : dims.length;
    const picked = dims.slice(Math.max(0, start), Math.min(dims.length, end));
    return [hostValue('int', [picked.length], Float64Array.from(picked))];
  },
};

export const size: OpKernel = {
  run: (ctx) => [hostValue('int', [], Float64Array.of(sizeOf(dimsOf(ctx.value(0)))))],
};
