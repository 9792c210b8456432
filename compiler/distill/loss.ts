import * as tf from '@tensorflow/tfjs-core';

/**
 * kl: Hinton et al.'s distillation loss on logits, T²·KL(softmax(t/T) ‖ softmax(s/T)) averaged over samples (the
 * last axis holds the classes). mse: squared error relative to the teacher's mean square, for raw outputs such
 * as detector maps.
 */
export type DistillLoss = 'kl' | 'mse' | 'similarity';

export function distillationLoss(kind: DistillLoss, student: tf.Tensor, teacher: tf.Tensor, temperature: number): tf.Scalar {
  return tf.tidy(() => {
    if (kind === 'similarity') return similarityLoss(student, teacher);
    if (kind === 'mse') return tf.div(tf.mean(tf.squaredDifference(student, teacher)), tf.add(tf.mean(tf.square(teacher)), 1e-12)) as tf.Scalar;
    const classes = teacher.shape[teacher.rank - 1];
    const t = tf.reshape(tf.div(teacher, temperature), [-1, classes]);
    const s = tf.reshape(tf.div(student, temperature), [-1, classes]);
    const logT = tf.logSoftmax(t);
    const kl = tf.sum(tf.mul(tf.exp(logT), tf.sub(logT, tf.logSoftmax(s))), 1);
    return tf.mul(tf.mean(kl), temperature * temperature) as tf.Scalar;
  });
}

/**
 * similarity: for embeddings compared by their cosine (a sentence encoder), the squared difference between the
 * student's and the teacher's cosine-similarity matrices over the batch (relational distillation: Park et al.
 * 2019, Tung & Mori 2019). It asks for what STS measures, how pairs relate, not for the same vectors: on USE-lite,
 * the relative MSE of the embeddings fell further with more data while the STS Pearson of the 35% tier fell too.
 */
function similarityLoss(student: tf.Tensor, teacher: tf.Tensor): tf.Scalar {
  const dims = teacher.shape[teacher.rank - 1];
  const unit = (x: tf.Tensor): tf.Tensor2D => {
    const rows = tf.reshape(x, [-1, dims]) as tf.Tensor2D;
    return tf.div(rows, tf.add(tf.norm(rows, 'euclidean', 1, true), 1e-12));
  };
  const s = unit(student);
  const t = unit(teacher);
  return tf.mean(tf.squaredDifference(tf.matMul(s, s, false, true), tf.matMul(t, t, false, true))) as tf.Scalar;
}
