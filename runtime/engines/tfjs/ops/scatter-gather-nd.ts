import * as tf from '@tensorflow/tfjs-core';
import { sizeOf } from '../host-value.js';
import { dimsOf, KernelError, tensorValue, type OpContext, type OpKernel } from '../kernel.js';

/**
 * Indices input i (int64 in ONNX, int32 here) with negative entries counted from the end of the dims they index
 * (`dims`, one per entry of the last axis): ONNX allows them, tfjs's gatherND/tensorScatterUpdate do not.
 */
function wrappedIndices(ctx: OpContext, i: number, dims: readonly number[]): tf.Tensor {
  const idx = ctx.tensor(i);
  if (dims.length === 0 || idx.size === 0) return idx;
  return tf.where(tf.less(idx, 0), tf.add(idx, tf.tensor1d([...dims], 'int32')), idx);
}

/**
 * GatherND with batch_dims b: indices [...I, k] pick slices data[n…, i₁…i_k] → [...I, ...data.dims[b + k:]].
 * With b > 0 the batch coordinates are prepended to every index row, so one gatherND over data flattened to one
 * batch axis does it. k = 0 picks the whole (batch of the) data: a broadcast.
 */
export const gatherND: OpKernel = {
  run(ctx) {
    const b = ctx.attrs.int('batch_dims', 0);
    const data = dimsOf(ctx.value(0));
    const ind = dimsOf(ctx.value(1));
    const k = ind[ind.length - 1];
    if (ind.length < 1 || b >= ind.length || b + k > data.length || ind.slice(0, b).some((d, j) => d !== data[j])) {
      throw new KernelError(ctx.node, `indices [${ind}] do not fit data [${data}] with batch_dims ${b}`);
    }
    const batch = data.slice(0, b);
    const middle = ind.slice(b, -1);
    const rest = data.slice(b + k);
    const outDims = [...batch, ...middle, ...rest];
    const x = ctx.tensor(0);
    if (k === 0) return [tensorValue(tf.broadcastTo(tf.reshape(x, [...batch, ...middle.map(() => 1), ...data.slice(b)]), outDims))];
    let idx = wrappedIndices(ctx, 1, data.slice(b, b + k));
    if (sizeOf(outDims) === 0) return [tensorValue(tf.zeros(outDims, x.dtype))];
    if (b === 0) return [tensorValue(tf.gatherND(x, idx))];
    const n = sizeOf(batch);
    idx = tf.reshape(idx, [n, ...middle, k]);
    const batchIdx = tf.broadcastTo(tf.reshape(tf.range(0, n, 1, 'int32'), [n, ...middle.map(() => 1), 1]), [n, ...middle, 1]);
    const flat = tf.reshape(x, [n, ...data.slice(b)]);
    return [tensorValue(tf.reshape(tf.gatherND(flat, tf.concat([batchIdx, idx], -1)), outDims))];
  },
};

/**
 * ScatterND with reduction none: a copy of data with the slices at indices [...I, k] replaced by updates
 * [...I, ...data.dims[k:]] (tf.tensorScatterUpdate; ONNX leaves duplicate indices undefined). Writes into a
 * ConstantOfShape zeros or an Expand'ed fill are how TF exports tf.scatter_nd and SparseToDense. The add, mul,
 * max and min reductions are refused.
 */
export const scatterND: OpKernel = {
  check(_node, attrs) {
    const reduction = attrs.string('reduction', 'none');
    return reduction === 'none' ? undefined : `ScatterND with reduction ${reduction}`;
  },
  run(ctx) {
    const data = dimsOf(ctx.value(0));
    const ind = dimsOf(ctx.value(1));
    const upd = dimsOf(ctx.value(2));
    const k = ind[ind.length - 1];
    const m = sizeOf(ind.slice(0, -1));
    const slice = data.slice(k);
    if (ind.length < 1 || k > data.length || upd.length !== ind.length - 1 + slice.length || sizeOf(upd) !== m * sizeOf(slice)) {
      throw new KernelError(ctx.node, `updates [${upd}] and indices [${ind}] do not fit data [${data}]`);
    }
    const x = ctx.tensor(0);
    if (m === 0 || sizeOf(data) === 0) return [tensorValue(tf.clone(x))];
    const updates = tf.reshape(ctx.tensor(2), [m, ...slice]);
    // k = 0: every update is the whole tensor, the last one stays.
    if (k === 0) return [tensorValue(tf.reshape(tf.slice(updates, [m - 1, ...slice.map(() => 0)], [1, ...slice]), data))];
    const idx = tf.reshape(wrappedIndices(ctx, 1, data.slice(0, k)), [m, k]);
    return [tensorValue(tf.tensorScatterUpdate(x, idx, updates))];
  },
};
