import * as tf from '@tensorflow/tfjs-core';
import { AdamOptimizer } from '@tensorflow/tfjs-core';

/**
 * Adam with a learning rate that follows a cosine from `peak` at step 0 to 0 at the last step (Loshchilov & Hutter,
 * SGDR, without restarts). Measured on the inverted-digit task (issue 17): the last points of accuracy come from
 * the small steps at the end, which a constant rate never takes. tfjs's AdamOptimizer reads its rate on every
 * update, so a subclass can move it between steps and keep the moments.
 */
export class CosineAdam extends AdamOptimizer {
  constructor(
    private readonly peak: number,
    private readonly steps: number,
  ) {
    super(peak, 0.9, 0.999);
  }

  /** The rate for step `step` (0-based) of `steps`. */
  static rate(peak: number, step: number, steps: number): number {
    return steps <= 1 ? peak : 0.5 * peak * (1 + Math.cos((Math.PI * step) / steps));
  }

  /** Sets the rate for the coming step. */
  at(step: number): void {
    this.learningRate = CosineAdam.rate(this.peak, step, this.steps);
  }

  /** Step `step` (0-based) on `loss`, at that step's rate; returns the loss. */
  takeStep(step: number, variables: tf.Variable[], loss: () => tf.Scalar): number {
    // variableGrads runs the loss in its own tidy scope and hands back only the loss and the gradients.
    const { value, grads } = tf.variableGrads(loss, variables);
    this.at(step);
    this.applyGradients(grads as Parameters<AdamOptimizer['applyGradients']>[0]);
    const result = value.dataSync()[0];
    tf.dispose([value, ...Object.values(grads)]);
    return result;
  }
}
