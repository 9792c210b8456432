/**
 * The adapter fuzzer (issue 17): seeded mutations of .lra files (bench/sample-adapter.ts, every kind, int8 and fp16),
 * half raw and half re-hashed as bench/fuzz.ts does for models, each read with readAdapter. Every case must end in
 * an adapter or one of our typed errors within 2 s; reading runs no native code, so it runs in this process.
 */
import { ADAPTER_KINDS, type AdapterDType } from '../formats/adapter-model.js';
import { readAdapter } from '../formats/adapter-read.js';
import { writeAdapter } from '../formats/adapter-write.js';
import { LrmFormatError } from '../formats/errors.js';
import { generator, mutate } from './mutate.js';
import { sampleAdapter } from './sample-adapter.js';

export interface AdapterFuzzReport {
  cases: number;
  /** "raw read", "rehashed typed:LraFormatError LRM_CORRUPT_HEADER", ... → count. */
  outcomes: Record<string, number>;
  findings: Array<{ case: number; base: string; mode: string; outcome: string }>;
}

/** 'read', or the typed error's class and code, or untyped / slow. */
export async function classifyAdapter(file: Uint8Array): Promise<string> {
  const started = performance.now();
  let outcome: string;
  try {
    await readAdapter(file, { fileName: 'fuzz.lra' });
    outcome = 'read';
  } catch (e) {
    outcome = e instanceof LrmFormatError ? `typed:${e.name} ${e.code}` : `untyped:${(e as Error)?.name ?? typeof e}: ${String((e as Error)?.message ?? e).slice(0, 120)}`;
  }
  const ms = performance.now() - started;
  return ms > 2000 ? `slow:${Math.round(ms)} ms, ${outcome}` : outcome;
}

export async function fuzzAdapters(cases: number, seed: number): Promise<AdapterFuzzReport> {
  const dtypes: AdapterDType[] = ['int8', 'fp16'];
  const bases = await Promise.all(
    ADAPTER_KINDS.flatMap((kind) => dtypes.map(async (dtype) => ({ name: `${kind}-${dtype}`, file: await writeAdapter(sampleAdapter(kind, dtype)) }))),
  );
  const random = generator(seed);
  const outcomes: Record<string, number> = {};
  const findings: AdapterFuzzReport['findings'] = [];
  for (let c = 0; c < cases; c++) {
    const base = bases[c % bases.length]!;
    const mode = c % 4 >= 2 ? 'rehashed' : 'raw';
    const outcome = await classifyAdapter(mutate(base.file, mode === 'rehashed', random));
    const key = `${mode} ${outcome.startsWith('untyped') || outcome.startsWith('slow') ? outcome.split(':')[0] : outcome}`;
    outcomes[key] = (outcomes[key] ?? 0) + 1;
    if (outcome !== 'read' && !outcome.startsWith('typed:')) findings.push({ case: c, base: base.name, mode, outcome });
  }
  return { cases, outcomes, findings };
}
