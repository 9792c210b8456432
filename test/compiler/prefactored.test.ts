import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { compileOnnx, type CompileOptions } from '../../compiler/compile.js';
import { findCandidates, withKnownCandidates } from '../../compiler/factorize/candidates.js';
import { knownFactors, mergePrefactoredPairs, pairFactors, type KnownFactors } from '../../compiler/factorize/prefactored.js';
import { importOnnx } from '../../compiler/import/onnx.js';
import { whitenedFactors } from '../../compiler/linalg/whitened.js';
import { load } from '../../runtime/node.js';
import { onnx, type NodeProto } from '../../runtime/onnx/proto.js';
import type { Feeds } from '../../runtime/tensor.js';

// ---------------------------------------------------------------------------------------------------------
// Tiny models built here with onnx-proto.

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const T = onnx.AttributeProto.AttributeType;

let seed = 20251;
function random(): number {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31 - 0.5;
}
const randomArray = (n: number) => Float32Array.from({ length: n }, random);

const ints = (name: string, v: number[]) => ({ name, type: T.INTS, ints: v });
const int = (name: string, v: number) => ({ name, type: T.INT, i: v });
const float = (name: string, v: number) => ({ name, type: T.FLOAT, f: v });

interface Weight {
  name: string;
  dims: number[];
  data: Float32Array;
}
const weight = (name: string, dims: number[]): Weight => ({ name, dims, data: randomArray(dims.reduce((a, b) => a * b, 1)) });

function buildModel(nodes: NodeProto[], weights: Weight[], input: Array<number | string>, outputs = ['y']): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'g',
      node: nodes,
      initializer: weights.map((w) => ({ name: w.name, dataType: FLOAT, dims: w.dims, rawData: new Uint8Array(w.data.buffer) })),
      input: [{ name: 'x', type: { tensorType: { elemType: FLOAT, shape: { dim: input.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } }],
      output: outputs.map((name) => ({ name, type: { tensorType: { elemType: FLOAT } } })),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

async function runSource(bytes: Uint8Array, x: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run({ x: new ort.Tensor('float32', x, dims) });
  await session.release();
  return Float32Array.from(out.y.data as Float32Array);
}

async function runLrm(lrm: Uint8Array, x: Float32Array, dims: number[], tier?: number): Promise<Float32Array> {
  const session = await load(lrm, { tier });
  const out = await session.run({ x: { dataType: 'float32', dims, data: x } });
  await session.release();
  return Float32Array.from(out.y.data as Float32Array);
}

function expectClose(got: Float32Array, want: Float32Array, tolerance = 1e-5): void {
  expect(got.length).toBe(want.length);
  const scale = Math.max(...want.map(Math.abs));
  expect(Math.max(...want.map((v, i) => Math.abs(v - got[i])))).toBeLessThanOrEqual(tolerance * scale);
}

/** M = Σ leftᵢ·rightᵢᵀ (rows×cols) of the first `rank` components. */
function product(f: { left: Float64Array; right: Float64Array }, rank: number, rows: number, cols: number): Float64Array {
  const M = new Float64Array(rows * cols);
  for (let i = 0; i < rank; i++) for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) M[r * cols + c] += f.left[i * rows + r] * f.right[i * cols + c];
  return M;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** Singular values of a rows×cols row-major matrix, descending. */
function singularValues(M: ArrayLike<number>, rows: number, cols: number): number[] {
  const m = new Matrix(Array.from({ length: rows }, (_, r) => Array.from({ length: cols }, (_, c) => M[r * cols + c])));
  return new SingularValueDecomposition(m, { autoTranspose: true }).diagonal.sort((a, b) => b - a);
}

/** M = (U·V)ᵀ (V 4×24: m = 24, U 16×4: n = 16) for x·U·V. */
function matmulPairMatrix(U: Weight, V: Weight): Float64Array {
  const [n, r] = U.dims;
  const m = V.dims[1];
  const M = new Float64Array(m * n);
  for (let o = 0; o < m; o++) for (let i = 0; i < n; i++) for (let k = 0; k < r; k++) M[o * n + i] += U.data[i * r + k] * V.data[k * m + o];
  return M;
}

const FULL: CompileOptions = { minParams: 0, tiers: [1] };

// ---------------------------------------------------------------------------------------------------------

describe('mergePrefactoredPairs', () => {
  const U = weight('U', [16, 4]);
  const V = weight('V', [4, 24]);
  const pair = buildModel(
    [
      { name: 'down', opType: 'MatMul', input: ['x', 'U'], output: ['h'] },
      { name: 'up', opType: 'MatMul', input: ['h', 'V'], output: ['y'] },
    ],
    [U, V],
    ['N', 16],
  );
  const x = randomArray(3 * 16);

  it('recognises MatMul(x, U)·V as one layer whose σ are the singular values of U·V, exact at full rank', async () => {
    const { model, known } = mergePrefactoredPairs(importOnnx(pair), { minParams: 0 });
    expect(model.nodes.map((n) => [n.name, n.opType, n.inputs, n.outputs])).toEqual([['up', 'MatMul', ['x', 'up__prefactored'], ['y']]]);
    expect(model.initializers).toEqual([]);
    const k = known.get('up')!;
    expect([k.kind, k.rows, k.cols, k.weightDims, k.rank, k.pair]).toEqual(['matmul', 24, 16, [16, 24], 4, ['down', 'up']]);
    const M = matmulPairMatrix(U, V);
    const sv = singularValues(M, 24, 16);
    k.sigma.forEach((s, i) => expect(Math.abs(s - sv[i])).toBeLessThanOrEqual(1e-12 * sv[0]));
    expect(sv[4]).toBeLessThan(1e-12 * sv[0]);
    expect(maxAbsDiff(product(k, 4, 24, 16), M)).toBeLessThan(1e-12);
    // Components are orthogonal on both sides and balanced (|left_i| = |right_i| = √σ_i).
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) {
        let dl = 0;
        let dr = 0;
        for (let r = 0; r < 24; r++) dl += k.left[i * 24 + r] * k.left[j * 24 + r];
        for (let c = 0; c < 16; c++) dr += k.right[i * 16 + c] * k.right[j * 16 + c];
        expect(dl).toBeCloseTo(i === j ? k.sigma[i] : 0, 10);
        expect(dr).toBeCloseTo(i === j ? k.sigma[i] : 0, 10);
      }
    }
    // It becomes a candidate of its own, with the synthetic weight's dims.
    const candidates = withKnownCandidates(findCandidates(model, { minParams: 0 }), model, known);
    expect(candidates.map((c) => [c.node.name, c.kind, c.rows, c.cols, c.weight.name, c.weight.dims])).toEqual([['up', 'matmul', 24, 16, 'up__prefactored', [16, 24]]]);
    expect(maxAbsDiff(candidates[0].matrix(), M)).toBeLessThan(1e-12);

    const { header, lrm } = await compileOnnx(pair, FULL);
    expect(header.layers.map((l) => [l.name, l.weight, l.maxRank])).toEqual([['up', 'up__prefactored', 4]]);
    header.layers[0].sigma.forEach((s, i) => expect(Math.abs(s - sv[i])).toBeLessThanOrEqual(1e-5 * sv[i]));
    expectClose(await runLrm(lrm, x, [3, 16]), await runSource(pair, x, [3, 16]));
  });

  it('leaves pairs alone when something sits between them or the middle value is used elsewhere', () => {
    const relu = buildModel(
      [
        { name: 'down', opType: 'MatMul', input: ['x', 'U'], output: ['h'] },
        { name: 'act', opType: 'Relu', input: ['h'], output: ['a'] },
        { name: 'up', opType: 'MatMul', input: ['a', 'V'], output: ['y'] },
      ],
      [U, V],
      ['N', 16],
    );
    const withRelu = mergePrefactoredPairs(importOnnx(relu), { minParams: 0 });
    expect(withRelu.known.size).toBe(0);
    expect(withRelu.model.nodes.map((n) => n.name)).toEqual(['down', 'act', 'up']);

    const exposed = buildModel(
      [
        { name: 'down', opType: 'MatMul', input: ['x', 'U'], output: ['h'] },
        { name: 'up', opType: 'MatMul', input: ['h', 'V'], output: ['y'] },
      ],
      [U, V],
      ['N', 16],
      ['y', 'h'],
    );
    expect(mergePrefactoredPairs(importOnnx(exposed), { minParams: 0 }).known.size).toBe(0);

    const shared = buildModel(
      [
        { name: 'down', opType: 'MatMul', input: ['x', 'U'], output: ['h'] },
        { name: 'up', opType: 'MatMul', input: ['h', 'V'], output: ['y'] },
        { name: 'other', opType: 'MatMul', input: ['x', 'U'], output: ['z'] },
      ],
      [U, V],
      ['N', 16],
      ['y', 'z'],
    );
    expect(mergePrefactoredPairs(importOnnx(shared), { minParams: 0 }).known.size).toBe(0);

    // A pair that would not be factored (below min-params) keeps its stored weights.
    expect(mergePrefactoredPairs(importOnnx(pair)).known.size).toBe(0);
  });

  it('merges Conv3×3 (r = 4 filters, bias folded) → Conv1×1 (bias) and matches the source', async () => {
    const W1 = weight('W1', [4, 8, 3, 3]);
    const b1 = weight('b1', [4]);
    const W2 = weight('W2', [12, 4, 1, 1]);
    const b2 = weight('b2', [12]);
    const conv = buildModel(
      [
        { name: 'spatial', opType: 'Conv', input: ['x', 'W1', 'b1'], output: ['h'], attribute: [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1]), ints('strides', [2, 2])] },
        { name: 'mix', opType: 'Conv', input: ['h', 'W2', 'b2'], output: ['y'], attribute: [ints('kernel_shape', [1, 1])] },
      ],
      [W1, b1, W2, b2],
      [1, 8, 10, 10],
    );
    const { model, known } = mergePrefactoredPairs(importOnnx(conv), { minParams: 0 });
    expect(model.nodes).toHaveLength(1);
    expect(model.nodes[0].opType).toBe('Conv');
    expect(model.nodes[0].attributes.map((a) => a.name)).toEqual(['kernel_shape', 'pads', 'strides']);
    const k = known.get('mix')!;
    expect([k.kind, k.rows, k.cols, k.weightDims, k.rank]).toEqual(['conv', 12, 72, [12, 8, 3, 3], 4]);
    // The folded bias W2·b1 + b2 replaces both biases.
    expect(model.initializers.map((t) => [t.name, t.dims])).toEqual([['mix__prefactored__bias', [12]]]);

    const x = randomArray(8 * 10 * 10);
    const { header, lrm } = await compileOnnx(conv, FULL);
    expect(header.layers.map((l) => [l.name, l.kind, l.maxRank])).toEqual([['mix', 'conv', 4]]);
    expectClose(await runLrm(lrm, x, [1, 8, 10, 10]), await runSource(conv, x, [1, 8, 10, 10]));
  });

  it('refuses a 1×1 conv that strides or pads, since it does not read every position once', () => {
    const conv = buildModel(
      [
        { name: 'spatial', opType: 'Conv', input: ['x', 'W1'], output: ['h'], attribute: [ints('kernel_shape', [3, 3])] },
        { name: 'mix', opType: 'Conv', input: ['h', 'W2'], output: ['y'], attribute: [ints('kernel_shape', [1, 1]), ints('strides', [2, 2])] },
      ],
      [weight('W1', [4, 8, 3, 3]), weight('W2', [12, 4, 1, 1])],
      [1, 8, 10, 10],
    );
    expect(mergePrefactoredPairs(importOnnx(conv), { minParams: 0 }).known.size).toBe(0);
  });

  it('merges Gemm pairs with alpha, transA, beta and a first-layer bias folded into the second', async () => {
    const G1 = weight('G1', [4, 16]); // transB = 1: r×n
    const c1 = weight('c1', [4]);
    const G2 = weight('G2', [4, 24]);
    const c2 = weight('c2', [1, 24]);
    const gemm = buildModel(
      [
        { name: 'down', opType: 'Gemm', input: ['x', 'G1', 'c1'], output: ['h'], attribute: [int('transA', 1), int('transB', 1), float('alpha', 0.5), float('beta', 3)] },
        { name: 'up', opType: 'Gemm', input: ['h', 'G2', 'c2'], output: ['y'], attribute: [float('alpha', 1.5), float('beta', 2)] },
      ],
      [G1, c1, G2, c2],
      [16, 'N'],
    );
    const { model, known } = mergePrefactoredPairs(importOnnx(gemm), { minParams: 0 });
    expect(model.nodes.map((n) => [n.opType, n.attributes.map((a) => `${a.name}=${a.value}`)])).toEqual([['Gemm', ['transA=1', 'transB=1']]]);
    expect(known.get('up')!.weightDims).toEqual([24, 16]);
    const x = randomArray(16 * 5);
    const { lrm } = await compileOnnx(gemm, FULL);
    expectClose(await runLrm(lrm, x, [16, 5]), await runSource(gemm, x, [16, 5]));

    // MatMul → Gemm keeps the second Gemm's bias and beta as they are.
    const mixed = buildModel(
      [
        { name: 'down', opType: 'MatMul', input: ['x', 'U'], output: ['h'] },
        { name: 'up', opType: 'Gemm', input: ['h', 'G2', 'c2'], output: ['y'], attribute: [float('beta', 2)] },
      ],
      [U, G2, c2],
      ['N', 16],
    );
    const m2 = mergePrefactoredPairs(importOnnx(mixed), { minParams: 0 });
    expect(m2.model.nodes.map((n) => [n.opType, n.inputs, n.attributes.map((a) => `${a.name}=${a.value}`)])).toEqual([['Gemm', ['x', 'up__prefactored', 'c2'], ['transB=1', 'beta=2']]]);
    const { lrm: lrm2 } = await compileOnnx(mixed, FULL);
    expectClose(await runLrm(lrm2, x, [5, 16]), await runSource(mixed, x, [5, 16]));
  });

  it('calibrated compiles whiten known factors inside their subspace and measure sensitivity on the merged graph', async () => {
    // relu → pair → relu → pair: the second pair's node index shifts once the first is merged.
    const [U1, V1, U2, V2] = [weight('U1', [16, 6]), weight('V1', [6, 24]), weight('U2', [24, 5]), weight('V2', [5, 20])];
    const twoPairs = buildModel(
      [
        { name: 'a0', opType: 'Relu', input: ['x'], output: ['r0'] },
        { name: 'p1/in', opType: 'MatMul', input: ['r0', 'U1'], output: ['h1'] },
        { name: 'p1/out', opType: 'MatMul', input: ['h1', 'V1'], output: ['z1'] },
        { name: 'a1', opType: 'Relu', input: ['z1'], output: ['r1'] },
        { name: 'p2/in', opType: 'MatMul', input: ['r1', 'U2'], output: ['h2'] },
        { name: 'p2/out', opType: 'MatMul', input: ['h2', 'V2'], output: ['y'] },
      ],
      [U1, V1, U2, V2],
      ['N', 16],
    );
    const merged = mergePrefactoredPairs(importOnnx(twoPairs), { minParams: 0 });
    expect(merged.model.nodes.map((n) => n.name)).toEqual(['a0', 'p1', 'a1', 'p2']);
    // The merged source runs like the original.
    const x = randomArray(4 * 16);
    expectClose(await runSource(merged.mergedSource(twoPairs), x, [4, 16]), await runSource(twoPairs, x, [4, 16]));

    async function* batches(): AsyncGenerator<Feeds> {
      for (let b = 0; b < 4; b++) yield { x: { dataType: 'float32', dims: [8, 16], data: randomArray(8 * 16) } };
    }
    const { header, lrm } = await compileOnnx(twoPairs, { minParams: 0, tiers: [0.3, 1], rankMultiple: 1, calibration: batches(), allocation: 'sensitivity' });
    expect(header.layers.map((l) => [l.name, l.maxRank])).toEqual([['p1', 6], ['p2', 5]]);
    expect(header.tiers[0].ranks.some((r, i) => r < header.layers[i].maxRank)).toBe(true);
    expectClose(await runLrm(lrm, x, [4, 16]), await runSource(twoPairs, x, [4, 16]));
  });
});

describe('pairFactors and knownFactors', () => {
  it('order a rank-deficient pair and drop its null component', () => {
    const [m, r, n] = [9, 4, 7];
    const A = Float64Array.from({ length: m * r }, random);
    for (let i = 0; i < m; i++) A[i * r + 3] = A[i * r + 1] * 2; // column 3 = 2·column 1
    const B = Float64Array.from({ length: r * n }, random);
    const f = pairFactors(A, B, m, r, n);
    expect(f.rank).toBe(3);
    const M = new Float64Array(m * n);
    for (let i = 0; i < m; i++) for (let c = 0; c < n; c++) for (let k = 0; k < r; k++) M[i * n + c] += A[i * r + k] * B[k * n + c];
    expect(maxAbsDiff(product(f, 3, m, n), M)).toBeLessThan(1e-12);
    singularValues(M, m, n).slice(0, 3).forEach((s, i) => expect(f.sigma[i]).toBeCloseTo(s, 12));
  });

  it('whitened in the subspace equals whitenedFactors of the multiplied-out matrix', async () => {
    const [m, r, n] = [10, 4, 12];
    const A = Float64Array.from({ length: m * r }, random);
    const B = Float64Array.from({ length: r * n }, random);
    const f = pairFactors(A, B, m, r, n);
    const k: KnownFactors = { ...f, kind: 'matmul', rows: m, cols: n, weight: 'w', weightDims: [n, m], pair: ['a', 'b'] };
    expect(await knownFactors(k)).toBe(k);
    // A positive definite G with structure: X·Xᵀ over random inputs with correlated coordinates.
    const X = Float64Array.from({ length: n * 40 }, random);
    for (let s = 0; s < 40; s++) X[1 * 40 + s] += 3 * X[0 * 40 + s];
    const G = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let s = 0; s < 40; s++) G[i * n + j] += X[i * 40 + s] * X[j * 40 + s];
    const sub = await knownFactors(k, G);
    const dense = await whitenedFactors(product(f, f.rank, m, n), m, n, G);
    expect(sub.rank).toBe(r);
    sub.sigma.forEach((s, i) => expect(s).toBeCloseTo(dense.sigma[i], 9));
    for (let rank = 1; rank <= r; rank++) expect(maxAbsDiff(product(sub, rank, m, n), product(dense, rank, m, n))).toBeLessThan(1e-9);
  });
});
