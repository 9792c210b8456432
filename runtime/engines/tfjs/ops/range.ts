import { hostValue } from '../host-value.js';
import { KernelError, type OpKernel } from '../kernel.js';

/**
 * Range(start, limit, delta): max(ceil((limit − start) / delta), 0) values, built on the host from its three
 * scalars (a sequence mask's positions, from a shape). Floats are accumulated in float32, start + delta + delta
 * …, as the ONNX function body and onnxruntime do (start + i·delta drifts from them by up to 0.1 over 10⁴ steps).
 */
export const range: OpKernel = {
  hostInputs: [0, 1, 2],
  run(ctx) {
    const [start, limit, delta] = [0, 1, 2].map((i) => ctx.hostNumbers(i)[0]);
    if (delta === 0) throw new KernelError(ctx.node, 'delta is 0');
    const float = ctx.host(0).dtype === 'float32';
    // onnxruntime subtracts in the input type, then divides in double.
    const count = Math.max(Math.ceil((float ? Math.fround(limit - start) : limit - start) / delta), 0);
    if (float) {
      const out = new Float32Array(count);
      let v = Math.fround(start);
      for (let i = 0; i < count; i++, v = Math.fround(v + delta)) out[i] = v;
      return [hostValue('float32', [count], out)];
    }
    return [hostValue('int', [count], Float64Array.from({ length: count }, (_, i) => start + i * delta))];
  },
};
