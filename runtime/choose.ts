import { choosePreset, judgePreset, type Budget } from '../devices/choose-preset.js';
import type { ModelHeader } from '../formats/model.js';
import { BudgetError, LoadOptionError, type BudgetFit } from './errors.js';

/** The preset name that asks the runtime to pick: detect the device, then the best preset within the budget. */
export const AUTO_PRESET = 'auto';
/** With preset 'auto' and no memoryMb, a session may use this share of the device's memory. */
export const AUTO_MEMORY_SHARE = 0.5;

export interface TierOptions {
  /** Load this many tiers (1..N): tiers 0..tiers-1. */
  tiers?: number;
  /** Load up to and including this tier index (0..N-1), as `lowrank inspect` numbers tiers. */
  tier?: number;
  /** Load as many tiers as this named preset says; 'auto' picks the best preset that fits the budget. */
  preset?: string;
}

export type BudgetOptions = Budget;

export interface RankChoice {
  /** Tiers 0..tiers-1 are loaded. */
  tiers: number;
  /** Preset name when one was asked for or picked. */
  preset?: string;
  /** Estimated (or, for a tuned preset, measured) memory in MB. */
  memoryMb: number;
  /** Measured p50 of the preset on this device class, when there is one. */
  latencyMsP50?: number;
}

/** What the choice needs to know about where it will run. */
export interface ChoiceContext {
  /** Memory a session of `tiers` tiers needs, in MB. */
  estimateMb(tiers: number): number;
  /** The detected device class and memory (needed for 'auto'). */
  device?: { classId: string; memoryMb: number | undefined };
  /** Engines this session may run on, in order: presets for other engines do not apply. */
  engines: readonly string[];
}

/**
 * Turn `{ tiers }`, `{ tier }` or `{ preset }` into a tier count, with messages that list what the file
 * offers, and hold it to the budget before anything is fetched or allocated.
 */
export function chooseTiers(header: ModelHeader, options: TierOptions & BudgetOptions, context?: ChoiceContext): RankChoice {
  const given = (['tiers', 'tier', 'preset'] as const).filter((k) => options[k] !== undefined);
  if (given.length > 1) throw new LoadOptionError(`give only one of ${given.join(', ')}`, 'tiers-and-preset');
  checkBudgetValues(options);
  const estimateMb = context?.estimateMb ?? (() => 0);
  if (options.preset === AUTO_PRESET) return chooseAuto(header, options, context);
  if (options.preset !== undefined) {
    const preset = header.presets.find((p) => p.name === options.preset);
    if (!preset) {
      const names = header.presets.map((p) => p.name).join(', ') || 'none';
      throw new LoadOptionError(`this model has no preset "${options.preset}"; it has: ${names} (or "${AUTO_PRESET}")`, 'unknown-preset');
    }
    const verdict = judgePreset(preset, options, estimateMb);
    if (!verdict.fits) overBudget(`preset "${preset.name}" (${tierWord(preset.tiers)}) ${verdict.why}`, header, options, context);
    return { tiers: preset.tiers, preset: preset.name, memoryMb: verdict.memoryMb, latencyMsP50: verdict.latencyMsP50 };
  }
  const tiers = explicitTiers(header, options);
  const memoryMb = estimateMb(tiers);
  if (options.memoryMb !== undefined && memoryMb > options.memoryMb) overBudget(`${tierWord(tiers)} need ≈${Math.ceil(memoryMb)} MB`, header, options, context);
  return { tiers, memoryMb };
}

function explicitTiers(header: ModelHeader, options: TierOptions): number {
  const available = header.tiers.length;
  if (options.tier !== undefined) {
    if (!Number.isInteger(options.tier) || options.tier < 0 || options.tier >= available) {
      throw new LoadOptionError(`tier must be a whole number from 0 to ${available - 1} (this model has ${available} tiers), got ${options.tier}`, 'bad-tier');
    }
    return options.tier + 1;
  }
  const tiers = options.tiers ?? available;
  if (!Number.isInteger(tiers) || tiers < 1 || tiers > available) {
    throw new LoadOptionError(`tier count must be a whole number from 1 to ${available}, got ${tiers}`, 'bad-tiers');
  }
  return tiers;
}

function chooseAuto(header: ModelHeader, options: BudgetOptions, context: ChoiceContext | undefined): RankChoice {
  if (!context?.device) throw new LoadOptionError(`preset "${AUTO_PRESET}" needs device detection, which this entry point does not provide; name a preset or a tier count`, 'no-device');
  const { device } = context;
  const budget: Budget = {
    memoryMb: options.memoryMb ?? (device.memoryMb === undefined ? undefined : device.memoryMb * AUTO_MEMORY_SHARE),
    latencyMs: options.latencyMs,
  };
  const { best, verdicts } = choosePreset(header, device.classId, context.engines, budget, context.estimateMb);
  if (best) return { tiers: best.preset.tiers, preset: best.preset.name, memoryMb: best.memoryMb, latencyMsP50: best.latencyMsP50 };
  const judged = verdicts.map((v) => `${v.preset.name} ${v.why}`).join(', ');
  overBudget(`no preset for device class ${device.classId} fits (${judged || 'the file has no preset for it'})`, header, budget, context);
}

/** Throws a BudgetError that says what would fit: presets first, then the tier counts. */
function overBudget(problem: string, header: ModelHeader, budget: Budget, context: ChoiceContext | undefined): never {
  const estimateMb = context?.estimateMb ?? (() => 0);
  const limits = [budget.memoryMb !== undefined ? `${Math.floor(budget.memoryMb)} MB` : '', budget.latencyMs !== undefined ? `${budget.latencyMs} ms` : ''].filter(Boolean).join(' and ');
  const presetFits: BudgetFit[] = header.presets
    .map((p) => judgePreset(p, budget, estimateMb))
    .filter((v) => v.fits)
    .sort((a, b) => b.preset.tiers - a.preset.tiers)
    .map((v) => ({ preset: v.preset.name, tiers: v.preset.tiers, memoryMb: v.memoryMb, latencyMsP50: v.latencyMsP50 }));
  const tierFits: BudgetFit[] = [];
  for (let t = header.tiers.length; t >= 1; t--) {
    const memoryMb = estimateMb(t);
    if (budget.memoryMb === undefined || memoryMb <= budget.memoryMb) tierFits.push({ tiers: t, memoryMb });
  }
  let fix: string;
  if (presetFits.length === 0 && tierFits.length === 0) {
    fix = `nothing fits: even 1 tier needs ≈${Math.ceil(estimateMb(1))} MB; raise the budget or use a smaller model`;
  } else {
    const presets = presetFits.map((f) => `${f.preset} (${tierWord(f.tiers)}, ≈${Math.ceil(f.memoryMb)} MB)`).join(', ');
    const tiers = tierFits.length > 0 ? `tiers: 1..${tierFits[0].tiers} (≈${Math.ceil(tierFits[0].memoryMb)} MB at ${tierFits[0].tiers})` : '';
    fix = `what fits: ${[presets, tiers].filter(Boolean).join('; or ')}`;
  }
  throw new BudgetError(`${problem}, over the budget of ${limits}; ${fix}`, [...presetFits, ...tierFits]);
}

function checkBudgetValues(budget: BudgetOptions): void {
  for (const key of ['memoryMb', 'latencyMs'] as const) {
    const v = budget[key];
    if (v !== undefined && !(typeof v === 'number' && v > 0 && Number.isFinite(v))) {
      throw new LoadOptionError(`${key} must be a positive number, got ${v}`, 'bad-budget');
    }
  }
}

function tierWord(n: number): string {
  return `${n} tier${n === 1 ? '' : 's'}`;
}
