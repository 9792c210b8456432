import type { AdapterModel } from '../../formats/adapter-model.js';
import { adapterDelta } from '../../runtime/adapters/delta.js';
import { CompileOptionError } from '../errors.js';
import { checkTier, openAdapterBase, type AdapterBaseFile } from './base.js';
import { baseMatrices, mergedOnnx } from './merged-model.js';
import { adapterTargets, type AdapterTarget } from '../../runtime/adapters/targets.js';

/**
 * The base at `tier` (default: the last, every tier loaded) with an adapter merged in, W_base + ΔW per adapted
 * weight, as an ONNX model any engine runs: how the compiler measures an adapter (and exports a merged model)
 * without the runtime's adapter support. ΔW is the runtime's own (runtime/adapters/delta.ts: plain loops, no
 * gradient needed here), so the merged model holds what the runtime's dense slots are fed.
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
    const delta = adapterDelta(adapter.kind, adapter.layers[i]);
    const merged = new Float32Array(m.length);
    for (let k = 0; k < m.length; k++) merged[k] = m[k] + delta[k];
    return merged;
  });
  return mergedOnnx(opened, tier, targets, matrices);
}
