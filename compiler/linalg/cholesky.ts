/**
 * Lower Cholesky factor of a symmetric positive (semi-)definite n×n matrix (row-major), raising a ridge
 * ε·mean(diag)·I from 1e-10 by ×10 until the factorisation succeeds (as SVD-LLM does for singular XᵀX).
 * Hand-written: ml-matrix's CholeskyDecomposition works on nested arrays and has no ridge retry.
 */
export function choleskyWithRidge(A: Float64Array, n: number): { L: Float64Array; ridge: number } {
  let mean = 0;
  for (let i = 0; i < n; i++) mean += A[i * n + i];
  mean = mean / n || 1;
  for (let eps = 0; ; eps = eps === 0 ? 1e-10 : eps * 10) {
    const L = tryCholesky(A, n, eps * mean);
    if (L) return { L, ridge: eps * mean };
    if (eps > 1) throw new Error('Cholesky failed even with a ridge of the matrix mean diagonal: the input statistics are not a covariance');
  }
}

function tryCholesky(A: Float64Array, n: number, ridge: number): Float64Array | undefined {
  const L = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    let d = A[rj + j] + ridge;
    for (let k = 0; k < j; k++) d -= L[rj + k] * L[rj + k];
    if (!(d > 0)) return undefined;
    const ljj = Math.sqrt(d);
    L[rj + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let s = A[ri + j];
      for (let k = 0; k < j; k++) s -= L[ri + k] * L[rj + k];
      L[ri + j] = s / ljj;
    }
  }
  return L;
}

/** Solve Lᵀ·y = v for lower-triangular L (back substitution). */
export function solveLowerTransposed(L: Float64Array, n: number, v: Float64Array): Float64Array {
  const y = Float64Array.from(v);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < n; k++) s -= L[k * n + i] * y[k];
    y[i] = s / L[i * n + i];
  }
  return y;
}

/** Solve (L·Lᵀ)·X = B for X, with B n×k row-major (k right-hand sides); returns X (n×k). */
export function solveCholesky(L: Float64Array, n: number, B: Float64Array, k: number): Float64Array {
  const X = Float64Array.from(B);
  // Forward: L·Y = B, row by row so all k columns move together.
  for (let i = 0; i < n; i++) {
    const xi = i * k;
    for (let p = 0; p < i; p++) {
      const l = L[i * n + p];
      if (l === 0) continue;
      const xp = p * k;
      for (let c = 0; c < k; c++) X[xi + c] -= l * X[xp + c];
    }
    const d = L[i * n + i];
    for (let c = 0; c < k; c++) X[xi + c] /= d;
  }
  // Back: Lᵀ·X = Y.
  for (let i = n - 1; i >= 0; i--) {
    const xi = i * k;
    for (let p = i + 1; p < n; p++) {
      const l = L[p * n + i];
      if (l === 0) continue;
      const xp = p * k;
      for (let c = 0; c < k; c++) X[xi + c] -= l * X[xp + c];
    }
    const d = L[i * n + i];
    for (let c = 0; c < k; c++) X[xi + c] /= d;
  }
  return X;
}
