import * as tf from '@tensorflow/tfjs-core';
import type { LayerKind } from '../../formats/model.js';
import type { OrderedFactors } from '../linalg/svd.js';

/** What distillation trains in one factored layer, as the tensors the tier graphs take. */
export interface TrainableLayer {
  readonly variables: tf.Variable[];
  readonly bias: tf.Variable | undefined;
  /** Whether the input-side factor (build-model.ts's `__lowrank_in`) is trained too. */
  readonly trainsInput: boolean;
  /** Work shared by every run of one tier's loss (computed inside each tier's gradient). */
  prepare(): tf.Tensor2D;
  /** The layer's `__lowrank_out` weight at rank k in the graph's layout ([k, m]; Conv [m, k, 1…]). */
  outputWeight(prepared: tf.Tensor2D, k: number): tf.Tensor;
  /** The `__lowrank_in` weight at rank k ([n, k] for MatMul, [k, n] for Gemm, [k, c, kh, kw] for Conv). */
  inputWeight(k: number): tf.Tensor;
  /** The trained factors in the compiler's float64 layout, nested as before. */
  fold(factors: OrderedFactors): OrderedFactors;
  dispose(): void;
}

/** `left` ([k, m], component-major) in the layout of the `__lowrank_out` initializer. */
function outputLayout(kind: LayerKind, left: tf.Tensor2D, spatialDims: number): tf.Tensor {
  if (kind !== 'conv') return left;
  const [k, m] = left.shape;
  return tf.reshape(tf.transpose(left), [m, k, ...Array(spatialDims).fill(1)]);
}

/**
 * What distillation trains in one factored layer (OIALR: the small core between fixed orthonormal bases, plus the
 * bias). The layer is W ≈ A·B with A = U·Σ^½ (m×r, orthonormal U) and B = Σ^½·Vᵀ·S⁻¹; training makes it
 * A·X·Y·B with X upper-triangular and Y lower-triangular (both start as the identity). Triangular cores are what
 * keeps the nesting exact: the first k columns of A·X are A's first k columns times X's leading k×k block, and
 * the first k rows of Y·B likewise, so every tier prefix of the trained factors is A_k·X_kk·Y_kk·B_k, exactly
 * the model the nested loss trained at that tier, and the spans of the bases never change (nothing to
 * re-orthonormalise: each prefix of A·X spans what U's prefix spans). Folding X into A and Y into B at the end
 * stores the result in the unchanged .lrm layout.
 *
 * Only the first `size` components get a core (the largest rank of a trained tier below full rank): components
 * beyond it, which only the full-rank tier reads, stay as stored (`rest`) and anchor that tier to the original.
 */
export class NestedCores implements TrainableLayer {
  readonly trainsInput = false;
  readonly x: tf.Variable;
  readonly y: tf.Variable;
  readonly bias: tf.Variable | undefined;
  private readonly upper: tf.Tensor2D;
  private readonly lower: tf.Tensor2D;
  /** Aᵀ's first `size` rows: [size, m], component-major as stored. */
  private readonly left0: tf.Tensor2D;
  /** Aᵀ's rows from `size` to the largest rank a trained tier uses, kept as stored. */
  private readonly rest: tf.Tensor2D | undefined;

  constructor(
    readonly kind: LayerKind,
    readonly rows: number,
    readonly cols: number,
    readonly size: number,
    maxRank: number,
    private readonly spatialDims: number,
    factors: OrderedFactors,
    bias: Float32Array | undefined,
  ) {
    this.rest = constantRows(factors.left, rows, size, maxRank);
    const eye = tf.eye(size);
    this.x = tf.variable(eye, true);
    this.y = tf.variable(eye, true);
    eye.dispose();
    this.upper = tf.linalg.bandPart(tf.ones([size, size]), 0, -1) as tf.Tensor2D;
    this.lower = tf.linalg.bandPart(tf.ones([size, size]), -1, 0) as tf.Tensor2D;
    this.left0 = tf.tensor2d(Float32Array.from(factors.left.subarray(0, size * rows)), [size, rows]);
    this.bias = bias && tf.variable(tf.tensor1d(bias), true);
  }

  get variables(): tf.Variable[] {
    return this.bias ? [this.x, this.y, this.bias] : [this.x, this.y];
  }

  /** (A·X)ᵀ = Xᵀ·Aᵀ for all `size` components. */
  prepare(): tf.Tensor2D {
    return tf.matMul(tf.mul(this.x, this.upper) as tf.Tensor2D, this.left0, true, false);
  }

  /** The left factor (A·X·Y)_k = (Y_kkᵀ·(Xᵀ·Aᵀ)_k)ᵀ: B stays in the graph as stored. */
  outputWeight(folded: tf.Tensor2D, k: number): tf.Tensor {
    const t = Math.min(k, this.size);
    const yk = tf.slice(tf.mul(this.y, this.lower), [0, 0], [t, t]) as tf.Tensor2D;
    const trained = tf.matMul(yk, tf.slice(folded, [0, 0], [t, this.rows]) as tf.Tensor2D, true, false) as tf.Tensor2D;
    return outputLayout(this.kind, withRest(trained, this.rest, k - t), this.spatialDims);
  }

  inputWeight(): tf.Tensor {
    throw new Error('the cores leave the input-side factor as stored');
  }

  /** The trained factors, X folded into A and Y into B (float64, as the compiler stores them). */
  fold(factors: OrderedFactors): OrderedFactors {
    const n = this.size;
    const cols = this.cols;
    const x = tf.tidy(() => tf.mul(this.x, this.upper)).dataSync();
    const y = tf.tidy(() => tf.mul(this.y, this.lower)).dataSync();
    const left = Float64Array.from(factors.left);
    const right = Float64Array.from(factors.right);
    const m = this.rows;
    // Component j of A·X: Σ_{i≤j} X[i,j]·A_i; row j of Y·B: Σ_{i≤j} Y[j,i]·B_i.
    for (let j = 0; j < n; j++) {
      const outL = left.subarray(j * m, (j + 1) * m).fill(0);
      const outR = right.subarray(j * cols, (j + 1) * cols).fill(0);
      for (let i = 0; i <= j; i++) {
        const a = x[i * n + j];
        if (a !== 0) for (let c = 0; c < m; c++) outL[c] += a * factors.left[i * m + c];
        const b = y[j * n + i];
        if (b !== 0) for (let c = 0; c < cols; c++) outR[c] += b * factors.right[i * cols + c];
      }
    }
    return { rank: factors.rank, sigma: factors.sigma, left, right };
  }

  dispose(): void {
    for (const t of [this.x, this.y, this.upper, this.lower, this.left0, this.rest, this.bias]) t?.dispose();
  }
}

/**
 * The factors themselves, A's and B's first `size` components, trained directly (more freedom than the cores,
 * for models whose calibrated factors are far from good: compact CNNs). Nesting holds by construction: tier k
 * reads the first k components of both.
 */
export class NestedFactors implements TrainableLayer {
  readonly trainsInput = true;
  readonly left: tf.Variable;
  readonly right: tf.Variable;
  readonly bias: tf.Variable | undefined;
  private readonly restLeft: tf.Tensor2D | undefined;
  private readonly restRight: tf.Tensor2D | undefined;

  constructor(
    readonly kind: LayerKind,
    readonly rows: number,
    readonly cols: number,
    readonly size: number,
    maxRank: number,
    private readonly weightDims: readonly number[],
    factors: OrderedFactors,
    bias: Float32Array | undefined,
  ) {
    this.restLeft = constantRows(factors.left, rows, size, maxRank);
    this.restRight = constantRows(factors.right, cols, size, maxRank);
    this.left = tf.variable(tf.tensor2d(Float32Array.from(factors.left.subarray(0, size * rows)), [size, rows]), true);
    this.right = tf.variable(tf.tensor2d(Float32Array.from(factors.right.subarray(0, size * cols)), [size, cols]), true);
    this.bias = bias && tf.variable(tf.tensor1d(bias), true);
  }

  get variables(): tf.Variable[] {
    return this.bias ? [this.left, this.right, this.bias] : [this.left, this.right];
  }

  prepare(): tf.Tensor2D {
    return this.left as tf.Tensor as tf.Tensor2D;
  }

  outputWeight(left: tf.Tensor2D, k: number): tf.Tensor {
    const t = Math.min(k, this.size);
    return outputLayout(this.kind, withRest(tf.slice(left, [0, 0], [t, this.rows]) as tf.Tensor2D, this.restLeft, k - t), this.weightDims.length - 2);
  }

  inputWeight(k: number): tf.Tensor {
    const t = Math.min(k, this.size);
    const right = withRest(tf.slice(this.right, [0, 0], [t, this.cols]) as tf.Tensor2D, this.restRight, k - t);
    if (this.kind === 'matmul') return tf.transpose(right);
    if (this.kind === 'gemm') return right;
    return tf.reshape(right, [k, ...this.weightDims.slice(1)]);
  }

  fold(factors: OrderedFactors): OrderedFactors {
    const left = Float64Array.from(factors.left);
    const right = Float64Array.from(factors.right);
    left.set(this.left.dataSync());
    right.set(this.right.dataSync());
    return { rank: factors.rank, sigma: factors.sigma, left, right };
  }

  dispose(): void {
    for (const t of [this.left, this.right, this.restLeft, this.restRight, this.bias]) t?.dispose();
  }
}

/** Rows [from, to) of a component-major factor as a constant tensor (undefined when empty). */
function constantRows(factor: Float64Array, width: number, from: number, to: number): tf.Tensor2D | undefined {
  return to > from ? tf.tensor2d(Float32Array.from(factor.subarray(from * width, to * width)), [to - from, width]) : undefined;
}

/** `trained` followed by the first `count` rows of `rest`. */
function withRest(trained: tf.Tensor2D, rest: tf.Tensor2D | undefined, count: number): tf.Tensor2D {
  if (count <= 0 || !rest) return trained;
  return tf.concat([trained, tf.slice(rest, [0, 0], [count, rest.shape[1]])], 0);
}
