import type { Command } from 'commander';
import { CompileOptionError } from '../errors.js';

/** Parse a whole-number CLI option with a message naming the option. */
export function parseWholeNumber(option: string, text: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new CompileOptionError(`${option} must be a whole number ≥ ${min}, got "${text}"`, 'bad-option');
  return n;
}

/** Parse a CLI option that is a number ≥ 0 (a weight). */
export function parseNonNegative(option: string, text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0) throw new CompileOptionError(`${option} must be a number ≥ 0, got "${text}"`, 'bad-option');
  return n;
}

/**
 * The calibration data options shared by compile and tune: `--calib <spec>` (what it is used for, in `use`),
 * which samples (`--calib-limit`, default `limit`; `--calib-offset`), and image preprocessing.
 */
export function withCalibrationOptions(command: Command, use: string, limit: string): Command {
  return command
    .option('--calib <spec>', `${use}: mnist:<dir> | imagenet:<dir> | images:<dir> | tensors:<dir> | sts:<file.csv> | text:<file>`)
    .option('--vocab <vocab.json>', 'sts:/text: the SentencePiece vocabulary (default: vocab.json beside the model)')
    .option('--calib-limit <N>', 'use at most N calibration samples', limit)
    .option('--calib-offset <N>', 'skip the first N samples (keep calibration and evaluation disjoint)', '0')
    .option('--mean <values>', 'calibration images: mean after scaling pixels to 0..1 (one value or one per channel)')
    .option('--std <values>', 'calibration images: standard deviation (one value or one per channel)')
    .option('--size <HxW>', 'calibration images: the size to resize to, HEIGHTxWIDTH (for a model input with a symbolic height or width, e.g. 48x320)')
    .option('--labels <synset.txt>', 'imagenet: class order file');
}
