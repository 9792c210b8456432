import * as tf from '@tensorflow/tfjs-core';

/**
 * kl: Hinton et al.'s distillation loss on logits, T²·KL(softmax(t/T) ‖ softmax(s/T)) averaged over samples (the
 * last axis holds the classes). mse: squared error relative to the teacher's mean square, for raw outputs such
 * as detector maps.
 */
export type DistillLoss = 'kl' | 'mse';

export function distillationLoss(kind: DistillLoss, student: tf.Tensor, teacher: tf.Tensor, temperature: number): tf.Scalar {
  return tf.tidy(() => {
    if (kind === 'mse') return tf.div(tf.mean(tf.squaredDifference(student, teacher)), tf.add(tf.mean(tf.square(teacher)), 1e-12)) as tf.Scalar;
    const classes = teacher.shape[teacher.rank - 1];
    const t = tf.reshape(tf.div(teacher, temperature), [-1, classes]);
    const s = tf.reshape(tf.div(student, temperature), [-1, classes]);
    const logT = tf.logSoftmax(t);
    const kl = tf.sum(tf.mul(tf.exp(logT), tf.sub(logT, tf.logSoftmax(s))), 1);
    return tf.mul(tf.mean(kl), temperature * temperature) as tf.Scalar;
  });
}
