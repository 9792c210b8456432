import type { AdapterModel } from '../../formats/adapter-model.js';
import { adapterDelta } from '../../runtime/adapters/delta.js';
import { checkTier, openAdapterBase, type AdapterBaseFile } from './base.js';
import { baseMatrices, mergedOnnx } from './merged-model.js';
import { checkAdapter, checkBase } from '../../runtime/adapters/targets.js';

/**
 * The base at `tier` (default: the last, every tier loaded) with an adapter merged in, W_base + ΔW per adapted
 * weight, as an ONNX model any engine runs: how the compiler measures an adapter (and exports a merged model)
 * without the runtime's adapter support. ΔW is the runtime's own (runtime/adapters/delta.ts: plain loops, no
 * gradient needed here), so the merged model holds what the runtime's dense slots are fed.
 */
export async function mergeAdapter(base: Uint8Array | AdapterBaseFile, adapter: AdapterModel, options: { tier?: number; fileName?: string } = {}): Promise<Uint8Array> {
  const opened = base instanceof Uint8Array ? await openAdapterBase(base, options.fileName) : base;
  const { header } = opened;
  // The runtime's own checks (runtime/adapters/targets.ts): what it would refuse to apply, this refuses to merge.
  checkBase(adapter, opened.identity.headerSha256, opened.fileName, 'merge');
  const targets = checkAdapter(header, adapter, 'merge');
  const tier = checkTier(header, options.tier ?? header.tiers.length - 1, 'merge');
  const matrices = baseMatrices(opened, tier, targets).map((m, i) => {
    const delta = adapterDelta(adapter.kind, adapter.layers[i]);
    const merged = new Float32Array(m.length);
    for (let k = 0; k < m.length; k++) merged[k] = m[k] + delta[k];
    return merged;
  });
  return mergedOnnx(opened, tier, targets, matrices);
}
