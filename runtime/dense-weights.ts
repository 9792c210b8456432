/**
 * The bytes an engine gets for a dense (not factored) weight: as stored, or, for weights format v2 stores as
 * fp16, per-channel int8 or grouped int4, dequantised to float32 at load (what every engine runs; see build-model.ts for why
 * dequantising in JS beats DequantizeLinear nodes on these engines).
 */
import { decodeHalf } from '../formats/float16.js';
import { dequantizeInt4, type Grouping } from '../formats/int4.js';
import { dequantizeInt8, int8View } from '../formats/int8.js';
import { groupedBits, type DenseTensor, type TierBits } from '../formats/model.js';
import { groupedPlanes, transposeF32 } from './factors.js';
import type { PayloadBytes } from './payload-view.js';

/**
 * `bits`: the tier being built runs at 8 bits, so an int4 (or int3) weight is read with its low plane, or at 4 or
 * 8 bits, so an int3 weight is read with its mid plane where the file has one (formats/int4.ts).
 */
export function denseTensorBytes(t: DenseTensor, payload: PayloadBytes, grouping?: Grouping, tierBits?: TierBits): Uint8Array {
  const raw = payload.subarray(t.range.offset, t.range.offset + t.range.length);
  const bits = groupedBits(t.storage);
  if (bits !== undefined) {
    // Stored as rows of channels (formats/int4.ts): [dims0, rest], or the transpose of a 2-D weight (axis 1).
    const channels = t.dims[t.scaleAxis ?? 0] ?? 1;
    const rest = t.dims.reduce((a, b) => a * b, 1) / Math.max(channels, 1);
    const planes = groupedPlanes(t.name, bits, tierBits, { low: t.low, mid: t.mid }, payload);
    const m = dequantizeInt4(raw, channels, rest, grouping ?? 0, planes.low, bits, planes.mid);
    return new Uint8Array((t.scaleAxis === 1 ? transposeF32(m, channels, rest) : m).buffer);
  }
  if (t.storage === 'fp16') return new Uint8Array(decodeHalf(raw).buffer);
  if (t.storage === 'int8') {
    // Channels are the rows (axis 0) of [dims0, rest], or the columns of a 2-D weight (axis 1).
    const rows = t.dims[0] ?? 1;
    const cols = t.dims.slice(1).reduce((a, b) => a * b, 1);
    return new Uint8Array(dequantizeInt8(int8View(raw), rows, cols, t.scales ?? [], t.scaleAxis === 1 ? 1 : 0).buffer);
  }
  return raw;
}

