/**
 * Adapters (issue 17): a small set of weight changes ΔW trained for one base .lrm, applied on top of it per request.
 * This is the in-memory form of an adapter file (.lra): what the writer takes, the reader returns and the runtime
 * applies. The file layout is formats/adapter-write.ts; the math that turns factors into ΔW is runtime/adapters/.
 *
 * Every weight is seen as a matrix the way the base sees it (FactoredLayer.rows/cols): rows = outputs, cols = inputs
 * (a Conv's I·kh·kw; a MatMul's [K, N] weight is the N × K matrix), so an adapter means the same thing whether the
 * base layer is factored or dense, and at every tier.
 */

export type AdapterKind = 'lora' | 'loha' | 'lokr';
export const ADAPTER_KINDS: readonly AdapterKind[] = ['lora', 'loha', 'lokr'];

/** How the factors are stored in the file (the reader always hands back float32). */
export type AdapterDType = 'fp32' | 'fp16' | 'int8';

export interface AdapterBase {
  /**
   * The base .lrm's header hash, lowercase hex SHA-256 of its size prefix and header (the value its integrity pin
   * encodes). The header holds every section's SHA-256, so this names the base's whole content.
   */
  headerSha256: string;
  /** The base's file name when the adapter was made (for messages only). */
  fileName: string;
}

export interface AdapterLayer {
  /**
   * The base weight initializer this layer changes: FactoredLayer.weight for a factored layer, else the weight
   * initializer (input 1) of a Conv, Gemm or MatMul in the base's graph.
   */
  target: string;
  /** The weight as a matrix: rows = outputs, cols = inputs (see the file comment). */
  rows: number;
  cols: number;
  rank: number;
  /** ΔW = (alpha / rank) · delta(factors), as PEFT and LyCORIS scale it. */
  alpha: number;
  /**
   * Row-major float32 factors:
   * - lora: [up (rows × rank), down (rank × cols)]                        ΔW ∝ up·down
   * - loha: [up1, down1, up2, down2], each pair shaped as lora's           ΔW ∝ (up1·down1) ⊙ (up2·down2)
   * - lokr: [w1 (kron[0] × kron[1]), up2 (rows/kron[0] × rank), down2 (rank × cols/kron[1])]
   *                                                                        ΔW ∝ w1 ⊗ (up2·down2)
   */
  factors: Float32Array[];
  /** lokr only: w1's shape; kron[0] divides rows and kron[1] divides cols. */
  kron?: [number, number];
}

export interface AdapterModel {
  kind: AdapterKind;
  base: AdapterBase;
  /** Storage of the factors in the file. */
  dtype: AdapterDType;
  layers: AdapterLayer[];
  /** Free text lines for `inspect` (how it was trained, held-out accuracy); may be empty. */
  notes: string[];
}

/** The shape [rows, cols] of each factor of a layer, in `factors` order (the one rule the writer, reader and runtime share). */
export function adapterFactorShapes(kind: AdapterKind, layer: Pick<AdapterLayer, 'rows' | 'cols' | 'rank' | 'kron'>): Array<[number, number]> {
  const { rows, cols, rank } = layer;
  if (kind === 'lora') return [[rows, rank], [rank, cols]];
  if (kind === 'loha') return [[rows, rank], [rank, cols], [rows, rank], [rank, cols]];
  const [kr, kc] = layer.kron ?? [1, 1];
  return [[kr, kc], [rows / kr, rank], [rank, cols / kc]];
}

/** The .lra format version this code writes and reads (formats/lra.fbs); a breaking change bumps it. */
export const ADAPTER_FORMAT_VERSION = 1;
/** The .lra FlatBuffer file identifier ("LRA2" would be a new format generation). */
export const ADAPTER_FILE_IDENTIFIER = 'LRA1';
/** rows, cols, rank and kron are stored as uint32. */
export const MAX_ADAPTER_DIM = 0xffffffff;

/**
 * What is wrong with a layer's dims and alpha for `kind`, or undefined when they are valid: rows, cols and rank are
 * integers ≥ 1; lora and loha: rank ≤ min(rows, cols) and no kron; lokr: kron divides rows and cols and rank is at
 * most the smaller dim of w2 = up2·down2. The writer, the reader and the runtime share this rule.
 */
export function adapterLayerProblem(kind: AdapterKind, layer: Pick<AdapterLayer, 'rows' | 'cols' | 'rank' | 'alpha' | 'kron'>): string | undefined {
  const { rows, cols, rank, alpha, kron } = layer;
  const dim = (v: number) => Number.isInteger(v) && v >= 1 && v <= MAX_ADAPTER_DIM;
  if (!dim(rows) || !dim(cols)) return `its shape ${rows}×${cols} is not two integers in 1..${MAX_ADAPTER_DIM}`;
  if (!dim(rank)) return `its rank ${rank} is not an integer ≥ 1`;
  if (!Number.isFinite(alpha)) return `its alpha ${alpha} is not a finite number`;
  if (kind !== 'lokr') {
    if (kron !== undefined) return `it has a kron shape, which only lokr adapters have`;
    if (rank > Math.min(rows, cols)) return `its rank ${rank} is above min(rows, cols) = ${Math.min(rows, cols)}`;
    return undefined;
  }
  if (kron === undefined || kron.length !== 2 || !dim(kron[0]) || !dim(kron[1])) return 'it is lokr but has no kron shape of two integers ≥ 1';
  const [kr, kc] = kron;
  if (rows % kr !== 0 || cols % kc !== 0) return `its kron shape ${kr}×${kc} does not divide its shape ${rows}×${cols}`;
  const inner = Math.min(rows / kr, cols / kc);
  if (rank > inner) return `its rank ${rank} is above min(rows/kron[0], cols/kron[1]) = ${inner}`;
  return undefined;
}
