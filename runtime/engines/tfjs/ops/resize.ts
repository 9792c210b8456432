import * as tf from '@tensorflow/tfjs-core';
import type { Attributes } from '../attributes.js';
import { KernelError, tensorValue, type OpKernel } from '../kernel.js';

interface ResizeMode {
  linear: boolean;
  alignCorners: boolean;
  halfPixelCenters: boolean;
}

/**
 * The ONNX Resize variants that tfjs's resizeBilinear / resizeNearestNeighbor compute exactly; anything else
 * (cubic, tf_crop_and_resize, other nearest roundings, antialias) is refused before the model runs.
 */
function modeOf(attrs: Attributes, opset: number): ResizeMode | string {
  const mode = attrs.string('mode', 'nearest');
  // Opset 10's Resize has no coordinate attribute: it is "asymmetric".
  const coords = opset < 11 ? 'asymmetric' : attrs.string('coordinate_transformation_mode', 'half_pixel');
  const nearestMode = attrs.string('nearest_mode', 'round_prefer_floor');
  if (attrs.int('antialias', 0) !== 0) return 'Resize with antialias';
  if (mode === 'linear') {
    if (coords === 'half_pixel' || coords === 'pytorch_half_pixel') return { linear: true, alignCorners: false, halfPixelCenters: true };
    if (coords === 'align_corners') return { linear: true, alignCorners: true, halfPixelCenters: false };
    if (coords === 'asymmetric') return { linear: true, alignCorners: false, halfPixelCenters: false };
    return `linear Resize with coordinate_transformation_mode ${coords}`;
  }
  if (mode === 'nearest') {
    if (coords === 'asymmetric' && (nearestMode === 'floor' || opset < 11)) return { linear: false, alignCorners: false, halfPixelCenters: false };
    return `nearest Resize with ${coords} coordinates and nearest_mode ${nearestMode} (only asymmetric + floor)`;
  }
  return `Resize mode ${mode}`;
}

/** Resize / Upsample of the two spatial dims of an NCHW tensor (N and C must keep their size), NHWC inside. */
export const resize: OpKernel = {
  hostInputs: [1, 2, 3],
  check(_node, attrs, opset) {
    const m = modeOf(attrs, opset);
    return typeof m === 'string' ? m : undefined;
  },
  run(ctx) {
    const m = modeOf(ctx.attrs, ctx.opset) as ResizeMode;
    const x = ctx.nhwc(0) as tf.Tensor4D;
    const [n, h, w, c] = x.shape;
    // Opset 10 and Upsample: (X, scales). Opset 11+: (X, roi, scales, sizes), unused ones empty.
    const scalesAt = ctx.opset < 11 ? 1 : 2;
    const sizes = ctx.opset >= 11 && ctx.has(3) ? ctx.hostNumbers(3) : [];
    const scales = ctx.has(scalesAt) ? ctx.hostNumbers(scalesAt) : [];
    let outHw: [number, number];
    if (sizes.length === 4) {
      if (sizes[0] !== n || sizes[1] !== c) throw new KernelError(ctx.node, `resizes batch or channels (sizes [${sizes}]); only H and W can change`);
      outHw = [sizes[2], sizes[3]];
    } else if (scales.length === 4) {
      if (scales[0] !== 1 || scales[1] !== 1) throw new KernelError(ctx.node, `scales batch or channels ([${scales}]); only H and W can change`);
      outHw = [Math.floor(h * scales[2]), Math.floor(w * scales[3])];
    } else {
      throw new KernelError(ctx.node, 'needs 4 sizes or 4 scales');
    }
    const y = m.linear
      ? tf.image.resizeBilinear(x, outHw, m.alignCorners, m.halfPixelCenters)
      : tf.image.resizeNearestNeighbor(x, outHw, m.alignCorners, m.halfPixelCenters);
    return [tensorValue(y, 'nhwc')];
  },
};
