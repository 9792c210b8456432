/**
 * Any Dataset as a stream of named model inputs (feeds dicts), the form calibration and sessions take.
 *  - mnist:, imagenet:, images: bind their tensor to the model's single input. A fixed dim 0 sets the batch
 *    size (mnist-8 takes [1, 1, 28, 28]); an input without batch dim ([C, H, W]) gets one image per run.
 *  - sts:, text: the sentences' sparse batch (see text.ts); an sts: batch of b pairs is 2b sentences.
 *  - tensors: reads every sample for the model's inputs and concatenates along dim 0 where the model has a
 *    symbolic batch dim (see tensors.ts).
 */
import { DataSpecError } from './errors.js';
import type { Dataset } from './dataset.js';
import type { ModelInput } from './tensor-file.js';
import type { HostTensor } from './tensor.js';
import { tensorBatches } from './tensors.js';

export async function* feedBatches(
  dataset: Dataset,
  inputs: ReadonlyArray<ModelInput>,
  batchSize: number,
): AsyncGenerator<Record<string, HostTensor>> {
  if (dataset.scheme === 'tensors') {
    for await (const b of tensorBatches(dataset.samplePaths ?? [], inputs, batchSize)) yield b.feeds;
    return;
  }
  if (dataset.text) {
    for await (const b of dataset.batches(batchSize)) yield b.feeds!;
    return;
  }
  if (inputs.length !== 1) {
    throw new DataSpecError(
      `${dataset.scheme}: data feeds a single-input model, this one has ${inputs.length} (${inputs.map((i) => i.name).join(', ')}); use tensors:<dir>`,
    );
  }
  const input = inputs[0]!;
  const first = input.shape[0];
  const unbatched = input.shape.length === 3; // [C, H, W]
  const size = unbatched ? 1 : typeof first === 'number' && first > 0 ? first : batchSize;
  for await (const batch of dataset.batches(size)) {
    const t = batch.input;
    yield { [input.name]: unbatched ? { ...t, dims: t.dims.slice(1) } : t };
  }
}
