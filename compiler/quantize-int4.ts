/**
 * Grouped symmetric int4 and int3 (formats/int4.ts has the layout and the dequantiser the runtime shares): scales,
 * packing and round-to-nearest. Error-compensated rounding (GPTQ) is compiler/gptq.ts; both end in `packInt4`.
 */
import { encodeHalf, fromHalfBits, toHalfBits } from '../formats/float16.js';
import { codedScale, groupedLimit, groupingOf, INT4_LIMIT, int4Bytes, int4Groups, int4RowBytes, LOW_PLANE_STEPS, midLevel, SCALE_CODE_STEPS, type GroupedBits, type Grouping } from '../formats/int4.js';

/** Default values per scale: the small end of what GPTQ/AWQ use, since compact CNN layers have short rows. */
export const DEFAULT_INT4_GROUP_SIZE = 32;

/**
 * A rows×length matrix as int4 values (one per Int8Array entry, in [-7, 7]; int3: [-3, 3]) and one scale per
 * (row, group).
 */
export interface Int4Matrix {
  rows: number;
  length: number;
  groupSize: number;
  /** 3: stored as int3 (format v5). Absent: int4. */
  bits?: 3;
  q: Int8Array;
  /**
   * rows × int4Groups(length, groupSize), row by row; each is exactly representable as a half float, or with
   * `rowScales` is codedScale(its row's scale, some code).
   */
  scales: Float32Array;
  /** Scale codes (format v7): each row's half-float scale R; its groups' scales are R·2^(−c/32) (formats/int4.ts). */
  rowScales?: Float32Array;
  /** The values it was rounded from (same layout), which its low plane refines towards. */
  target?: Float64Array;
  /** The inputs' second moment GPTQ rounded it against (n = length), reused for its low plane. */
  moment?: Float64Array;
  /**
   * Int3 matrices of a file with a 4-bit tier: the mid plane's bit per value (same layout as q, 0 or 1; formats/int4.ts):
   * value (q + (2m − 1)/4)·scale at 4 bits, and the low plane then refines that in sixteenths.
   */
  mid?: Uint8Array;
}

/** The smallest half float s with limit·s ≥ maxAbs (0 for 0), so no value of its group clips (limit 7: int4). */
export function int4Scale(maxAbs: number, limit = INT4_LIMIT): number {
  if (!Number.isFinite(maxAbs) || maxAbs < 0) throw new RangeError(`cannot quantise a group whose largest magnitude is ${maxAbs}`);
  if (maxAbs === 0) return 0;
  let bits = toHalfBits(maxAbs / limit);
  // Half rounding may have gone down; positive half floats order like their bit patterns, so step up by one.
  while (fromHalfBits(bits) * limit < maxAbs) bits++;
  const s = fromHalfBits(bits);
  if (!Number.isFinite(s)) throw new RangeError(`a weight of magnitude ${maxAbs} is too large for an int4 scale (half float)`);
  return s;
}

/** q = round(v / scale) clamped to [-limit, limit], ties away from zero; 0 where the scale is 0. */
export function roundInt4(v: number, scale: number, limit = INT4_LIMIT): number {
  if (scale === 0) return 0;
  const t = Math.min(Math.round(Math.abs(v) / scale), limit);
  return v < 0 ? -t : t;
}

/**
 * The scale of one group, values[begin, end): at 4 bits the smallest that clips nothing; at 3 bits the one of
 * CLIP_STEPS candidates (the no-clip scale shrunk by 5% steps) whose rounding leaves the least squared error. With
 * only 7 levels, clipping the largest value or two buys a finer step for all the others: on MobileNet v1 every
 * pointwise layer at int3 gave 57.6% top-1 with the search, 46.0% without; at int4 it changed nothing measurable
 * (75.6% against 75.2%, 250 images), so int4 keeps its scales (and every int4 file its bytes).
 */
export function groupScale(values: ArrayLike<number>, begin: number, end: number, bits: GroupedBits, midWeight?: number, rowScale?: number): number {
  let maxAbs = 0;
  for (let i = begin; i < end; i++) maxAbs = Math.max(maxAbs, Math.abs(values[i]));
  const limit = groupedLimit(bits);
  if (bits === 4 || maxAbs === 0) return scaleAtLeast(maxAbs, limit, rowScale);
  let [best, least] = [0, Infinity];
  // Nested (an int3 matrix with a mid plane): the search weighs the error at 4 bits too, e3² + midWeight·e4².
  // Candidates then start at the scale whose mid grid (±3¼ steps) reaches the largest value unclipped.
  const top = midWeight === undefined ? maxAbs : maxAbs * (13 / 12);
  for (const s of clipCandidates(top, limit, rowScale)) {
    let err = 0;
    for (let i = begin; i < end; i++) {
      const q = roundInt4(values[i], s, limit);
      err += (values[i] - q * s) ** 2;
      if (midWeight !== undefined) err += midWeight * (values[i] - midLevel(q, nearestMidBit(values[i], q, s)) * s) ** 2;
    }
    if (err < least) [best, least] = [s, err];
  }
  return best;
}

/**
 * The scales groupScale tries at 3 bits, from the no-clip scale (top/limit) down to 70% of it: half floats in
 * CLIP_STEPS steps of 5%, or with scale codes every code in that range (17 of them at 2^(1/32) a step).
 */
function clipCandidates(top: number, limit: number, rowScale: number | undefined): number[] {
  if (rowScale === undefined) return Array.from({ length: CLIP_STEPS }, (_, k) => int4Scale(top * (1 - 0.05 * k), limit));
  const first = codeAtLeast(top / limit, rowScale);
  const last = Math.min(255, first + SCALE_CODE_STEPS / 2);
  return Array.from({ length: last - first + 1 }, (_, k) => codedScale(rowScale, first + k));
}

/** Candidate scales groupScale tries at 3 bits: down to 70% of the no-clip scale. */
const CLIP_STEPS = 7;

/**
 * The smallest scale on the matrix's grid with limit·s ≥ maxAbs: a half float (int4Scale), or with scale codes
 * under row scale R the smallest R·2^(−c/32) (codes clip at 0 and 255: past R the values clip, below the last
 * code the group's grid is coarser than it could be).
 */
function scaleAtLeast(maxAbs: number, limit: number, rowScale: number | undefined): number {
  if (rowScale === undefined) return int4Scale(maxAbs, limit);
  return codedScale(rowScale, codeAtLeast(maxAbs / limit, rowScale));
}

/** The largest code whose scale under R is at least s (0 where none is), clipped to [0, 255]. */
function codeAtLeast(s: number, rowScale: number): number {
  if (!(rowScale > 0) || s <= 0) return 255;
  let c = Math.max(0, Math.min(255, Math.floor(SCALE_CODE_STEPS * Math.log2(rowScale / s))));
  // log2 and float32 rounding may land one code off either way.
  while (c > 0 && codedScale(rowScale, c) < s) c--;
  while (c < 255 && codedScale(rowScale, c + 1) >= s) c++;
  return c;
}

/** The code under R nearest to s in ratio, clipped to [0, 255] (255 for a zero scale or row). */
function nearestCode(s: number, rowScale: number): number {
  return rowScale > 0 && s > 0 ? Math.max(0, Math.min(255, Math.round(SCALE_CODE_STEPS * Math.log2(rowScale / s)))) : 255;
}

/** The code of a scale that lies on the grid under R (loud where it does not: a scale the compiler did not snap). */
export function scaleCode(s: number, rowScale: number): number {
  const c = nearestCode(s, rowScale);
  if (codedScale(rowScale, c) !== s) throw new RangeError(`scale ${s} is not on the code grid under row scale ${rowScale}`);
  return c;
}

/** The grid scale under R nearest to s in ratio (a refit scale snapped to the codes). */
export function nearestCodedScale(s: number, rowScale: number): number {
  return codedScale(rowScale, nearestCode(s, rowScale));
}

/**
 * Headroom of a row scale over its row's largest no-clip group scale: GPTQ compensation can grow later groups'
 * values past the original's, and codes cannot go above R. 10 codes of 255; the rest reach 7.7 octaves below.
 */
const ROW_SCALE_HEADROOM = 1.25;

/**
 * Each row's scale R for scale codes (format v7), from the values before rounding: the half float at or above
 * ROW_SCALE_HEADROOM × the row's largest magnitude / limit (× 13/12 for int3 with a mid plane, whose scale search
 * starts there; see groupScale).
 */
export function rowScalesFor(values: ArrayLike<number>, rows: number, length: number, bits: GroupedBits, nested: boolean): Float32Array {
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let maxAbs = 0;
    for (let i = r * length; i < (r + 1) * length; i++) maxAbs = Math.max(maxAbs, Math.abs(values[i]));
    out[r] = int4Scale(maxAbs * ROW_SCALE_HEADROOM * (bits === 3 && nested ? 13 / 12 : 1), groupedLimit(bits));
  }
  return out;
}

/**
 * Round-to-nearest int4 (or int3) of a rows×length row-major matrix, one scale per group of each row; int3 with
 * `midWeight`: its mid plane too, each value's bit to nearest, the scales searched for both (groupScale).
 */
export function quantizeInt4Nearest(values: ArrayLike<number>, rows: number, length: number, grouping: Grouping, bits: GroupedBits = 4, midWeight?: number): Int4Matrix {
  const { size: groupSize, scaleCodes } = groupingOf(grouping);
  checkGroupSize(groupSize);
  if (values.length !== rows * length) throw new RangeError(`expected ${rows}×${length} values, got ${values.length}`);
  const groups = int4Groups(length, groupSize);
  const limit = groupedLimit(bits);
  const q = new Int8Array(rows * length);
  const scales = new Float32Array(rows * groups);
  const nested = bits === 3 && midWeight !== undefined;
  const rowScales = scaleCodes ? rowScalesFor(values, rows, length, bits, nested) : undefined;
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const [begin, end] = [r * length + g * groupSize, r * length + Math.min(length, (g + 1) * groupSize)];
      const s = (scales[r * groups + g] = groupScale(values, begin, end, bits, nested ? midWeight : undefined, rowScales?.[r]));
      for (let i = begin; i < end; i++) q[i] = roundInt4(values[i], s, limit);
    }
  }
  const target = values instanceof Float64Array ? values : Float64Array.from(values);
  const m: Int4Matrix = { rows, length, groupSize, ...(bits === 3 ? { bits } : {}), q, scales, ...(rowScales ? { rowScales } : {}), target };
  return bits === 3 && midWeight !== undefined ? { ...m, mid: Uint8Array.from(nearestPlane(m, midPlaneRounding(m))) } : m;
}

/** The stored bytes of an int4 (or int3) matrix: packed rows, then the half-float scales or the scale codes (formats/int4.ts). */
export function packInt4(m: Int4Matrix): Uint8Array {
  const bits = m.bits ?? 4;
  const rowBytes = int4RowBytes(m.length, bits);
  const out = new Uint8Array(int4Bytes(m.rows, m.length, { size: m.groupSize, scaleCodes: m.rowScales !== undefined }, bits));
  for (let r = 0; r < m.rows; r++) {
    const [row, at] = [r * rowBytes, r * m.length];
    if (bits === 4) {
      for (let k = 0; k < m.length; k++) out[row + (k >> 1)] |= (m.q[at + k] & 15) << (k & 1 ? 4 : 0);
      continue;
    }
    // int3: value k in bits 3k..3k+2 of the row's little-endian bit stream; it may straddle two bytes.
    for (let k = 0; k < m.length; k++) {
      const [bit, v] = [3 * k, m.q[at + k] & 7];
      out[row + (bit >> 3)] |= (v << (bit & 7)) & 255;
      if ((bit & 7) > 5) out[row + (bit >> 3) + 1] |= v >> (8 - (bit & 7));
    }
  }
  if (!m.rowScales) {
    out.set(encodeHalf(m.scales), m.rows * rowBytes);
    return out;
  }
  const { rowScales } = m;
  const groups = int4Groups(m.length, m.groupSize);
  out.set(encodeHalf(rowScales), m.rows * rowBytes);
  out.set(Uint8Array.from(m.scales, (s, i) => scaleCode(s, rowScales[Math.floor(i / groups)])), m.rows * (rowBytes + 2));
  return out;
}

/**
 * A plane that refines a grouped matrix value by value (formats/int4.ts): the code of value i given its target w
 * (as compensated so far) and its scale s, and the level (in scales) the value then stands for.
 */
export type PlaneRounding = (w: number, i: number, s: number) => { code: number; level: number };

/** Value i's level before its low plane: q, or with a mid plane q ± ¼. */
export function baseLevel(m: Int4Matrix, i: number): number {
  return m.mid ? midLevel(m.q[i], m.mid[i]) : m.q[i];
}

/** Low-plane codes per scale: LOW_PLANE_STEPS, twice that over a mid plane (formats/int4.ts). */
export function lowPlaneSteps(m: Pick<Int4Matrix, 'mid'>): number {
  return m.mid ? 2 * LOW_PLANE_STEPS : LOW_PLANE_STEPS;
}

/** The mid-plane bit nearest to target w for int3 value q at scale s: 1 (q + ¼) where w lies at or above q·s. */
export function nearestMidBit(w: number, q: number, s: number): number {
  return s !== 0 && w / s >= q ? 1 : 0;
}

/**
 * The low plane's rounding: a value's residual w/s − base level in 1/LOW_PLANE_STEPS of the scale (1/16 over a mid
 * plane), to nearest, clipped to [-8, 7].
 */
export function lowPlaneRounding(m: Int4Matrix): PlaneRounding {
  const steps = lowPlaneSteps(m);
  return (w, i, s) => {
    const base = baseLevel(m, i);
    const code = s === 0 ? 0 : Math.max(-8, Math.min(7, Math.round((w / s - base) * steps)));
    return { code, level: base + code / steps };
  };
}

/** The mid plane's rounding: q + ¼ (bit 1) where the value lies at or above q·s, else q − ¼ (bit 0). */
function midPlaneRounding(m: Int4Matrix): PlaneRounding {
  return (w, i, s) => {
    const code = nearestMidBit(w, m.q[i], s);
    return { code, level: midLevel(m.q[i], code) };
  };
}

/** The scale of value i of a grouped matrix. */
export function scaleAt(m: Int4Matrix, i: number): number {
  return m.scales[Math.floor(i / m.length) * int4Groups(m.length, m.groupSize) + Math.floor((i % m.length) / m.groupSize)];
}

/**
 * A plane (low or mid) of a grouped matrix by rounding each value against `m.target` to nearest; residuals past
 * a low plane's range (GPTQ moves values to compensate their neighbours) clip. Where the inputs' moment is known,
 * compiler/low-plane.ts picks the codes for the layer's output instead.
 */
export function nearestPlane(m: Int4Matrix, rounding: PlaneRounding): Int8Array {
  const target = targetOf(m);
  return Int8Array.from(target, (t, i) => rounding(t, i, scaleAt(m, i)).code);
}

/** The low plane rounded to nearest (nearestPlane with lowPlaneRounding). */
export function nearestLowPlane(m: Int4Matrix): Int8Array {
  return nearestPlane(m, lowPlaneRounding(m));
}

/** Packs mid-plane bits (one per value, 0 or 1) as formats/int4.ts lays them out: each row a bit stream on a byte. */
export function packMidPlane(m: Pick<Int4Matrix, 'rows' | 'length'>, bits: ArrayLike<number>): Uint8Array {
  const rowBytes = Math.ceil(m.length / 8);
  const out = new Uint8Array(m.rows * rowBytes);
  for (let r = 0; r < m.rows; r++) {
    for (let k = 0; k < m.length; k++) if (bits[r * m.length + k]) out[r * rowBytes + (k >> 3)] |= 1 << (k & 7);
  }
  return out;
}

/** Packs low-plane steps like int4 values (two per byte, low nibble first, rows on byte boundaries), no scales. */
export function packLowPlane(m: Int4Matrix, steps: Int8Array): Uint8Array {
  const rowBytes = int4RowBytes(m.length);
  const out = new Uint8Array(m.rows * rowBytes);
  for (let r = 0; r < m.rows; r++) {
    for (let k = 0; k < m.length; k++) out[r * rowBytes + (k >> 1)] |= (steps[r * m.length + k] & 15) << (k & 1 ? 4 : 0);
  }
  return out;
}

/** The values an int4 matrix was rounded from, which its low plane refines towards. */
export function targetOf(m: Int4Matrix): Float64Array {
  if (!m.target || m.target.length !== m.rows * m.length) throw new RangeError(`an int4 matrix needs the ${m.rows}×${m.length} values it was rounded from for its low plane`);
  return m.target;
}

/** Rows [begin, end) of an int4 matrix, with their scales: a nested block of components. */
export function int4RowSlice(m: Int4Matrix, begin: number, end: number): Int4Matrix {
  const groups = int4Groups(m.length, m.groupSize);
  // Rows are independent under GPTQ too: a slice keeps its rows' targets and the shared moment.
  const target = m.target?.subarray(begin * m.length, end * m.length);
  const mid = m.mid?.subarray(begin * m.length, end * m.length);
  const rowScales = m.rowScales?.subarray(begin, end);
  return { ...m, rows: end - begin, q: m.q.subarray(begin * m.length, end * m.length), scales: m.scales.subarray(begin * groups, end * groups), target, mid, ...(rowScales ? { rowScales } : {}) };
}

/**
 * The float values an int4 matrix stands for as stored (what the runtime will compute with at an as-stored tier),
 * in float64; `withMid`: an int3 one with its mid plane (a 4-bit tier).
 */
export function int4Values(m: Int4Matrix, withMid = false): Float64Array {
  const groups = int4Groups(m.length, m.groupSize);
  const out = new Float64Array(m.rows * m.length);
  for (let r = 0; r < m.rows; r++) {
    for (let k = 0; k < m.length; k++) {
      const i = r * m.length + k;
      out[i] = (withMid ? baseLevel(m, i) : m.q[i]) * m.scales[r * groups + Math.floor(k / m.groupSize)];
    }
  }
  return out;
}

export function checkGroupSize(groupSize: number): void {
  if (!Number.isSafeInteger(groupSize) || groupSize < 1) throw new RangeError(`int4 group size must be a whole number ≥ 1, got ${groupSize}`);
}
