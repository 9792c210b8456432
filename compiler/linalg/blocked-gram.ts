/**
 * The kernel of calibration: G += PᵀP for blocks P of gathered vectors, accumulated in float64.
 * Each block's product runs on onnxruntime's Gemm (ort-gemm.ts), only for the lower triangle (in panels).
 */
import { gemm, type GemmType } from './ort-gemm.js';

/**
 * A run of `count` x vectors. `gather` writes vectors [from, from + cnt) of the run into columns
 * [col, col + cnt) of a block whose row i (length `stride`) holds component i of every vector; cnt ≤ BLOCK.
 */
export interface Vectors {
  count: number;
  gather(block: Float32Array | Float64Array, stride: number, col: number, from: number, cnt: number): void;
}

/**
 * Vectors per block: one Gemm call per panel per block, so large enough that onnxruntime's per-call cost
 * (~0.1 ms) and the float64 accumulation (n²/2 adds) are small next to the n²·BLOCK/2 multiply-adds.
 */
export const BLOCK = 1024;

/** Rows per panel of G: the lower triangle is covered by panels [r0, r1) × [0, r1), ~1/2 + h/(2n) of the square. */
const PANEL_ROWS = 512;

/**
 * Accumulates G = Σ x·xᵀ from blocks of vectors. The block is stored transposed (row i = component i of every
 * vector in it), so a panel of G is block[r0:r1]·block[0:r1]ᵀ, two contiguous row ranges.
 *
 * Precision `float32` (the default for calibration): each block product sums ≤ BLOCK float32 products in float32
 * (MLAS), blocks are summed in float64. The x are float32 activations already; the relative error of an entry
 * is ~1e-7·√BLOCK of Σ|xᵢxⱼ| (measured in test/compiler/blocked-gram.test.ts), which moves the whitened factors'
 * eigenvalues by about that fraction of the largest: only the order of components at the noise floor can change.
 * `float64` is exact to float64 rounding and about half the speed (bench/linalg.ts).
 *
 * `skipFrom`: entries whose row and column are both ≥ skipFrom are not needed and stay 0. Refit (refit.ts)
 * stacks x = [z; y] and needs only Σ z·zᵀ and Σ y·zᵀ, not the (often larger) Σ y·yᵀ.
 */
export class BlockedGram {
  samples = 0;
  private readonly g: Float64Array;
  private readonly block: Float32Array | Float64Array;
  private filled = 0;
  private busy = false;

  constructor(
    private readonly n: number,
    private readonly skipFrom = n,
    private readonly precision: GemmType = 'float32',
  ) {
    this.g = new Float64Array(n * n);
    this.block = precision === 'float64' ? new Float64Array(n * BLOCK) : new Float32Array(n * BLOCK);
  }

  /** Adds a run of vectors; await it before the next call (the block buffer is reused). */
  async add(run: Vectors): Promise<void> {
    if (this.busy) throw new Error('BlockedGram.add: the previous add has not finished; await it first');
    this.busy = true;
    try {
      for (let from = 0; from < run.count; ) {
        const cnt = Math.min(run.count - from, BLOCK - this.filled);
        run.gather(this.block, BLOCK, this.filled, from, cnt);
        this.filled += cnt;
        from += cnt;
        if (this.filled === BLOCK) await this.flush();
      }
    } finally {
      this.busy = false;
    }
  }

  private async flush(): Promise<void> {
    const { g, block, n, filled } = this;
    if (filled < BLOCK) {
      // The columns past `filled` still hold the previous block's vectors.
      for (let i = 0; i < n; i++) block.fill(0, i * BLOCK + filled, (i + 1) * BLOCK);
    }
    for (const [r0, r1, cols] of panels(n, this.skipFrom)) {
      const rows = r1 - r0;
      const part = await gemm(
        this.precision,
        { data: block.subarray(r0 * BLOCK, r1 * BLOCK), rows, cols: BLOCK },
        { data: block.subarray(0, cols * BLOCK), rows: cols, cols: BLOCK },
        { transB: true },
      );
      for (let i = 0; i < rows; i++) {
        const gi = (r0 + i) * n;
        const pi = i * cols;
        const last = Math.min(cols, r0 + i + 1); // the lower triangle only; finish() mirrors it
        for (let j = 0; j < last; j++) g[gi + j] += part[pi + j];
      }
    }
    this.samples += filled;
    this.filled = 0;
  }

  /** The n×n G: the lower triangle, mirrored. */
  async finish(): Promise<Float64Array> {
    if (this.filled > 0) await this.flush();
    const { n, g } = this;
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) g[j * n + i] = g[i * n + j];
    return g;
  }
}

/** Row panels [r0, r1) of the lower triangle and how many columns each needs; skipFrom is a panel boundary. */
function panels(n: number, skipFrom: number): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  const count = Math.max(1, Math.round(n / PANEL_ROWS));
  const height = Math.ceil(n / count);
  for (let r0 = 0; r0 < n; ) {
    let r1 = Math.min(n, r0 + height);
    if (r0 < skipFrom && r1 > skipFrom) r1 = skipFrom;
    out.push([r0, r1, r0 >= skipFrom ? skipFrom : r1]);
    r0 = r1;
  }
  return out.filter(([, , cols]) => cols > 0);
}
