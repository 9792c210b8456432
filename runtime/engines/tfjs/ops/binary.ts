import * as tf from '@tensorflow/tfjs-core';
import { broadcastOperandToNhwc } from '../layout.js';
import { dimsOf, tensorValue, type OpContext, type OpKernel } from '../kernel.js';

/**
 * Element-wise ops with ONNX (numpy) broadcasting. When an operand is a 4-D NHWC value and the result is 4-D,
 * the others are brought to NHWC and the result stays NHWC: a conv's bias Add or a residual Add costs no
 * transpose. Otherwise everything runs in ONNX layout.
 */
function elementwise(op: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): OpKernel {
  return {
    run(ctx: OpContext) {
      const count = ctx.inputCount;
      const values = Array.from({ length: count }, (_, i) => ctx.value(i));
      const outRank = Math.max(...values.map((v) => dimsOf(v).length));
      const nhwc = outRank === 4 && values.some((v) => v.kind === 'tensor' && v.layout === 'nhwc');
      const operand = (i: number): tf.Tensor => {
        if (!nhwc) return ctx.tensor(i);
        const v = values[i];
        if (v.kind === 'tensor' && v.layout === 'nhwc') return v.tensor;
        // Constant operands (biases, scales) are converted once per session.
        return ctx.isConstant(i) ? ctx.memo(`nhwc${i}`, () => broadcastOperandToNhwc(ctx.tensor(i))) : broadcastOperandToNhwc(ctx.tensor(i));
      };
      let y = operand(0);
      for (let i = 1; i < count; i++) y = op(y, operand(i));
      return [tensorValue(y, nhwc ? 'nhwc' : 'onnx')];
    },
  };
}

export const add = elementwise(tf.add);
export const sub = elementwise(tf.sub);
export const mul = elementwise(tf.mul);
// tf.div floors int32 quotients (floorDiv); ONNX, like C and onnxruntime, truncates towards zero: the floored
// quotient is one too low exactly when it is negative and leaves a remainder.
export const div = elementwise((a, b) => {
  if (a.dtype !== 'int32' || b.dtype !== 'int32') return tf.div(a, b);
  const q = tf.floorDiv(a, b);
  const inexact = tf.logicalAnd(tf.less(q, 0), tf.notEqual(tf.sub(a, tf.mul(q, b)), 0));
  return tf.add(q, tf.cast(inexact, 'int32'));
});
export const pow = elementwise(tf.pow);
export const max = elementwise(tf.maximum);
export const min = elementwise(tf.minimum);
export const sum = elementwise(tf.add);
export const equal = elementwise(tf.equal);
export const greater = elementwise(tf.greater);
export const less = elementwise(tf.less);
export const prelu = elementwise((x, slope) => tf.where(tf.greaterEqual(x, 0), x, tf.mul(x, slope)));
