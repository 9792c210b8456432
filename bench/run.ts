/**
 * `npm run bench` (= `npm run build && node dist/bench/run.js`): the compression benchmark.
 *
 *   node dist/bench/run.js [--models a,b] [--quick] [--out dir] [--data dir]
 *
 * --models  model ids (or .onnx names) to run, default all (see bench/models.ts)
 * --quick   small limits (a few hundred digits, a handful of images): a smoke run, used by the tests
 * --out     where to write the results (default bench/results in the project)
 * --data    the shared real data folder (default ../shared/data next to the project)
 *
 * Progress lines go to stderr; the paths of the written files to stdout.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runBench } from './bench.js';
import { writeReport } from './report.js';

/** The project root: the nearest folder up from here whose package.json is lowrank-edge's (works from bench/ and dist/bench/). */
function projectRoot(): string {
  for (let dir = import.meta.dirname; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'lowrank-edge') return dir;
    if (dirname(dir) === dir) throw new Error('cannot find the lowrank-edge project root');
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      models: { type: 'string' },
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      data: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log('usage: node dist/bench/run.js [--models a,b] [--quick] [--out dir] [--data dir]');
    return;
  }
  const root = projectRoot();
  const out = values.out ? resolve(values.out) : join(root, 'bench', 'results');
  const data = values.data ? resolve(values.data) : join(root, '..', 'shared', 'data');
  const models = (values.models ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const result = await runBench({ data, quick: values.quick ?? false, models, log: (line) => process.stderr.write(line + '\n') });
  for (const p of await writeReport(result, out)) console.log(p);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: error: ${e instanceof Error ? e.message : String(e)}\n`);
  if (process.env.LOWRANK_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
