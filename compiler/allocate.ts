import { CompileOptionError } from './errors.js';
import type { TierBits } from '../formats/model.js';

/** What the allocator needs to know of a factored layer. */
export interface AllocLayer {
  rows: number;
  cols: number;
  /** σ descending (for whitened factors, σᵢ² is the output error that dropping component i adds). */
  sigma: Float64Array;
  /**
   * Cost of the layer as it runs at rank r (default: weights, min(r·(m+n), m·n)). Must be non-decreasing
   * in r, with cost(0) = 0, and capped at the dense cost: past break-even the engine runs the layer dense.
   */
  cost?: (rank: number) => number;
  /** Cost of the dense layer (default m·n): budgets are fractions of the sum of these. */
  denseCost?: number;
  /**
   * Measured end-to-end error at each rank (compiler/sensitivity.ts). When given, a step's benefit is the error
   * it removes instead of its share of the layer's σ² energy.
   */
  error?: (rank: number) => number;
}

export interface TierCut {
  budget: number;
  /** 8: the tier runs every int4 matrix with its low plane (format v4); 4: every int3 one with its mid plane (v6); absent: as stored. */
  bits?: TierBits;
  /** Rank of each layer (same order as the input) once this tier is loaded. */
  ranks: number[];
  /** Cost of the factored layers at these ranks (weights, unless a cost function says otherwise). */
  cost: number;
}

export interface AllocOptions {
  /** Ranks move in steps of this many components (engines like multiples of 8); the last step may be short. */
  rankMultiple?: number;
}

export const DEFAULT_TIER_BUDGETS = [0.1, 0.2, 0.35, 0.5, 1];
export const DEFAULT_RANK_MULTIPLE = 8;

/** Weights a layer runs with at rank r: factored while that is smaller, dense from break-even on. */
export function runtimeParams(rows: number, cols: number, rank: number): number {
  return Math.min(rank * (rows + cols), rows * cols);
}

/**
 * Global nested order: every layer's components are grouped in steps of `rankMultiple`, and all steps of all
 * layers are sorted by the share of the layer's energy they carry (Σσᵢ² / Σσ²) per unit of cost. Within a layer
 * the key falls step by step (σ is sorted), so each layer's steps stay in order and every prefix of the global
 * order is a valid model. Each tier is the longest prefix whose cost fits its budget (a fraction of the
 * factorable layers' dense cost); every layer keeps its first step so no layer ever vanishes. Once a layer's
 * cost stops growing (past break-even it runs dense) the rest of its rank is free and is taken at once, so a
 * dense-running layer is never truncated. A budget of 1 always reaches full rank, because a layer's cost
 * never exceeds its dense cost.
 */
export function allocateTiers(layers: AllocLayer[], budgets: number[], options: AllocOptions = {}): TierCut[] {
  validateBudgets(budgets);
  const step = options.rankMultiple ?? DEFAULT_RANK_MULTIPLE;
  if (!Number.isInteger(step) || step < 1) throw new CompileOptionError(`--rank-multiple must be a whole number ≥ 1, got ${step}`, 'rank-multiple');
  const costOf = layers.map((l) => l.cost ?? ((r: number) => runtimeParams(l.rows, l.cols, r)));
  const dense = layers.reduce((s, l) => s + (l.denseCost ?? l.rows * l.cols), 0);
  const ranks = layers.map((l) => Math.min(step, l.sigma.length));
  let used = layers.reduce((s, _, i) => s + costOf[i](ranks[i]), 0);

  const queue: Array<{ layer: number; end: number; key: number }> = [];
  layers.forEach((l, li) => {
    const energy = l.sigma.reduce((s, v) => s + v * v, 0) || 1;
    const R = l.sigma.length;
    const slope = costOf[li](R) / Math.max(R, 1) || 1;
    let previousKey = Infinity;
    for (let begin = step; begin < R; begin += step) {
      const end = Math.min(begin + step, R);
      let key: number;
      if (l.error) {
        const paid = costOf[li](end) - costOf[li](begin);
        key = paid > 0 ? (l.error(begin) - l.error(end)) / paid : Infinity;
      } else {
        let share = 0;
        for (let i = begin; i < end; i++) share += l.sigma[i] ** 2 / energy;
        key = share / ((end - begin) * slope);
      }
      // Keys must not rise along a layer, or a later step could be ordered before an earlier one.
      previousKey = Math.min(previousKey, key);
      queue.push({ layer: li, end, key: previousKey });
    }
  });
  // Stable sort: equal keys keep layer order and step order, so ties cannot break nesting.
  queue.sort((a, b) => b.key - a.key);

  const cuts: TierCut[] = [];
  let next = 0;
  for (const budget of budgets) {
    const limit = budget * dense;
    while (next < queue.length) {
      const { layer, end } = queue[next];
      if (end <= ranks[layer]) {
        next++; // already taken for free below
        continue;
      }
      const extra = costOf[layer](end) - costOf[layer](ranks[layer]);
      if (used + extra > limit * (1 + 1e-12)) break;
      used += extra;
      ranks[layer] = end;
      // Past break-even the layer runs dense: the rest of its rank costs nothing, so take it now.
      const full = layers[layer].sigma.length;
      if (costOf[layer](full) === costOf[layer](end)) ranks[layer] = full;
      next++;
    }
    cuts.push({ budget, ranks: [...ranks], cost: used });
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

/**
 * One step of the tier ladder: a budget, or (int4 files) a budget at 8 bits, `{ budget, bits: 8 }`: the tier runs
 * every int4 matrix with its low plane; or at 4 bits, `{ budget, bits: 4 }`: every int3 matrix with its mid plane.
 * Bits never go down the ladder; a budget may repeat to add bits.
 */
export type TierBudget = number | { budget: number; bits: TierBits };

export function budgetOf(t: TierBudget): number {
  return typeof t === 'number' ? t : t.budget;
}

export function bitsOf(t: TierBudget): TierBits | undefined {
  return typeof t === 'number' ? undefined : t.bits;
}

/**
 * The ladder's cuts from the cuts of its distinct budgets (allocateTiers): a tier that only adds bits has the
 * ranks of the one before.
 */
export function ladderCuts(ladder: readonly TierBudget[], cutsOfBudgets: readonly TierCut[]): TierCut[] {
  const byBudget = new Map(cutsOfBudgets.map((c) => [c.budget, c]));
  return ladder.map((t) => ({ ...byBudget.get(budgetOf(t))!, ...(bitsOf(t) ? { bits: bitsOf(t) } : {}) }));
}

/** The distinct budgets of a ladder, checked: budgets never fall, rise unless bits do, bits never fall. */
export function rankBudgets(ladder: readonly TierBudget[]): number[] {
  ladder.forEach((t, i) => {
    if (i === 0) return;
    const [a, b] = [ladder[i - 1], t];
    if ((bitsOf(b) ?? 0) < (bitsOf(a) ?? 0)) throw new CompileOptionError(`--tiers: ${bitsOf(b) ? `${budgetOf(b)}:${bitsOf(b)}` : budgetOf(b)} after ${budgetOf(a)}:${bitsOf(a)} goes down in bits; bits never go down the ladder`, 'tiers');
    if (budgetOf(b) === budgetOf(a) && bitsOf(a) !== bitsOf(b)) return;
    if (budgetOf(b) <= budgetOf(a)) throw new CompileOptionError(`--tiers must increase: ${budgetOf(a)} is followed by ${budgetOf(b)}`, 'tiers');
  });
  const budgets = [...new Set(ladder.map(budgetOf))];
  validateBudgets(budgets);
  return budgets;
}

/** "0.1,0.5,1" or, for int4 files with 4- and 8-bit steps, "0.1,0.5,1,1:4,1:8" (budget:bits). */
export function parseTierBudgets(text: string): TierBudget[] {
  const parts = text.split(',').map((s) => s.trim()).filter(Boolean);
  const ladder = parts.map((part): TierBudget => {
    const [value, bits, ...rest] = part.split(':');
    const budget = Number(value);
    if (!Number.isFinite(budget) || value.trim() === '' || rest.length > 0) throw new CompileOptionError(`--tiers: "${part}" is not a number; give fractions like 0.1,0.2,0.35,0.5,1 (int4: add :8 for a tier at 8 bits, e.g. 1:8)`, 'tiers');
    if (bits === undefined) return budget;
    if (bits.trim() !== '8' && bits.trim() !== '4') throw new CompileOptionError(`--tiers: "${part}" asks for ${bits} bits; a tier is as stored, 4 bits (budget:4, int3 weights with their mid planes) or 8 bits (budget:8), in int4 files`, 'tiers');
    return { budget, bits: Number(bits) as TierBits };
  });
  rankBudgets(ladder);
  return ladder;
}
