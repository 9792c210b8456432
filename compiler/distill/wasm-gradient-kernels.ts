import * as tf from '@tensorflow/tfjs-core';

/**
 * Gradient kernels tfjs-backend-wasm (4.22) does not have, for backpropagating through the models distillation
 * trains: Conv2DBackpropFilter (a trained conv factor) and DepthwiseConv2dNativeBackpropInput (through a frozen
 * depthwise conv, e.g. MobileNet's). Written by hand on flat arrays: tfjs-backend-cpu's versions index through
 * TensorBuffer.get and took 3 s per call on mnist-cnn-pytorch's 5×5 conv; these loops run the same sums with the
 * output-channel loop innermost and contiguous. Tested against tfjs-backend-cpu (test/compiler/distill.test.ts).
 * Nothing distillation trains needs the other missing one, DepthwiseConv2dNativeBackpropFilter (depthwise convs
 * are never factored, so their filters stay constant).
 */
type Geometry = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

/**
 * Calls `visit` for every (output pixel, filter tap) pair whose input pixel is inside the image, with the flat
 * indices of the input pixel [n, ih, iw], the output pixel [n, oh, ow] and the tap [fh, fw]: the geometry both
 * kernels below share; each does its channel loops inside.
 */
function forEachTap(g: Geometry, visit: (inPixel: number, outPixel: number, tap: number) => void): void {
  const { batchSize: N, inHeight: H, inWidth: W, outHeight: OH, outWidth: OW, filterHeight: FH, filterWidth: FW, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = g;
  const { top, left } = g.padInfo;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let fh = 0; fh < FH; fh++) {
        const ih = oh * sh + fh * dh - top;
        if (ih < 0 || ih >= H) continue;
        for (let ow = 0; ow < OW; ow++) {
          for (let fw = 0; fw < FW; fw++) {
            const iw = ow * sw + fw * dw - left;
            if (iw < 0 || iw >= W) continue;
            visit((n * H + ih) * W + iw, (n * OH + oh) * OW + ow, fh * FW + fw);
          }
        }
      }
    }
  }
}

/** dW[fh, fw, ci, co] = Σ x[n, oh·s + fh − pad, ow·s + fw − pad, ci] · dy[n, oh, ow, co] (NHWC). */
export function conv2dBackpropFilter(x: Float32Array, dy: Float32Array, g: Geometry): Float32Array {
  const { inChannels: CI, outChannels: CO } = g;
  const dW = new Float32Array(g.filterHeight * g.filterWidth * CI * CO);
  forEachTap(g, (inPixel, outPixel, tap) => {
    const xBase = inPixel * CI;
    const dyBase = outPixel * CO;
    for (let ci = 0; ci < CI; ci++) {
      const xv = x[xBase + ci];
      if (xv === 0) continue; // after a ReLU, many are
      const wBase = (tap * CI + ci) * CO;
      for (let co = 0; co < CO; co++) dW[wBase + co] += xv * dy[dyBase + co];
    }
  });
  return dW;
}

/** dx[n, ih, iw, c] = Σ dy[n, oh, ow, c·M + m] · f[fh, fw, c, m] over the windows that read (ih, iw). */
export function depthwiseBackpropInput(dy: Float32Array, filter: Float32Array, g: Geometry): Float32Array {
  const C = g.inChannels;
  const M = g.outChannels / C;
  const dx = new Float32Array(g.batchSize * g.inHeight * g.inWidth * C);
  forEachTap(g, (inPixel, outPixel, tap) => {
    const dxBase = inPixel * C;
    const dyBase = outPixel * C * M;
    const fBase = tap * C * M;
    if (M === 1) {
      for (let c = 0; c < C; c++) dx[dxBase + c] += dy[dyBase + c] * filter[fBase + c];
    } else {
      for (let c = 0; c < C; c++) for (let m = 0; m < M; m++) dx[dxBase + c] += dy[dyBase + c * M + m] * filter[fBase + c * M + m];
    }
  });
  return dx;
}

interface ConvAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dilations?: [number, number] | number;
  dataFormat?: 'NHWC' | 'NCHW';
}

/**
 * tfjs-backend-wasm's BatchMatMul runs ~10× slower with a transpose flag than without (measured on a
 * 18816×192·192×192 product: 470 ms vs 48 ms), and the matMul gradients are products with one operand
 * transposed. Wrapped once per process: flagged operands are transposed first (a memory-bound copy), then the
 * fast path runs.
 */
function withExplicitTransposes(backendName: string): void {
  const original = tf.getKernel('BatchMatMul', backendName);
  const transpose = tf.getKernel('Transpose', backendName);
  if (!original || !transpose || (original.kernelFunc as { explicitTransposes?: boolean }).explicitTransposes) return;
  const kernelFunc: tf.KernelFunc = ({ inputs, attrs, backend }) => {
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return original.kernelFunc({ inputs, attrs, backend });
    const made: tf.TensorInfo[] = [];
    const flip = (t: tf.TensorInfo): tf.TensorInfo => {
      const perm = t.shape.map((_, i) => i);
      [perm[perm.length - 2], perm[perm.length - 1]] = [perm[perm.length - 1], perm[perm.length - 2]];
      const out = transpose.kernelFunc({ inputs: { x: t }, attrs: { perm }, backend }) as tf.TensorInfo;
      made.push(out);
      return out;
    };
    try {
      return original.kernelFunc({ inputs: { a: transposeA ? flip(a) : a, b: transposeB ? flip(b) : b }, attrs: { ...attrs, transposeA: false, transposeB: false }, backend });
    } finally {
      for (const t of made) (backend as tf.KernelBackend).disposeData(t.dataId);
    }
  };
  (kernelFunc as { explicitTransposes?: boolean }).explicitTransposes = true;
  tf.unregisterKernel('BatchMatMul', backendName);
  tf.registerKernel({ ...original, kernelFunc });
}

/** Registers a kernel computed on the host from its inputs' values, unless the backend has one. */
function registerHostKernel(kernelName: string, backendName: string, compute: (inputs: Record<string, { info: tf.TensorInfo; values: Float32Array }>, attrs: unknown) => { values: Float32Array; shape: number[] }): void {
  if (tf.getKernel(kernelName, backendName)) return;
  tf.registerKernel({
    kernelName,
    backendName,
    kernelFunc: ({ inputs, attrs, backend }) => {
      const b = backend as tf.KernelBackend;
      const read = Object.fromEntries(Object.entries(inputs as Record<string, tf.TensorInfo>).map(([k, info]) => [k, { info, values: b.readSync(info.dataId) as Float32Array }]));
      const { values, shape } = compute(read, attrs);
      return { dataId: b.write(values, shape, 'float32'), shape, dtype: 'float32' };
    },
  });
}

/**
 * out[s, …] = Σ over i with segmentIds[i] = s of x[i, …] (ids outside 0..numSegments−1 are dropped, as in tfjs):
 * the gradient of Gather (YOLO-FastestV2's heads gather along an axis).
 */
export function unsortedSegmentSum(x: Float32Array, ids: ArrayLike<number>, inner: number, numSegments: number): Float32Array {
  const out = new Float32Array(numSegments * inner);
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    for (let j = 0; j < inner; j++) out[s * inner + j] += x[i * inner + j];
  }
  return out;
}

/** Registers the kernels above for `backendName` where it has none, and the fast BatchMatMul wrapper. */
export function registerGradientKernels(backendName: string): void {
  withExplicitTransposes(backendName);
  registerHostKernel('UnsortedSegmentSum', backendName, ({ x, segmentIds }, attrs) => {
    if (x.info.dtype !== 'float32') throw new Error(`UnsortedSegmentSum: only float32, got ${x.info.dtype}`);
    const { numSegments } = attrs as { numSegments: number };
    const rest = x.info.shape.slice(segmentIds.info.shape.length);
    const inner = rest.reduce((a, b) => a * b, 1);
    // segmentIds is int32 (read back as an Int32Array); only its numbers are read.
    return { values: unsortedSegmentSum(x.values, segmentIds.values, inner, numSegments), shape: [numSegments, ...rest] };
  });
  registerHostKernel('Conv2DBackpropFilter', backendName, ({ x, dy }, attrs) => {
    const a = attrs as ConvAttrs & { filterShape: [number, number, number, number] };
    if (a.dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter: only NHWC');
    const g = tf.backend_util.computeConv2DInfo(x.info.shape as [number, number, number, number], a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode);
    return { values: conv2dBackpropFilter(x.values, dy.values, g), shape: a.filterShape };
  });
  registerHostKernel('DepthwiseConv2dNativeBackpropInput', backendName, ({ dy, filter }, attrs) => {
    const a = attrs as ConvAttrs & { inputShape: [number, number, number, number] };
    const g = tf.backend_util.computeConv2DInfo(a.inputShape, filter.info.shape as [number, number, number, number], a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, true);
    return { values: depthwiseBackpropInput(dy.values, filter.values, g), shape: a.inputShape };
  });
}
