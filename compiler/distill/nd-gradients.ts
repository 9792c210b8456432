/**
 * Gradients tfjs-core does not ship, for the ops the tfjs interpreter uses to run transformers exported from
 * TensorFlow (USE-lite packs the real tokens with GatherND and writes them back with ScatterND, i.e.
 * tf.gatherND and tf.tensorScatterUpdate). Their indices are integers: only the float inputs get a gradient.
 */
import * as tf from '@tensorflow/tfjs-core';

let registered = false;

export function registerNdGradients(): void {
  if (registered) return;
  registered = true;
  // y = params[indices]: each picked slice's gradient goes back to where it came from (summed over repeats).
  tf.registerGradient({
    kernelName: tf.GatherNd,
    inputsToSave: ['params', 'indices'],
    gradFunc: (dy, saved) => {
      const [params, indices] = saved as [tf.Tensor, tf.Tensor];
      return { params: () => tf.scatterND(indices, dy as tf.Tensor, params.shape), indices: () => tf.zerosLike(indices) };
    },
  });
  // y = tensor with the slices at indices replaced by updates: those slices' gradient goes to updates, the rest to tensor.
  tf.registerGradient({
    kernelName: tf.TensorScatterUpdate,
    inputsToSave: ['tensor', 'indices'],
    gradFunc: (dy, saved) => {
      const [tensor, indices] = saved as [tf.Tensor, tf.Tensor];
      const g = dy as tf.Tensor;
      return {
        tensor: () => {
          const sliceShape = tensor.shape.slice(indices.shape[indices.shape.length - 1]!);
          const rows = indices.size / indices.shape[indices.shape.length - 1]!;
          return tf.mul(g, tf.tensorScatterUpdate(tf.onesLike(g), indices, tf.zeros([rows, ...sliceShape], g.dtype)));
        },
        indices: () => tf.zerosLike(indices),
        updates: () => tf.gatherND(g, indices),
      };
    },
  });
}
