/**
 * The file fuzzer (issue 16): seeded mutations of real .lrm files, each read, verified, loaded and run once on
 * ort-node-cpu, exactly as an app would. Every case must end in a run or in one of our typed errors, within
 * 2 s, with the process alive; anything else is a finding.
 *
 *   npm run fuzz -- [--cases 2000] [--adapter-cases 1000] [--seed 1] [--out dir]   (fuzz.json, fuzz.md to --out)
 *
 * Inputs: mnist-8.onnx and mnist-cnn-pytorch.onnx compiled with --dtype int8 (small, and int8 files carry the most
 * header fields: scales per row and component). Half the cases are *raw* (bytes flipped anywhere: the header hash
 * or a section hash must refuse them), half *re-hashed* (bytes flipped inside the header, then its SHA-256
 * recomputed, as a buggy writer, a crafted file or a rewriting proxy would leave it: the format checks and the
 * graph checks must refuse what cannot run). A case that kills the process (onnxruntime aborts on some graphs)
 * cannot report itself: the caller runs this in a child process and reads the last case started from stdout.
 * Every re-hashed case that changed the file is also loaded with the original's `integrity` pinned: it must be
 * refused with LrmIntegrityError, before any engine runs.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compileOnnx } from '../compiler/compile.js';
import { LrmFormatError } from '../formats/errors.js';
import { HEADER_HASH_BYTES } from '../formats/framing.js';
import { integrityOf } from '../formats/integrity.js';
import { headerLength } from '../formats/read.js';
import { RuntimeError } from '../runtime/errors.js';
import { load } from '../runtime/node.js';
import type { Feeds } from '../runtime/tensor.js';
import { projectRoot } from './cli.js';
import { fuzzAdapters } from './fuzz-adapters.js';
import { generator, mutate } from './mutate.js';

export type Outcome = 'ran' | `typed:${string}` | `untyped:${string}` | `slow:${string}`;

/** Load and run one file: 'ran', or the error's class (typed: ours; untyped: anything else), or slow. */
export async function classify(file: Uint8Array, feeds: (inputs: Array<{ name: string; shape: Array<number | string> }>) => Feeds, integrity?: string): Promise<Outcome> {
  const started = performance.now();
  let outcome: Outcome;
  try {
    const session = await load(file, { engine: 'ort-node-cpu', integrity });
    try {
      await session.run(feeds(session.inputs));
    } finally {
      await session.release();
    }
    outcome = 'ran';
  } catch (e) {
    const typed = e instanceof LrmFormatError || e instanceof RuntimeError;
    outcome = typed ? `typed:${(e as Error).name}` : `untyped:${(e as Error)?.name ?? typeof e}: ${String((e as Error)?.message ?? e).slice(0, 120)}`;
  }
  const ms = performance.now() - started;
  return ms > 2000 ? `slow:${Math.round(ms)} ms, ${outcome}` : outcome;
}

/** Zero inputs of each model input's shape (symbolic dims 1). */
function zeroFeeds(inputs: Array<{ name: string; shape: Array<number | string> }>): Feeds {
  return Object.fromEntries(inputs.map((i) => {
    const dims = i.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : 1));
    return [i.name, { dataType: 'float32' as const, dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)) }];
  }));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { cases: { type: 'string', default: '2000' }, 'adapter-cases': { type: 'string', default: '1000' }, seed: { type: 'string', default: '1' }, out: { type: 'string' }, data: { type: 'string' } },
  });
  const root = projectRoot();
  const models = join(values.data ?? join(root, '..', 'shared', 'data'), 'models');
  const bases = [];
  for (const name of ['mnist-8.onnx', 'mnist-cnn-pytorch.onnx']) {
    const { lrm } = await compileOnnx(new Uint8Array(readFileSync(join(models, name))), { dtype: 'int8' });
    const end = headerLength(lrm);
    bases.push({ name, lrm, integrity: integrityOf(lrm.subarray(end - HEADER_HASH_BYTES, end)) });
  }
  const random = generator(Number(values.seed));
  const counts = new Map<string, number>();
  const findings: Array<{ case: number; base: string; mode: string; outcome: Outcome }> = [];
  let peakRss = 0;
  const cases = Number(values.cases);
  const started = performance.now();
  for (let c = 0; c < cases; c++) {
    const base = bases[c % bases.length]!;
    const rehash = c % 4 >= 2;
    const file = mutate(base.lrm, rehash, random);
    process.stdout.write(`case ${c} ${base.name} ${rehash ? 'rehashed' : 'raw'}\n`); // the last line names a case that killed us
    const outcome = await classify(file, zeroFeeds);
    const key = outcome.startsWith('typed:') ? outcome : outcome.startsWith('ran') ? 'ran' : outcome.split(':')[0]!;
    counts.set(`${rehash ? 'rehashed' : 'raw'} ${key}`, (counts.get(`${rehash ? 'rehashed' : 'raw'} ${key}`) ?? 0) + 1);
    if (!outcome.startsWith('typed:') && outcome !== 'ran') findings.push({ case: c, base: base.name, mode: rehash ? 'rehashed' : 'raw', outcome });
    if (rehash && file.some((b, i) => b !== base.lrm[i])) {
      const pinned = await classify(file, zeroFeeds, base.integrity);
      counts.set(`rehashed, integrity pinned: ${pinned}`, (counts.get(`rehashed, integrity pinned: ${pinned}`) ?? 0) + 1);
      // The identifier sits inside the FlatBuffer: damaged, the header's length cannot even be read (a foreign
      // identifier, or "LRM" and another generation digit, which reads as a newer format); refused all the same.
      if (!['typed:LrmIntegrityError', 'typed:LrmBadIdentifierError', 'typed:LrmVersionError'].includes(pinned)) {
        findings.push({ case: c, base: base.name, mode: 'rehashed, integrity pinned', outcome: pinned });
      }
    }
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }
  // Adapter files (.lra, issue 17): read only, no engine, so they add seconds, not minutes.
  const adapters = await fuzzAdapters(Number(values['adapter-cases']), Number(values.seed));
  findings.push(...adapters.findings.map((f) => ({ ...f, mode: `adapter ${f.mode}`, outcome: f.outcome as Outcome })));
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  const report = { seed: Number(values.seed), cases, seconds: (performance.now() - started) / 1000, peakRssMb: peakRss / 2 ** 20, outcomes: Object.fromEntries([...counts].sort()), adapters: { cases: adapters.cases, outcomes: adapters.outcomes }, findings };
  process.stdout.write(`result ${JSON.stringify(report)}\n`);
  if (values.out) {
    mkdirSync(values.out, { recursive: true });
    writeFileSync(join(values.out, 'fuzz.json'), JSON.stringify(report, null, 2) + '\n');
    const md = [
      '# Fuzzing .lrm files',
      '',
      `\`npm run fuzz -- --cases ${cases} --adapter-cases ${adapters.cases} --seed ${report.seed}\`: ${cases} mutated copies of mnist-8 and mnist-cnn-pytorch int8 files, half raw, half re-hashed, each loaded and run on ort-node-cpu; ${report.seconds.toFixed(0)} s, peak RSS ${report.peakRssMb.toFixed(0)} MiB.`,
      '',
      '| mode, outcome | cases |',
      '|---|---:|',
      ...[...counts].sort().map(([k, n]) => `| ${k} | ${n} |`),
      '',
      `Adapters (.lra): ${adapters.cases} mutated copies of the sample lora, loha and lokr adapters (int8, fp16), half raw, half re-hashed, each read with readAdapter.`,
      '',
      '| mode, outcome | cases |',
      '|---|---:|',
      ...Object.entries(adapters.outcomes).sort().map(([k, n]) => `| ${k} | ${n} |`),
      '',
      findings.length === 0 ? 'Findings: none (no untyped error, no case over 2 s, the process survived every case).' : `Findings: ${findings.length}\n\n${findings.map((f) => `- case ${f.case} (${f.base}, ${f.mode}): ${f.outcome}`).join('\n')}`,
      '',
    ].join('\n');
    writeFileSync(join(values.out, 'fuzz.md'), md);
  }
  if (findings.length > 0) process.exitCode = 1;
}

if (process.argv[1]?.endsWith('fuzz.js')) await main();
