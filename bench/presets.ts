/**
 * The tune suite: for each model, a calibrated compile, then `lowrank tune` on ort-node-cpu and ort-wasm with
 * three latency budgets taken from that engine's measured tier latencies; then every preset is loaded in a
 * FRESH process (bench/preset-probe.ts), timed, and evaluated on the benchmark's evaluation split. Writes
 * presets.{json,md}: budget, preset, tiers, p50 in the fresh process, within budget or not, accuracy.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileOnnx } from '../compiler/compile.js';
import { feedBatches, openDataset } from '../compiler/data/spec.js';
import { importOnnx } from '../compiler/import/onnx.js';
import { measureTiers } from '../compiler/tune/tier-latency.js';
import type { Feeds, EngineId } from '../runtime/node.js';

const ENGINES: EngineId[] = ['ort-node-cpu', 'ort-wasm'];
// Sub-millisecond timings move by ±20% between processes on a shared machine: more headroom than tune's default.
const HEADROOM = 0.2;

interface TuneModel {
  id: string;
  file: string;
  data: string;
  mean: number[];
  std: number[];
  tiers: number[];
  calib: { offset: number; limit: number };
  evaluation: { offset: number; limit?: number };
  output?: string;
}

const MODELS: TuneModel[] = [
  // The compression bench's splits: MNIST calibration 0–255, evaluation 1000–9999; ImageNet sample 0–249 / 250–499
  // (fewer calibration images here, to keep the suite fast).
  { id: 'mnist-cnn-pytorch', file: 'mnist-cnn-pytorch.onnx', data: 'mnist', mean: [0.5], std: [0.5], tiers: [0.05, 0.1, 0.15, 0.2, 0.35, 0.5, 1], calib: { offset: 0, limit: 256 }, evaluation: { offset: 1000 } },
  { id: 'mobilenet_v1_075_224', file: 'mobilenet_v1_075_224.onnx', data: 'imagenet-sample', mean: [0.5], std: [0.5], tiers: [0.5, 0.75, 0.9, 1], calib: { offset: 0, limit: 64 }, evaluation: { offset: 250, limit: 250 }, output: 'logits' },
];

export interface PresetRow {
  model: string;
  engine: EngineId;
  budgetMs: number;
  preset: string;
  tiers: number;
  /** Of the file's tiers. */
  allTiers: number;
  /** What tune measured in its own process. */
  tuneP50: number;
  /** In a fresh process. */
  p50: number;
  p95: number;
  withinBudget: boolean;
  accuracy: number | null;
  fidelity?: number;
  samples: number;
}

export interface PresetBench {
  rows: PresetRow[];
  /** Each engine's measured tier p50s the budgets were taken from. */
  tierLatency: Array<{ model: string; engine: EngineId; p50: number[] }>;
}

/** Two significant digits: budgets a person would write. */
const round2 = (v: number) => Number(v.toPrecision(2));

/**
 * Three distinct budgets from the tier p50s: room for the fastest tier, for the slowest, and their geometric
 * mean; each 1.6× the p50 it is taken from so a tier fits with the tuning headroom and noise between processes.
 */
export function budgetsFrom(p50s: number[]): number[] {
  const lo = 1.6 * Math.min(...p50s);
  const hi = 1.6 * Math.max(...p50s);
  const mid = Math.sqrt(lo * hi);
  const b = [round2(lo), round2(mid), round2(hi)];
  // Rounding can merge close budgets: spread them so there are three.
  if (b[1] <= b[0]) b[1] = round2(b[0] * 1.15);
  if (b[2] <= b[1]) b[2] = round2(b[1] * 1.15);
  return b;
}

/**
 * Runs tune on the budgets, tightest first. On a busy shared machine tune's own measurement can land above the
 * tightest budget taken from the bench's, and tune then refuses them all: log it and try again without that budget,
 * so the looser ones still get their presets. Undefined when no budget is left.
 */
export function tuneDroppingTightest(budgets: number[], tune: (budgets: number[]) => string, onFailure: (budgets: number[], e: Error) => void): { text: string; budgets: number[] } | undefined {
  for (let b = budgets; b.length > 0; b = b.slice(1)) {
    try {
      return { text: tune(b), budgets: b };
    } catch (e) {
      onFailure(b, e as Error);
    }
  }
  return undefined;
}

function node(args: string[], root: string): string {
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr.trim().split('\n').pop()}`);
  return r.stdout.trim();
}

export async function runPresetBench(o: { data: string; root: string; quick: boolean; models: string[]; log: (line: string) => void }): Promise<PresetBench> {
  const dir = mkdtempSync(join(tmpdir(), 'lowrank-bench-tune-'));
  const rows: PresetRow[] = [];
  const tierLatency: PresetBench['tierLatency'] = [];
  const chosen = MODELS.filter((m) => (o.models.length === 0 ? !o.quick || m.id === 'mnist-cnn-pytorch' : o.models.includes(m.id)));
  try {
    for (const m of chosen) {
      const source = new Uint8Array(readFileSync(join(o.data, 'models', m.file)));
      const inputs = importOnnx(source, m.file).inputs;
      const spec = `${m.data === 'mnist' ? 'mnist' : 'imagenet'}:${join(o.data, m.data)}`;
      const calib = o.quick ? { ...m.calib, limit: 16 } : m.calib;
      const calibration = await openDataset(spec, { mean: m.mean, std: m.std, ...calib, layout: inputs[0].shape });
      const { lrm, header } = await compileOnnx(source, {
        fileName: m.file, tiers: m.tiers, calibration: () => feedBatches(calibration, inputs, 32), calibrationSize: calibration.size, sensitivityBatches: 2,
      });
      const path = join(dir, `${m.id}.lrm`);
      writeFileSync(path, lrm);
      const evaluation = o.quick ? { ...m.evaluation, limit: 200 } : m.evaluation;
      const probeJson = join(dir, `${m.id}.probe.json`);
      writeFileSync(probeJson, JSON.stringify({ data: spec, mean: m.mean, std: m.std, ...evaluation, output: m.output }));
      let sample: Feeds | undefined;
      for await (const feeds of feedBatches(calibration, inputs, 1)) {
        sample = feeds as Feeds;
        break;
      }
      for (const engine of ENGINES) {
        const measured = await measureTiers(lrm, header, engine, sample!, { warmup: 5, runs: 50, warmupMs: 500 });
        const p50s = measured.map((t) => t.latencyMsP50);
        tierLatency.push({ model: m.id, engine, p50: p50s });
        const budgets = budgetsFrom(p50s);
        o.log(`[presets] ${m.id} on ${engine}: tier p50s ${p50s.map((v) => v.toFixed(3)).join(', ')} ms → budgets ${budgets.join(', ')} ms`);
        const tunedRun = tuneDroppingTightest(budgets, (b) => node([
          'bin/lowrank.js', 'tune', path, '--engine', engine, '--latency-ms', b.join(','), '--headroom', String(HEADROOM),
          '--calib', spec, '--calib-offset', String(calib.offset), '--calib-limit', String(Math.min(calib.limit, 64)),
          '--mean', m.mean.join(','), '--std', m.std.join(','), '--json', ...(o.quick ? ['--layer-runs', '5'] : []),
        ], o.root), (b, e) => o.log(`[presets] ${m.id} on ${engine}: tune failed for budgets ${b.join(', ')} ms: ${e.message}`));
        if (tunedRun === undefined) continue;
        const { text: tunedText, budgets: tunedBudgets } = tunedRun;
        const tuned = JSON.parse(tunedText) as { presets: Array<{ name: string; tiers: number; latencyMsP50: number; fidelity?: number }> };
        for (const [i, p] of tuned.presets.entries()) {
          const probe = JSON.parse(node(['dist/bench/preset-probe.js', path, p.name, engine, probeJson], o.root)) as { tiers: number; p50: number; p95: number; accuracy: number | null; samples: number };
          rows.push({
            model: m.id, engine, budgetMs: tunedBudgets[i], preset: p.name, tiers: p.tiers, allTiers: header.tiers.length, tuneP50: p.latencyMsP50,
            p50: probe.p50, p95: probe.p95, withinBudget: probe.p50 <= tunedBudgets[i], accuracy: probe.accuracy, fidelity: p.fidelity, samples: probe.samples,
          });
          o.log(`[presets] ${p.name}: ${p.tiers} tiers, fresh p50 ${probe.p50.toFixed(3)} ms (budget ${tunedBudgets[i]}), accuracy ${probe.accuracy?.toFixed(2)}%`);
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { rows, tierLatency };
}

export async function writePresetReport(r: PresetBench, out: string): Promise<string[]> {
  const pct = (v: number | null | undefined) => (v === null || v === undefined ? '-' : `${v.toFixed(2)}%`);
  const lines = [
    '# Tuned presets',
    '',
    `Calibrated compile, then \`lowrank tune --latency-ms a,b,c --headroom ${HEADROOM}\` per engine, budgets from that engine's measured tier p50s (1.6× the fastest, 1.6× the slowest, their geometric mean). Each preset is then loaded in a fresh process: p50/p95 of 50 single-sample runs after at least 5 warm-ups and 500 ms (as tune measures), and top-1 accuracy on the evaluation split (MNIST digits 1000–9999; ImageNet sample images 250–499). Fidelity: tune's top-1 agreement with the full model on 64 calibration samples. Generated by \`npm run bench\`.`,
    '',
    '| model | engine | budget ms | preset | tiers | p50 ms (tune) | p50 ms (fresh) | p95 ms (fresh) | within budget | accuracy | fidelity |',
    '| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |',
    ...r.rows.map((x) => `| ${x.model} | ${x.engine} | ${x.budgetMs} | ${x.preset} | ${x.tiers}/${x.allTiers} | ${x.tuneP50.toFixed(3)} | ${x.p50.toFixed(3)} | ${x.p95.toFixed(3)} | ${x.withinBudget ? 'yes' : 'no'} | ${pct(x.accuracy)} | ${pct(x.fidelity === undefined ? undefined : 100 * x.fidelity)} |`),
    '',
    'Tier p50s (ms) the budgets were taken from:',
    '',
    ...r.tierLatency.map((t) => `- ${t.model} on ${t.engine}: ${t.p50.map((v) => v.toFixed(3)).join(', ')}`),
    '',
  ];
  const md = join(out, 'presets.md');
  const json = join(out, 'presets.json');
  await writeFile(md, lines.join('\n'));
  await writeFile(json, JSON.stringify(r, null, 2) + '\n');
  return [json, md];
}
