import { CompileOptionError } from './errors.js';

/** What the allocator needs to know of a factored layer. */
export interface AllocLayer {
  rows: number;
  cols: number;
  /** σ descending. */
  sigma: Float64Array;
}

export interface TierCut {
  budget: number;
  /** Rank of each layer (same order as the input) once this tier is loaded. */
  ranks: number[];
  /** Weights of the factored layers as they run at these ranks. */
  params: number;
}

export const DEFAULT_TIER_BUDGETS = [0.1, 0.2, 0.35, 0.5, 1];

/**
 * Weights a layer runs with at rank r: factored while that is smaller, dense from the break-even rank on
 * (the engine then multiplies the factors back out). This is what makes a budget of 1 mean full rank:
 * the count never exceeds the dense parameter count.
 */
export function runtimeParams(rows: number, cols: number, rank: number): number {
  return Math.min(rank * (rows + cols), rows * cols);
}

/**
 * Global nested order: every (layer, component) pair sorted by the share of the layer's energy it carries
 * (σᵢ² / Σσ²) per parameter it costs (m + n). Within a layer the key falls with i, so each layer's
 * components stay in σ order and every prefix of the global order is a valid model. Each tier is the
 * longest prefix whose parameter count fits its budget (a fraction of the factorable layers' dense count);
 * every layer keeps at least its first component so no layer ever vanishes.
 */
export function allocateTiers(layers: AllocLayer[], budgets: number[]): TierCut[] {
  validateBudgets(budgets);
  const dense = layers.reduce((s, l) => s + l.rows * l.cols, 0);
  const ranks = layers.map((l) => Math.min(1, l.sigma.length));
  let used = layers.reduce((s, l, i) => s + runtimeParams(l.rows, l.cols, ranks[i]), 0);

  const queue: Array<{ layer: number; key: number }> = [];
  layers.forEach((l, li) => {
    const energy = l.sigma.reduce((s, v) => s + v * v, 0) || 1;
    for (let i = 1; i < l.sigma.length; i++) queue.push({ layer: li, key: (l.sigma[i] ** 2 / energy) / (l.rows + l.cols) });
  });
  // Stable sort: equal keys keep layer order and component order, so ties cannot break nesting.
  queue.sort((a, b) => b.key - a.key);

  const cuts: TierCut[] = [];
  let next = 0;
  for (const budget of budgets) {
    const limit = budget * dense;
    while (next < queue.length) {
      const li = queue[next].layer;
      const l = layers[li];
      const extra = runtimeParams(l.rows, l.cols, ranks[li] + 1) - runtimeParams(l.rows, l.cols, ranks[li]);
      if (used + extra > limit) break;
      used += extra;
      ranks[li] += 1;
      next++;
    }
    cuts.push({ budget, ranks: [...ranks], params: used });
  }
  return cuts;
}

function validateBudgets(budgets: number[]): void {
  if (budgets.length === 0) throw new CompileOptionError('--tiers needs at least one budget, e.g. 0.1,0.2,0.35,0.5,1', 'tiers');
  budgets.forEach((b, i) => {
    if (!Number.isFinite(b) || b <= 0) {
      throw new CompileOptionError(`--tiers: budget "${b}" must be a positive fraction of the dense parameters, e.g. 0.25`, 'tiers');
    }
    if (i > 0 && b <= budgets[i - 1]) {
      throw new CompileOptionError(`--tiers must increase: ${budgets[i - 1]} is followed by ${b}`, 'tiers');
    }
  });
}

export function parseTierBudgets(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim()).filter(Boolean);
  const values = parts.map(Number);
  const bad = parts.find((_, i) => !Number.isFinite(values[i]));
  if (bad !== undefined) throw new CompileOptionError(`--tiers: "${bad}" is not a number; give fractions like 0.1,0.2,0.35,0.5,1`, 'tiers');
  validateBudgets(values);
  return values;
}
