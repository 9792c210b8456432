import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { deviceClassId } from '../../devices/device-class.js';
import { detectNodeDevice } from '../../devices/detect-node.js';
import type { ModelHeader } from '../../formats/model.js';
import { readHeader } from '../../formats/read.js';
import type { Feeds } from '../../runtime/tensor.js';
import { feedBatches, isTextSpec, openDataset } from '../data/spec.js';
import { loadVocabulary } from '../data/text.js';
import { CompileOptionError } from '../errors.js';
import { syntheticFeeds } from '../tune/sample-feeds.js';
import { tuneLrm } from '../tune/tune.js';
import type { TuneBudget } from '../tune/pick-presets.js';
import { table } from './format.js';
import { parseNormalisation } from './normalisation.js';
import { parseWholeNumber, withCalibrationOptions } from './options.js';
import { ProgressBar } from './progress.js';
import { readInputBytes } from './read-input.js';
import { writeAtomically } from './write-output.js';

interface TuneCliOptions {
  engine: string;
  latencyMs?: string;
  memoryMb?: string;
  name?: string;
  output?: string;
  table?: string;
  headroom: string;
  warmup: string;
  warmupMs: string;
  runs: string;
  layerRuns: string;
  calib?: string;
  vocab?: string;
  calibLimit: string;
  calibOffset: string;
  mean?: string;
  size?: string;
  std?: string;
  labels?: string;
  json?: boolean;
}

/** Fidelity runs the model on batches of this many calibration samples. */
const FIDELITY_BATCH = 32;

function positiveNumber(option: string, text: string): number {
  const v = Number(text);
  if (!(Number.isFinite(v) && v > 0)) throw new CompileOptionError(`${option} must be a positive number, got "${text}"`, 'bad-option');
  return v;
}

function parseBudgets(opts: TuneCliOptions): TuneBudget[] {
  const memoryMb = opts.memoryMb === undefined ? undefined : positiveNumber('--memory-mb', opts.memoryMb);
  const latencies = opts.latencyMs === undefined ? [undefined] : opts.latencyMs.split(',').map((s) => positiveNumber('--latency-ms', s.trim()));
  return latencies.map((latencyMs) => ({ latencyMs, memoryMb }));
}

/** Where the per-layer latency table goes by default: beside the output, named after it and the engine. */
function defaultTablePath(output: string, engine: string): string {
  return join(dirname(output), `${basename(output).replace(/\.lrm$/, '')}.${engine}.latency.json`);
}

export function registerTune(program: Command): void {
  const command = program
    .command('tune')
    .description('measure an .lrm on this device and write presets that meet latency/memory budgets into its header')
    .argument('<model.lrm>', 'compiled model')
    .requiredOption('--engine <id>', 'engine to measure on: ort-node-cpu (node-cpu), ort-wasm (wasm) or ort-node-webgpu')
    .option('--latency-ms <ms[,ms…]>', 'single-sample p50 budget(s); one preset per budget')
    .option('--memory-mb <MB>', 'memory budget (held to the memory estimate)')
    .option('--name <name[,name…]>', 'preset name(s), one per budget (default: <engine>-<budget>ms)')
    .option('-o, --output <model.lrm>', 'where to write (default: replace the input, atomically)')
    .option('--table <file.json>', 'where to write the per-layer latency table (default: beside the output)')
    .option('--headroom <fraction>', 'share of the latency budget kept free for noise between processes', '0.1')
    .option('--warmup <N>', 'runs before timing', '5')
    .option('--warmup-ms <ms>', 'and keep warming up each tier count until this much time has passed (WebAssembly tiers up late)', '500')
    .option('--runs <N>', 'timed end-to-end runs per tier count', '50')
    .option('--layer-runs <N>', 'timed runs per layer and rank', '15');
  withCalibrationOptions(command, 'data for fidelity (top-1 agreement with the full model) and the timing sample', '100')
    .option('--json', 'print one JSON object')
    .action(tuneCommand);
}

async function tuneCommand(input: string, opts: TuneCliOptions): Promise<void> {
  const budgets = parseBudgets(opts);
  const names = opts.name?.split(',').map((s) => s.trim());
  if (names && names.length !== budgets.length) {
    throw new CompileOptionError(`--name gives ${names.length} name(s) for ${budgets.length} budget(s); give one per --latency-ms value`, 'bad-option');
  }
  const headroom = Number(opts.headroom);
  if (!(headroom >= 0 && headroom < 1)) throw new CompileOptionError(`--headroom must be a fraction from 0 to below 1, got "${opts.headroom}"`, 'bad-option');
  const warmup = parseWholeNumber('--warmup', opts.warmup, 0);
  const output = opts.output ?? input;
  const bytes = await readInputBytes(input);
  const { header } = await readHeader(bytes, { fileName: input, totalLength: bytes.length });
  const { sample, calibration } = await tuningData(header, input, opts);
  const device = await detectNodeDevice();
  const bar = new ProgressBar();
  const result = await tuneLrm(bytes, {
    engine: opts.engine,
    deviceClass: deviceClassId(device),
    budgets,
    names,
    headroom,
    timing: { warmup, runs: parseWholeNumber('--runs', opts.runs), warmupMs: parseWholeNumber('--warmup-ms', opts.warmupMs, 0) },
    layerTiming: { warmup, runs: parseWholeNumber('--layer-runs', opts.layerRuns) },
    sample,
    calibration,
    // A sentence encoder's output is an embedding: its arg-max is no class, so compare directions.
    fidelityMetric: opts.calib !== undefined && isTextSpec(opts.calib) ? 'cosine' : 'top1',
    fileName: input,
    onProgress: (phase, done, total, detail) => bar.update(phase, done, total, detail),
  }).finally(() => bar.stop());

  const tablePath = opts.table ?? defaultTablePath(output, result.table.engine);
  await writeAtomically(tablePath, new TextEncoder().encode(`${JSON.stringify(result.table, null, 2)}\n`));
  await writeAtomically(output, result.lrm);
  if (opts.json) {
    console.log(JSON.stringify({
      output, table: tablePath, engine: result.table.engine, deviceClass: result.table.deviceClass, headroom,
      tiers: result.tiers.map((t) => ({ ...t, fidelity: result.fidelity.get(t.tiers) })),
      presets: result.presets,
    }));
    return;
  }
  printTuning(input, output, tablePath, result);
}

/** The sample tiers are timed on (the first calibration sample, else a synthetic one) and the fidelity data. */
async function tuningData(header: ModelHeader, input: string, opts: TuneCliOptions): Promise<{ sample: Feeds; calibration?: () => AsyncIterable<Feeds> }> {
  if (opts.calib === undefined) return { sample: syntheticFeeds(header) };
  const { mean, std, size } = parseNormalisation(opts.mean, opts.std, opts.size);
  const inputs = header.graph.inputs;
  const slice = { limit: parseWholeNumber('--calib-limit', opts.calibLimit), offset: parseWholeNumber('--calib-offset', opts.calibOffset, 0) };
  const dataset = isTextSpec(opts.calib)
    ? await openDataset(opts.calib, { layout: [], inputs, ...slice, tokenizer: await loadVocabulary(opts.vocab, [input]) })
    : await openDataset(opts.calib, { layout: inputs[0]?.shape ?? [], mean, std, size, labels: opts.labels, inputs, ...slice });
  // Time on a real sample: the first one of the calibration data.
  let sample = syntheticFeeds(header);
  for await (const feeds of feedBatches(dataset, inputs, 1)) {
    sample = feeds as Feeds;
    break;
  }
  return { sample, calibration: () => feedBatches(dataset, inputs, FIDELITY_BATCH) };
}

function printTuning(input: string, output: string, tablePath: string, result: Awaited<ReturnType<typeof tuneLrm>>): void {
  const ms = (v: number) => v.toFixed(2);
  console.log(`${input} on ${result.table.engine}, device class ${result.table.deviceClass}`);
  console.log(
    table([
      ['tiers', 'p50 ms', 'p95 ms', 'predicted ms', 'memory MB (est.)', 'fidelity'],
      ...result.tiers.map((t) => [t.tiers, ms(t.latencyMsP50), ms(t.latencyMsP95), ms(t.predictedMsP50), Math.ceil(t.memoryMb), result.fidelity.has(t.tiers) ? `${(100 * result.fidelity.get(t.tiers)!).toFixed(1)}%` : '-']),
    ]),
  );
  for (const p of result.presets) {
    console.log(`preset ${p.name}: ${p.tiers} tier(s), p50 ${p.latencyMsP50} ms, p95 ${p.latencyMsP95} ms, ≈${p.peakMemoryMb} MB${p.fidelity !== undefined ? `, fidelity ${(100 * p.fidelity).toFixed(1)}%` : ''}`);
  }
  console.log(`wrote ${output}; per-layer latency table: ${tablePath} (reuse with lowrank compile --cost latency:${tablePath})`);
}
