import { stat } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { parseTierBudgets } from '../allocate.js';
import { compileOnnx, DEFAULT_INT3_MAX_ERROR, DEFAULT_INT4_MAX_ERROR, DEFAULT_MID_WEIGHT, DEFAULT_SENSITIVITY_MAX_MULTIPLY_ADDS, type CompileOptions, type CompileResult } from '../compile.js';
import type { Int4Report } from '../assemble.js';
import { DEFAULT_INT4_GROUP_SIZE } from '../quantize-int4.js';
import type { DistillFeatures, DistillReport } from '../distill/distill.js';
import { parseTrainingEngine, TRAINING_ENGINES } from '../distill/training-backend.js';
import type { RefitMode } from '../refit.js';
import { CompileOptionError } from '../errors.js';
import { tierBitsLabel, type FactorDType } from '../../formats/model.js';
import { bytesToLoad } from '../../formats/read.js';
import { formatBytes, formatCount, table } from './format.js';
import { ProgressBar } from './progress.js';
import { readInputBytes } from './read-input.js';
import { parseNormalisation } from './normalisation.js';
import { parseNonNegative, parseWholeNumber, withCalibrationOptions } from './options.js';
import { parseCostModel } from '../costs.js';
import { augmentFeeds } from '../data/augment.js';
import { feedBatches, isTextSpec, openDataset } from '../data/spec.js';
import { loadVocabulary } from '../data/text.js';
import { importOnnx } from '../import/onnx.js';
import type { Feeds } from '../../runtime/tensor.js';
import { writeAtomically } from './write-output.js';

interface CompileCliOptions {
  output: string;
  tiers: string;
  dtype: string;
  groupSize: string;
  /** false with --no-scale-codes. */
  scaleCodes: boolean;
  int4MaxError: string;
  minBits?: string;
  int3MaxError: string;
  midWeight: string;
  /** false with --no-sequential. */
  sequential: boolean;
  minParams: string;
  calib?: string;
  vocab?: string;
  calibLimit: string;
  calibOffset: string;
  refit?: boolean | string;
  refitSweeps: string;
  augment: string;
  augmentFlip: boolean;
  mean?: string;
  size?: string;
  std?: string;
  labels?: string;
  rankMultiple: string;
  cost: string;
  keepEnds?: boolean;
  allocate?: string;
  sensitivityLimit: string;
  sensitivityMeasure?: 'squared' | 'similarity';
  sensitivityMaxGmac: string;
  distill?: string;
  distillLimit: string;
  distillOffset: string;
  steps: string;
  distillBatch: string;
  distillLr: string;
  distillTiers?: string;
  distillTrain: string;
  distillAugment?: boolean;
  distillFeatures: string;
  distillFeatureWeight: string;
  distillLoss: string;
  engine: string;
}

/** What an int4 compile did with the weights it stores dense: one line, and one more saying what decided. */
function describeInt4(report: Int4Report, groupSize: number | undefined): string {
  if (report.length === 0) return 'int4: no float32 Conv/MatMul/Gemm weight or Gather table to quantise (weights already quantised in the model are kept as they are)';
  const int4 = report.filter((r) => r.storage === 'int4');
  const int3 = report.filter((r) => r.storage === 'int3');
  const grouped = [...int4, ...int3];
  const gptq = grouped.filter((r) => r.rounding === 'gptq').length;
  const kept = report.filter((r) => r.storage === 'int8');
  const rounding = gptq === grouped.length ? 'all GPTQ' : gptq === 0 ? 'rounded to nearest: no calibration reached them' : `${gptq} GPTQ, ${grouped.length - gptq} to nearest`;
  const measured = report.some((r) => r.measured === 'network') ? 'network output error on the calibration samples' : 'each weight\'s own error (no calibration)';
  const list = kept.map((r) => `${r.weight} ${(100 * r.error).toFixed(2)}%`).join(', ');
  const list3 = int3.map((r) => `${r.weight} ${(100 * (r.int3Error ?? 0)).toFixed(2)}%`).join(', ');
  const tried3 = report.some((r) => r.int3Error !== undefined);
  const threes = tried3 ? `; ${int3.length} int3${int3.length ? ` (${list3})` : ''}` : '';
  const budgets = tried3 ? 'budgets --int4-max-error (4-bit model), --int3-max-error (3-bit)' : 'budget --int4-max-error';
  return `int4 (groups of ${groupSize ?? '-'}): factors and ${int4.length} dense weight(s) int4 (${rounding})${threes}; ${kept.length} int8${kept.length ? ` (${list})` : ''}\nprecision chosen by ${measured}, ${budgets}${describeMid(int3)}${describeSequential(report)}`;
}

/** Int3 weights' mid planes (4-bit tiers), one line: each layer's own output error at 3 bits and with its mid plane. */
function describeMid(int3: Int4Report): string {
  const refined = int3.filter((r) => r.midError !== undefined);
  if (refined.length === 0) return '';
  return `\n4-bit tiers take int3 weights to 4 bits with their mid planes, layer output error: ${refined.map((r) => `${r.weight} ${(100 * r.midError!).toFixed(2)}%`).join(', ')}`;
}

/** Sequential rounding's effect, one line: each layer's output error against the original, first and second rounding. */
function describeSequential(report: Int4Report): string {
  const redone = report.filter((r) => r.sequential);
  if (redone.length === 0) return '';
  const pct = (v: number) => (100 * v).toFixed(2);
  const list = redone.map((r) => `${r.weight} ${pct(r.sequential!.before)}→${pct(r.sequential!.after)}%${r.sequential!.kept === 'first' ? ' (kept the first)' : ''}`).join(', ');
  return `\nsequential rounding, layer output error against the original with every layer upstream as stored: ${list}`;
}

/** An error budget: a number ≥ 0, or inf (no limit). */
function parseMaxError(flag: string, text: string): number {
  return text === 'inf' ? Infinity : parseNonNegative(flag, text);
}

/** Calibration runs the model on batches of this many samples. */
const CALIBRATION_BATCH = 32;

function parseAllocation(text?: string): 'sigma' | 'sensitivity' | undefined {
  if (text === undefined || text === 'sigma' || text === 'sensitivity') return text;
  throw new CompileOptionError(`--allocate must be sigma or sensitivity, got "${text}"`, 'allocate');
}

function parseDistillTrain(text: string): 'cores' | 'factors' {
  if (text === 'cores' || text === 'factors') return text;
  throw new CompileOptionError(`--distill-train must be cores or factors, got "${text}"`, 'distill');
}

/** auto: the distill module's rule (kl for class scores, else mse), except that sentence data means embeddings: mse. */
function parseDistillLoss(text: string, textData: boolean): 'kl' | 'mse' | 'auto' {
  if (text === 'kl' || text === 'mse') return text;
  if (text === 'auto') return textData ? 'mse' : 'auto';
  throw new CompileOptionError(`--distill-loss must be auto, kl or mse, got "${text}"`, 'distill');
}

function parseDistillFeatures(text: string): DistillFeatures {
  if (text === 'none' || text === 'last' || text === 'all') return text;
  throw new CompileOptionError(`--distill-features must be none, last or all, got "${text}"`, 'distill');
}

function parseRefitMode(value: boolean | string | undefined): RefitMode | undefined {
  if (value === undefined || value === true) return undefined;
  if (value === 'nonlinear' || value === 'linear') return value;
  throw new CompileOptionError(`--refit takes nonlinear or linear, got "${String(value)}"`, 'refit');
}

/** A data spec as the model's feeds (calibration, distillation), with the shared preprocessing options. */
async function openFeeds(source: Uint8Array, path: string, spec: string, limit: number, offset: number, opts: CompileCliOptions) {
  const inputs = importOnnx(source, path).inputs;
  const { mean, std, size } = parseNormalisation(opts.mean, opts.std, opts.size);
  const text = isTextSpec(spec);
  const dataset = text
    ? await openDataset(spec, { layout: [], inputs, limit, offset, tokenizer: await loadVocabulary(opts.vocab, [path]) })
    : await openDataset(spec, { layout: inputs[0]?.shape ?? [], mean, std, size, labels: opts.labels, limit, offset });
  // A function: each call starts a new pass over the data (refit makes several).
  return { inputs, size: dataset.size, pass: () => feedBatches(dataset, inputs, CALIBRATION_BATCH) };
}

/** The calibration data set, batched as the model's feeds. */
async function calibrationFeeds(source: Uint8Array, path: string, opts: CompileCliOptions): Promise<{ feeds: () => AsyncIterable<Feeds>; size: number }> {
  const { inputs, size, pass } = await openFeeds(source, path, opts.calib!, parseWholeNumber('--calib-limit', opts.calibLimit), parseWholeNumber('--calib-offset', opts.calibOffset, 0), opts);
  const copies = parseWholeNumber('--augment', opts.augment, 0);
  if (copies === 0) return { feeds: pass, size };
  const input = inputs[0];
  if (!input || input.shape.length !== 4) {
    throw new CompileOptionError(`--augment crops and flips images: it needs a model with one [N, C, H, W] image input`, 'augment');
  }
  return { feeds: augmentFeeds(pass, input.name, { copies, flip: opts.augmentFlip }), size: size * (1 + copies) };
}

/** --distill and its options. */
async function distillOptions(source: Uint8Array, path: string, opts: CompileCliOptions, signal: AbortSignal): Promise<CompileOptions['distill']> {
  if (opts.distill === undefined) return undefined;
  const { pass } = await openFeeds(source, path, opts.distill, parseWholeNumber('--distill-limit', opts.distillLimit), parseWholeNumber('--distill-offset', opts.distillOffset, 0), opts);
  const lr = Number(opts.distillLr);
  if (!(lr > 0 && lr < 1)) throw new CompileOptionError(`--distill-lr must be a number between 0 and 1, got "${opts.distillLr}"`, 'distill');
  return {
    samples: pass,
    steps: parseWholeNumber('--steps', opts.steps),
    batchSize: parseWholeNumber('--distill-batch', opts.distillBatch),
    learningRate: lr,
    tiers: opts.distillTiers === undefined ? undefined : opts.distillTiers.split(',').map((t) => parseWholeNumber('--distill-tiers', t.trim(), 0)),
    engine: parseTrainingEngine(opts.engine),
    train: parseDistillTrain(opts.distillTrain),
    augment: opts.distillAugment ? { flip: opts.augmentFlip } : undefined,
    features: parseDistillFeatures(opts.distillFeatures),
    featureWeight: parseNonNegative('--distill-feature-weight', opts.distillFeatureWeight),
    loss: parseDistillLoss(opts.distillLoss, isTextSpec(opts.distill)),
    signal,
  };
}

async function readJson(path: string): Promise<unknown> {
  const text = new TextDecoder().decode(await readInputBytes(path));
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CompileOptionError(`${path} is not valid JSON (${(e as Error).message})`, 'bad-json');
  }
}

/** Ops of already-quantised models: they stay untouched, and we say so. */
const QUANTISED_OPS = new Set(['QLinearConv', 'QLinearMatMul', 'MatMulInteger', 'ConvInteger', 'QuantizeLinear', 'DequantizeLinear', 'QLinearAdd', 'QLinearMul', 'QLinearGlobalAveragePool', 'QLinearConcat']);

export function registerCompile(program: Command): void {
  const command = program
    .command('compile')
    .description('factorise an ONNX model into a nested low-rank .lrm file')
    .argument('<model.onnx>', 'trained model to compile')
    .requiredOption('-o, --output <model.lrm>', 'where to write the .lrm file')
    .option('--tiers <fractions>', 'cumulative tier budgets, fractions of the factorable layers\' dense parameters; int4: budget:8 adds a tier at 8 bits (each int4 matrix with its low plane), budget:4 one where int3 weights run at 4 bits (with their mid planes; added after the last plain tier when int3 is on), e.g. 0.2,0.5,1,1:4,1:8', '0.1,0.2,0.35,0.5,1')
    .option('--dtype <fp32|fp16|int8|int4>', 'storage of every weight (int8: symmetric, per output channel; int4: groups of --group-size values per scale; both GPTQ-rounded against --calib inputs, else to nearest)', 'fp32')
    .option('--group-size <n>', 'int4: values per scale', String(DEFAULT_INT4_GROUP_SIZE))
    .option('--no-scale-codes', 'int4: store each group\'s scale as a half float (format 6 and older readers) instead of a byte code under a half-float row scale (format 7: 0.25 bits a value less at groups of 32)')
    .option('--int4-max-error <e>', 'int4: error budget of the precision pass: weights go int4, least network error per byte saved first, while their summed error stays within this (up to the first that does not fit); the rest int8 (0: all int8, inf: all int4)', String(DEFAULT_INT4_MAX_ERROR))
    .option('--int3-max-error <e>', 'int4 with int3: error budget of the 3-bit tiers: of the int4 weights, those with the least error added per byte saved go int3 while the summed error stays within this, up to the first that does not fit (inf: all int3)', String(DEFAULT_INT3_MAX_ERROR))
    .option('--mid-weight <w>', 'int4 with int3: how much the 4-bit tier\'s error counts against the 3-bit tier\'s where int3 values and their mid bits are rounded together (0: the best 3-bit tier; higher: a 4-bit tier closer to int4 alone)', String(DEFAULT_MID_WEIGHT))
    .addOption(new Option('--min-bits <bits>', 'int4: 3 lets the precision pass store weights int3 (3 bits a value, same groups) in the tiers run as stored, and a 4-bit tier takes them back to int4 precision with one more bit a value (default with --calib: 3; without: 4)').choices(['3', '4']))
    .option('--no-sequential', 'int4 with --calib: skip sequential rounding (by default each int4/int3 weight is rounded again against its inputs with every layer upstream as stored: one more pass over the calibration data per layer depth)')
    .option('--min-params <n>', 'layers with fewer weights stay dense', '4096');
  withCalibrationOptions(command, 'real inputs for activation-aware factorisation', '256')
    .option('--rank-multiple <n>', 'ranks move in steps of n components', '8')
    .option('--cost <model>', 'what budgets count: params | bytes | flops | latency:<table.json>', 'params')
    .addOption(new Option('--allocate <how>', 'order layers by σ² share (sigma) or by measured end-to-end error (sensitivity; needs --calib, its default)').choices(['sigma', 'sensitivity']))
    .option('--sensitivity-limit <N>', 'calibration samples used to measure sensitivity', '64')
    .addOption(new Option('--sensitivity-measure <how>', 'what sensitivity calls the network\'s error: squared (relative squared error of the outputs) or similarity (embeddings: error of their pairwise cosines); default: similarity for sts:/text: calibration, else squared').choices(['squared', 'similarity']))
    .option('--sensitivity-max-gmac <G>', 'default sensitivity: measured only when it costs at most G billion multiply-adds (model runs × samples × factorable multiply-adds per sample), else σ² order and a note; a count, so the choice is the same on any machine', String(DEFAULT_SENSITIVITY_MAX_MULTIPLY_ADDS / 1e9))
    .option('--refit [mode]', 'refit each tier\'s left factors and biases on the calibration data (needs --calib): nonlinear (default: match outputs after Relu/Clip) or linear')
    .option('--refit-sweeps <n>', 'passes over the calibration data per tier when refitting', '2')
    .option('--augment <copies>', 'calibration images: add this many random crops (and mirror images) of each', '0')
    .option('--no-augment-flip', 'augment with crops only (for data where mirroring changes meaning: digits, text)')
    .option('--distill <spec>', 'fine-tune the factored model against the original on these unlabelled samples (same specs as --calib)')
    .option('--distill-limit <N>', 'use at most N distillation samples', '256')
    .option('--distill-offset <N>', 'skip the first N distillation samples', '0')
    .option('--steps <N>', 'distillation: optimiser steps', '200')
    .option('--distill-batch <N>', 'distillation: samples per step', '8')
    .option('--distill-lr <rate>', 'distillation: Adam learning rate', '0.001')
    .option('--distill-tiers <list>', 'distillation: tiers in the nested loss (default: all)')
    .option('--distill-augment', 'distillation: a new random crop (and mirror image, unless --no-augment-flip) of every image on every pass')
    .option('--distill-train <what>', 'distillation: cores (triangular cores between the fixed bases) or factors (the factors themselves)', 'cores')
    .option('--distill-features <which>', 'distillation: also match intermediate features (relative MSE): none, last (before the head) or all factored layers', 'none')
    .option('--distill-feature-weight <w>', 'distillation: weight of the feature term against the output loss', '1')
    .option('--distill-loss <kind>', 'distillation: kl (softened class scores), mse (relative squared error) or auto (kl for classifiers; mse for other outputs and for sts:/text: data, whose outputs are embeddings)', 'auto')
    .option('--engine <id>', `distillation: tfjs backend that trains (${TRAINING_ENGINES.join(', ')})`, 'tfjs-wasm')
    .option('--keep-ends', 'keep the first and last weight layers dense (default for convolutional classifiers)')
    .option('--no-keep-ends', 'factor the first and last weight layers too')
    .action(compileCommand);
}

async function compileCommand(input: string, opts: CompileCliOptions): Promise<void> {
  // Option errors before the model is read.
  const tiers = parseTierBudgets(opts.tiers);
  const minParams = parseWholeNumber('--min-params', opts.minParams);
  const source = await readInputBytes(input);
  // First Ctrl-C: distillation stops after its current step and the compile finishes with the best checkpoint;
  // a second one quits.
  const stop = new AbortController();
  const onInterrupt = (): void => {
    if (stop.signal.aborted) process.exit(130);
    stop.abort();
    console.error('\nstopping distillation after this step; the best checkpoint so far is kept (Ctrl-C again to quit)');
  };
  const options = await compileOptionsFrom(source, input, opts, { tiers, minParams }, stop.signal);
  if (options.distill) process.on('SIGINT', onInterrupt);
  const bar = new ProgressBar();
  const started = performance.now();
  const result = await compileOnnx(source, {
    ...options,
    onProgress: (p) => bar.update(p.phase, p.done, p.total, p.detail),
    // Up front, on stderr: the summary on stdout repeats it when the compile is done.
    onNote: (note) => {
      bar.stop();
      console.error(`note: ${note}`);
    },
  }).finally(() => process.off('SIGINT', onInterrupt));
  bar.stop();
  // Write next to the target and rename, so an interrupted compile never leaves a half-written .lrm.
  await writeAtomically(opts.output, result.lrm);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const size = (await stat(opts.output)).size;
  console.log(`compiled ${input} (${formatBytes(source.length)}) → ${opts.output} (${formatBytes(size)}) in ${seconds} s`);
  printCompileSummary(result, size, minParams);
}

/** The command line's options as compileOnnx takes them (calibration and distillation samples opened). */
async function compileOptionsFrom(
  source: Uint8Array, input: string, opts: CompileCliOptions, parsed: Pick<CompileOptions, 'tiers' | 'minParams'>, signal: AbortSignal,
): Promise<CompileOptions> {
  const cost = parseCostModel(opts.cost, opts.cost.startsWith('latency:') ? await readJson(opts.cost.slice('latency:'.length)) : undefined);
  const calibration = opts.calib === undefined ? undefined : await calibrationFeeds(source, input, opts);
  return {
    ...parsed,
    dtype: opts.dtype as FactorDType,
    int4GroupSize: parseWholeNumber('--group-size', opts.groupSize),
    int4ScaleCodes: opts.scaleCodes !== false,
    int4MaxError: parseMaxError('--int4-max-error', opts.int4MaxError),
    int4MinBits: opts.minBits === undefined ? undefined : opts.minBits === '3' ? 3 : 4,
    int3MaxError: parseMaxError('--int3-max-error', opts.int3MaxError),
    int3MidWeight: parseNonNegative('--mid-weight', opts.midWeight),
    int4Sequential: opts.sequential !== false,
    calibration: calibration?.feeds,
    rankMultiple: parseWholeNumber('--rank-multiple', opts.rankMultiple),
    keepEnds: opts.keepEnds,
    allocation: parseAllocation(opts.allocate),
    calibrationSize: calibration?.size,
    refit: opts.refit !== undefined,
    refitMode: parseRefitMode(opts.refit),
    refitSweeps: parseWholeNumber('--refit-sweeps', opts.refitSweeps),
    sensitivityBatches: Math.ceil(parseWholeNumber('--sensitivity-limit', opts.sensitivityLimit) / CALIBRATION_BATCH),
    // Sentences in, embeddings out: what their users compare is cosines (compiler/output-error.ts).
    sensitivityMeasure: opts.sensitivityMeasure ?? (opts.calib !== undefined && isTextSpec(opts.calib) ? 'similarity' : 'squared'),
    sensitivityMaxMultiplyAdds: parseNonNegative('--sensitivity-max-gmac', opts.sensitivityMaxGmac) * 1e9,
    cost,
    distill: await distillOptions(source, input, opts, signal),
    fileName: input,
  };
}

/** What was compiled: layers, allocation, distillation and precision notes, and the tier table. */
function printCompileSummary(result: CompileResult, size: number, minParams: number): void {
  const { header, allocation, distill: distilled, int4, normalised, notFactored } = result;
  if (normalised.length > 0) console.log(`normalised: ${normalised.join('; ')}`);
  console.log(`${header.layers.length} factored layer(s), ${header.tiers.length} tier(s), factors ${header.factorDType}, ranks ordered by ${allocation.method === 'sigma' ? 'σ² share' : `measured sensitivity (${allocation.measure === 'similarity' ? 'pairwise cosines of the embeddings' : 'squared output error'})`}`);
  if (allocation.note) console.log(`note: ${allocation.note}`);
  if (distilled) console.log(describeDistillation(distilled));
  if (int4) console.log(describeInt4(int4, header.int4GroupSize));
  const quantised = header.graph.nodes.filter((n) => QUANTISED_OPS.has(n.opType)).length;
  if (header.layers.length === 0) {
    console.log(`note: ${noLayerNote(minParams, notFactored, quantised)}`);
  } else if (quantised > 0) {
    console.log(`note: ${quantised} quantised node(s) are kept as they are`);
  }
  const payloadStart = size - header.payloadLength;
  const bits = new Set(header.tiers.map((t) => tierBitsLabel(header, t))).size > 1;
  console.log(
    table([
      ['tier', 'budget', ...(bits ? ['bits'] : []), 'params', 'bytes to load'],
      ...header.tiers.map((t) => [t.index, t.budget, ...(bits ? [tierBitsLabel(header, t)] : []), formatCount(t.params), formatBytes(bytesToLoad(header, payloadStart, t.index + 1))]),
    ]),
  );
}

/** Why nothing was factored: what qualifies, then what the model has instead. */
function noLayerNote(minParams: number, notFactored: string[], quantised: number): string {
  const qualifies = `a layer qualifies when it is a MatMul, Gemm or group-1 Conv whose weight is a float constant (initializer or Constant node; fp16/bf16 included) of at least ${minParams} values, read by that node alone`;
  const seen = notFactored.length ? notFactored.join(', ') : 'no MatMul, Gemm or Conv node';
  return `no layer could be factored: ${qualifies}; seen: ${seen}${quantised ? `; the ${quantised} quantised node(s) are kept as they are` : ''}`;
}

function describeDistillation(r: DistillReport): string {
  const tiers = r.trainedTiers.map((t, i) => `tier ${t} ${r.validationBefore[i].toFixed(4)} → ${r.validationAfter[i].toFixed(4)}`).join(', ');
  const stop = r.stoppedEarly ? ' (stopped early)' : '';
  return [
    `distilled on ${r.engine}: ${r.steps} steps${stop} in ${r.seconds.toFixed(1)} s, ${formatCount(r.trainableParams)} trained parameters, ${r.trainSamples} training + ${r.validationSamples} held-out samples`,
    `held-out ${r.loss} loss${r.features.length > 0 ? ` + features (${r.features.length})` : ''}, kept step ${r.bestStep}: ${tiers}`,
  ].join('\n');
}
