import type { Attributes } from '../attributes.js';

/** The sliding window of a 2-D conv or pool, from ONNX attributes (1-D windows are given a height of 1). */
export interface Window2d {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  /** tfjs explicit padding for an NHWC input. */
  pad: [[number, number], [number, number], [number, number], [number, number]];
}

/**
 * Reads kernel_shape/strides/dilations/pads/auto_pad (and ceil_mode for pools) into the explicit padding tfjs
 * takes. ONNX's SAME_UPPER/SAME_LOWER and ceil_mode have no direct tfjs equivalent, so both become padding:
 * ceil_mode adds the extra end padding that makes the last partial window count (pools ignore padded cells).
 */
export function window2d(attrs: Attributes, kernelDims: readonly number[], inputHw: readonly number[], ceilMode = false): Window2d {
  const spatial = kernelDims.length;
  const lift = (v: number[]): [number, number] => (spatial === 1 ? [1, v[0]] : [v[0], v[1]]);
  const kernel = lift(attrs.ints('kernel_shape') ?? [...kernelDims]);
  const strides = lift(attrs.ints('strides') ?? Array(spatial).fill(1));
  const dilations = lift(attrs.ints('dilations') ?? Array(spatial).fill(1));
  const onnxPads = attrs.ints('pads') ?? Array(2 * spatial).fill(0);
  const [inH, inW] = spatial === 1 ? [1, inputHw[0]] : [inputHw[0], inputHw[1]];
  let begin = spatial === 1 ? [0, onnxPads[0]] : [onnxPads[0], onnxPads[1]];
  let end = spatial === 1 ? [0, onnxPads[1]] : [onnxPads[2], onnxPads[3]];
  const autoPad = attrs.string('auto_pad', 'NOTSET');
  const input = [inH, inW];
  const extent = (d: number): number => (kernel[d] - 1) * dilations[d] + 1;
  if (autoPad === 'VALID') {
    begin = [0, 0];
    end = [0, 0];
  } else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const total = [0, 1].map((d) => Math.max(0, (Math.ceil(input[d] / strides[d]) - 1) * strides[d] + extent(d) - input[d]));
    begin = total.map((t) => (autoPad === 'SAME_UPPER' ? Math.floor(t / 2) : Math.ceil(t / 2)));
    end = total.map((t, d) => t - begin[d]);
  }
  if (ceilMode) {
    for (const d of [0, 1]) {
      const span = input[d] + begin[d] + end[d] - extent(d);
      let out = Math.ceil(span / strides[d]) + 1;
      // ONNX (and PyTorch) drop a last window that would start entirely in the end padding.
      if ((out - 1) * strides[d] >= input[d] + begin[d]) out--;
      end[d] += Math.max(0, (out - 1) * strides[d] + extent(d) - (input[d] + begin[d] + end[d]));
    }
  }
  return { kernel, strides, dilations, pad: [[0, 0], [begin[0], end[0]], [begin[1], end[1]], [0, 0]] };
}
