import { CompileOptionError } from '../errors.js';

export interface Normalisation {
  mean?: number[];
  std?: number[];
}

/** --mean/--std: one value for every channel, or one per channel, comma-separated. */
export function parseNormalisation(mean?: string, std?: string): Normalisation {
  const parse = (name: string, text?: string): number[] | undefined => {
    if (text === undefined) return undefined;
    const values = text.split(',').map((s) => Number(s.trim()));
    if (values.length === 0 || values.some((v) => !Number.isFinite(v))) {
      throw new CompileOptionError(`${name} must be numbers separated by commas, e.g. 0.5 or 0.485,0.456,0.406; got "${text}"`, 'bad-option');
    }
    if (name === '--std' && values.some((v) => v === 0)) throw new CompileOptionError('--std must not contain 0', 'bad-option');
    return values;
  };
  return { mean: parse('--mean', mean), std: parse('--std', std) };
}
