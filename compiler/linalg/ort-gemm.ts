/**
 * Dense matrix products on onnxruntime-node's CPU Gemm (MLAS kernels, a fixed thread count: ort-options.ts), in float64 or float32.
 * Why: the compiler's big products (M·G·Mᵀ for a 512×4608 layer is 1e10 multiply-adds, calibration's Σ x·xᵀ
 * far more) run at 1-2 GFLOP/s as JS loops and at 10-30 GFLOP/s here on the 2-core build machine (see
 * bench/linalg.ts). onnxruntime is already a dependency; no maintained JS/WASM BLAS comes close.
 *
 * One tiny cached session per (type, transA, transB) computes C = op(A)·op(B); matrices are row-major.
 * Node's binding runs each call synchronously on the main thread (wrapped in a promise), so calls never overlap.
 */
import * as ort from 'onnxruntime-node';
import { compilerSessionOptions } from '../ort-options.js';
import { onnx } from '../../runtime/onnx/proto.js';
import { CompileError } from '../errors.js';

export type GemmType = 'float64' | 'float32';
type GemmArray<T extends GemmType> = T extends 'float64' ? Float64Array : Float32Array;

/** A row-major matrix: `rows`×`cols` values from `data` (a view is fine; its offset is respected). */
export interface MatrixView<T extends GemmType> {
  data: GemmArray<T>;
  rows: number;
  cols: number;
}

export interface GemmOptions {
  /** Use Aᵀ (B.ᵀ) instead of A (B). */
  transA?: boolean;
  transB?: boolean;
}

/** onnxruntime could not run a product (out of memory, usually): the compile cannot go on. */
export class GemmError extends CompileError {
  constructor(message: string) {
    super(message, 'linalg');
  }
}

const sessions = new Map<string, Promise<ort.InferenceSession>>();

function gemmModel(type: GemmType, transA: boolean, transB: boolean): Uint8Array {
  const elemType = type === 'float64' ? onnx.TensorProto.DataType.DOUBLE : onnx.TensorProto.DataType.FLOAT;
  const value = (name: string) => onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType } } });
  const flag = (name: string, on: boolean) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: on ? 1 : 0 });
  const graph = onnx.GraphProto.create({
    name: 'gemm',
    node: [onnx.NodeProto.create({ opType: 'Gemm', input: ['A', 'B'], output: ['C'], attribute: [flag('transA', transA), flag('transB', transB)] })],
    input: [value('A'), value('B')],
    output: [value('C')],
  });
  return onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], graph })).finish();
}

function session(type: GemmType, transA: boolean, transB: boolean): Promise<ort.InferenceSession> {
  const key = `${type}:${transA}:${transB}`;
  let s = sessions.get(key);
  if (!s) {
    s = ort.InferenceSession.create(gemmModel(type, transA, transB), compilerSessionOptions());
    sessions.set(key, s);
  }
  return s;
}

/** C = op(A)·op(B), row-major, in A's type. */
export async function gemm<T extends GemmType>(type: T, a: MatrixView<T>, b: MatrixView<T>, options: GemmOptions = {}): Promise<GemmArray<T>> {
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  const [m, k] = transA ? [a.cols, a.rows] : [a.rows, a.cols];
  const [kb, n] = transB ? [b.cols, b.rows] : [b.rows, b.cols];
  if (k !== kb) throw new RangeError(`gemm: inner dimensions differ (${k} vs ${kb})`);
  if (m === 0 || n === 0 || k === 0) return (type === 'float64' ? new Float64Array(m * n) : new Float32Array(m * n)) as GemmArray<T>;
  const s = await session(type, transA, transB);
  const feeds = {
    A: new ort.Tensor(type, a.data.subarray(0, a.rows * a.cols), [a.rows, a.cols]),
    B: new ort.Tensor(type, b.data.subarray(0, b.rows * b.cols), [b.rows, b.cols]),
  };
  let out: ort.InferenceSession.ReturnType;
  try {
    out = await s.run(feeds);
  } catch (e) {
    const reason = String((e as Error).message ?? e).split('\n')[0].trim();
    throw new GemmError(`a ${m}×${k}·${k}×${n} ${type} product failed in onnxruntime (${reason}); free memory or compile on a larger machine`);
  }
  const c = out.C;
  // Copy out of onnxruntime's buffer, which dispose() frees.
  const result = (c.data as GemmArray<T>).slice() as GemmArray<T>;
  c.dispose();
  return result;
}
