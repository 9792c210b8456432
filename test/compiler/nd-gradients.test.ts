/**
 * The gradients compiler/distill/nd-gradients.ts adds to tfjs (GatherND, TensorScatterUpdate: how the tfjs
 * interpreter runs USE-lite's token packing), checked against central finite differences on tfjs-cpu.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { startTrainingBackend } from '../../compiler/distill/training-backend.js';

/** d loss / d x by central differences, loss = Σ f(x)·w for a fixed random w. */
function numericGradient(f: (x: tf.Tensor) => tf.Tensor, x: Float32Array, shape: number[], w: tf.Tensor): Float64Array {
  const g = new Float64Array(x.length);
  const h = 1e-2;
  for (let i = 0; i < x.length; i++) {
    const at = (d: number) => tf.tidy(() => {
      const y = Float32Array.from(x);
      y[i] = y[i]! + d;
      return tf.sum(tf.mul(f(tf.tensor(y, shape)), w)).dataSync()[0]!;
    });
    g[i] = (at(h) - at(-h)) / (2 * h);
  }
  return g;
}

function seeded(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1);
}

describe('GatherND / TensorScatterUpdate gradients', () => {
  beforeAll(async () => {
    await startTrainingBackend('tfjs-cpu'); // tfjs's own gradients and ours
  });

  it('GatherND: each picked slice sends its gradient back, repeats summed', () => {
    const x = seeded(4 * 3, 1);
    const indices = tf.tensor2d([[2], [0], [2]], [3, 1], 'int32'); // row 2 twice
    const w = tf.tensor(seeded(9, 2), [3, 3]);
    const f = (t: tf.Tensor) => tf.gatherND(t, indices);
    const analytic = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), w)))(tf.tensor(x, [4, 3])).dataSync();
    const numeric = numericGradient(f, x, [4, 3], w);
    numeric.forEach((v, i) => expect(analytic[i]).toBeCloseTo(v, 3));
  });

  it('TensorScatterUpdate: the overwritten slices get no gradient through the tensor, the updates get theirs', () => {
    const base = seeded(5 * 2, 3);
    const upd = seeded(2 * 2, 4);
    const indices = tf.tensor2d([[1], [3]], [2, 1], 'int32');
    const w = tf.tensor(seeded(10, 5), [5, 2]);
    const viaTensor = (t: tf.Tensor) => tf.tensorScatterUpdate(t, indices, tf.tensor(upd, [2, 2]));
    const viaUpdates = (u: tf.Tensor) => tf.tensorScatterUpdate(tf.tensor(base, [5, 2]), indices, u);
    const gT = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(viaTensor(t), w)))(tf.tensor(base, [5, 2])).dataSync();
    const gU = tf.grad((u: tf.Tensor) => tf.sum(tf.mul(viaUpdates(u), w)))(tf.tensor(upd, [2, 2])).dataSync();
    numericGradient(viaTensor, base, [5, 2], w).forEach((v, i) => expect(gT[i]).toBeCloseTo(v, 3));
    numericGradient(viaUpdates, upd, [2, 2], w).forEach((v, i) => expect(gU[i]).toBeCloseTo(v, 3));
    expect(Math.abs(gT[2]!)).toBe(0); // row 1 was overwritten
  });
});
