import { CompileOptionError } from '../errors.js';

/** Parse a whole-number CLI option with a message naming the option. */
export function parseWholeNumber(option: string, text: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new CompileOptionError(`${option} must be a whole number ≥ ${min}, got "${text}"`, 'bad-option');
  return n;
}
