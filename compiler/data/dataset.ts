/**
 * What a data spec opens (compiler/data/spec.ts's openDataset): a slice of samples and its batches. Its own file so
 * that the readers of a data set (feeds.ts) need not import the spec parser that re-exports them.
 */
import type { HostTensor } from './tensor.js';

export type DataScheme = 'mnist' | 'imagenet' | 'images' | 'tensors' | 'sts' | 'text';

export interface Batch {
  /**
   * float32 [b, C, H, W] (or [b, H*W] for an MNIST [N, 784] layout); b is the batch size except for the last batch.
   * tensors: the first model input's tensor; batches may be smaller (see tensors.ts).
   */
  input: HostTensor;
  /** tensors only: every model input by name. */
  feeds?: Record<string, HostTensor>;
  /** Class index per sample, when the data set is labelled. */
  labels?: Int32Array;
  /** sts: the gold similarity of each pair; the feeds hold every pair's first sentence, then every second one. */
  scores?: Float32Array;
  /** Index of the batch's first sample within the slice (0-based; add `offset` for the index in the data set). */
  start: number;
}

export interface Dataset {
  scheme: DataScheme;
  /** Absolute directory. */
  dir: string;
  /** Samples in the selected slice. */
  size: number;
  /** Samples in the whole data set, before offset/limit. */
  total: number;
  offset: number;
  labelled: boolean;
  /** Class ids in label order where known (imagenet: wnids). */
  classes?: readonly string[];
  /** One line for logs: what was opened and which slice. */
  description: string;
  /** tensors only: the sample files and folders of the slice, in order. */
  samplePaths?: readonly string[];
  /** sts: and text: what a sample is: a scored sentence pair, or one sentence. */
  text?: 'pairs' | 'sentences';
  batches(batchSize: number): AsyncGenerator<Batch>;
}
