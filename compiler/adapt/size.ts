import type { AdapterModel } from '../../formats/adapter-model.js';

/** Factor elements of an adapter and their bytes at fp32 and fp16 (the file adds its header and per-layer records). */
export function adapterBytes(adapter: Pick<AdapterModel, 'layers'>): { params: number; fp32: number; fp16: number } {
  const params = adapter.layers.reduce((s, l) => s + l.factors.reduce((a, f) => a + f.length, 0), 0);
  return { params, fp32: 4 * params, fp16: 2 * params };
}
