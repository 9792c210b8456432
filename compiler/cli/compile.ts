import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { parseTierBudgets } from '../allocate.js';
import { compileOnnx } from '../compile.js';
import type { RefitMode } from '../refit.js';
import { CompileOptionError } from '../errors.js';
import type { FactorDType } from '../../formats/model.js';
import { bytesToLoad } from '../../formats/read.js';
import { formatBytes, formatCount, table } from './format.js';
import { ProgressBar } from './progress.js';
import { readInputBytes } from './read-input.js';
import { parseNormalisation } from './normalisation.js';
import { parseWholeNumber, withCalibrationOptions } from './options.js';
import { parseCostModel } from '../costs.js';
import { augmentFeeds } from '../data/augment.js';
import { feedBatches, openDataset } from '../data/spec.js';
import { importOnnx } from '../import/onnx.js';
import type { Feeds } from '../../runtime/tensor.js';
import { writeAtomically } from './write-output.js';

interface CompileCliOptions {
  output: string;
  tiers: string;
  dtype: string;
  minParams: string;
  calib?: string;
  calibLimit: string;
  calibOffset: string;
  refit?: boolean | string;
  refitSweeps: string;
  augment: string;
  augmentFlip: boolean;
  mean?: string;
  std?: string;
  labels?: string;
  rankMultiple: string;
  cost: string;
  keepEnds?: boolean;
  allocate?: string;
  sensitivityLimit: string;
}

/** Calibration runs the model on batches of this many samples. */
const CALIBRATION_BATCH = 32;

function parseAllocation(text?: string): 'sigma' | 'sensitivity' | undefined {
  if (text === undefined || text === 'sigma' || text === 'sensitivity') return text;
  throw new CompileOptionError(`--allocate must be sigma or sensitivity, got "${text}"`, 'allocate');
}

function parseRefitMode(value: boolean | string | undefined): RefitMode | undefined {
  if (value === undefined || value === true) return undefined;
  if (value === 'nonlinear' || value === 'linear') return value;
  throw new CompileOptionError(`--refit takes nonlinear or linear, got "${String(value)}"`, 'refit');
}

/** The calibration data set, batched as the model's feeds. */
async function calibrationFeeds(source: Uint8Array, path: string, opts: CompileCliOptions): Promise<{ feeds: () => AsyncIterable<Feeds>; size: number }> {
  const inputs = importOnnx(source, path).inputs;
  const { mean, std } = parseNormalisation(opts.mean, opts.std);
  const dataset = await openDataset(opts.calib!, {
    layout: inputs[0]?.shape ?? [],
    mean, std, labels: opts.labels,
    limit: parseWholeNumber('--calib-limit', opts.calibLimit),
    offset: parseWholeNumber('--calib-offset', opts.calibOffset, 0),
  });
  // A function: each call starts a new pass over the data (refit makes several).
  const pass = () => feedBatches(dataset, inputs, CALIBRATION_BATCH);
  const copies = parseWholeNumber('--augment', opts.augment, 0);
  if (copies === 0) return { feeds: pass, size: dataset.size };
  const input = inputs[0];
  if (!input || input.shape.length !== 4) {
    throw new CompileOptionError(`--augment crops and flips images: it needs a model with one [N, C, H, W] image input`, 'augment');
  }
  return { feeds: augmentFeeds(pass, input.name, { copies, flip: opts.augmentFlip }), size: dataset.size * (1 + copies) };
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
    .option('--tiers <fractions>', 'cumulative tier budgets, fractions of the factorable layers\' dense parameters', '0.1,0.2,0.35,0.5,1')
    .option('--dtype <fp32|fp16|int8>', 'storage type of the factors (int8: symmetric, per output and per component scales)', 'fp32')
    .option('--min-params <n>', 'layers with fewer weights stay dense', '4096');
  withCalibrationOptions(command, 'real inputs for activation-aware factorisation', '256')
    .option('--rank-multiple <n>', 'ranks move in steps of n components', '8')
    .option('--cost <model>', 'what budgets count: params | bytes | flops | latency:<table.json>', 'params')
    .option('--allocate <how>', 'order layers by σ² share (sigma) or by measured end-to-end error (sensitivity; needs --calib, its default)')
    .option('--sensitivity-limit <N>', 'calibration samples used to measure sensitivity', '64')
    .option('--refit [mode]', 'refit each tier\'s left factors and biases on the calibration data (needs --calib): nonlinear (default: match outputs after Relu/Clip) or linear')
    .option('--refit-sweeps <n>', 'passes over the calibration data per tier when refitting', '2')
    .option('--augment <copies>', 'calibration images: add this many random crops (and mirror images) of each', '0')
    .option('--no-augment-flip', 'augment with crops only (for data where mirroring changes meaning: digits, text)')
    .option('--keep-ends', 'keep the first and last weight layers dense (default for convolutional classifiers)')
    .option('--no-keep-ends', 'factor the first and last weight layers too')
    .action(async (input: string, opts: CompileCliOptions) => {
      const tiers = parseTierBudgets(opts.tiers);
      const minParams = parseWholeNumber('--min-params', opts.minParams);
      const source = await readInputBytes(input);
      const cost = parseCostModel(opts.cost, opts.cost.startsWith('latency:') ? await readJson(opts.cost.slice('latency:'.length)) : undefined);
      const calibration = opts.calib === undefined ? undefined : await calibrationFeeds(source, input, opts);
      const bar = new ProgressBar();
      const started = performance.now();
      const { lrm, header, allocation } = await compileOnnx(source, {
        tiers,
        dtype: opts.dtype as FactorDType,
        minParams,
        calibration: calibration?.feeds,
        rankMultiple: parseWholeNumber('--rank-multiple', opts.rankMultiple),
        keepEnds: opts.keepEnds,
        allocation: parseAllocation(opts.allocate),
        calibrationSize: calibration?.size,
        refit: opts.refit !== undefined,
        refitMode: parseRefitMode(opts.refit),
        refitSweeps: parseWholeNumber('--refit-sweeps', opts.refitSweeps),
        sensitivityBatches: Math.ceil(parseWholeNumber('--sensitivity-limit', opts.sensitivityLimit) / CALIBRATION_BATCH),
        cost,
        fileName: input,
        onProgress: (p) => bar.update(p.phase, p.done, p.total, p.detail),
      });
      bar.stop();
      // Write next to the target and rename, so an interrupted compile never leaves a half-written .lrm.
      await writeAtomically(opts.output, lrm);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const size = (await stat(opts.output)).size;
      console.log(`compiled ${input} (${formatBytes(source.length)}) → ${opts.output} (${formatBytes(size)}) in ${seconds} s`);
      console.log(`${header.layers.length} factored layer(s), ${header.tiers.length} tier(s), factors ${header.factorDType}, ranks ordered by ${allocation.method === 'sigma' ? 'σ² share' : 'measured sensitivity'}`);
      if (allocation.note) console.log(`note: ${allocation.note}`);
      const quantised = header.graph.nodes.filter((n) => QUANTISED_OPS.has(n.opType)).length;
      if (header.layers.length === 0) {
        console.log(`note: no layer could be factored: only MatMul, Gemm and group-1 Conv nodes with float32 constant weights of at least ${minParams} values qualify${quantised ? `; the ${quantised} quantised node(s) are kept as they are` : ''}`);
      } else if (quantised > 0) {
        console.log(`note: ${quantised} quantised node(s) are kept as they are`);
      }
      const payloadStart = size - header.payloadLength;
      console.log(
        table([
          ['tier', 'budget', 'params', 'bytes to load'],
          ...header.tiers.map((t) => [t.index, t.budget, formatCount(t.params), formatBytes(bytesToLoad(header, payloadStart, t.index + 1))]),
        ]),
      );
    });
}

