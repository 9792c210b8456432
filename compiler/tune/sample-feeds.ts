import type { ModelHeader } from '../../formats/model.js';
import type { Feeds } from '../../runtime/tensor.js';
import { allocTensor, hostDataTypeFromOnnx } from '../data/tensor.js';

/**
 * One sample for timing when no calibration data is given: every graph input with symbolic dims set to 1,
 * float inputs filled with a fixed pseudo-random pattern in [0, 1) (ORT's CPU kernels take the same time
 * for any finite values; a fixed pattern keeps runs comparable), other types zero.
 */
export function syntheticFeeds(header: ModelHeader): Feeds {
  const feeds: Feeds = {};
  for (const input of header.graph.inputs) {
    const dims = input.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    const t = allocTensor(hostDataTypeFromOnnx(input.dataType), dims);
    if (t.data instanceof Float32Array || t.data instanceof Float64Array) {
      let state = 12345;
      for (let i = 0; i < t.data.length; i++) {
        state = (state * 1103515245 + 12345) >>> 0;
        t.data[i] = state / 2 ** 32;
      }
    }
    feeds[input.name] = t;
  }
  return feeds;
}
