import { gramCols, gramRows } from './gram.js';
import { symmetricEigen } from './symmetric-eigen.js';

/**
 * Ordered low-rank factors of M (m×n): M ≈ Σ_i a_i·b_iᵀ with components sorted by σ descending.
 * `left` holds the a_i as rows (r×m), `right` the b_i as rows (r×n); each component is split
 * balanced (σ^½ on each side) so both factors have the same scale, which keeps fp16/int8 storage accurate.
 */
export interface OrderedFactors {
  rank: number;
  sigma: Float64Array;
  left: Float64Array;
  right: Float64Array;
  /**
   * The matrix the layer stores where it runs dense at `rank` components, when that is not their product: the
   * original weight at every component (compiler/compile.ts), and where distillation trained no tier at that rank,
   * the undistilled matrix.
   */
  dense?: { rank: number; values: Float64Array };
}

/** Singular values below this fraction of the largest carry no information and are dropped. */
const NULL_SIGMA = 1e-12;

/**
 * SVD through the eigen-decomposition of the smaller Gram matrix.
 * The other side is obtained by projecting M onto the eigenvectors rather than from the
 * eigenvalues, so the full-rank product reproduces M to rounding error even though the Gram
 * matrix squares the condition number (only the ordering of tiny σ is affected by that).
 */
export function orderedFactors(M: Float64Array, m: number, n: number): OrderedFactors {
  const rowsSide = m <= n;
  const k = rowsSide ? m : n;
  const G = rowsSide ? gramRows(M, m, n) : gramCols(M, m, n);
  const Q = symmetricEigen(G, k).vectors;

  // Project: rowsSide → P = Qᵀ·M (k×n); else P = M·Q (m×k). Component j's σ is the norm of its projection.
  const proj = new Float64Array(k * (rowsSide ? n : m));
  const width = rowsSide ? n : m;
  for (let j = 0; j < k; j++) {
    const q = Q[j];
    const out = j * width;
    if (rowsSide) {
      for (let i = 0; i < m; i++) {
        const qi = q[i];
        if (qi === 0) continue;
        const row = i * n;
        for (let c = 0; c < n; c++) proj[out + c] += qi * M[row + c];
      }
    } else {
      for (let r = 0; r < m; r++) {
        const row = r * n;
        let s = 0;
        for (let c = 0; c < n; c++) s += M[row + c] * q[c];
        proj[out + r] = s;
      }
    }
  }
  const norms = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    let s = 0;
    for (let c = 0; c < width; c++) s += proj[j * width + c] ** 2;
    norms[j] = Math.sqrt(s);
  }
  const order = Array.from({ length: k }, (_, j) => j).sort((a, b) => norms[b] - norms[a]);
  const top = norms[order[0]] ?? 0;
  const kept = order.filter((j) => norms[j] > top * NULL_SIGMA && norms[j] > 0);

  const rank = kept.length;
  const sigma = new Float64Array(rank);
  const left = new Float64Array(rank * m);
  const right = new Float64Array(rank * n);
  kept.forEach((j, i) => {
    const s = norms[j];
    sigma[i] = s;
    const q = Q[j];
    const up = Math.sqrt(s);
    // unit vector on one side, projection/σ on the other, then σ^½ on each.
    const unitSide = rowsSide ? left : right;
    const unitLen = rowsSide ? m : n;
    const projSide = rowsSide ? right : left;
    for (let c = 0; c < unitLen; c++) unitSide[i * unitLen + c] = q[c] * up;
    const scale = 1 / up;
    for (let c = 0; c < width; c++) projSide[i * width + c] = proj[j * width + c] * scale;
  });
  return { rank, sigma, left, right };
}

/** The matrix a layer stores where it runs dense at `rank` components: `dense` when set for that rank, else the product. */
export function denseMatrix(f: Pick<OrderedFactors, 'left' | 'right' | 'dense'>, rank: number, m: number, n: number): Float64Array {
  return f.dense?.rank === rank ? f.dense.values : productOfFactors(f, rank, m, n);
}

/** M = Σᵢ₍ᵢ₌₀…rank₋₁₎ aᵢ·bᵢᵀ (m×n, row-major) from the first `rank` components: what a dense-running layer stores. */
export function productOfFactors(f: Pick<OrderedFactors, 'left' | 'right'>, rank: number, m: number, n: number): Float64Array {
  const M = new Float64Array(m * n);
  for (let i = 0; i < rank; i++) {
    const a = f.left.subarray(i * m, (i + 1) * m);
    const b = f.right.subarray(i * n, (i + 1) * n);
    for (let r = 0; r < m; r++) {
      const ar = a[r];
      if (ar === 0) continue;
      const row = r * n;
      for (let c = 0; c < n; c++) M[row + c] += ar * b[c];
    }
  }
  return M;
}
