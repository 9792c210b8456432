import * as tf from '@tensorflow/tfjs-core';

/**
 * A copy of the trained variables from the step whose held-out score (lower is better) was the best so far, with
 * that measurement. It starts at step 0 with the variables as they are: training that never beats its starting
 * point keeps it.
 */
export class BestCheckpoint<Measured> {
  step = 0;
  values: tf.Tensor[];

  constructor(
    private readonly variables: readonly tf.Variable[],
    public measured: Measured,
    public score: number,
  ) {
    this.values = this.snapshot();
  }

  /** Copies the variables if `score`, measured at `step`, beats the best so far (a NaN never does); says whether it did. */
  offer(step: number, measured: Measured, score: number): boolean {
    if (!(score < this.score)) return false;
    this.dispose();
    this.step = step;
    this.measured = measured;
    this.score = score;
    this.values = this.snapshot();
    return true;
  }

  dispose(): void {
    for (const t of this.values) t.dispose();
  }

  private snapshot(): tf.Tensor[] {
    return this.variables.map((v) => tf.keep(v.clone()));
  }
}
