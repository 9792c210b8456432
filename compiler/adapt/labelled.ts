import type { Dataset } from '../data/spec.js';
import { feedBatches } from '../data/feeds.js';
import type { ModelInput } from '../data/tensor-file.js';
import { DataSpecError } from '../data/errors.js';
import type { Feeds } from '../../runtime/tensor.js';

/** Model inputs with the class index of each sample in them (dim 0 of every input is the sample). */
export interface LabelledBatch {
  feeds: Feeds;
  labels: Int32Array;
}

/** A new pass over labelled samples each call (the trainer reads them once, into memory). */
export type LabelledSamples = () => AsyncIterable<LabelledBatch>;

/**
 * A labelled data set (mnist:, imagenet:) as model feeds with their labels: feedBatches binds the images to the
 * model's input, dataset.batches gives the labels of the same samples in the same order.
 */
export function labelledSamples(dataset: Dataset, inputs: ReadonlyArray<ModelInput>, batchSize = 64): LabelledSamples {
  if (!dataset.labelled) throw new DataSpecError(`${dataset.description}: has no labels; adapters train on labelled data (mnist:<dir> or imagenet:<dir>)`);
  // The batch size feedBatches uses (a fixed dim 0, one image for an input without batch dim), so labels line up.
  const first = inputs[0]?.shape[0];
  const size = inputs[0]?.shape.length === 3 ? 1 : typeof first === 'number' && first > 0 ? first : batchSize;
  return async function* () {
    const labels = dataset.batches(size);
    for await (const feeds of feedBatches(dataset, inputs, batchSize)) {
      const next = await labels.next();
      if (next.done || !next.value.labels) throw new DataSpecError(`${dataset.description}: ran out of labels before images`);
      yield { feeds, labels: next.value.labels };
    }
  };
}
