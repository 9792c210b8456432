import type { ModelHeader } from '../formats/model.js';
import { LoadOptionError } from './errors.js';

export interface RankChoice {
  /** Tiers 0..tiers-1 are loaded. */
  tiers: number;
  /** Preset name when one was asked for. */
  preset?: string;
}

/** Turn `{ tiers }` or `{ preset }` into a tier count, with messages that list what the file offers. */
export function chooseTiers(header: ModelHeader, options: { tiers?: number; preset?: string }): RankChoice {
  const available = header.tiers.length;
  if (options.tiers !== undefined && options.preset !== undefined) {
    throw new LoadOptionError('give either a tier count or a preset, not both', 'tiers-and-preset');
  }
  if (options.preset !== undefined) {
    const preset = header.presets.find((p) => p.name === options.preset);
    if (!preset) {
      const names = header.presets.map((p) => p.name).join(', ') || 'none';
      throw new LoadOptionError(`this model has no preset "${options.preset}"; it has: ${names}`, 'unknown-preset');
    }
    return { tiers: preset.tiers, preset: preset.name };
  }
  const tiers = options.tiers ?? available;
  if (!Number.isInteger(tiers) || tiers < 1 || tiers > available) {
    throw new LoadOptionError(`tier count must be a whole number from 1 to ${available}, got ${tiers}`, 'bad-tiers');
  }
  return { tiers };
}
