import { decodeHalf } from '../formats/float16.js';
import { storedMatrixBytes } from '../formats/codes.js';
import { dequantizeInt4, int4Bytes, type GroupedBits } from '../formats/int4.js';
import { dequantizeInt8, int8View } from '../formats/int8.js';
import { groupedBits, headerGrouping, type ByteRange, type FactoredLayer, type ModelHeader, type TierBits } from '../formats/model.js';
import type { PayloadBytes } from './payload-view.js';

/** A layer's factors at a chosen rank, as float32: left is r×rows (columns of A as rows), right is r×cols. */
export interface LayerFactors {
  rank: number;
  left: Float32Array;
  right: Float32Array;
}

/**
 * A least-squares refit of a layer at one rank (compiler/refit.ts): a new left factor (rank×rows, as
 * LayerFactors.left) and, for layers with a bias, a new bias (rows), both fitted to the original layer's outputs.
 */
export interface LayerRefit {
  left: Float32Array;
  bias?: Float32Array;
  /** The layer runs dense at this tier: `left` is the refitted M (rows×cols, row-major), not a left factor. */
  dense?: boolean;
}

/**
 * The refits of tier `tier` from its refit section's bytes (`section` starts at refit.range.offset), one entry
 * per layer in header.layers order, undefined where the layer has none.
 */
export function decodeRefits(header: ModelHeader, tier: number, section: Uint8Array): Array<LayerRefit | undefined> {
  const t = header.tiers[tier];
  const out: Array<LayerRefit | undefined> = header.layers.map(() => undefined);
  if (!t.refit) return out;
  const base = t.refit.range.offset;
  for (const r of t.refit.layers) {
    const layer = header.layers[r.layer];
    const rank = t.ranks[r.layer];
    const at = r.left.offset - base;
    // A dense refit is M (rows×cols, one int8 scale per row); a factor refit is rank×rows (one scale per output).
    const [count, width, axis] = r.dense ? [layer.rows, layer.cols, 0 as const] : [rank, layer.rows, 1 as const];
    const left =
      header.factorDType === 'int8'
        ? dequantizeInt8(int8View(section.subarray(at, at + count * width)), count, width, r.leftScales ?? [], axis)
        : decodeRows(section, at, count, width, header);
    out[r.layer] = { left, bias: r.bias && float32Copy(section, r.bias.offset - base, layer.rows), ...(r.dense ? { dense: true } : {}) };
  }
  return out;
}

/**
 * A layer's first `rank` components as stored by an int8 file, with their scales (see formats/model.ts):
 * A[j][i] = left[i·rows + j]·leftScales[j], B[i][c] = right[i·cols + c]·rightScales[i].
 */
export interface Int8LayerFactors {
  rank: number;
  /** rank×rows */
  left: Int8Array;
  /** rank×cols */
  right: Int8Array;
  /** rows: one per output, shared by every rank prefix. */
  leftScales: Float32Array;
  /** rank: one per component, gathered from the blocks. */
  rightScales: Float32Array;
}

/**
 * How a file stores its factors (the header's fields that say it), and the bits the tier being built runs at: at 8,
 * int4 and int3 matrices read their low planes too, at 4 and 8 int3 matrices their mid planes (formats/int4.ts).
 */
export type FactorStorage = Pick<ModelHeader, 'factorDType' | 'int4GroupSize' | 'int4ScaleCodes'> & { bits?: TierBits };

/** A file's FactorStorage for a tier run at `bits`. */
export function factorStorage(header: ModelHeader, bits: TierBits | undefined): FactorStorage {
  return { factorDType: header.factorDType, int4GroupSize: header.int4GroupSize, int4ScaleCodes: header.int4ScaleCodes, bits };
}

/** Gather the first `rank` components of a layer from its per-tier blocks in the payload, as float32. */
export function gatherFactors(layer: FactoredLayer, rank: number, payload: PayloadBytes, storage: FactorStorage): LayerFactors {
  if (storage.factorDType === 'int8') return dequantizeFactors(gatherInt8Factors(layer, rank, payload), layer.rows, layer.cols);
  const left = new Float32Array(rank * layer.rows);
  const right = new Float32Array(rank * layer.cols);
  for (const b of layer.blocks) {
    if (b.rankBegin >= rank) break;
    const take = Math.min(rank, b.rankEnd) - b.rankBegin;
    // An int4 block decodes whole (its scales follow all its rows), then its first `take` components are kept.
    const rows = storage.factorDType === 'int4' ? b.rankEnd - b.rankBegin : take;
    left.set(decodeRows(payload, b.left.offset, rows, layer.rows, storage, factorPlanes(b.leftLow, storage, layer, payload)).subarray(0, take * layer.rows), b.rankBegin * layer.rows);
    right.set(decodeRows(payload, b.right.offset, rows, layer.cols, storage, factorPlanes(b.rightLow, storage, layer, payload)).subarray(0, take * layer.cols), b.rankBegin * layer.cols);
  }
  return { rank, left, right };
}

/** Gather the first `rank` components of an int8 layer (a copy: the file's bytes are not kept alive). */
export function gatherInt8Factors(layer: FactoredLayer, rank: number, payload: PayloadBytes): Int8LayerFactors {
  if (layer.leftScales === undefined) throw new RangeError(`layer "${layer.name}" has no int8 scales`);
  const left = new Int8Array(rank * layer.rows);
  const right = new Int8Array(rank * layer.cols);
  const rightScales = new Float32Array(rank);
  for (const b of layer.blocks) {
    if (b.rankBegin >= rank) break;
    const take = Math.min(rank, b.rankEnd) - b.rankBegin;
    left.set(int8View(payload.subarray(b.left.offset, b.left.offset + take * layer.rows)), b.rankBegin * layer.rows);
    right.set(int8View(payload.subarray(b.right.offset, b.right.offset + take * layer.cols)), b.rankBegin * layer.cols);
    rightScales.set((b.rightScales ?? []).slice(0, take), b.rankBegin);
  }
  return { rank, left, right, leftScales: Float32Array.from(layer.leftScales), rightScales };
}

/** The stored dense M (rows×cols, row-major) of a layer that runs dense from layer.denseTier on, as float32. */
export function denseWeight(layer: FactoredLayer, payload: PayloadBytes, storage: FactorStorage): Float32Array {
  if (!layer.dense) throw new RangeError(`layer "${layer.name}" stores no dense weight`);
  const { offset } = layer.dense;
  if (storage.factorDType === 'int8' || layer.denseStorage === 'int8') return dequantizeInt8(int8View(payload.subarray(offset, offset + layer.rows * layer.cols)), layer.rows, layer.cols, layer.denseScales ?? [], 0);
  // An int4 file's dense M may be int3 (format v5): the same rows and groups at 3 bits.
  const bits = groupedBits(layer.denseStorage) ?? 4;
  const planes = storage.factorDType === 'int4' ? groupedPlanes(layer.name, bits, storage.bits, { low: layer.denseLow, mid: layer.denseMid }, payload) : {};
  return decodeRows(payload, offset, layer.rows, layer.cols, storage, planes, bits);
}

/** The planes an int4 factor block is read with: its low plane at 8-bit tiers (factors are never int3). */
function factorPlanes(low: ByteRange | undefined, storage: FactorStorage, layer: FactoredLayer, payload: PayloadBytes): PlaneBytes {
  return storage.factorDType === 'int4' ? groupedPlanes(layer.name, 4, storage.bits, { low }, payload) : {};
}

/** A grouped matrix's stored plane ranges. */
export interface GroupedPlanes {
  low?: ByteRange;
  mid?: ByteRange;
}

/** The plane bytes a grouped matrix is read with at a tier (views into the payload). */
export interface PlaneBytes {
  low?: Uint8Array;
  mid?: Uint8Array;
}

/**
 * Which of a grouped matrix's planes a tier of `tierBits` reads (formats/int4.ts): the low plane at 8 bits; an int3
 * matrix's mid plane at 4 and 8 bits where the file has one (a file with 8-bit but no 4-bit tiers has none: its
 * int3 low planes count in eighths). Loud when the tier needs a plane the file does not hold.
 */
export function groupedPlanes(name: string, bits: GroupedBits, tierBits: TierBits | undefined, stored: GroupedPlanes, payload: PayloadBytes): PlaneBytes {
  if (tierBits === undefined) return {};
  if (tierBits === 8 && !stored.low) throw new RangeError(`weight "${name}" has no low plane for an 8-bit tier`);
  if (tierBits === 4 && bits === 3 && !stored.mid) throw new RangeError(`int3 weight "${name}" has no mid plane for a 4-bit tier`);
  const view = (r: ByteRange) => payload.subarray(r.offset, r.offset + r.length);
  return { ...(tierBits === 8 && stored.low ? { low: view(stored.low) } : {}), ...(bits === 3 && stored.mid ? { mid: view(stored.mid) } : {}) };
}

/** A layer's M at full rank: the stored dense weight where the file has one, else its factors multiplied out. */
export function fullRankWeight(layer: FactoredLayer, payload: PayloadBytes, storage: FactorStorage): Float32Array {
  return layer.dense ? denseWeight(layer, payload, storage) : multiplyOut(gatherFactors(layer, layer.maxRank, payload, storage), layer.rows, layer.cols);
}

/** float32 factors from int8 ones: left scaled per column (output), right per row (component). */
export function dequantizeFactors(q: Int8LayerFactors, rows: number, cols: number): LayerFactors {
  return {
    rank: q.rank,
    left: dequantizeInt8(q.left, q.rank, rows, q.leftScales, 1),
    right: dequantizeInt8(q.right, q.rank, cols, q.rightScales, 0),
  };
}

/**
 * `rows` stored rows of `length` values at `offset`, in an fp32, fp16 or int4 file, as float32 (a copy); an int4
 * matrix with the planes given, at `bits` 3 an int3 one.
 */
function decodeRows(payload: PayloadBytes, offset: number, rows: number, length: number, storage: FactorStorage, planes: PlaneBytes = {}, bits: GroupedBits = 4): Float32Array {
  const dtype = storage.factorDType;
  const grouping = headerGrouping(storage) ?? 0;
  if (dtype === 'int8') throw new RangeError('int8 factors carry their scales in the header: use dequantizeInt8');
  if (dtype === 'int4') {
    const bytes = payload.subarray(offset, offset + int4Bytes(rows, length, grouping, bits));
    return dequantizeInt4(bytes, rows, length, grouping, planes.low, bits, planes.mid);
  }
  const bytes = payload.subarray(offset, offset + storedMatrixBytes(dtype, rows, length, grouping));
  if (dtype === 'fp16') return decodeHalf(bytes);
  // Copy into a fresh buffer: payload offsets are 64-byte aligned but the payload view itself may not be.
  return float32Copy(payload, offset, rows * length);
}

/** M = Σᵢ aᵢ·bᵢᵀ (rows×cols): used when the rank is past break-even and a dense layer is cheaper. */
export function multiplyOut(f: LayerFactors, rows: number, cols: number): Float32Array {
  const M = new Float32Array(rows * cols);
  for (let i = 0; i < f.rank; i++) {
    const a = f.left.subarray(i * rows, (i + 1) * rows);
    const b = f.right.subarray(i * cols, (i + 1) * cols);
    for (let r = 0; r < rows; r++) {
      const ar = a[r];
      if (ar === 0) continue;
      const row = r * cols;
      for (let c = 0; c < cols; c++) M[row + c] += ar * b[c];
    }
  }
  return M;
}

export function transposeF32(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
}

/**
 * `count` float32 values at byte `offset` of `bytes`, copied into a buffer of their own. Not `bytes.slice()`:
 * on a Node Buffer slice() is a view into a shared pool, whose `.buffer` is not just these bytes.
 */
export function float32Copy(bytes: PayloadBytes, offset: number, count: number): Float32Array {
  const copy = new Uint8Array(count * 4);
  copy.set(bytes.subarray(offset, offset + count * 4));
  return new Float32Array(copy.buffer);
}
