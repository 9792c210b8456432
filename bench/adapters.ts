/**
 * The adapters section of `npm run bench` (issue 17): MNIST-CNN as the base, a camera mounted differently as the
 * task (inverted-contrast digits, scripts/invert-mnist.mjs). One adapter of each kind is trained with the CLI's
 * defaults on inverted test digits 0–4999 and measured on 5000–9999, per engine: accuracy with and without the
 * adapter (inverted digits) and on normal digits without it, the adapter's bytes against the base's, the time to
 * switch adapters between two runs against a fresh load(), and run latency with and without an adapter, paired
 * (alternating runs on one session). Writes adapters.json and adapters.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labelledSamples } from '../compiler/adapt/labelled.js';
import { trainAdapter } from '../compiler/adapt/train.js';
import { compileOnnx } from '../compiler/compile.js';
import { feedBatches } from '../compiler/data/feeds.js';
import { openDataset, type Dataset } from '../compiler/data/spec.js';
import { evaluateClassifier } from '../compiler/evaluate.js';
import { importOnnx } from '../compiler/import/onnx.js';
import { ADAPTER_KINDS, type AdapterKind } from '../formats/adapter-model.js';
import { writeAdapter } from '../formats/adapter-write.js';
import { load, type EngineId, type LrmSession } from '../runtime/node.js';
import type { Feeds } from '../runtime/tensor.js';
import { projectRoot } from './project-root.js';

const MODEL = 'mnist-cnn-pytorch';
const ENGINES: EngineId[] = ['ort-node-cpu', 'ort-wasm', 'tfjs-wasm'];

export interface AdapterRow {
  kind: AdapterKind;
  engine: EngineId;
  targets: string[];
  adapterBytes: number;
  baseBytes: number;
  trainSeconds: number;
  evaluated: number;
  /** Top-1 (%) on held-out inverted digits with the adapter, and the base on the same digits. */
  invertedWith: number;
  invertedWithout: number;
  /** Top-1 (%) of the base on the same digits uninverted, after the adapter was loaded (runs without it). */
  normalWithout: number;
  /** Paired medians on one session (ms, batch 1). */
  runMs: { base: number; adapter: number; afterSwitch: number };
  /** loadAdapter of this adapter onto a session that already holds another on the same weights. */
  loadAdapterMs: number;
  freshLoadMs: number;
}

export interface AdapterBench {
  model: string;
  split: string;
  rows: AdapterRow[];
}

export async function runAdapterBench(o: { data: string; root: string; quick: boolean; models: string[]; log: (line: string) => void }): Promise<AdapterBench | undefined> {
  if (o.models.length > 0 && !o.models.includes(MODEL)) return undefined;
  const source = new Uint8Array(readFileSync(join(o.data, 'models', `${MODEL}.onnx`)));
  const input = importOnnx(source).inputs[0]!;
  const norm = { layout: input.shape, mean: [0.5], std: [0.5] };
  const normal = `mnist:${join(o.data, 'mnist')}`;
  const calibration = await openDataset(normal, { ...norm, limit: 256 });
  const { lrm } = await compileOnnx(source, { fileName: `${MODEL}.onnx`, calibration: () => feedBatches(calibration, [input], 32) });
  const dir = mkdtempSync(join(tmpdir(), 'lowrank-inverted-'));
  try {
    execFileSync(process.execPath, [join(o.root, 'scripts/invert-mnist.mjs'), join(o.data, 'mnist'), dir]);
    const train = { offset: 0, limit: o.quick ? 800 : 5000 };
    const evaluated = o.quick ? 500 : 5000;
    const inverted = await openDataset(`mnist:${dir}`, { ...norm, offset: 5000, limit: evaluated });
    const upright = await openDataset(normal, { ...norm, offset: 5000, limit: evaluated });
    const trainSet = await openDataset(`mnist:${dir}`, { ...norm, ...train });
    const rows: AdapterRow[] = [];
    for (const kind of ADAPTER_KINDS) {
      o.log(`adapters: training ${kind} on inverted digits ${train.offset}–${train.offset + train.limit - 1}`);
      const { adapter, report } = await trainAdapter(lrm, labelledSamples(trainSet, [input]), { kind, fileName: `${MODEL}.lrm`, ...(o.quick ? { steps: 40, learningRate: 3e-2 } : {}) });
      const file = await writeAdapter(adapter);
      for (const engine of ENGINES) {
        o.log(`adapters: ${kind} on ${engine}`);
        const measured = await measureEngine(lrm, file, engine, { inverted, upright, inputName: input.name });
        rows.push({ kind, engine, targets: report.targets, adapterBytes: file.length, baseBytes: lrm.length, trainSeconds: report.seconds, evaluated, ...measured });
      }
    }
    return { model: MODEL, split: `trained on inverted test digits ${train.offset}–${train.offset + train.limit - 1} (a tenth held out for the checkpoint), evaluated on test digits 5000–${5000 + evaluated - 1}, inverted and upright`, rows };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

type Measured = Omit<AdapterRow, 'kind' | 'engine' | 'targets' | 'adapterBytes' | 'baseBytes' | 'trainSeconds' | 'evaluated'>;

/** One engine: accuracy with/without the adapter, paired latencies, switch and load times, all at the full tier. */
async function measureEngine(lrm: Uint8Array, adapter: Uint8Array, engine: EngineId, data: { inverted: Dataset; upright: Dataset; inputName: string }): Promise<Measured> {
  const session = await load(lrm, { engine });
  try {
    // The same adapter under a second name: its feeds are prepared separately, so alternating the two names is what a
    // per-request swap between adapters on the same weights costs.
    await session.loadAdapter(adapter, 'a');
    const t0 = performance.now();
    await session.loadAdapter(adapter, 'b');
    const loadAdapterMs = performance.now() - t0;
    const accuracy = async (set: Dataset, name?: string) => (await evaluateClassifier({ run: (f) => session.run(f, { adapter: name }) }, set, { inputName: data.inputName, batchSize: 100 })).accuracy ?? NaN;
    const invertedWith = await accuracy(data.inverted, 'a');
    const invertedWithout = await accuracy(data.inverted);
    const normalWithout = await accuracy(data.upright);
    let feeds: Feeds | undefined;
    for await (const b of data.inverted.batches(1)) {
      feeds = { [data.inputName]: b.input };
      break;
    }
    const runMs = await pairedRuns(session, feeds!);
    const fresh: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t = performance.now();
      const s = await load(lrm, { engine });
      await s.run(feeds!);
      fresh.push(performance.now() - t);
      await s.release();
    }
    return { invertedWith, invertedWithout, normalWithout, runMs, loadAdapterMs, freshLoadMs: median(fresh) };
  } finally {
    await session.release();
  }
}

/** Median run time of the base, of an adapter run after a run with the same adapter, and right after the other adapter. */
async function pairedRuns(session: LrmSession, feeds: Feeds): Promise<AdapterRow['runMs']> {
  const time = async (adapter?: string) => {
    const t = performance.now();
    await session.run(feeds, { adapter });
    return performance.now() - t;
  };
  for (let i = 0; i < 20; i++) await Promise.all([time(), time('a'), time('b')]);
  const base: number[] = [];
  const same: number[] = [];
  const switched: number[] = [];
  for (let i = 0; i < 100; i++) {
    base.push(await time());
    await time('a');
    same.push(await time('a'));
    switched.push(await time('b'));
  }
  return { base: median(base), adapter: median(same), afterSwitch: median(switched) };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function writeAdapterReport(r: AdapterBench | undefined, out: string): Promise<string[]> {
  if (!r) return [];
  const json = join(out, 'adapters.json');
  writeFileSync(json, JSON.stringify(r, null, 2) + '\n');
  const n = r.rows[0]?.evaluated ?? 0;
  const ci = (p: number) => {
    const [lo, hi] = wilson(p / 100, n);
    return `${p.toFixed(2)}% (${(100 * lo).toFixed(1)}–${(100 * hi).toFixed(1)})`;
  };
  const f = (v: number) => v.toFixed(3);
  const lines = [
    '# Adapters (issue 17)',
    '',
    `${r.model}, full tier; ${r.split}. Accuracy with the 95% binomial interval on ${n} digits. Latencies are medians of paired runs on one session (batch 1): "after switch" is a run with adapter b right after one with adapter a (b: the same adapter loaded under a second name, with its own feeds); "fresh load" is load() + the first run of the base file. Absolute times are indicative (a shared 2-core machine); compare within a row.`,
    '',
    '| kind | engine | adapted weights | adapter bytes (% of base) | inverted, with | inverted, without | upright, without | run base ms | run adapter ms | after switch ms | loadAdapter ms | fresh load ms | train s |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...r.rows.map((x) => `| ${x.kind} | ${x.engine} | ${x.targets.join(', ')} | ${x.adapterBytes.toLocaleString('en-US')} (${((100 * x.adapterBytes) / x.baseBytes).toFixed(2)}%) | ${ci(x.invertedWith)} | ${ci(x.invertedWithout)} | ${ci(x.normalWithout)} | ${f(x.runMs.base)} | ${f(x.runMs.adapter)} | ${f(x.runMs.afterSwitch)} | ${f(x.loadAdapterMs)} | ${f(x.freshLoadMs)} | ${x.trainSeconds.toFixed(0)} |`),
    '',
  ];
  const md = join(out, 'adapters.md');
  writeFileSync(md, lines.join('\n'));
  return [json, md];
}

/** Wilson's 95% interval of a proportion p observed on n samples (sound near 0 and 1, unlike p ± 1.96σ). */
function wilson(p: number, n: number): [number, number] {
  const z = 1.96;
  const centre = (p + (z * z) / (2 * n)) / (1 + (z * z) / n);
  const half = (z / (1 + (z * z) / n)) * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  return [centre - half, centre + half];
}

// `node dist/bench/adapters.js [--quick]`: this section alone (npm run bench runs it after the others).
if (process.argv[1]?.endsWith('adapters.js')) {
  const root = projectRoot();
  const result = await runAdapterBench({ data: join(root, '../shared/data'), root, quick: process.argv.includes('--quick'), models: [], log: (l) => process.stderr.write(`${l}\n`) });
  for (const p of await writeAdapterReport(result, join(root, 'bench/results'))) console.log(p);
}
