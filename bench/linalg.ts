/**
 * The compiler's linear-algebra kernels side by side, as ratios measured in one run:
 *
 *   npm run build && node dist/bench/linalg.js [--sizes 256,512,1024]
 *
 *  - symmetric eigen-decomposition: ml-matrix's EVD (JAMA) vs compiler/linalg/symmetric-eigen.ts;
 *  - the whitening product M·G·Mᵀ (m = k, n = 4.5·k, like a 3×3 conv): an i-k-j JS loop vs onnxruntime's Gemm
 *    in float64 (compiler/linalg/ort-gemm.ts);
 *  - calibration's Σ x·xᵀ over 2048 vectors of n = 4.5·k: BlockedGram float64 vs float32.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { parseArgs } from 'node:util';
import { BlockedGram } from '../compiler/linalg/blocked-gram.js';
import { gemm } from '../compiler/linalg/ort-gemm.js';
import { symmetricEigen } from '../compiler/linalg/symmetric-eigen.js';

function random(length: number, seed: number): Float64Array {
  let s = seed;
  return Float64Array.from({ length }, () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1);
}

async function seconds(f: () => unknown): Promise<number> {
  const t = performance.now();
  await f();
  return (performance.now() - t) / 1000;
}

function jsProduct(M: Float64Array, G: Float64Array, m: number, n: number): Float64Array {
  const MG = new Float64Array(m * n);
  for (let r = 0; r < m; r++) for (let k = 0; k < n; k++) {
    const v = M[r * n + k];
    for (let c = 0; c < n; c++) MG[r * n + c] += v * G[k * n + c];
  }
  const C = new Float64Array(m * m);
  for (let i = 0; i < m; i++) for (let j = 0; j <= i; j++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += MG[i * n + k] * M[j * n + k];
    C[i * m + j] = C[j * m + i] = s;
  }
  return C;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { sizes: { type: 'string', default: '256,512,1024' } } });
  const sizes = values.sizes.split(',').map(Number);
  // Warm up onnxruntime's sessions so their creation is not timed.
  await gemm('float64', { data: new Float64Array(1), rows: 1, cols: 1 }, { data: new Float64Array(1), rows: 1, cols: 1 });
  const warm = new BlockedGram(2);
  await warm.add({ count: 2048, gather() {} });
  const rows: string[] = ['| k | eigen: ml-matrix / ours | M·G·Mᵀ (k×4.5k): JS / ort f64 | Σxxᵀ (n = 4.5k, 2048 x): f64 / f32 |', '|---:|---:|---:|---:|'];
  for (const k of sizes) {
    const A = random(k * k, k);
    for (let i = 0; i < k; i++) for (let j = 0; j < i; j++) A[j * k + i] = A[i * k + j];
    const nested = Array.from({ length: k }, (_, i) => Array.from(A.subarray(i * k, (i + 1) * k)));
    const tRef = await seconds(() => new EigenvalueDecomposition(new Matrix(nested), { assumeSymmetric: true }));
    const tOurs = await seconds(() => symmetricEigen(A, k));

    const n = Math.round(4.5 * k);
    const M = random(k * n, 1);
    const G = random(n * n, 2);
    const tJs = await seconds(() => jsProduct(M, G, k, n));
    const tOrt = await seconds(async () => {
      const MG = await gemm('float64', { data: M, rows: k, cols: n }, { data: G, rows: n, cols: n });
      await gemm('float64', { data: MG, rows: k, cols: n }, { data: M, rows: k, cols: n }, { transB: true });
    });

    const x = random(2048 * n, 3);
    const run = {
      count: 2048,
      gather(block: Float32Array | Float64Array, stride: number, col: number, from: number, cnt: number) {
        for (let b = 0; b < cnt; b++) for (let i = 0; i < n; i++) block[i * stride + col + b] = x[(from + b) * n + i];
      },
    };
    const gram = (precision: 'float32' | 'float64') => seconds(async () => {
      const g = new BlockedGram(n, n, precision);
      await g.add(run);
      await g.finish();
    });
    const t64 = await gram('float64');
    const t32 = await gram('float32');
    const cell = (a: number, b: number) => `${a.toFixed(2)} s / ${b.toFixed(2)} s = ${(a / b).toFixed(1)}×`;
    rows.push(`| ${k} | ${cell(tRef, tOurs)} | ${cell(tJs, tOrt)} | ${cell(t64, t32)} |`);
  }
  process.stdout.write(rows.join('\n') + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`linalg bench: error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
