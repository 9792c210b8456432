/**
 * Shape rules of convolutions and pooling, with the check onnxruntime does not make: a (dilated) kernel larger than
 * its padded input aborts the process with SIGFPE there, so it is refused here.
 */
import { intAttr, intsAttr, stringAttr } from '../../formats/attributes.js';
import type { NodeDef } from '../../formats/model.js';
import type { ShapeRule } from './shape-rule.js';

/** Conv and pooling output from x and, for a convolution, its weight w (QLinearConv: input 3). */
function pooled(n: NodeDef, x: number[], w: number[] | undefined, fail: (problem: string) => never): number[] | undefined {
  const spatial = x.slice(2);
  const kernel = intsAttr(n, 'kernel_shape') ?? w?.slice(2);
  if (!kernel || kernel.length !== spatial.length) return undefined;
  const strides = intsAttr(n, 'strides') ?? kernel.map(() => 1);
  const dilations = intsAttr(n, 'dilations') ?? kernel.map(() => 1);
  const same = stringAttr(n, 'auto_pad', 'NOTSET').startsWith('SAME');
  const pads = intsAttr(n, 'pads') ?? kernel.flatMap(() => [0, 0]);
  const out = spatial.map((size, k) => {
    if (same) return Math.ceil(size / strides[k]!);
    const padded = size + pads[k]! + pads[k + spatial.length]!;
    const reach = (kernel[k]! - 1) * dilations[k]! + 1;
    if (reach > padded) fail(`has a ${kernel.join('×')} kernel (dilated ${reach}) larger than its ${spatial.join('×')} input (${padded} padded)`);
    return Math.floor((padded - reach) / strides[k]!) + 1;
  });
  if (!w) return n.opType.endsWith('Conv') ? undefined : [x[0]!, x[1]!, ...out];
  const group = intAttr(n, 'group', 1);
  if (x[1] !== undefined && w[1]! * group !== x[1]) fail(`has ${x[1]} input channels, but its weight takes ${w[1]} per group × group ${group}`);
  return [x[0]!, w[0]!, ...out];
}

const conv: ShapeRule = (n, input, ctx) => {
  const x = input[0]?.shape;
  const w = input[n.opType === 'QLinearConv' ? 3 : 1]?.shape;
  const shape = x && pooled(n, x, n.opType.endsWith('Conv') ? w : undefined, ctx.fail);
  return shape && { shape };
};

const globalPool: ShapeRule = (_, [x]) => x?.shape && { shape: [...x.shape.slice(0, 2), ...x.shape.slice(2).map(() => 1)] };

export const SPATIAL_RULES: Record<string, ShapeRule> = {
  Conv: conv,
  QLinearConv: conv,
  MaxPool: conv,
  AveragePool: conv,
  LpPool: conv,
  GlobalAveragePool: globalPool,
  GlobalMaxPool: globalPool,
};
