import * as tf from '@tensorflow/tfjs-core';
import { adapterFactorShapes, type AdapterKind, type AdapterLayer } from '../../formats/adapter-model.js';
import type { AdapterTarget } from '../../runtime/adapters/targets.js';
import { denseNodeLayout } from '../../runtime/onnx/build-model.js';
import { adapterDelta } from './delta.js';
import { initialFactors } from './init.js';
import type { SeededRandom } from './random.js';

/**
 * The adapter's factors as tf.Variables, one list per target in AdapterLayer.factors order, started as PEFT starts
 * them (init.ts: ΔW = 0). They are the only trained tensors; the base stays frozen.
 */
export class TrainableFactors {
  readonly layers: Array<Array<tf.Variable<tf.Rank.R2>>>;
  /** Every factor, target by target. */
  readonly variables: tf.Variable[];
  private readonly scale: number;

  constructor(
    readonly targets: readonly AdapterTarget[],
    private readonly krons: ReadonlyArray<[number, number] | undefined>,
    private readonly adapter: { kind: AdapterKind; rank: number; alpha: number },
    random: SeededRandom,
  ) {
    const { kind, rank, alpha } = adapter;
    // Target by target, factor by factor: the order of `random`'s draws, which --seed reproduces.
    this.layers = targets.map((t, i) => {
      const shapes = adapterFactorShapes(kind, { rows: t.rows, cols: t.cols, rank, kron: krons[i] });
      const values = initialFactors(kind, shapes, random);
      // tidy frees the starting tensor each variable copies (a variable outlives tidy).
      return shapes.map(([r, c], k) => tf.tidy(() => tf.variable(tf.tensor2d(values[k], [r, c]), true, `adapter/${i}/${k}`)));
    });
    this.variables = this.layers.flat();
    this.scale = alpha / rank;
  }

  /** The merged weights a tier's graph is fed: W_base + ΔW in each op's layout (`base`: the tier's W_base per target). */
  feeds(base: readonly tf.Tensor2D[]): Record<string, tf.Tensor> {
    const feeds: Record<string, tf.Tensor> = {};
    this.targets.forEach((target, i) => {
      const merged = tf.add(base[i], adapterDelta(this.adapter.kind, this.layers[i], this.scale));
      const { dims, transposed } = denseNodeLayout(target);
      feeds[target.target] = tf.reshape(transposed ? tf.transpose(merged) : merged, dims);
    });
    return feeds;
  }

  get params(): number {
    return this.variables.reduce((s, v) => s + v.size, 0);
  }

  /** AdapterModel.layers holding `values`, a copy of `variables` (a checkpoint's). */
  adapterLayers(values: readonly tf.Tensor[]): AdapterLayer[] {
    const { rank, alpha } = this.adapter;
    const data = values.map((t) => t.dataSync() as Float32Array);
    let at = 0;
    return this.targets.map((t, i) => {
      const factors = this.layers[i].map(() => Float32Array.from(data[at++]));
      return { target: t.target, rows: t.rows, cols: t.cols, rank, alpha, factors, ...(this.krons[i] ? { kron: this.krons[i] } : {}) };
    });
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}
