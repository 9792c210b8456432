import { CompileOptionError } from '../errors.js';

export interface Normalisation {
  mean?: number[];
  std?: number[];
  /** --size HxW: images for a model input with a symbolic height or width are made at this size. */
  size?: { height: number; width: number };
}

/** --mean/--std: one value for every channel, or one per channel, comma-separated. */
export function parseNormalisation(mean?: string, std?: string, size?: string): Normalisation {
  const parse = (name: string, text?: string): number[] | undefined => {
    if (text === undefined) return undefined;
    const values = text.split(',').map((s) => Number(s.trim()));
    if (values.length === 0 || values.some((v) => !Number.isFinite(v))) {
      throw new CompileOptionError(`${name} must be numbers separated by commas, e.g. 0.5 or 0.485,0.456,0.406; got "${text}"`, 'bad-option');
    }
    if (name === '--std' && values.some((v) => v === 0)) throw new CompileOptionError('--std must not contain 0', 'bad-option');
    return values;
  };
  return { mean: parse('--mean', mean), std: parse('--std', std), ...(size !== undefined ? { size: parseSize(size) } : {}) };
}

/** --size HxW, e.g. 48x320: two whole numbers ≥ 1. */
export function parseSize(text: string): { height: number; width: number } {
  const m = /^\s*(\d+)\s*[x×]\s*(\d+)\s*$/.exec(text);
  const [height, width] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
  if (!(height >= 1 && width >= 1)) throw new CompileOptionError(`--size must be HEIGHTxWIDTH in pixels, e.g. 48x320; got "${text}"`, 'bad-option');
  return { height, width };
}
