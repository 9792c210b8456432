/** The compiler's feeds as onnxruntime-node tensors (the same buffers, no copy): what every compiler session runs on. */
import * as ort from 'onnxruntime-node';
import type { Feeds } from '../runtime/tensor.js';

export function toOrtFeeds(feeds: Feeds): Record<string, ort.Tensor> {
  return Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, new ort.Tensor(t.dataType, t.data as never, t.dims)]));
}
