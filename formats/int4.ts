/**
 * Grouped symmetric int4 storage (format version 3): the layout both the compiler (which quantises, see
 * compiler/quantize-int4.ts) and the runtime (which dequantises at load) must agree on.
 *
 * A stored matrix is `rows` rows of `length` values; each row is cut into groups of `groupSize` consecutive values
 * (the last group of a row may be shorter: a group size that does not divide the row is allowed) and each group
 * has one scale: value = q·scale, q in [-7, 7] (no zero point, -8 never written, so negation is exact).
 * Bytes: first every row's values packed two per byte (value 2k in the low nibble, 2k+1 in the high one, two's
 * complement; a row of odd length ends in half a byte, so each row starts on a byte), then every row's group
 * scales as little-endian IEEE half floats, row by row. The scales live in the payload beside their values, not in
 * the header as int8 scales do: at 32 values per group they are an eighth of the packed bytes and grow with them,
 * and the header is what every device reads before anything else.
 * Which axis a matrix's rows are (components of a factor, output channels of a dense weight) is said where it is
 * stored (formats/model.ts); groups always run along the values that one row multiplies (its inputs).
 *
 * Low plane (format version 4, nested precision): a second int4 matrix of the same shape, packed the same way
 * but with no scales, that refines each value by l/LOW_PLANE_STEPS of its group's scale: value = (q + l/8)·scale,
 * l in [-8, 7]. The int4 matrix alone is what 4-bit tiers run; with its low plane an 8-bit tier runs on a grid 8×
 * finer (the residual of the error-compensated int4 rounding is within ±1 scale for all but a few values, so
 * steps of scale/8 cover it). It lies in another section than the int4 values, so a device at a 4-bit tier never
 * downloads it, and an upgrade to 8 bits fetches only the low planes.
 *
 * Int3 (format version 5): the same layout at 3 bits a value, q in [-3, 3] (-4 never written): each row's values
 * as one little-endian bit stream (value k in bits 3k..3k+2 of the row, bit b in bit b&7 of byte b>>3), each row
 * starting on a byte; then the half-float group scales as above. Its low plane is an int4 one's, same packing and
 * steps: value = (q + l/8)·scale. A file's group size is shared by its int4 and int3 matrices.
 *
 * Mid plane (format version 6, nested 3 → 4 bits): one bit m a value of an int3 matrix, each row's bits as a
 * little-endian bit stream starting on a byte (bit k&7 of byte k>>3), no scales: value = (q + (2m − 1)/4)·scale.
 * The int3 grid q·scale and the mid grid (q ± ¼)·scale nest: rounding to nearest on the 14-level grid of step
 * scale/2 picks q ± ¼ with q = the int3 value rounded to nearest, so an int3 matrix and one bit a value is as
 * fine as int4 with scale/2 steps (the int3 scale is about max/3, so scale/2 ≈ max/6 against int4's max/7).
 * A 4-bit tier (Tier.bits 4) reads it; its section is the first 4-bit tier's, so a device at a 3-bit tier never
 * downloads it. With its mid plane, an int3 matrix's low plane counts in sixteenths of its scale (the residual
 * after the mid plane is half as wide): value = (q + (2m − 1)/4 + l/16)·scale.
 *
 * Scale codes (format version 7, ModelHeader.int4ScaleCodes): instead of a half float per group, each row has one
 * half-float row scale R and each group one byte c: scale = R·2^(−c/SCALE_CODE_STEPS), rounded to float32 (codedScale).
 * Bytes after the packed rows: every row's R (little-endian half floats), then every row's group codes, row by
 * row. Steps of 2^(1/32) (2.2%) are finer than the compiler's clip search (5%): on mnist-cnn's conv2 the output
 * error moved by −8% to +4% across int4, int3 and nested int3 (test/compiler/int4.test.ts), while a scale costs 8
 * bits instead of 16: at 32 values a group, int3 goes from 3.5 to about 3.25 bits a value, int4 from 4.5 to 4.25.
 * Codes reach 8 octaves below R; a smaller group scale is stored as R·2^-7.97 (its values were rounded with it).
 */
import { decodeHalf } from './float16.js';

/**
 * How a file's grouped matrices are cut and scaled: values per group and (format version 7) whether scales are
 * codes under a row scale. A bare number is a group size with half-float scales (format versions 3 to 6).
 */
export type Grouping = number | GroupLayout;

/** Values per scale group, and (format version 7) whether the scales are codes under a row scale. */
export interface GroupLayout {
  size: number;
  scaleCodes?: boolean;
}

/** The group size and scale storage of a Grouping. */
export function groupingOf(grouping: Grouping): { size: number; scaleCodes: boolean } {
  return typeof grouping === 'number' ? { size: grouping, scaleCodes: false } : { size: grouping.size, scaleCodes: grouping.scaleCodes ?? false };
}

/** Codes per octave of scale codes: scale = R·2^(−c/SCALE_CODE_STEPS), c in [0, 255]. */
export const SCALE_CODE_STEPS = 32;

/** 2^(−c/SCALE_CODE_STEPS) for every code, in float32, so compiler and runtime multiply by the same numbers. */
const CODE_FACTORS = Float32Array.from({ length: 256 }, (_, c) => 2 ** (-c / SCALE_CODE_STEPS));

/** The scale that code c stands for under row scale R (format version 7). */
export function codedScale(rowScale: number, code: number): number {
  return Math.fround(rowScale * CODE_FACTORS[code]);
}

/** Largest stored magnitude. */
export const INT4_LIMIT = 7;

/** Bits a grouped value takes: 4 (int4), or 3 (int3, format version 5). */
export type GroupedBits = 3 | 4;

/** Largest stored magnitude at `bits` bits: 7 for int4, 3 for int3. */
export function groupedLimit(bits: GroupedBits): number {
  return bits === 3 ? 3 : INT4_LIMIT;
}

/** Packed bytes of one row of `length` values (int4, or int3 at `bits` 3). */
export function int4RowBytes(length: number, bits: GroupedBits = 4): number {
  return Math.ceil((length * bits) / 8);
}

/** Groups in one row of `length` values. */
export function int4Groups(length: number, groupSize: number): number {
  return Math.ceil(length / groupSize);
}

/** Bytes of a rows×length int4 (or int3) matrix with its scales, or NaN when a size is not a non-negative integer. */
export function int4Bytes(rows: number, length: number, grouping: Grouping, bits: GroupedBits = 4): number {
  const { size, scaleCodes } = groupingOf(grouping);
  if (![rows, length].every((v) => Number.isSafeInteger(v) && v >= 0) || !(Number.isSafeInteger(size) && size >= 1)) return NaN;
  return rows * int4RowBytes(length, bits) + groupScaleBytes(rows, int4Groups(length, size), scaleCodes);
}

/** Bytes of the scales of `rows` rows of `groups` groups: a half float each, or with codes a half float a row and a byte a group. */
function groupScaleBytes(rows: number, groups: number, scaleCodes: boolean): number {
  return scaleCodes ? rows * 2 + rows * groups : rows * groups * 2;
}

/** The group scales of a stored rows×length matrix (its bytes after the packed rows), row by row, in float32. */
export function groupScales(stored: Uint8Array, rows: number, length: number, grouping: Grouping, bits: GroupedBits = 4): Float32Array {
  const { size, scaleCodes } = groupingOf(grouping);
  const tail = stored.subarray(rows * int4RowBytes(length, bits));
  if (!scaleCodes) return decodeHalf(tail);
  const groups = int4Groups(length, size);
  const rowScales = decodeHalf(tail.subarray(0, rows * 2));
  const codes = tail.subarray(rows * 2);
  // A plain loop: Float32Array.from with a callback took a quarter of MobileNet's dequantising.
  const out = new Float32Array(rows * groups);
  for (let r = 0, i = 0; r < rows; r++) {
    const R = rowScales[r];
    for (let g = 0; g < groups; g++, i++) out[i] = R * CODE_FACTORS[codes[i]];
  }
  return out;
}

/** Steps of one group scale that the low plane's values count in: value = (q + l / LOW_PLANE_STEPS)·scale. */
export const LOW_PLANE_STEPS = 8;

/** Bytes of the mid plane of a rows×length int3 matrix: one bit a value, each row on a byte boundary. */
export function midPlaneBytes(rows: number, length: number): number {
  return rows * Math.ceil(length / 8);
}

/** Bytes of the low plane of a rows×length int4 matrix (packed values, no scales). */
export function int4LowPlaneBytes(rows: number, length: number): number {
  return rows * int4RowBytes(length);
}

/** Signed value of each byte's low and high nibble: one table lookup per value instead of shifts and a branch. */
const LOW = Int8Array.from({ length: 256 }, (_, b) => ((b & 15) ^ 8) - 8);
const HIGH = Int8Array.from({ length: 256 }, (_, b) => ((b >> 4) ^ 8) - 8);

/**
 * Dequantise a stored rows×length int4 matrix (bytes as laid out above) to float32, row-major; with its low plane
 * (8-bit tiers), each value refined by it; an int3 one (`bits` 3) with its mid plane (4-bit tiers) too.
 */
export function dequantizeInt4(bytes: Uint8Array, rows: number, length: number, grouping: Grouping, low?: Uint8Array, bits: GroupedBits = 4, mid?: Uint8Array): Float32Array {
  const expected = int4Bytes(rows, length, grouping, bits);
  const groupSize = groupingOf(grouping).size;
  if (bytes.length !== expected) throw new RangeError(`expected ${expected} bytes for ${rows}×${length} int${bits} values in groups of ${groupSize}, got ${bytes.length}`);
  const rowBytes = int4RowBytes(length, bits);
  const groups = int4Groups(length, groupSize);
  const scales = groupScales(bytes, rows, length, grouping, bits);
  if (bits === 3) return dequantizeInt3(bytes, { low, mid }, rows, length, groupSize, scales);
  if (mid) throw new RangeError('only int3 matrices have a mid plane');
  if (low) return withLowPlane(bytes, low, rows, length, groupSize, scales);
  if (groupSize % 2 === 0 && length % 2 === 0) return pairedInt4(bytes, rows, length, groupSize, scales);
  const out = new Float32Array(rows * length);
  for (let r = 0; r < rows; r++) {
    const [packed, at] = [r * rowBytes, r * length];
    for (let g = 0; g < groups; g++) {
      const s = scales[r * groups + g];
      const end = Math.min(length, (g + 1) * groupSize);
      let k = g * groupSize;
      if (k & 1) out[at + k] = HIGH[bytes[packed + (k++ >> 1)]] * s; // an odd group size starts mid-byte
      for (; k + 1 < end; k += 2) {
        const b = bytes[packed + (k >> 1)];
        out[at + k] = LOW[b] * s;
        out[at + k + 1] = HIGH[b] * s;
      }
      if (k < end) out[at + k] = LOW[bytes[packed + (k >> 1)]] * s;
    }
  }
  return out;
}

/** Signed nibble values as float32, so the product below is the one dequantizeInt4's general loop computes. */
const LOW_F = Float32Array.from(LOW);
const HIGH_F = Float32Array.from(HIGH);

/**
 * dequantizeInt4 when every group starts on a byte (even group size and row length): one straight pass over the
 * bytes, two values a byte, about twice as fast as the general loop.
 */
function pairedInt4(bytes: Uint8Array, rows: number, length: number, groupSize: number, scales: Float32Array): Float32Array {
  const out = new Float32Array(rows * length);
  let [p, o, g] = [0, 0, 0];
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < length; k += groupSize) {
      const s = scales[g++];
      for (let pairs = Math.min(groupSize, length - k) >> 1; pairs > 0; pairs--) {
        const b = bytes[p++];
        out[o++] = LOW_F[b] * s;
        out[o++] = HIGH_F[b] * s;
      }
    }
  }
  return out;
}

/**
 * q + l/LOW_PLANE_STEPS for a value's nibble q (bits 4..7) and its low-plane nibble l (bits 0..3): exact sums, so the
 * same values as adding two tables' entries per value, with one lookup (a 256-entry table, not 64K entries).
 */
const NIBBLE_LOW = Float64Array.from({ length: 256 }, (_, i) => LOW[i >> 4] + LOW[i & 15] / LOW_PLANE_STEPS);

/** (q + l/LOW_PLANE_STEPS)·scale for every value, group by group as dequantizeInt4 walks them. */
function withLowPlane(bytes: Uint8Array, low: Uint8Array, rows: number, length: number, groupSize: number, scales: Float32Array): Float32Array {
  const rowBytes = int4RowBytes(length);
  if (low.length !== rows * rowBytes) throw new RangeError(`expected ${rows * rowBytes} low-plane bytes for ${rows}×${length} int4 values, got ${low.length}`);
  const groups = int4Groups(length, groupSize);
  const out = new Float32Array(rows * length);
  if (groupSize % 2 === 0 && length % 2 === 0) {
    // As pairedInt4, in a loop of its own: a plane test per value there made plain int4 about 20% slower (measured).
    // Plain lets, not `let [p, o, g] = [0, 0, 0]`: the destructured counters ran about 5% slower (one-off timing).
    let p = 0, o = 0, g = 0;
    for (let r = 0; r < rows; r++) {
      for (let k = 0; k < length; k += groupSize) {
        const s = scales[g++];
        for (let pairs = Math.min(groupSize, length - k) >> 1; pairs > 0; pairs--, p++) {
          const b = bytes[p];
          const l = low[p];
          out[o++] = NIBBLE_LOW[((b & 15) << 4) | (l & 15)] * s;
          out[o++] = NIBBLE_LOW[(b & 0xf0) | (l >> 4)] * s;
        }
      }
    }
    return out;
  }
  for (let r = 0; r < rows; r++) {
    const packed = r * rowBytes, at = r * length;
    for (let g = 0; g < groups; g++) {
      const s = scales[r * groups + g];
      const end = Math.min(length, (g + 1) * groupSize);
      for (let k = g * groupSize; k < end; k++) {
        const i = packed + (k >> 1);
        const b = bytes[i], l = low[i];
        out[at + k] = NIBBLE_LOW[k & 1 ? (b & 0xf0) | (l >> 4) : ((b & 15) << 4) | (l & 15)] * s;
      }
    }
  }
  return out;
}

/** Signed value of each 3-bit code. */
const INT3 = Float64Array.from({ length: 8 }, (_, v) => (v ^ 4) - 4);
/** midLevel of each 3-bit code (bits 1..3) and mid bit (bit 0). */
const INT3_MID = Float64Array.from({ length: 16 }, (_, i) => midLevel(INT3[i >> 1], i & 1));

/**
 * The levels of a packed int3 row starting at byte `at` (the layout above), into `out`: its signed values, or with
 * its mid plane (the row's bytes from `midAt`) their midLevel.
 */
function int3RowLevels(bytes: Uint8Array, at: number, length: number, out: Float64Array, mid?: Uint8Array, midAt = 0): void {
  let k = 0;
  // Eight values in every three bytes and one mid-plane byte: one 24-bit word each, no straddling to test.
  for (let i = at; k + 8 <= length; i += 3) {
    const word = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16);
    if (mid) {
      const m = mid[midAt + (k >> 3)];
      for (let j = 0; j < 8; j++) out[k++] = INT3_MID[(((word >> (3 * j)) & 7) << 1) | ((m >> j) & 1)];
    } else {
      for (let j = 0; j < 8; j++) out[k++] = INT3[(word >> (3 * j)) & 7];
    }
  }
  for (; k < length; k++) {
    const bit = 3 * k;
    const i = at + (bit >> 3);
    // A value at bit offset 6 or 7 of its byte straddles into the next one (always within the row).
    const v = ((bytes[i] | ((bit & 7) > 5 ? bytes[i + 1] << 8 : 0)) >> (bit & 7)) & 7;
    out[k] = mid ? INT3_MID[(v << 1) | ((mid[midAt + (k >> 3)] >> (k & 7)) & 1)] : INT3[v];
  }
}

/** The level (in scales) of int3 value q with mid-plane bit `bit`: q + ¼ for 1, q − ¼ for 0 (a grid of step ½). */
export function midLevel(q: number, bit: number): number {
  return q + (bit ? 0.25 : -0.25);
}

/**
 * midLevel plus the low plane's nibble in sixteenths, for code (bits 5..7), mid bit (bit 4) and nibble (bits 0..3): the
 * same float64 sums as adding the two tables' values per value, one lookup instead of two (8-bit tiers of int3 files).
 */
const MID_LOW = Float64Array.from({ length: 256 }, (_, i) => INT3_MID[i >> 4] + LOW[i & 15] / (2 * LOW_PLANE_STEPS));

/** Each mid-plane byte's bit j moved to bit 3j, beside value j's code in a 24-bit word. */
const MID_SPREAD = Int32Array.from({ length: 256 }, (_, b) => {
  let spread = 0;
  for (let j = 0; j < 8; j++) spread |= ((b >> j) & 1) << (3 * j);
  return spread;
});

/**
 * wordsInt3 with a mid plane (4-bit tiers, and with the low plane in sixteenths 8-bit tiers): the common cases, each
 * in its own loop with no test per value, about 1.6 times faster.
 */
function midWordsInt3(bytes: Uint8Array, mid: Uint8Array, low: Uint8Array | undefined, rows: number, length: number, groupSize: number, scales: Float32Array): Float32Array {
  const out = new Float32Array(rows * length);
  let [p, o, g, m, l] = [0, 0, 0, 0, 0];
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < length; k += groupSize) {
      const s = scales[g++];
      for (let words = Math.min(groupSize, length - k) >> 3; words > 0; words--, p += 3) {
        const word = bytes[p] | (bytes[p + 1] << 8) | (bytes[p + 2] << 16);
        const bits = MID_SPREAD[mid[m++]];
        if (!low) {
          for (let j = 0; j < 24; j += 3) out[o++] = INT3_MID[(((word >> j) & 7) << 1) | ((bits >> j) & 1)] * s;
          continue;
        }
        for (let j = 0; j < 24; j += 6, l++) {
          const b = low[l];
          out[o++] = MID_LOW[(((word >> j) & 7) << 5) | (((bits >> j) & 1) << 4) | (b & 15)] * s;
          out[o++] = MID_LOW[(((word >> (j + 3)) & 7) << 5) | (((bits >> (j + 3)) & 1) << 4) | (b >> 4)] * s;
        }
      }
    }
  }
  return out;
}

/** l/steps of each low-plane byte's low and high nibble, for 8 and 16 steps (the same quotients as value by value). */
const FRACTIONS = new Map([LOW_PLANE_STEPS, 2 * LOW_PLANE_STEPS].map((steps) => [steps, [Float64Array.from(LOW, (l) => l / steps), Float64Array.from(HIGH, (l) => l / steps)]]));
function lowFractions(steps: number): Float64Array[] {
  return FRACTIONS.get(steps)!;
}

/**
 * dequantizeInt3 without a mid plane when groups and rows hold whole 3-byte words (8 values): one straight pass, each
 * word's eight values (plus the low plane's four bytes of the same eight) times the group's scale. midWordsInt3 takes
 * the files with a mid plane.
 */
function wordsInt3(bytes: Uint8Array, low: Uint8Array | undefined, rows: number, length: number, groupSize: number, scales: Float32Array): Float32Array {
  const out = new Float32Array(rows * length);
  const [lo, hi] = lowFractions(LOW_PLANE_STEPS);
  let [p, o, g, l] = [0, 0, 0, 0];
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < length; k += groupSize) {
      const s = scales[g++];
      for (let words = Math.min(groupSize, length - k) >> 3; words > 0; words--, p += 3, l += 4) {
        const word = bytes[p] | (bytes[p + 1] << 8) | (bytes[p + 2] << 16);
        for (let j = 0; j < 8; j++) {
          const level = INT3[(word >> (3 * j)) & 7];
          out[o++] = (low ? level + (j & 1 ? hi : lo)[low[l + (j >> 1)]] : level) * s;
        }
      }
    }
  }
  return out;
}

/**
 * Int3 matrices: each row unpacked, then q·scale; with the mid plane (q + (2m − 1)/4)·scale; with the low plane
 * (q + l/LOW_PLANE_STEPS)·scale, or with both (q + (2m − 1)/4 + l/(2·LOW_PLANE_STEPS))·scale.
 */
function dequantizeInt3(bytes: Uint8Array, planes: { low?: Uint8Array; mid?: Uint8Array }, rows: number, length: number, groupSize: number, scales: Float32Array): Float32Array {
  const { low, mid } = planes;
  const rowBytes = int4RowBytes(length, 3);
  const lowRowBytes = int4RowBytes(length);
  const midRowBytes = Math.ceil(length / 8);
  if (low && low.length !== rows * lowRowBytes) throw new RangeError(`expected ${rows * lowRowBytes} low-plane bytes for ${rows}×${length} int3 values, got ${low.length}`);
  if (mid && mid.length !== midPlaneBytes(rows, length)) throw new RangeError(`expected ${midPlaneBytes(rows, length)} mid-plane bytes for ${rows}×${length} int3 values, got ${mid.length}`);
  const steps = mid ? 2 * LOW_PLANE_STEPS : LOW_PLANE_STEPS;
  const groups = int4Groups(length, groupSize);
  if (groupSize % 8 === 0 && length % 8 === 0) {
    // Word by word; a mid plane (every 4- and 8-bit tier of a nested file) in loops of its own (midWordsInt3).
    if (mid) return midWordsInt3(bytes, mid, low, rows, length, groupSize, scales);
    return wordsInt3(bytes, low, rows, length, groupSize, scales);
  }
  // Each row's levels first (q, then ± ¼ with the mid plane, then + l/steps with the low plane), then scaled group by
  // group: the same sums as value by value, without a division and three branches per value.
  const level = new Float64Array(length);
  const [lo, hi] = lowFractions(steps);
  const out = new Float32Array(rows * length);
  for (let r = 0; r < rows; r++) {
    int3RowLevels(bytes, r * rowBytes, length, level, mid, r * midRowBytes);
    if (low) {
      const at = r * lowRowBytes;
      for (let k = 0; k < length; k += 2) {
        const b = low[at + (k >> 1)];
        level[k] += lo[b];
        if (k + 1 < length) level[k + 1] += hi[b];
      }
    }
    const at = r * length;
    for (let g = 0; g < groups; g++) {
      const s = scales[r * groups + g];
      const end = Math.min(length, (g + 1) * groupSize);
      for (let k = g * groupSize; k < end; k++) out[at + k] = level[k] * s;
    }
  }
  return out;
}
