/**
 * The tier loop `lowrank eval` runs for every kind of data: load each asked-for tier prefix, measure it, and
 * measure the same tier of a `--before` file and, for a refitted tier, the tier as stored before its refit, so
 * every gain is seen on the same data. What is measured (accuracy, Pearson, …) is the caller's.
 */
import { headerLength, readHeader } from '../../formats/read.js';
import type { ModelHeader } from '../../formats/model.js';
import { load } from '../../runtime/node.js';
import type { Precision } from '../../runtime/engines/engine.js';
import type { Runner } from '../evaluate.js';
import { CompileOptionError } from '../errors.js';
import { parseWholeNumber } from './options.js';

export interface TierMeasurement<R> {
  tier: number;
  params: number;
  /** Bytes the runtime read to load this tier prefix. */
  bytes: number;
  result: R;
  /** The same tier of the --before file. */
  before?: R;
  /** This tier without its refit (only for refitted tiers). */
  beforeRefit?: R;
  /** With an adapter (--adapter): the same tier without it, on the same session (`result` is with it). */
  withoutAdapter?: R;
}

export interface TierRequest {
  allTiers?: boolean;
  tier?: string;
  preset?: string;
}

/**
 * Which tiers `--all-tiers` / `--tier K` / `--preset NAME` ask for (default: the last, i.e. the whole file), and the
 * preset's name (what `auto` picked). A preset means the tiers `lowrank run --preset NAME` loads on this engine (so
 * `auto` sees this device too): the runtime chooses, with its one-line errors for an unknown preset or a budget
 * nothing meets.
 */
export async function requestedTiers(lrm: { header: ModelHeader; bytes: Uint8Array }, opts: TierRequest, engine: string): Promise<{ tiers: number[]; preset?: string }> {
  const given = [opts.allTiers ? '--all-tiers' : '', opts.tier !== undefined ? '--tier' : '', opts.preset !== undefined ? '--preset' : ''].filter(Boolean);
  if (given.length > 1) throw new CompileOptionError(`give one of --all-tiers, --tier and --preset, not ${given.join(' and ')}`, 'bad-option');
  if (opts.allTiers) return { tiers: lrm.header.tiers.map((t) => t.index) };
  if (opts.preset !== undefined) {
    const session = await load(lrm.bytes, { engine: engine as never, preset: opts.preset });
    const { tiers, choice } = session;
    await session.release();
    return { tiers: [tiers - 1], preset: choice.preset };
  }
  return { tiers: [opts.tier !== undefined ? parseWholeNumber('--tier', opts.tier, 0) : lrm.header.tiers.length - 1] };
}

/** Refuses a --before file whose tiers do not line up with the model's (the comparison would be meaningless). */
export async function checkBefore(header: ModelHeader, before: Uint8Array, names: { model: string; before: string }): Promise<void> {
  const other = (await readHeader(before.subarray(0, headerLength(before)), { fileName: names.before, totalLength: before.length })).header;
  if (other.tiers.length !== header.tiers.length) {
    throw new CompileOptionError(`--before ${names.before} has ${other.tiers.length} tier(s), ${names.model} has ${header.tiers.length}: compile both with the same --tiers`, 'bad-option');
  }
}

export async function sweepTiers<R>(
  lrm: { header: ModelHeader; bytes: Uint8Array },
  tiers: number[],
  options: { engine: string; before?: Uint8Array; adapter?: Uint8Array; precision?: Precision },
  measure: (label: string, runner: Runner) => Promise<R>,
): Promise<Array<TierMeasurement<R>>> {
  const once = async (bytes: Uint8Array, tier: number, label: string, refit?: false): Promise<{ result: R; bytesLoaded: number; withoutAdapter?: R }> => {
    const session = await load(bytes, { engine: options.engine as never, tier, precision: options.precision, ...(refit === false ? { refit } : {}) });
    try {
      if (!options.adapter || bytes !== lrm.bytes) return { result: await measure(label, session), bytesLoaded: session.bytesLoaded };
      await session.loadAdapter(options.adapter, 'adapter');
      const result = await measure(`${label} + adapter`, { run: (feeds) => session.run(feeds, { adapter: 'adapter' }) });
      return { result, bytesLoaded: session.bytesLoaded, withoutAdapter: await measure(label, session) };
    } finally {
      await session.release();
    }
  };
  const rows: Array<TierMeasurement<R>> = [];
  for (const tier of tiers) {
    const { result, bytesLoaded, withoutAdapter } = await once(lrm.bytes, tier, `tier ${tier}`);
    const row: TierMeasurement<R> = { tier, params: lrm.header.tiers[tier]!.params, bytes: bytesLoaded, result, ...(withoutAdapter ? { withoutAdapter } : {}) };
    if (options.before) row.before = (await once(options.before, tier, `tier ${tier} before`)).result;
    if (lrm.header.tiers[tier]!.refit) row.beforeRefit = (await once(lrm.bytes, tier, `tier ${tier} before refit`, false)).result;
    rows.push(row);
  }
  return rows;
}
