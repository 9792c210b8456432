import { CompileError } from '../errors.js';

/**
 * Eigen-decomposition of a symmetric k×k matrix (row-major Float64Array), eigenvalues descending; `vectors[i]`
 * is the unit eigenvector of `values[i]`.
 *
 * Householder tridiagonalisation + implicit QL (EISPACK's tred2/tql2, the algorithm of ml-matrix's JAMA port,
 * which this replaced), on one flat Float64Array that holds the transformation transposed: every inner loop,
 * the Givens rotations of QL included, then runs along contiguous rows instead of down the columns of nested
 * arrays. Same arithmetic, about 4-6× faster than ml-matrix in V8 (bench/linalg.ts); the tests check it against
 * ml-matrix and by reconstruction, orthogonality and ordering.
 */
export function symmetricEigen(A: Float64Array, k: number): { values: Float64Array; vectors: Float64Array[] } {
  if (A.length < k * k) throw new RangeError(`symmetricEigen: ${A.length} values for a ${k}×${k} matrix`);
  // W = Vᵀ: row j of W is column j of EISPACK's V. A is symmetric, so Aᵀ = A is where V starts.
  const W = A.slice(0, k * k);
  // QL would stop at once on NaN (every comparison is false) and return garbage: refuse it up front.
  let max = 0;
  for (let i = 0; i < W.length; i++) {
    if (!Number.isFinite(W[i])) throw new EigenNotConvergedError(k);
    max = Math.max(max, Math.abs(W[i]));
  }
  // Work on A/max (about) with entries below 1e-290 of max set to 0: they cannot move an eigenvalue by anything float64
  // resolves, and subnormal values mixed with normal ones made tred2's Householder scaling produce NaN
  // (fast-check found [[-6e-15, -5e-324, -1e-150], [-5e-324, 0, 0], [-1e-150, 0, 0]]).
  // The scale is a power of two, so dividing and multiplying back are exact.
  const scale = max > 0 ? 2 ** Math.round(Math.log2(max)) : 1;
  for (let i = 0; i < W.length; i++) W[i] = Math.abs(W[i]) < max * 1e-290 ? 0 : W[i] / scale;
  const d = new Float64Array(k);
  const e = new Float64Array(k);
  if (k > 0) {
    tridiagonalise(W, d, e, k);
    diagonalise(W, d, e, k);
  }
  const order = Array.from({ length: k }, (_, i) => i).sort((a, b) => d[b] - d[a]);
  return {
    values: Float64Array.from(order, (i) => d[i] * scale),
    vectors: order.map((i) => W.subarray(i * k, (i + 1) * k)),
  };
}

/** The eigen solver met NaN or infinity (QL never converges on them): the layer's statistics are broken. */
export class EigenNotConvergedError extends CompileError {
  constructor(k: number) {
    super(`the ${k}×${k} symmetric eigen-decomposition did not converge: the matrix holds NaN or infinite values; check the model weights and calibration data for NaN/Inf`, 'linalg');
  }
}

/**
 * tred2: W (= Vᵀ) becomes the transposed orthogonal Q with A = Q·T·Qᵀ, d the diagonal of T, e its subdiagonal
 * in e[1..k-1]. EISPACK indexes V[row][col]; here V[r][c] = W[c·k + r].
 */
function tridiagonalise(W: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) d[j] = W[j * n + n - 1];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = W[j * n + i - 1];
        W[j * n + i] = 0;
        W[i * n + j] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        const wj = j * n;
        f = d[j];
        W[i * n + j] = f;
        g = e[j] + W[wj + j] * f;
        for (let k = j + 1; k < i; k++) {
          const v = W[wj + k];
          g += v * d[k];
          e[k] += v * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        const wj = j * n;
        f = d[j];
        g = e[j];
        for (let k = j; k < i; k++) W[wj + k] -= f * e[k] + g * d[k];
        d[j] = W[wj + i - 1];
        W[wj + i] = 0;
      }
    }
    d[i] = h;
  }
  // Accumulate the transformations.
  for (let i = 0; i < n - 1; i++) {
    const wi = i * n;
    const wnext = (i + 1) * n;
    W[wi + n - 1] = W[wi + i];
    W[wi + i] = 1;
    const h = d[i + 1];
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = W[wnext + k] / h;
      for (let j = 0; j <= i; j++) {
        const wj = j * n;
        let g = 0;
        for (let k = 0; k <= i; k++) g += W[wnext + k] * W[wj + k];
        for (let k = 0; k <= i; k++) W[wj + k] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) W[wnext + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = W[j * n + n - 1];
    W[j * n + n - 1] = 0;
  }
  W[n * n - 1] = 1;
  e[0] = 0;
}

/** |(a, b)| without overflow or underflow in the squares. */
function hypot(a: number, b: number): number {
  const x = Math.abs(a);
  const y = Math.abs(b);
  const big = x > y ? x : y;
  if (big === 0) return 0;
  const t = (x > y ? y : x) / big;
  return big * Math.sqrt(1 + t * t);
}

/** QL sweeps per eigenvalue before we call it diverged; EISPACK's tql2 needs 1-3 on ordinary input. */
const MAX_SWEEPS = 60;

/** tql2: implicit QL on the tridiagonal (d, e), rotating the rows of W; d ends up holding the eigenvalues. */
function diagonalise(W: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let sweeps = 0;
      do {
        if (++sweeps > MAX_SWEEPS) throw new EigenNotConvergedError(n);
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;

        p = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          // Rotate columns i, i+1 of V: rows i, i+1 of W, both contiguous.
          const wi = i * n;
          const wn = wi + n;
          for (let k = 0; k < n; k++) {
            const vi = W[wi + k];
            const vn = W[wn + k];
            W[wn + k] = s * vi + c * vn;
            W[wi + k] = c * vi - s * vn;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
}
