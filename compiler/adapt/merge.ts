import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { adapterFactorShapes, type AdapterModel } from '../../formats/adapter-model.js';
import { CompileOptionError } from '../errors.js';
import { checkTier, openAdapterBase, type AdapterBaseFile } from './base.js';
import { adapterDelta } from './delta.js';
import { baseMatrices, mergedOnnx } from './merged-model.js';
import { adapterTargets, type AdapterTarget } from './targets.js';

/**
 * The base at `tier` (default: the last, every tier loaded) with an adapter merged in, W_base + ΔW per adapted
 * weight, as an ONNX model any engine runs: how the compiler measures an adapter (and exports a merged model)
 * without the runtime's adapter support. ΔW comes from delta.ts on whichever tfjs backend is active.
 */
export async function mergeAdapter(base: Uint8Array | AdapterBaseFile, adapter: AdapterModel, options: { tier?: number; fileName?: string } = {}): Promise<Uint8Array> {
  const opened = base instanceof Uint8Array ? await openAdapterBase(base, options.fileName) : base;
  const { header } = opened;
  if (adapter.base.headerSha256 !== opened.identity.headerSha256) {
    throw new CompileOptionError(`the adapter was trained for ${adapter.base.fileName} (header ${adapter.base.headerSha256.slice(0, 16)}…), not ${opened.fileName} (${opened.identity.headerSha256.slice(0, 16)}…); use the base it was trained on`, 'adapter-base');
  }
  const tier = checkTier(header, options.tier ?? header.tiers.length - 1, 'merge');
  const all = new Map(adapterTargets(header).map((t) => [t.target, t]));
  const targets: AdapterTarget[] = adapter.layers.map((l) => {
    const t = all.get(l.target);
    if (!t || t.rows !== l.rows || t.cols !== l.cols) throw new CompileOptionError(`adapter layer "${l.target}" (${l.rows}×${l.cols}) is not an adaptable weight of ${opened.fileName}`, 'adapter-base');
    return t;
  });
  const matrices = baseMatrices(opened, tier, targets).map((m, i) => {
    const l = adapter.layers[i];
    const delta = tf.tidy(() => {
      const factors = adapterFactorShapes(adapter.kind, l).map(([r, c], k) => tf.tensor2d(l.factors[k], [r, c]));
      return adapterDelta(adapter.kind, factors, l.alpha / l.rank).dataSync();
    });
    const merged = new Float32Array(m.length);
    for (let k = 0; k < m.length; k++) merged[k] = m[k] + delta[k];
    return merged;
  });
  return mergedOnnx(opened, tier, targets, matrices);
}
