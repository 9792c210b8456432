import type { OrderedFactors } from './svd.js';
import { choleskyWithRidge, solveLowerTransposed } from './cholesky.js';
import { gemm } from './ort-gemm.js';
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
 * The products run in float64 on onnxruntime's Gemm (ort-gemm.ts); the eigen-decomposition in JS.
 * Pass G through `shrunkSecondMoment` first when it was seen on few samples.
 */
export async function whitenedFactors(M: Float64Array, m: number, n: number, G: Float64Array): Promise<OrderedFactors> {
  // The eigenproblem is m×m on the output side; for tall layers the n×n input side is cheaper.
  return m > n ? whitenedByInputSide(M, m, n, G) : whitenedByOutputSide(M, m, n, G);
}

const f64 = (data: Float64Array, rows: number, cols: number) => ({ data, rows, cols });

async function whitenedByOutputSide(M: Float64Array, m: number, n: number, G: Float64Array): Promise<OrderedFactors> {
  const MG = await gemm('float64', f64(M, m, n), f64(G, n, n));
  const C = await gemm('float64', f64(MG, m, n), f64(M, m, n), { transB: true });
  symmetrise(C, m);
  const { values, vectors } = symmetricEigen(C, m);
  const kept = keptEigenpairs(values, Math.min(m, n));
  const U = stackRows(vectors, kept, m);
  const B = await gemm('float64', f64(U, kept.length, m), f64(M, m, n)); // row i = u_iᵀ·M
  return componentsFromEigen(values, kept, m, n, U, B);
}

/**
 * SVD-LLM proper, on the n×n side: S = chol(G) (with a ridge if G is singular), K = Sᵀ·Mᵀ·M·S = V·Λ·Vᵀ,
 * a_i = M·S·v_i, b_i = v_iᵀ·S⁻¹. Same optimum as the output side (up to the ridge), cheaper when m > n.
 */
async function whitenedByInputSide(M: Float64Array, m: number, n: number, G: Float64Array): Promise<OrderedFactors> {
  const { L: S } = choleskyWithRidge(G, n);
  const MS = await gemm('float64', f64(M, m, n), f64(S, n, n));
  const K = await gemm('float64', f64(MS, m, n), f64(MS, m, n), { transA: true });
  symmetrise(K, n);
  const { values, vectors } = symmetricEigen(K, n);
  const kept = keptEigenpairs(values, n);
  const V = stackRows(vectors, kept, n);
  const A = await gemm('float64', f64(V, kept.length, n), f64(MS, m, n), { transB: true }); // row i = (M·S·v_i)ᵀ
  const B = new Float64Array(kept.length * n);
  for (let i = 0; i < kept.length; i++) B.set(solveLowerTransposed(S, n, V.subarray(i * n, (i + 1) * n)), i * n); // b = v·S⁻¹
  return componentsFromEigen(values, kept, m, n, A, B);
}

/** (C + Cᵀ)/2: the Gemm result is symmetric only up to rounding, and the eigen solver reads one triangle. */
function symmetrise(C: Float64Array, k: number): void {
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < i; j++) {
      const v = (C[i * k + j] + C[j * k + i]) / 2;
      C[i * k + j] = v;
      C[j * k + i] = v;
    }
  }
}

/** Indices of the eigenpairs (descending) that carry energy, at most `limit`. */
function keptEigenpairs(values: Float64Array, limit: number): number[] {
  const top = Math.max(values[0] ?? 0, 0);
  const kept: number[] = [];
  for (let i = 0; i < limit; i++) if (values[i] > top * 1e-14 && values[i] > 0) kept.push(i);
  return kept;
}

/** The chosen vectors as the rows of one matrix. */
function stackRows(vectors: Float64Array[], which: number[], len: number): Float64Array {
  const out = new Float64Array(which.length * len);
  which.forEach((e, i) => out.set(vectors[e], i * len));
  return out;
}

/**
 * Component i is a_i·b_iᵀ with a_i = row i of `A` (length m) and b_i = row i of `B` (length n); σᵢ = √λ of the
 * i-th kept eigenpair. The norms of a and b are balanced so fp16/int8 storage sees the same scale on both sides.
 */
function componentsFromEigen(values: Float64Array, kept: number[], m: number, n: number, A: Float64Array, B: Float64Array): OrderedFactors {
  const rank = kept.length;
  const sigma = Float64Array.from(kept, (e) => Math.sqrt(values[e]));
  const left = new Float64Array(rank * m);
  const right = new Float64Array(rank * n);
  for (let i = 0; i < rank; i++) {
    const a = A.subarray(i * m, (i + 1) * m);
    const b = B.subarray(i * n, (i + 1) * n);
    const na = Math.sqrt(a.reduce((t, x) => t + x * x, 0)) || 1;
    const nb = Math.sqrt(b.reduce((t, x) => t + x * x, 0)) || 1;
    const toA = Math.sqrt(nb / na);
    for (let r = 0; r < m; r++) left[i * m + r] = a[r] * toA;
    for (let c = 0; c < n; c++) right[i * n + c] = b[c] / toA;
  }
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

