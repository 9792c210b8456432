/**
 * `lowrank adapt`: train a LoRA, LoHa or LoKr adapter (issue 17) for a base .lrm on labelled samples and write it as
 * an .lra file. The base stays frozen; the trainer is compiler/adapt/train.ts, the file format formats/adapter-*.ts.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { ADAPTER_KINDS, type AdapterDType, type AdapterKind } from '../../formats/adapter-model.js';
import { writeAdapter } from '../../formats/adapter-write.js';
import { headerLength, readHeader } from '../../formats/read.js';
import { labelledSamples } from '../adapt/labelled.js';
import { importPeftLora } from '../adapt/peft-import.js';
import { trainAdapter, type AdaptReport } from '../adapt/train.js';
import { openDataset } from '../data/spec.js';
import { parseTrainingEngine } from '../distill/training-backend.js';
import { CompileOptionError } from '../errors.js';
import { COMPILER_VERSION } from '../version.js';
import { formatBytes } from './format.js';
import { parseNormalisation } from './normalisation.js';
import { parseWholeNumber } from './options.js';
import { ProgressBar } from './progress.js';
import { readInputBytes } from './read-input.js';
import { writeAtomically } from './write-output.js';

interface AdaptCliOptions {
  data?: string;
  fromPeft?: string;
  map?: string;
  output: string;
  kind: string;
  rank?: string;
  alpha?: string;
  layers?: string;
  tiers?: string;
  steps?: string;
  batch?: string;
  lr?: string;
  seed?: string;
  dtype: string;
  limit?: string;
  offset?: string;
  mean?: string;
  std?: string;
  size?: string;
  labels?: string;
  engine: string;
  json?: boolean;
}

export function registerAdapt(program: Command): void {
  program
    .command('adapt')
    .description('train an adapter (LoRA, LoHa or LoKr) for a compiled model on labelled samples; the model stays as it is')
    .argument('<model.lrm>', 'the base model the adapter is for')
    .option('--data <spec>', 'labelled samples: mnist:<dir> | imagenet:<dir> (a tenth is held out to pick the best step)')
    .option('--from-peft <dir>', 'instead of training: convert a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors in <dir>)')
    .option('--map <module=weight,…>', '--from-peft: PyTorch module names to this model\'s weight names, where not found automatically')
    .requiredOption('-o, --output <adapter.lra>', 'where to write the adapter')
    .option('--kind <kind>', `${ADAPTER_KINDS.join(', ')}`, 'lora')
    .option('--rank <R>', 'rank of every adapted layer (default 8)')
    .option('--alpha <a>', 'ΔW is scaled by alpha/rank (default alpha = rank)')
    .option('--layers <names>', 'weights to adapt, comma-separated (default: the cheapest that fit in 3% of the base file)')
    .option('--tiers <list>', 'tiers to train for, as `inspect` numbers them (default: all; the adapter applies at every tier)')
    .option('--steps <N>', 'optimiser steps (default 300)')
    .option('--batch <N>', 'samples per step (default 32)')
    .option('--lr <rate>', 'peak learning rate of Adam, decayed by a cosine (default 0.01; lokr 0.03)')
    .option('--seed <N>', 'seed of the initial factors and the held-out split')
    .option('--dtype <fp32|fp16|int8>', 'storage of the factors in the file', 'fp32')
    .option('--limit <N>', 'use at most N samples')
    .option('--offset <N>', 'skip the first N samples (keep training and evaluation disjoint)')
    .option('--mean <values>', 'images: mean after scaling pixels to 0..1 (one value or one per channel)')
    .option('--std <values>', 'images: standard deviation (one value or one per channel)')
    .option('--size <HxW>', 'images: the size to resize to, for a symbolic height or width')
    .option('--labels <synset.txt>', 'imagenet: class order file')
    .option('--engine <id>', 'tfjs backend that trains (tfjs-wasm, tfjs-cpu, tfjs-webgpu)', 'tfjs-wasm')
    .option('--json', 'print the training report as one JSON object')
    .action(async (path: string, opts: AdaptCliOptions) => {
      const kind = parseKind(opts.kind);
      const dtype = parseDType(opts.dtype);
      const bytes = await readInputBytes(path);
      if (opts.fromPeft !== undefined) return convertPeft(path, bytes, opts);
      if (opts.data === undefined) throw new CompileOptionError('give --data <labelled spec> to train an adapter, or --from-peft <dir> to convert one', 'adapter-data');
      const { header } = await readHeader(bytes.subarray(0, headerLength(bytes, { fileName: path })), { fileName: path, totalLength: bytes.length });
      const inputs = header.graph.inputs;
      if (inputs.length !== 1) throw new CompileOptionError(`adapt trains classifiers with one input; ${path} has ${inputs.length}`, 'adapter-data');
      const { mean, std, size } = parseNormalisation(opts.mean, opts.std, opts.size);
      const dataset = await openDataset(opts.data, {
        layout: inputs[0].shape, mean, std, size, labels: opts.labels,
        limit: optionalNumber('--limit', opts.limit), offset: opts.offset === undefined ? undefined : parseWholeNumber('--offset', opts.offset, 0),
      });
      // First Ctrl-C: stop after the current step and write the best adapter so far; a second one quits.
      const stop = new AbortController();
      const onInterrupt = (): void => {
        if (stop.signal.aborted) process.exit(130);
        stop.abort();
        console.error('\nstopping after this step; the best adapter so far is written (Ctrl-C again to quit)');
      };
      process.on('SIGINT', onInterrupt);
      const bar = new ProgressBar();
      const { adapter, report } = await trainAdapter(bytes, labelledSamples(dataset, inputs), {
        kind, dtype, fileName: path, signal: stop.signal,
        rank: optionalNumber('--rank', opts.rank),
        alpha: opts.alpha === undefined ? undefined : parsePositive('--alpha', opts.alpha),
        layers: opts.layers?.split(',').map((s) => s.trim()).filter(Boolean),
        tiers: opts.tiers?.split(',').map((t) => parseWholeNumber('--tiers', t.trim(), 0)),
        steps: optionalNumber('--steps', opts.steps),
        batchSize: optionalNumber('--batch', opts.batch),
        learningRate: opts.lr === undefined ? undefined : parsePositive('--lr', opts.lr),
        seed: opts.seed === undefined ? undefined : parseWholeNumber('--seed', opts.seed, 0),
        engine: parseTrainingEngine(opts.engine),
        onProgress: (step, steps, detail) => bar.update('adapt', step, steps, detail),
      }).finally(() => process.off('SIGINT', onInterrupt));
      bar.stop();
      const file = await writeAdapter(adapter, { compilerVersion: COMPILER_VERSION, fileName: opts.output });
      await writeAtomically(opts.output, file);
      if (opts.json) {
        console.log(JSON.stringify({ output: opts.output, fileBytes: file.length, ...report }));
        return;
      }
      console.log(describeAdapter(path, opts.output, file.length, dtype, report));
    });
}

/** --from-peft: a PEFT LoRA adapter as an .lra file for this base (compiler/adapt/peft-import.ts). */
async function convertPeft(path: string, bytes: Uint8Array, opts: AdaptCliOptions): Promise<void> {
  const dir = opts.fromPeft!;
  const config = new TextDecoder().decode(await readInputBytes(join(dir, 'adapter_config.json')));
  const tensors = await readInputBytes(join(dir, 'adapter_model.safetensors'));
  const adapter = await importPeftLora(bytes, config, tensors, {
    fileName: path,
    map: opts.map?.split(',').map((s) => s.trim()).filter(Boolean),
    dtype: opts.dtype === 'fp32' ? undefined : parseDType(opts.dtype),
  });
  const file = await writeAdapter(adapter, { compilerVersion: COMPILER_VERSION, fileName: opts.output });
  await writeAtomically(opts.output, file);
  const summary = { output: opts.output, fileBytes: file.length, kind: adapter.kind, dtype: adapter.dtype, targets: adapter.layers.map((l) => l.target), ranks: adapter.layers.map((l) => l.rank) };
  if (opts.json) console.log(JSON.stringify(summary));
  else console.log(`adapter ${opts.output}: PEFT LoRA from ${dir} on ${summary.targets.join(', ')} (ranks ${summary.ranks.join(', ')}), factors ${adapter.dtype}, ${formatBytes(file.length)}`);
}

function describeAdapter(base: string, output: string, fileBytes: number, dtype: AdapterDType, r: AdaptReport): string {
  const share = ((100 * fileBytes) / r.bytes.base).toFixed(2);
  const tiers = r.trainedTiers.map((t, i) => `tier ${t} ${r.validationAccuracyBefore[i]!.toFixed(2)}% → ${r.validationAccuracyAfter[i]!.toFixed(2)}%`).join(', ');
  return [
    `adapter ${output}: ${r.kind} rank ${r.rank} (alpha ${r.alpha}) on ${r.targets.join(', ')}, factors ${dtype}, ${formatBytes(fileBytes)} (${share}% of ${base})`,
    `trained on ${r.engine}: ${r.steps} steps in ${r.seconds.toFixed(1)} s, ${r.trainSamples} training + ${r.validationSamples} held-out samples, kept step ${r.bestStep}${r.stoppedEarly ? ' (stopped early)' : ''}`,
    `held-out top-1 without → with the adapter: ${tiers}`,
  ].join('\n');
}

function parseKind(text: string): AdapterKind {
  if ((ADAPTER_KINDS as readonly string[]).includes(text)) return text as AdapterKind;
  throw new CompileOptionError(`--kind must be ${ADAPTER_KINDS.join(', ')}, got "${text}"`, 'adapter-kind');
}

function parseDType(text: string): AdapterDType {
  if (text === 'fp32' || text === 'fp16' || text === 'int8') return text;
  throw new CompileOptionError(`--dtype must be fp32, fp16 or int8, got "${text}"`, 'adapter-option');
}

function optionalNumber(option: string, text: string | undefined): number | undefined {
  return text === undefined ? undefined : parseWholeNumber(option, text);
}

function parsePositive(option: string, text: string): number {
  const v = Number(text);
  if (!(v > 0) || !Number.isFinite(v)) throw new CompileOptionError(`${option} must be a number > 0, got "${text}"`, 'adapter-option');
  return v;
}
