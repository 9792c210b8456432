/**
 * The command line of the benchmark (bench/run.ts calls it; tests call it in-process):
 *
 *   node dist/bench/run.js [--models a,b] [--quick] [--skip sections] [--out dir] [--data dir] [--no-fetch]
 *
 * --models  model ids (or .onnx names) to run, default all (see bench/models.ts)
 * --quick   small limits (a few hundred digits, a handful of images): a smoke run, used by the tests
 * --skip    sections not to run after the compression tables: engines, presets, bundles, adapters (comma-separated)
 * --out     where to write the results (default bench/results in the project)
 * --data    the shared real data folder (default ../shared/data next to the project)
 * --no-fetch do not run bench/fetch-models.mjs for missing npm-registry models (they are then skipped)
 * --merge   with --models: keep the other models of the compression.json already in --out (bench/merge.ts)
 *
 * Progress lines go to stderr; the paths of the written files to stdout.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runAdapterBench, writeAdapterReport } from './adapters.js';
import { runBench } from './bench.js';
import { BenchMergeError, mergeResults } from './merge.js';
import { measureBundleSizes, writeBundleReport } from './bundle-sizes.js';
import { runEngineLatency, writeEngineReport } from './engines.js';
import { runPresetBench, writePresetReport } from './presets.js';
import { projectRoot } from './project-root.js';
import { writeReport } from './report.js';
import type { BenchResult } from './types.js';

export const USAGE = 'usage: node dist/bench/run.js [--models a,b [--merge]] [--quick] [--skip sections] [--out dir] [--data dir] [--no-fetch]';

/** The sections after the compression tables, in the order they run. */
const SECTIONS = ['engines', 'presets', 'bundles', 'adapters'] as const;

export { projectRoot } from './project-root.js';

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const STDIO: CliIo = { out: (l) => process.stdout.write(l + '\n'), err: (l) => process.stderr.write(l + '\n') };

/** Runs the benchmark as the command line says; returns the result (undefined for --help). */
export async function main(argv: string[], io: CliIo = STDIO): Promise<BenchResult | undefined> {
  const { values } = parseArgs({
    args: argv,
    options: {
      models: { type: 'string' },
      quick: { type: 'boolean', default: false },
      skip: { type: 'string' },
      out: { type: 'string' },
      data: { type: 'string' },
      'no-fetch': { type: 'boolean', default: false },
      merge: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    io.out(USAGE);
    return undefined;
  }
  const root = projectRoot();
  const out = values.out ? resolve(values.out) : join(root, 'bench', 'results');
  const data = values.data ? resolve(values.data) : join(root, '..', 'shared', 'data');
  const models = (values.models ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const skip = new Set((values.skip ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  const unknown = [...skip].filter((s) => !(SECTIONS as readonly string[]).includes(s));
  if (unknown.length) throw new Error(`--skip takes ${SECTIONS.join(', ')}; not ${unknown.join(', ')}`);
  const quick = values.quick ?? false;
  // Read before the run: a mistake here should not cost the run.
  const previous = values.merge ? readPrevious(out, models) : undefined;
  const fresh = await runBench({ data, root, quick, models, fetch: !values['no-fetch'], log: io.err });
  const result = previous ? mergeResults(previous, fresh) : fresh;
  for (const p of await writeReport(result, out)) io.out(p);
  if (!skip.has('engines')) for (const p of await writeEngineReport(await runEngineLatency({ data, quick, models, log: io.err }), out)) io.out(p);
  if (!skip.has('presets')) for (const p of await writePresetReport(await runPresetBench({ data, root, quick, models, log: io.err }), out)) io.out(p);
  if (!skip.has('bundles')) for (const p of await writeBundleReport(await measureBundleSizes(root), out)) io.out(p);
  if (!skip.has('adapters')) for (const p of await writeAdapterReport(await runAdapterBench({ data, root, quick, models, log: io.err }), out)) io.out(p);
  return result;
}

function readPrevious(out: string, models: string[]): BenchResult {
  if (models.length === 0) throw new BenchMergeError('--merge reruns the models --models names and keeps the rest; name at least one');
  const path = join(out, 'compression.json');
  if (!existsSync(path)) throw new BenchMergeError(`--merge keeps the other models of ${path}, and there is none: run without --merge first`);
  return JSON.parse(readFileSync(path, 'utf8')) as BenchResult;
}
