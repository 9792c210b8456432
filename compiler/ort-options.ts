import type * as ort from 'onnxruntime-node';

/**
 * Intra-op threads of every onnxruntime session the compiler creates (calibration, the Gemm products of the
 * factorisation, sensitivity, the int4 precision pass, refit). Fixed, not onnxruntime's default (one per physical
 * core): how MLAS splits a product depends on the thread count, and with it the rounding. Measured (issue 15): the
 * calibrated compile of mnist-cnn-pytorch gave the same bytes with 1, 2 and 4 threads and different bytes with 8
 * and 16, all from the float64 Gemm sessions of the whitened factorisation, so a 16-core machine's default would
 * write another file than a 2-core one.
 */
export const COMPILER_INTRA_OP_THREADS = 4;

/**
 * Session options that make the compiler's results independent of the machine's core count. Spinning is off: with
 * more threads than cores (4 on a 2-core machine) spinning workers starve each other; measured there, the mnist-cnn
 * compile took 3.5 s with spinning and 1.9 s without (1 and 2 threads: 1.9 s).
 */
export function compilerSessionOptions(): ort.InferenceSession.SessionOptions {
  return {
    logSeverityLevel: 3,
    intraOpNumThreads: COMPILER_INTRA_OP_THREADS,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
}
