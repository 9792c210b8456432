import * as tf from '@tensorflow/tfjs-core';
import { tensorValue, type OpKernel } from '../kernel.js';

/**
 * NonZero: the coordinates of the non-zero elements, [rank, count], in row-major order. The count depends on
 * the data, so the input is read on the host (downloaded when computed); the coordinates go back as int32.
 * A scalar counts as a 1-D tensor of one element (output [1, 0 or 1]), as onnxruntime and numpy do.
 */
export const nonZero: OpKernel = {
  hostInputs: [0],
  run(ctx) {
    const x = ctx.host(0);
    const dims = x.dims.length === 0 ? [1] : x.dims;
    const found: number[] = [];
    for (let i = 0; i < x.data.length; i++) if (x.data[i] !== 0) found.push(i);
    const out = new Int32Array(dims.length * found.length);
    found.forEach((flat, k) => {
      for (let a = dims.length - 1; a >= 0; a--) {
        out[a * found.length + k] = flat % dims[a];
        flat = Math.floor(flat / dims[a]);
      }
    });
    return [tensorValue(tf.tensor(out, [dims.length, found.length], 'int32'))];
  },
};
