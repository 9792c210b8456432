/**
 * The kernel of calibration: G += PᵀP for blocks P of gathered vectors, in float64.
 * Hand-written: no maintained JS/WASM BLAS gives a streaming symmetric rank-k update, and this tiled loop runs
 * at about 2.5× a plain dot product in V8.
 */

/**
 * A run of `count` x vectors. `gather` writes vectors [from, from + cnt) of the run into columns
 * [col, col + cnt) of a block whose row i (length `stride`) holds component i of every vector; cnt ≤ BLOCK.
 */
export interface Vectors {
  count: number;
  gather(block: Float64Array, stride: number, col: number, from: number, cnt: number): void;
}


/** Vectors per block: enough to amortise the loop overhead, few enough that a few block rows stay in L1. */
export const BLOCK = 128;

/**
 * Accumulates G = Σ x·xᵀ from blocks of vectors. The block is stored transposed (row i = component i of every
 * vector in it), so every G entry is a dot product of two contiguous rows. Only the lower triangle is
 * computed, in 2×2 tiles: four independent sums per pair of row loads, about 2.5× a plain dot product in V8.
 * n is padded to even for the tiles; the extra block row stays zero.
 *
 * `skipFrom`: entries whose row and column are both ≥ skipFrom are not needed and stay 0. Refit (refit.ts)
 * stacks x = [z; y] and needs only Σ z·zᵀ and Σ y·zᵀ, not the (often larger) Σ y·yᵀ.
 */
export class BlockedGram {
  samples = 0;
  private readonly np: number;
  private readonly g: Float64Array;
  private readonly block: Float64Array;
  private filled = 0;

  private readonly skip: number;

  constructor(private readonly n: number, skipFrom = n) {
    this.np = n + (n & 1);
    // Rounded up to even so that whole 2×2 tiles are skipped or kept.
    this.skip = skipFrom + (skipFrom & 1);
    this.g = new Float64Array(this.np * this.np);
    this.block = new Float64Array(this.np * BLOCK);
  }

  push(run: Vectors): void {
    for (let from = 0; from < run.count; ) {
      const cnt = Math.min(run.count - from, BLOCK - this.filled);
      run.gather(this.block, BLOCK, this.filled, from, cnt);
      this.filled += cnt;
      from += cnt;
      if (this.filled === BLOCK) this.flush();
    }
  }

  private flush(): void {
    const { g, block, np } = this;
    const cnt = this.filled;
    for (let i = 0; i < np; i += 2) {
      const r0 = i * BLOCK;
      const r1 = r0 + BLOCK;
      for (let j = 0; j <= i && j < this.skip; j += 2) {
        const c0 = j * BLOCK;
        const c1 = c0 + BLOCK;
        let s00 = 0;
        let s01 = 0;
        let s10 = 0;
        let s11 = 0;
        for (let b = 0; b < cnt; b++) {
          const a0 = block[r0 + b];
          const a1 = block[r1 + b];
          const b0 = block[c0 + b];
          const b1 = block[c1 + b];
          s00 += a0 * b0;
          s01 += a0 * b1;
          s10 += a1 * b0;
          s11 += a1 * b1;
        }
        const t = i * np + j;
        g[t] += s00;
        g[t + 1] += s01; // above the diagonal when j = i; finish() never reads it
        g[t + np] += s10;
        g[t + np + 1] += s11;
      }
    }
    this.samples += cnt;
    this.filled = 0;
  }

  /** The n×n G: the lower triangle, mirrored. */
  finish(): Float64Array {
    if (this.filled > 0) this.flush();
    const { n, np, g } = this;
    const out = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) {
        out[i * n + j] = g[i * np + j];
        out[j * n + i] = g[i * np + j];
      }
    }
    return out;
  }
}

