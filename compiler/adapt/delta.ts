import * as tf from '@tensorflow/tfjs-core';
import type { AdapterKind } from '../../formats/adapter-model.js';

/**
 * ΔW of one adapted layer in tfjs, differentiable (the training side of the adapter math; the runtime applies the
 * same formulas to stored factors). `factors` are in AdapterLayer.factors order and shapes (adapterFactorShapes):
 * - lora: s · up·down
 * - loha: s · (up1·down1) ⊙ (up2·down2)                 (Hadamard product)
 * - lokr: s · w1 ⊗ (up2·down2)                          (Kronecker product: block (i, j) is w1[i, j]·up2·down2)
 * with s = alpha / rank. The result is rows × cols (rows = outputs, cols = inputs).
 */
export function adapterDelta(kind: AdapterKind, factors: readonly tf.Tensor2D[], scale: number): tf.Tensor2D {
  return tf.tidy(() => {
    switch (kind) {
      case 'lora':
        return tf.mul(tf.matMul(factors[0], factors[1]), scale) as tf.Tensor2D;
      case 'loha':
        return tf.mul(tf.mul(tf.matMul(factors[0], factors[1]), tf.matMul(factors[2], factors[3])), scale) as tf.Tensor2D;
      case 'lokr':
        return tf.mul(kronecker(factors[0], tf.matMul(factors[1], factors[2])), scale) as tf.Tensor2D;
    }
  });
}

/**
 * a ⊗ b for matrices: [p, q] ⊗ [m, n] → [p·m, q·n], as a broadcast product [p, 1, q, 1] · [1, m, 1, n] reshaped
 * (only reshape and mul, whose gradients every tfjs backend has).
 */
export function kronecker(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const [p, q] = a.shape;
  const [m, n] = b.shape;
  return tf.reshape(tf.mul(tf.reshape(a, [p, 1, q, 1]), tf.reshape(b, [1, m, 1, n])), [p * m, q * n]);
}
