import type { OrderedFactors } from './svd.js';
import { choleskyWithRidge, solveLowerTransposed } from './cholesky.js';
import { gramCols } from './gram.js';
import { symmetricEigen } from './symmetric-eigen.js';

/**
 * Activation-aware factors of M (m×n) given the layer's input second moment G = Σ x·xᵀ (n×n).
 *
 * SVD-LLM whitens with S = chol(G) and truncates SVD(M·S) = UΣVᵀ, storing U·Σ^½ and Σ^½·Vᵀ·S⁻¹.
 * Its rank-r product is U_r·U_rᵀ·M·S·S⁻¹ = U_r·U_rᵀ·M: a projection of M onto the top-r eigenvectors of
 * the output covariance M·G·Mᵀ = (M·S)(M·S)ᵀ. We compute exactly that, which needs no Cholesky, no ε
 * and no S⁻¹, and stays exact when G is singular. Dropping component i adds exactly λᵢ (= σᵢ²) to the
 * squared output error on the calibration data, so `sigma` holds √λᵢ.
 *
 * Pass G through `shrunkSecondMoment` first when it was seen on few samples.
 */
export function whitenedFactors(M: Float64Array, m: number, n: number, G: Float64Array): OrderedFactors {
  // The eigenproblem is m×m on the output side; for tall layers the n×n input side is cheaper.
  return m > n ? whitenedByInputSide(M, m, n, G) : whitenedByOutputSide(M, m, n, G);
}

function whitenedByOutputSide(M: Float64Array, m: number, n: number, G: Float64Array): OrderedFactors {
  // C = M·G·Mᵀ via (M·G) then rows of (M·G) against rows of M.
  const MG = new Float64Array(m * n);
  for (let r = 0; r < m; r++) {
    const out = r * n;
    const row = r * n;
    for (let k = 0; k < n; k++) {
      const v = M[row + k];
      if (v === 0) continue;
      const gk = k * n;
      for (let c = 0; c < n; c++) MG[out + c] += v * G[gk + c];
    }
  }
  const C = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      const a = i * n;
      const b = j * n;
      for (let k = 0; k < n; k++) s += MG[a + k] * M[b + k];
      C[i * m + j] = s;
      C[j * m + i] = s;
    }
  }
  const { values, vectors } = symmetricEigen(C, m);
  return componentsFromEigen(values, vectors, Math.min(m, n), m, n, (u) => {
    const b = new Float64Array(n); // b = uᵀ·M
    for (let r = 0; r < m; r++) {
      const ur = u[r];
      if (ur === 0) continue;
      const row = r * n;
      for (let c = 0; c < n; c++) b[c] += ur * M[row + c];
    }
    return [u, b];
  });
}

/**
 * SVD-LLM proper, on the n×n side: S = chol(G) (with a ridge if G is singular), K = Sᵀ·Mᵀ·M·S = V·Λ·Vᵀ,
 * a_i = M·S·v_i, b_i = v_iᵀ·S⁻¹. Same optimum as the output side (up to the ridge), cheaper when m > n.
 */
function whitenedByInputSide(M: Float64Array, m: number, n: number, G: Float64Array): OrderedFactors {
  const { L: S } = choleskyWithRidge(G, n);
  const MS = new Float64Array(m * n); // M·S, row by row
  for (let r = 0; r < m; r++) {
    const row = r * n;
    for (let k = 0; k < n; k++) {
      const v = M[row + k];
      if (v === 0) continue;
      const sk = k * n;
      for (let c = 0; c <= k; c++) MS[row + c] += v * S[sk + c];
    }
  }
  const { values, vectors } = symmetricEigen(gramCols(MS, m, n), n);
  return componentsFromEigen(values, vectors, n, m, n, (v) => {
    const a = new Float64Array(m); // a = M·S·v
    for (let r = 0; r < m; r++) {
      let t = 0;
      const row = r * n;
      for (let c = 0; c < n; c++) t += MS[row + c] * v[c];
      a[r] = t;
    }
    return [a, solveLowerTransposed(S, n, v)]; // b = v·S⁻¹
  });
}

/**
 * Keep the eigenpairs (descending) that carry energy, at most `limit`, and turn each into a component a·bᵀ.
 * σᵢ = √λᵢ; the norms of a and b are balanced so fp16/int8 storage sees the same scale on both sides.
 */
function componentsFromEigen(
  values: Float64Array,
  vectors: Float64Array[],
  limit: number,
  m: number,
  n: number,
  component: (vector: Float64Array) => [Float64Array, Float64Array],
): OrderedFactors {
  const top = Math.max(values[0] ?? 0, 0);
  const kept: number[] = [];
  for (let i = 0; i < limit; i++) if (values[i] > top * 1e-14 && values[i] > 0) kept.push(i);
  const rank = kept.length;
  const sigma = new Float64Array(rank);
  const left = new Float64Array(rank * m);
  const right = new Float64Array(rank * n);
  kept.forEach((e, i) => {
    sigma[i] = Math.sqrt(values[e]);
    const [a, b] = component(vectors[e]);
    const na = Math.sqrt(a.reduce((t, x) => t + x * x, 0)) || 1;
    const nb = Math.sqrt(b.reduce((t, x) => t + x * x, 0)) || 1;
    const toA = Math.sqrt(nb / na);
    for (let r = 0; r < m; r++) left[i * m + r] = a[r] * toA;
    for (let c = 0; c < n; c++) right[i * n + c] = b[c] / toA;
  });
  return { rank, sigma, left, right };
}

/**
 * G/N blended with its isotropic part: (1−α)·G/N + α·(tr(G)/(N·n))·I with α = n/(n + N), where N is the
 * number of input vectors seen. Layers after global pooling see one vector per image, so with a few
 * hundred images their G is rank-deficient and whitening would trust directions never seen; α → 1 there
 * (plain SVD), α → 0 for convolutions that see thousands of patches per image.
 */
export function shrunkSecondMoment(G: Float64Array, n: number, samples: number): Float64Array {
  const out = new Float64Array(n * n);
  if (samples <= 0) {
    for (let i = 0; i < n; i++) out[i * n + i] = 1;
    return out;
  }
  let trace = 0;
  for (let i = 0; i < n; i++) trace += G[i * n + i];
  const alpha = n / (n + samples);
  const iso = trace > 0 ? (alpha * trace) / (samples * n) : alpha;
  const keep = (1 - alpha) / samples;
  for (let i = 0; i < n * n; i++) out[i] = keep * G[i];
  for (let i = 0; i < n; i++) out[i * n + i] += iso;
  return out;
}

