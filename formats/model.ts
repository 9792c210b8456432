/**
 * The in-memory model that the compiler writes and the runtime reads.
 * Both sides meet here: the compiler never reaches into the runtime and vice versa.
 *
 * Conventions
 * - Every factored layer is a matrix M (rows = outputs m, cols = inputs n) with y = M·x:
 *   MatMul x·W (W: K×N) → M = Wᵀ (N×K); Gemm → M = alpha·op(B)ᵀ; Conv W[O,I,kh,kw] → M = reshape(W, O, I·kh·kw).
 * - M ≈ A·B with A (m×r, output side) and B (r×n, input side). Component i is column i of A and row i of B,
 *   components are sorted by importance (σ descending), so any rank prefix is a valid layer.
 * - The payload stores, for each tier, each layer's new components: a "left" block (Δr×m, i.e. rows of Aᵀ)
 *   and a "right" block (Δr×n, rows of B). Byte ranges are relative to the start of the payload.
 * - int8 factors are symmetric (values in [-127, 127], no zero point) with float32 scales in the header:
 *   A[j][i] = qLeft[i][j]·leftScales[j] (one scale per output j, the same for every rank prefix) and
 *   B[i][c] = qRight[i][c]·rightScales[i − rankBegin] (one scale per component, kept with its block).
 */
import type { GroupedBits, Grouping } from './int4.js';

/** ONNX TensorProto.DataType codes: we keep ONNX's numbering so no mapping table can drift. */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  BFLOAT16: 16,
} as const;
export type DataType = (typeof DataType)[keyof typeof DataType];

/** Bytes per element of each data type we can store in the payload (STRING cannot be). */
export const DATA_TYPE_SIZE: Readonly<Record<number, number>> = {
  1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2,
};

/**
 * How factor values are stored in the payload: float32, float16, symmetric int8 with float32 scales in the header,
 * or grouped int4 with half-float scales beside the values (formats/int4.ts, ModelHeader.int4GroupSize).
 */
export type FactorDType = 'fp32' | 'fp16' | 'int8' | 'int4';

export interface ByteRange {
  /** Offset from the start of the payload (which begins 64-byte aligned after the header). */
  offset: number;
  length: number;
}

/** A graph input or output. A dimension is a number (fixed) or a symbolic name such as "batch". */
export interface ValueInfo {
  name: string;
  dataType: number;
  shape: Array<number | string>;
}

/**
 * A node attribute. Integers are bigint because ONNX uses int64 sentinels (e.g. Slice ends = 2^63-1).
 * Tensor and graph attributes (Constant values, If branches) are kept as serialized ONNX AttributeProto
 * bytes: we carry them through untouched instead of re-modelling ONNX subgraphs.
 */
export type Attribute =
  | { name: string; kind: 'int'; value: bigint }
  | { name: string; kind: 'float'; value: number }
  | { name: string; kind: 'string'; value: string }
  | { name: string; kind: 'ints'; value: bigint[] }
  | { name: string; kind: 'floats'; value: number[] }
  | { name: string; kind: 'strings'; value: string[] }
  | { name: string; kind: 'onnx'; value: Uint8Array };

export interface NodeDef {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Attribute[];
}

/** A weight that is not factored. Its bytes are little-endian, row-major. */
export interface DenseTensor {
  name: string;
  /** The ONNX type the model sees (float32 for a quantised weight). */
  dataType: number;
  dims: number[];
  range: ByteRange;
  /**
   * Format v2, float32 weights only: stored as IEEE half ('fp16') or as symmetric int8 with one float32 scale per
   * index of dims[scaleAxis] ('int8': value = q·scales[i]). Absent: stored as dataType says.
   * Format v3: 'int4', grouped int4 (formats/int4.ts) of the matrix whose rows are the channels of dims[scaleAxis]:
   * [dims0, rest] for axis 0, the transpose of a 2-D weight for axis 1; its scales are in the payload, not here.
   * Format v5: 'int3', the same at 3 bits a value (formats/int4.ts).
   */
  storage?: 'fp16' | 'int8' | 'int4' | 'int3';
  scaleAxis?: number;
  scales?: number[];
  /** Format v4: the low plane of an int4 weight in a file with an 8-bit tier, in the first 8-bit tier's section. */
  low?: ByteRange;
  /** Format v6: the mid plane of an int3 weight in a file with a 4-bit tier, in the first 4-bit tier's section. */
  mid?: ByteRange;
}

export interface Graph {
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  nodes: NodeDef[];
  initializers: DenseTensor[];
}

export type LayerKind = 'matmul' | 'gemm' | 'conv';

/** One tier's worth of new components of one layer. */
export interface FactorBlock {
  tier: number;
  rankBegin: number;
  rankEnd: number;
  /** (rankEnd - rankBegin) × rows values: the new columns of A, stored as rows. */
  left: ByteRange;
  /** (rankEnd - rankBegin) × cols values: the new rows of B. */
  right: ByteRange;
  /** int8 only (absent otherwise): rankEnd - rankBegin scales, one per new row of B. Float32 values, ≥ 0. */
  rightScales?: number[];
  /**
   * Format v4, int4 files with an 8-bit tier: the low planes of left and right (formats/int4.ts), in the section of
   * tier max(tier, first 8-bit tier) (its transient section for the layer's denseTier when it has one); absent
   * when the layer runs dense before any 8-bit tier.
   */
  leftLow?: ByteRange;
  rightLow?: ByteRange;
}

export interface FactoredLayer {
  /** Name of the node this layer replaces (also unique in the graph). */
  name: string;
  /** Index of that node in graph.nodes: the node stays in the graph, the engine substitutes it. */
  nodeIndex: number;
  kind: LayerKind;
  /** Name of the weight initializer that the factors replace (it is not in graph.initializers). */
  weight: string;
  /** Original dims of the weight tensor, so the engine can rebuild it densely when that is cheaper. */
  weightDims: number[];
  /** m: outputs. */
  rows: number;
  /** n: inputs (for conv: I·kh·kw). */
  cols: number;
  /** Number of stored components (≤ min(rows, cols)). */
  maxRank: number;
  /**
   * Singular values (or their equivalent for whitened factorisation), σ descending: one per component up to
   * maxRank, or (format v4) one per component stored as factors (up to the last block's rankEnd) when the layer
   * runs dense from some tier. Nothing loads by them; they say how much each stored component carries.
   */
  sigma: number[];
  blocks: FactorBlock[];
  /**
   * int8 only (absent otherwise): `rows` scales, one per row of A (output), taken over all stored components
   * so every rank prefix shares them. Float32 values, ≥ 0 (0 for an all-zero row).
   */
  leftScales?: number[];
  /**
   * From this tier on (tiers 0..k loaded, k ≥ denseTier) the layer runs dense from `dense` and needs none of its
   * factors; its blocks then stop before this tier and lie in transient sections (Tier.transient). Absent: the
   * layer always runs from its factors. At denseTier the layer's rank is maxRank (full).
   */
  denseTier?: number;
  /** With denseTier: M (rows × cols, row-major) in the factor dtype, inside tier denseTier's section. */
  dense?: ByteRange;
  /** int8 (or denseStorage 'int8'), with dense: `rows` scales, one per row of M. */
  denseScales?: number[];
  /**
   * Format v3, int4 files: 'int8' when the dense M is stored int8 (with denseScales) rather than int4; format v5:
   * 'int3', grouped int3 (formats/int4.ts).
   */
  denseStorage?: 'int8' | 'int3';
  /** Format v4: the low plane of an int4 dense M in a file with an 8-bit tier, in tier max(denseTier, first 8-bit tier). */
  denseLow?: ByteRange;
  /** Format v6: the mid plane of an int3 dense M in a file with a 4-bit tier, in tier max(denseTier, first 4-bit tier). */
  denseMid?: ByteRange;
}

/**
 * A tier's blocks of the layers that go dense at a later tier `denseTier`: needed only while tiers 0..k with
 * k < denseTier are loaded. They lie after every tier's own section, so loading all tiers is one prefix.
 */
export interface TransientSection {
  denseTier: number;
  range: ByteRange;
  sha256: string;
}

/** A least-squares refit of one layer for one tier (compiler/refit.ts). */
export interface LayerRefitEntry {
  /** Index into ModelHeader.layers. */
  layer: number;
  /** rank × rows values in the factor dtype (rank = the tier's rank of that layer): replaces A. */
  left: ByteRange;
  /** rows float32 values replacing the bias; absent when the layer has no bias. */
  bias?: ByteRange;
  /** int8 only: one scale per row of the refit A (output). */
  leftScales?: number[];
  /** The layer runs dense at this tier: `left` holds the refitted M (rows × cols), `leftScales` one per row of it. */
  dense?: boolean;
}

/**
 * A tier's refits: used only when exactly tiers 0..index are loaded, in place of the stored left factors and
 * biases. The section lies after every tier, so a device that loads tiers 0..index reads it with one more range.
 */
export interface TierRefit {
  range: ByteRange;
  sha256: string;
  layers: LayerRefitEntry[];
}

export interface Tier {
  index: number;
  /** The budget this tier was cut at: fraction of the factorable layers' dense parameter count. */
  budget: number;
  range: ByteRange;
  /** Hex SHA-256 of the tier's bytes. */
  sha256: string;
  /** Rank of every factored layer when tiers 0..index are loaded (same order as `layers`). */
  ranks: number[];
  /** Weights in the model as it runs at this tier (factored layers beyond break-even run dense). */
  params: number;
  /** Present when the file was compiled with --refit. */
  refit?: TierRefit;
  /** This tier's blocks of layers that go dense later (one section per dense tier, ascending); absent when none. */
  transient?: TransientSection[];
  /**
   * Format v4, int4 files: 8 when tiers 0..index run every int4 (and int3) matrix with its low plane (about int8
   * precision); absent: as stored (int4, int3). Format v6: 4 when they run every int3 matrix with its mid plane
   * (4 bits; int4 matrices as stored). Never down the ladder: as stored, then 4, then 8; it goes up in rank and bits.
   */
  bits?: TierBits;
}

/** Bits a tier runs its grouped matrices at, beyond as stored (Tier.bits). */
export type TierBits = 4 | 8;

export interface Preset {
  name: string;
  /** Device class id this preset was measured on, or "any" when it was not measured. */
  deviceClass: string;
  /** Engine id, or "any". */
  engine: string;
  /** Number of tiers to load (1..tiers.length). */
  tiers: number;
  latencyMsP50?: number;
  latencyMsP95?: number;
  peakMemoryMb?: number;
  /** Fidelity to the original on calibration data (0..1), when measured. */
  fidelity?: number;
}

export interface SourceInfo {
  /** Hex SHA-256 of the original model file. */
  sha256: string;
  fileName: string;
  bytes: number;
  irVersion: number;
  producer: string;
  opsets: Array<{ domain: string; version: number }>;
  /**
   * What the compiler's import normalisation changed in the source graph before compiling it, one short line per
   * kind (e.g. "nodes sorted (3 moved)"); absent when nothing. Appended to the schema, readable by older readers.
   */
  normalised?: string[];
}

/** Everything in the header. Weight bytes live in the payload, addressed by ByteRange. */
export interface ModelHeader {
  formatVersion: number;
  compilerVersion: string;
  source: SourceInfo;
  graph: Graph;
  factorDType: FactorDType;
  layers: FactoredLayer[];
  /** The section holding every dense initializer, before tier 0. */
  dense: { range: ByteRange; sha256: string };
  tiers: Tier[];
  presets: Preset[];
  /** Total payload length in bytes. */
  payloadLength: number;
  /** Format v3: values per scale group of every int4 matrix in the file; absent when nothing is int4. */
  int4GroupSize?: number;
  /** Format v7: the grouped matrices' scales are byte codes under a half-float row scale (formats/int4.ts); absent: half floats. */
  int4ScaleCodes?: boolean;
}

/** How the file's grouped matrices are laid out (formats/int4.ts), or undefined when it has none. */
export function headerGrouping(header: Pick<ModelHeader, 'int4GroupSize' | 'int4ScaleCodes'>): Grouping | undefined {
  return header.int4GroupSize === undefined ? undefined : { size: header.int4GroupSize, scaleCodes: header.int4ScaleCodes ?? false };
}

/**
 * 2: dense weights past break-even (FactoredLayer.denseTier), transient sections, quantised dense weights.
 * 3: int4 factors or dense weights. 4: σ only for the components stored as factors; 8-bit tiers (int4 matrices
 * with their low planes, Tier.bits). 5: int3 dense weights (formats/int4.ts). 6: 4-bit tiers (int3 matrices with
 * their mid planes). 7: grouped scales as byte codes (ModelHeader.int4ScaleCodes). Readers take 1 to 7.
 */
export const FORMAT_VERSION = 7;

/**
 * The lowest format version that holds what a header uses: 7 with scale codes, 6 with a 4-bit tier, 5 with an int3 weight, 4 with a σ list shorter than its
 * layer's rank or an 8-bit tier, 3 with
 * anything int4, 2 with dense-from-a-tier layers or quantised dense weights, else 1, so a file without them still
 * loads in an older runtime.
 */
export function formatVersionFor(header: {
  factorDType: FactorDType;
  layers: ReadonlyArray<Pick<FactoredLayer, 'denseTier' | 'sigma' | 'maxRank' | 'denseStorage'>>;
  graph: { initializers: ReadonlyArray<Pick<DenseTensor, 'storage'>> };
  tiers?: ReadonlyArray<Pick<Tier, 'bits'>>;
  int4ScaleCodes?: boolean;
}): number {
  if (header.int4ScaleCodes) return 7;
  if (header.tiers?.some((t) => t.bits === 4)) return 6;
  if (usesInt3(header)) return 5;
  if (header.layers.some((l) => l.sigma.length < l.maxRank) || header.tiers?.some((t) => t.bits !== undefined)) return 4;
  if (usesInt4(header)) return 3;
  return header.layers.some((l) => l.denseTier !== undefined) || header.graph.initializers.some((t) => t.storage !== undefined) ? 2 : 1;
}

/** Whether any matrix of the file is stored grouped (int4, or int3 which only int4 files hold): it has a group size. */
export function usesInt4(header: { factorDType: FactorDType; graph: { initializers: ReadonlyArray<Pick<DenseTensor, 'storage'>> } }): boolean {
  return header.factorDType === 'int4' || header.graph.initializers.some((t) => groupedBits(t.storage) !== undefined);
}

/** Whether any weight of the file is stored int3 (format version 5). */
export function usesInt3(header: {
  layers: ReadonlyArray<Pick<FactoredLayer, 'denseStorage'>>;
  graph: { initializers: ReadonlyArray<Pick<DenseTensor, 'storage'>> };
}): boolean {
  return header.layers.some((l) => l.denseStorage === 'int3') || header.graph.initializers.some((t) => t.storage === 'int3');
}

/**
 * The bits a tier runs the file's grouped matrices at, for tables: its Tier.bits, or as stored 3 when the file holds
 * int3 matrices (a mix with int4 and int8 ones), else 4.
 */
export function tierBitsLabel(header: Parameters<typeof usesInt3>[0], tier: Pick<Tier, 'bits'>): 3 | 4 | 8 {
  return tier.bits ?? (usesInt3(header) ? 3 : 4);
}

/** Bits a value of a grouped storage takes (formats/int4.ts): 4 for 'int4', 3 for 'int3'; undefined for the others. */
export function groupedBits(storage: DenseTensor['storage'] | FactoredLayer['denseStorage']): GroupedBits | undefined {
  return storage === 'int4' ? 4 : storage === 'int3' ? 3 : undefined;
}
export const FILE_IDENTIFIER = 'LRM1';
export const PAYLOAD_ALIGNMENT = 64;
