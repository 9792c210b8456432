/**
 * Gram matrices in float64. Hand-written because ml-matrix's generic mmul allocates a Matrix per row;
 * these loops run on flat row-major Float64Arrays and only fill one triangle (the result is symmetric).
 */

/** G = M·Mᵀ for M (m×n) row-major: G is m×m. */
export function gramRows(M: Float64Array, m: number, n: number): Float64Array {
  const G = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    const ri = i * n;
    for (let j = 0; j <= i; j++) {
      const rj = j * n;
      let s = 0;
      for (let k = 0; k < n; k++) s += M[ri + k] * M[rj + k];
      G[i * m + j] = s;
      G[j * m + i] = s;
    }
  }
  return G;
}

/** G = Mᵀ·M for M (m×n) row-major: G is n×n. Accumulates row by row so M is read sequentially. */
export function gramCols(M: Float64Array, m: number, n: number): Float64Array {
  const G = new Float64Array(n * n);
  for (let r = 0; r < m; r++) {
    const row = r * n;
    for (let i = 0; i < n; i++) {
      const v = M[row + i];
      if (v === 0) continue;
      const gi = i * n;
      for (let j = 0; j <= i; j++) G[gi + j] += v * M[row + j];
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) G[j * n + i] = G[i * n + j];
  return G;
}
