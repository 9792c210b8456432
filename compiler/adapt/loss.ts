import * as tf from '@tensorflow/tfjs-core';
import { CompileOptionError } from '../errors.js';

/** Mean cross-entropy of `scores` (samples × classes) against `labels`; `output` names the scores for the error. */
export function crossEntropy(scores: tf.Tensor2D, labels: Int32Array, output: string): tf.Scalar {
  const classes = scores.shape[1];
  const bad = labels.find((l) => l < 0 || l >= classes);
  if (bad !== undefined) throw new CompileOptionError(`label ${bad} is not a class of the model's output "${output}" (${classes} scores); train on data labelled for this model`, 'adapter-data');
  return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(tf.tensor1d(labels, 'int32'), classes), tf.logSoftmax(scores)), 1))) as tf.Scalar;
}
