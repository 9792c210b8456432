/**
 * ΔW of one adapter layer as a dense rows × cols float32 matrix (row-major, rows = outputs), scaled by alpha/rank:
 * the reference the runtime merges into dense weights and the trainer and tests compare against. Plain loops with
 * float64 sums, rounded to float32 once at the end, so the result does not depend on summation order.
 */
import type { AdapterKind, AdapterLayer } from '../../formats/adapter-model.js';

/** ΔW = (alpha/rank)·up·down (lora), ·(up1·down1)⊙(up2·down2) (loha), ·w1⊗(up2·down2) (lokr). */
export function adapterDelta(kind: AdapterKind, layer: AdapterLayer): Float32Array {
  const { rows, cols, rank, factors } = layer;
  const scale = layer.alpha / rank;
  switch (kind) {
    case 'lora':
      return toFloat32(product(factors[0], factors[1], rows, rank, cols), scale);
    case 'loha': {
      const a = product(factors[0], factors[1], rows, rank, cols);
      const b = product(factors[2], factors[3], rows, rank, cols);
      for (let i = 0; i < a.length; i++) a[i] *= b[i];
      return toFloat32(a, scale);
    }
    case 'lokr':
      return toFloat32(kronecker(factors[0], layer.kron ?? [1, 1], rows, cols, (r, c) => product(factors[1], factors[2], r, rank, c)), scale);
  }
}

/**
 * A LoRA layer as extra components of a factored layer, in LayerFactors' layout (runtime/factors.ts): left is
 * rank × rows (the columns of s·up, as rows), right is rank × cols (down as stored).
 */
export function loraComponents(layer: AdapterLayer): { rank: number; left: Float32Array; right: Float32Array } {
  const { rows, rank, factors } = layer;
  const scale = layer.alpha / rank;
  const left = new Float32Array(rank * rows);
  for (let i = 0; i < rows; i++) for (let k = 0; k < rank; k++) left[k * rows + i] = scale * factors[0][i * rank + k];
  return { rank, left, right: factors[1] };
}

/** a (m × k) · b (k × n), row-major, summed in float64. */
function product(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const row = i * n;
    for (let p = 0; p < k; p++) {
      const x = a[i * k + p];
      if (x === 0) continue;
      const from = p * n;
      for (let j = 0; j < n; j++) out[row + j] += x * b[from + j];
    }
  }
  return out;
}

/** w1 (kr × kc) ⊗ B, where B (rows/kr × cols/kc) comes from `inner`: block (i, j) of the result is w1[i][j]·B. */
function kronecker(w1: Float32Array, [kr, kc]: [number, number], rows: number, cols: number, inner: (r: number, c: number) => Float64Array): Float64Array {
  const [br, bc] = [rows / kr, cols / kc];
  const b = inner(br, bc);
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < kr; i++) {
    for (let j = 0; j < kc; j++) {
      const w = w1[i * kc + j];
      for (let r = 0; r < br; r++) for (let c = 0; c < bc; c++) out[(i * br + r) * cols + j * bc + c] = w * b[r * bc + c];
    }
  }
  return out;
}

function toFloat32(values: Float64Array, scale: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = scale * values[i];
  return out;
}
