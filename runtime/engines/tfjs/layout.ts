import * as tf from '@tensorflow/tfjs-core';

/**
 * Where a 4-D value's channels are. ONNX is NCHW; tfjs's conv, pool and resize kernels are NHWC only. Converting
 * at every such op would put two transposes around each conv, so values stay NHWC between ops that accept it
 * (convs, pools, element-wise ops, channel concat) and are turned back only where an op needs ONNX order.
 */
export type Layout = 'onnx' | 'nhwc';

/** ONNX (NCHW) dims of a tensor held in `layout`. */
export function onnxDims(shape: readonly number[], layout: Layout): number[] {
  return layout === 'nhwc' ? [shape[0], shape[3], shape[1], shape[2]] : [...shape];
}

export function nhwcToNchw(t: tf.Tensor): tf.Tensor {
  const [n, h, w, c] = t.shape;
  // With a 1×1 image (after global pooling) the two orders hold the same bytes: a reshape is free.
  return h === 1 && w === 1 ? tf.reshape(t, [n, c, 1, 1]) : tf.transpose(t, [0, 3, 1, 2]);
}

export function nchwToNhwc(t: tf.Tensor): tf.Tensor {
  const [n, c, h, w] = t.shape;
  return h === 1 && w === 1 ? tf.reshape(t, [n, 1, 1, c]) : tf.transpose(t, [0, 2, 3, 1]);
}

/**
 * An operand of an element-wise op with a 4-D NHWC tensor, in NHWC too: ONNX broadcasting aligns trailing
 * dims, so a lower-rank operand (a [C,1,1] bias, a scalar) is first padded to 4-D with leading ones.
 */
export function broadcastOperandToNhwc(t: tf.Tensor): tf.Tensor {
  if (t.rank > 4) throw new Error(`cannot broadcast a rank-${t.rank} operand against a 4-D tensor`);
  const four = t.rank === 4 ? t : tf.reshape(t, [...Array(4 - t.rank).fill(1), ...t.shape]);
  return nchwToNhwc(four);
}
