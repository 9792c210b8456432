import type { ModelHeader } from '../formats/model.js';
import { LoadOptionError } from './errors.js';

export interface TierOptions {
  /** Load this many tiers (1..N): tiers 0..tiers-1. */
  tiers?: number;
  /** Load up to and including this tier index (0..N-1), as `lowrank inspect` numbers tiers. */
  tier?: number;
  /** Load as many tiers as this named preset says. */
  preset?: string;
}

export interface RankChoice {
  /** Tiers 0..tiers-1 are loaded. */
  tiers: number;
  /** Preset name when one was asked for. */
  preset?: string;
}

/** Turn `{ tiers }`, `{ tier }` or `{ preset }` into a tier count, with messages that list what the file offers. */
export function chooseTiers(header: ModelHeader, options: TierOptions): RankChoice {
  const available = header.tiers.length;
  const given = (['tiers', 'tier', 'preset'] as const).filter((k) => options[k] !== undefined);
  if (given.length > 1) throw new LoadOptionError(`give only one of ${given.join(', ')}`, 'tiers-and-preset');
  if (options.preset !== undefined) {
    const preset = header.presets.find((p) => p.name === options.preset);
    if (!preset) {
      const names = header.presets.map((p) => p.name).join(', ') || 'none';
      throw new LoadOptionError(`this model has no preset "${options.preset}"; it has: ${names}`, 'unknown-preset');
    }
    return { tiers: preset.tiers };
  }
  if (options.tier !== undefined) {
    if (!Number.isInteger(options.tier) || options.tier < 0 || options.tier >= available) {
      throw new LoadOptionError(`tier must be a whole number from 0 to ${available - 1} (this model has ${available} tiers), got ${options.tier}`, 'bad-tier');
    }
    return { tiers: options.tier + 1 };
  }
  const tiers = options.tiers ?? available;
  if (!Number.isInteger(tiers) || tiers < 1 || tiers > available) {
    throw new LoadOptionError(`tier count must be a whole number from 1 to ${available}, got ${tiers}`, 'bad-tiers');
  }
  return { tiers };
}
