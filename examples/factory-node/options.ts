/**
 * The service's settings: command-line flags, each also readable from an environment variable FACTORY_<FLAG>
 * (--max-body-bytes → FACTORY_MAX_BODY_BYTES), so a systemd unit can set them with Environment=. A flag wins over
 * its variable.
 */
import { parseArgs } from 'node:util';
import { parseNormalisation } from '../../compiler/cli/normalisation.js';

export interface ServerOptions {
  /** The .lrm: a path or an http(s) URL. */
  model: string;
  /** Class names: a synset file (MobileNet's synset.txt) or one name per line. */
  labels?: string;
  /** The file's pinned integrity, "sha256-…" as `lowrank inspect` prints it. */
  integrity?: string;
  /** A directory of .lra files, each loaded as the adapter named after its file (a.lra → "a"). */
  adapters?: string;
  host: string;
  /** 0: any free port (printed in the startup line). */
  port: number;
  engine?: string;
  /** Tier index as `lowrank inspect` numbers them: overrides the preset choice. */
  tier?: number;
  /** A named preset: overrides the preset choice. */
  preset?: string;
  /** Budgets that preset 'auto' (a host with tuned presets) is held to. */
  latencyMs?: number;
  memoryMb?: number;
  mean?: number[];
  std?: number[];
  /** Which [N, classes] output gives the scores (default: the first 2-D output). */
  output?: string;
  top: number;
  /** Requests decoded and run at once. */
  concurrency: number;
  /** Requests that may wait for one of those slots; past concurrency + queue: 503. */
  queue: number;
  maxBodyBytes: number;
  /** Decode limit: a JPEG that declares more pixels is refused with 413 (decompression bombs). */
  maxMegapixels: number;
}

/** A bad flag or variable: printed as one line, exit status 2. */
export class OptionError extends Error {
  override name = 'OptionError';
}

const FLAGS = {
  model: { type: 'string' },
  labels: { type: 'string' },
  integrity: { type: 'string' },
  adapters: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  engine: { type: 'string' },
  tier: { type: 'string' },
  preset: { type: 'string' },
  'latency-ms': { type: 'string' },
  'memory-mb': { type: 'string' },
  mean: { type: 'string' },
  std: { type: 'string' },
  output: { type: 'string' },
  top: { type: 'string' },
  concurrency: { type: 'string' },
  queue: { type: 'string' },
  'max-body-bytes': { type: 'string' },
  'max-megapixels': { type: 'string' },
} as const;

export type Flag = keyof typeof FLAGS;

export function envName(flag: Flag): string {
  return `FACTORY_${flag.toUpperCase().replace(/-/g, '_')}`;
}

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): ServerOptions {
  let values: Partial<Record<Flag, string>>;
  try {
    ({ values } = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new OptionError((e as Error).message);
  }
  const get = (flag: Flag): string | undefined => values[flag] ?? (env[envName(flag)] || undefined);
  const model = get('model');
  if (model === undefined) throw new OptionError(`give the model: --model <file.lrm> (or ${envName('model')})`);
  if (get('tier') !== undefined && get('preset') !== undefined) throw new OptionError('give --tier or --preset, not both');
  let norm;
  try {
    norm = parseNormalisation(get('mean'), get('std'));
  } catch (e) {
    throw new OptionError((e as Error).message);
  }
  const number = (flag: Flag, fallback: number | undefined, min: number, integer = true): number | undefined => {
    const text = get(flag);
    if (text === undefined) return fallback;
    const v = Number(text);
    if (!(Number.isFinite(v) && v >= min && (!integer || Number.isInteger(v)))) {
      throw new OptionError(`--${flag} must be ${integer ? 'a whole number' : 'a number'} ≥ ${min}, got "${text}"`);
    }
    return v;
  };
  return {
    model,
    labels: get('labels'),
    integrity: get('integrity'),
    adapters: get('adapters'),
    host: get('host') ?? '127.0.0.1',
    port: number('port', 8080, 0)!,
    engine: get('engine'),
    tier: number('tier', undefined, 0),
    preset: get('preset'),
    latencyMs: number('latency-ms', undefined, Number.MIN_VALUE, false),
    memoryMb: number('memory-mb', undefined, Number.MIN_VALUE, false),
    mean: norm.mean,
    std: norm.std,
    output: get('output'),
    top: number('top', 5, 1)!,
    concurrency: number('concurrency', 2, 1)!,
    queue: number('queue', 64, 0)!,
    maxBodyBytes: number('max-body-bytes', 8 * 1024 * 1024, 1)!,
    maxMegapixels: number('max-megapixels', 40, Number.MIN_VALUE, false)!,
  };
}
