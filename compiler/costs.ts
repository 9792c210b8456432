import { runtimeParams } from './allocate.js';
import { CompileOptionError } from './errors.js';
import type { LayerCandidate } from './factorize/candidates.js';

/**
 * What a tier budget counts. A latency table is measured per layer on a device (`lowrank tune` writes one):
 * `{ "layers": { "<node name>": { "dense": ms, "ranks": { "8": ms, "16": ms, ... } } } }`.
 */
export type CostModel = 'params' | 'bytes' | 'flops' | { latency: LatencyTable };

export interface LatencyTable {
  layers: Record<string, { dense: number; ranks: Record<string, number> }>;
}

export interface LayerCost {
  cost: (rank: number) => number;
  denseCost: number;
}

/**
 * Per-layer cost functions for the allocator.
 * - params: weights as the layer runs (dense from break-even on).
 * - bytes: bytes to load: r·(m+n) factor values at the factor element size, against the dense weight in fp32.
 *   Not capped at break-even (the factors are what is stored), so a budget of 1 may stop short of full rank.
 * - flops: multiply-adds per input, i.e. params × output positions (needs calibration to know the positions).
 * - latency: interpolated from a measured table, capped at the layer's dense latency.
 */
export function layerCosts(model: CostModel, candidates: LayerCandidate[], factorBytes: number, positions?: number[]): LayerCost[] {
  if (model === 'params') return candidates.map((c) => ({ cost: (r) => runtimeParams(c.rows, c.cols, r), denseCost: c.rows * c.cols }));
  if (model === 'bytes') return candidates.map((c) => ({ cost: (r) => r * (c.rows + c.cols) * factorBytes, denseCost: c.rows * c.cols * 4 }));
  if (model === 'flops') {
    if (!positions) throw new CompileOptionError('--cost flops needs --calib: the output positions of each layer are measured on real inputs', 'cost');
    return candidates.map((c, i) => ({ cost: (r) => runtimeParams(c.rows, c.cols, r) * positions[i], denseCost: c.rows * c.cols * positions[i] }));
  }
  return candidates.map((c) => latencyCost(model.latency, c.node.name));
}

/** A layer's cost from a measured table (also how `lowrank tune` predicts a tier's latency). */
export function latencyCost(table: LatencyTable, layerName: string): LayerCost {
  const entry = table.layers?.[layerName];
  if (!entry || !Number.isFinite(entry.dense)) {
    throw new CompileOptionError(`latency table has no entry for layer "${layerName}"; measure it with lowrank tune or remove the layer from --cost`, 'cost');
  }
  const measured = Object.entries(entry.ranks ?? {})
    .map(([r, ms]) => [Number(r), ms] as const)
    .filter(([r, ms]) => Number.isInteger(r) && r > 0 && Number.isFinite(ms))
    .sort((a, b) => a[0] - b[0]);
  if (measured.length === 0) throw new CompileOptionError(`latency table entry for "${layerName}" has no ranks`, 'cost');
  // Running maximum: measurement noise must not make a higher rank look cheaper (the allocator needs monotone costs).
  let peak = 0;
  const points = measured.map(([r, ms]) => [r, (peak = Math.max(peak, ms))] as const);
  const at = (r: number): number => {
    // Linear through the origin below the first point, between points inside, the last slope past the last point.
    let prev: readonly [number, number] = [0, 0];
    for (const p of points) {
      if (r <= p[0]) return prev[1] + ((r - prev[0]) / (p[0] - prev[0])) * (p[1] - prev[1]);
      prev = p;
    }
    const [r0, t0] = points.length > 1 ? points[points.length - 2] : [0, 0];
    const [r1, t1] = points[points.length - 1];
    return t1 + ((r - r1) * (t1 - t0)) / (r1 - r0);
  };
  return { cost: (r) => (r <= 0 ? 0 : Math.min(at(r), entry.dense)), denseCost: entry.dense };
}

/** `--cost`: params | bytes | flops | latency:<file> (the file's parsed JSON is passed as `table`). */
export function parseCostModel(text: string, table?: unknown): CostModel {
  if (text === 'params' || text === 'bytes' || text === 'flops') return text;
  if (text.startsWith('latency:')) {
    const t = table as LatencyTable | undefined;
    if (!t || typeof t !== 'object' || typeof t.layers !== 'object') {
      throw new CompileOptionError(`${text.slice(8)} is not a latency table: expected {"layers": {"<layer>": {"dense": ms, "ranks": {"8": ms}}}}`, 'cost');
    }
    return { latency: t };
  }
  throw new CompileOptionError(`--cost must be params, bytes, flops or latency:<table.json>, got "${text}"`, 'cost');
}
