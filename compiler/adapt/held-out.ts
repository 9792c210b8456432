import * as tf from '@tensorflow/tfjs-core';
import { crossEntropy } from './loss.js';
import type { TierGraphs } from './tier-graphs.js';
import type { TrainableFactors } from './trainable-factors.js';
import { labelsOf, type Unit } from './units.js';

/** Held-out cross-entropy and top-1 accuracy (%) per trained tier. */
export interface Measured {
  loss: number[];
  accuracy: number[];
}

/** The held-out samples' loss and accuracy at every tier with the factors as they are now. */
export function measureHeldOut(graphs: TierGraphs, factors: TrainableFactors, validation: readonly Unit[]): Measured {
  const loss = graphs.tiers.map(() => 0);
  const correct = graphs.tiers.map(() => 0);
  // In chunks, each in its own tidy scope: the activations of a chunk are freed before the next runs.
  for (let start = 0; start < validation.length; start += 256) {
    const chunk = validation.slice(start, start + 256);
    const labels = labelsOf(chunk);
    tf.tidy(() => {
      graphs.tiers.forEach((t, k) => {
        const scores = graphs.scores(t, chunk, factors.feeds(t.base));
        loss[k] += crossEntropy(scores, labels, graphs.output).dataSync()[0] * chunk.length;
        const predicted = tf.argMax(scores, 1).dataSync();
        for (let j = 0; j < chunk.length; j++) if (predicted[j] === labels[j]) correct[k]++;
      });
    });
  }
  return { loss: loss.map((l) => l / validation.length), accuracy: correct.map((c) => (100 * c) / validation.length) };
}

/** What the best checkpoint minimises: the held-out loss averaged over the trained tiers. */
export function meanLoss(measured: Measured): number {
  return measured.loss.reduce((a, b) => a + b, 0) / measured.loss.length;
}
