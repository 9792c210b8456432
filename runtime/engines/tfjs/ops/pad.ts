import * as tf from '@tensorflow/tfjs-core';
import { KernelError, tensorValue, type OpKernel } from '../kernel.js';

/** Pad: constant or reflect (edge has no tfjs op). Pads are an attribute before opset 11, inputs from 11 on. */
export const pad: OpKernel = {
  hostInputs: [1, 2, 3],
  check(_node, attrs) {
    const mode = attrs.string('mode', 'constant');
    return mode === 'constant' || mode === 'reflect' ? undefined : `Pad mode ${mode}`;
  },
  run(ctx) {
    const x = ctx.tensor(0);
    const pads = ctx.opset < 11 ? ctx.attrs.ints('pads') ?? [] : ctx.hostNumbers(1);
    const value = ctx.opset < 11 ? ctx.attrs.float('value', 0) : ctx.has(2) ? ctx.hostNumbers(2)[0] : 0;
    const axes = ctx.opset >= 18 && ctx.has(3) ? ctx.hostNumbers(3).map((a) => (a < 0 ? a + x.rank : a)) : [...Array(x.rank).keys()];
    const paddings: Array<[number, number]> = x.shape.map(() => [0, 0]);
    axes.forEach((a, i) => (paddings[a] = [pads[i], pads[i + axes.length]]));
    if (paddings.flat().some((p) => p < 0)) throw new KernelError(ctx.node, `negative pads [${pads}] (cropping) are not supported`);
    const mode = ctx.attrs.string('mode', 'constant');
    return [tensorValue(mode === 'reflect' ? tf.mirrorPad(x, paddings, 'reflect') : tf.pad(x, paddings, value))];
  },
};
