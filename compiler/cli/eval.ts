import { Option, type Command } from 'commander';
import type { Engine, Precision } from '../../runtime/engines/engine.js';
import { readHeader, headerLength } from '../../formats/read.js';
import { IDENTIFIER_OFFSET } from '../../formats/framing.js';
import { FILE_IDENTIFIER, type ModelHeader, type ValueInfo } from '../../formats/model.js';
import { engines } from '../../runtime/node.js';
import { openDataset, parseDataSpec } from '../data/spec.js';
import { loadVocabulary } from '../data/text.js';
import { evalSentenceEncoder } from './eval-text.js';
import { checkBefore, requestedTiers, sweepTiers } from './tier-sweep.js';
import { agreement, evaluateClassifier, scoreError, type EvalResult, type Runner } from '../evaluate.js';
import { CompileOptionError } from '../errors.js';
import { normaliseOnnx } from '../import/normalise.js';
import { importOnnx } from '../import/onnx.js';
import { formatBytes, formatCount, table } from './format.js';
import { parseNormalisation } from './normalisation.js';
import { parseWholeNumber } from './options.js';
import { ProgressBar } from './progress.js';
import { readInputBytes } from './read-input.js';

interface EvalCliOptions {
  data: string;
  reference?: string;
  before?: string;
  adapter?: string;
  allTiers?: boolean;
  tier?: string;
  preset?: string;
  engine: string;
  precision?: Precision;
  limit?: string;
  offset?: string;
  batch?: string;
  mean?: string;
  std?: string;
  size?: string;
  labels?: string;
  output?: string;
  vocab?: string;
  json?: boolean;
}

interface Row {
  accuracy: number | null;
  params: number;
  bytes: number;
  latencyMsP50: number;
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('measure top-1 accuracy (or, on sentence pairs, Pearson/Spearman), agreement with the original, size and latency, per tier')
    .argument('<model>', 'an .lrm file or an .onnx model')
    .requiredOption('--data <spec>', 'mnist:<dir> | imagenet:<dir> | images:<dir> | tensors:<dir> | sts:<file.csv> | text:<file> (images:/tensors:/text: are unlabelled: agreement only)')
    .option('--reference <model.onnx>', 'original model to compare with (agreement = same top-1)')
    .option('--before <model.lrm>', 'the same model compiled without recovery (e.g. without --distill): each tier of it is evaluated too (column "before")')
    .option('--adapter <file.lra>', 'evaluate with this adapter (lowrank adapt) applied; column "without" is the same tier without it')
    .option('--all-tiers', 'evaluate every tier prefix')
    .option('--tier <K>', 'evaluate tier K as `inspect` numbers them (default: the last)')
    .option('--preset <name>', 'evaluate the tiers a named preset loads, as `lowrank run --preset` does (auto: the best preset for this device)')
    .option('--engine <id>', 'ort-node-cpu (node-cpu), ort-node-webgpu, ort-wasm (wasm), tfjs-wasm or tfjs-webgpu', 'ort-node-cpu')
    .addOption(new Option('--precision <type>', 'the float type the .lrm tiers run in (load option precision): auto, fp32, or fp16 (onnxruntime engines; the reference stays float32)').choices(['auto', 'fp32', 'fp16']))
    .option('--limit <N>', 'evaluate at most N samples')
    .option('--offset <N>', 'skip the first N samples (for splits disjoint from calibration)')
    .option('--batch <N>', 'batch size when the model takes any batch size', '64')
    .option('--mean <values>', 'mean after scaling pixels to 0..1 (one value or one per channel)')
    .option('--std <values>', 'standard deviation (one value or one per channel)')
    .option('--size <HxW>', 'images: the size to resize to, HEIGHTxWIDTH (for a model input with a symbolic height or width, e.g. 48x320)')
    .option('--labels <synset.txt>', 'imagenet: class order file (default: the standard 1000-class order)')
    .option('--output <name>', 'which model output holds the class scores or embeddings (default: the first)')
    .option('--vocab <vocab.json>', 'sts:/text: the SentencePiece vocabulary (default: vocab.json beside the model or the reference)')
    .option('--json', 'print one JSON object')
    .action(evalCommand);
}

/** What both kinds of evaluation share: the model, its header when it is an .lrm, and what to evaluate. */
interface EvalTarget {
  modelPath: string;
  bytes: Uint8Array;
  header: ModelHeader | undefined;
  inputs: ValueInfo[];
  /** The original to compare with: the model itself when it is an ONNX file. */
  referencePath: string | undefined;
  asked: number[];
  preset: string | undefined;
  slice: { limit?: number; offset?: number };
  engine: Engine;
}

async function evalCommand(modelPath: string, opts: EvalCliOptions): Promise<void> {
  const engine = engines.get(opts.engine);
  const bytes = await readInputBytes(modelPath);
  const isOnnx = !isLrm(bytes);
  if (isOnnx && (opts.allTiers || opts.tier !== undefined || opts.preset !== undefined)) throw new CompileOptionError('--all-tiers, --tier and --preset apply to .lrm files; this is an ONNX model', 'bad-option');
  // Read and verify the header once: it gives the input layout and, later, each tier's parameters.
  const header = isOnnx ? undefined : (await readHeader(bytes.subarray(0, headerLength(bytes)), { fileName: modelPath, totalLength: bytes.length })).header;
  const inputs = header ? header.graph.inputs : importOnnx(bytes, modelPath).inputs;
  // Before any data is read: a bad --tier or --preset fails at once.
  const { tiers: asked, preset } = header ? await requestedTiers({ header, bytes }, opts, engine.id) : { tiers: [], preset: undefined };
  const slice = {
    limit: opts.limit === undefined ? undefined : parseWholeNumber('--limit', opts.limit),
    offset: opts.offset === undefined ? undefined : parseWholeNumber('--offset', opts.offset, 0),
  };
  const target: EvalTarget = { modelPath, bytes, header, inputs, referencePath: isOnnx ? modelPath : opts.reference, asked, preset, slice, engine };
  const scheme = parseDataSpec(opts.data).scheme;
  if (scheme === 'sts' || scheme === 'text') await evalSentences(target, opts);
  else await evalClassifierTiers(target, opts);
}

/** The reference's bytes, read once (the model's own when it is the ONNX file evaluated). */
async function referenceBytes(t: EvalTarget): Promise<Uint8Array | undefined> {
  if (t.referencePath === undefined) return undefined;
  return t.referencePath === t.modelPath ? t.bytes : readInputBytes(t.referencePath);
}

/** --before: the same model compiled without recovery, checked to have the same layers and tiers. */
async function beforeBytes(t: EvalTarget, opts: EvalCliOptions): Promise<Uint8Array | undefined> {
  if (opts.before === undefined) return undefined;
  if (!t.header) throw new CompileOptionError('--before compares two .lrm files; this is an ONNX model', 'bad-option');
  const before = await readInputBytes(opts.before);
  await checkBefore(t.header, before, { model: t.modelPath, before: opts.before });
  return before;
}

async function evalSentences(t: EvalTarget, opts: EvalCliOptions): Promise<void> {
  if (opts.adapter !== undefined) throw new CompileOptionError('--adapter is evaluated on labelled classification data (mnist:, imagenet:, images:); sentence data with an adapter is not supported yet', 'bad-option');
  const tokenizer = await loadVocabulary(opts.vocab, [t.modelPath, opts.reference]);
  const dataset = await openDataset(opts.data, { ...t.slice, layout: [], inputs: t.inputs, tokenizer });
  const refBytes = await referenceBytes(t);
  const before = await beforeBytes(t, opts);
  await evalSentenceEncoder({
    engine: t.engine, dataset, batchSize: parseWholeNumber('--batch', opts.batch ?? '64'), output: opts.output, json: opts.json, label: t.modelPath,
    lrm: t.header && { header: t.header, bytes: t.bytes, tiers: t.asked },
    reference: refBytes && { bytes: refBytes, params: onnxParams(refBytes, t.referencePath!) },
    before, precision: opts.precision,
  });
}

interface ClassifierTierRow extends Row {
  tier: number;
  agreement: number | null;
  scoreError: number | null;
  before?: number | null;
  beforeRefit?: number | null;
  withoutAdapter?: number | null;
}

type ReferenceRow = Row & { predictions: Int32Array; scores?: Float32Array };

async function evalClassifierTiers(t: EvalTarget, opts: EvalCliOptions): Promise<void> {
  const input = singleInput(t.inputs, t.modelPath);
  const { mean, std, size } = parseNormalisation(opts.mean, opts.std, opts.size);
  const dataset = await openDataset(opts.data, { mean, std, size, labels: opts.labels, ...t.slice, layout: input.shape, inputs: [input] });
  const fixedBatch = typeof input.shape[0] === 'number' ? input.shape[0] : undefined;
  const batchSize = fixedBatch ?? parseWholeNumber('--batch', opts.batch ?? '64');
  const bar = new ProgressBar();
  const run = async (label: string, runner: Runner): Promise<EvalResult> => {
    const r = await evaluateClassifier(runner, dataset, {
      inputName: input.name, outputName: opts.output, batchSize, keepScores: t.referencePath !== undefined,
      onBatch: (done, total) => bar.update(label, done, total),
    });
    bar.stop();
    return r;
  };

  let reference: ReferenceRow | null = null;
  const refBytes = await referenceBytes(t);
  if (refBytes) {
    const session = await t.engine.create(refBytes);
    try {
      const r = await run('reference', session);
      reference = { accuracy: r.accuracy, params: onnxParams(refBytes, t.referencePath!), bytes: refBytes.length, latencyMsP50: r.latencyMsP50, predictions: r.predictions, scores: r.scores };
    } finally {
      await session.release();
    }
  }

  const before = await beforeBytes(t, opts);
  const adapter = opts.adapter === undefined ? undefined : await readInputBytes(opts.adapter);
  if (adapter && !t.header) throw new CompileOptionError('--adapter applies to .lrm files (the base the adapter was trained for); this is an ONNX model', 'bad-option');
  const measured = t.header ? await sweepTiers({ header: t.header, bytes: t.bytes }, t.asked, { engine: t.engine.id, before, adapter, precision: opts.precision }, run) : [];
  const tiers: ClassifierTierRow[] = measured.map((m) => ({
    tier: m.tier,
    params: m.params,
    bytes: m.bytes,
    accuracy: m.result.accuracy,
    agreement: reference ? agreement(m.result.predictions, reference.predictions) : null,
    // Σ‖y − ŷ‖² / Σ‖y‖² of the scores against the reference's: finer than agreement on a few hundred samples.
    scoreError: reference?.scores && m.result.scores ? scoreError(m.result.scores, reference.scores) : null,
    latencyMsP50: m.result.latencyMsP50,
    ...(m.before ? { before: m.before.accuracy } : {}),
    ...(m.beforeRefit ? { beforeRefit: m.beforeRefit.accuracy } : {}),
    ...(m.withoutAdapter ? { withoutAdapter: m.withoutAdapter.accuracy } : {}),
  }));
  const refOut = reference && { accuracy: reference.accuracy, params: reference.params, bytes: reference.bytes, latencyMsP50: reference.latencyMsP50 };
  if (opts.json) {
    const adapterOut = adapter && { file: opts.adapter, bytes: adapter.length };
    console.log(JSON.stringify({ engine: t.engine.id, samples: dataset.size, ...(t.preset !== undefined ? { preset: t.preset } : {}), ...(adapterOut ? { adapter: adapterOut } : {}), reference: refOut, tiers }));
    return;
  }
  const adapterText = adapter ? ` with adapter ${opts.adapter} (${formatBytes(adapter.length)})` : '';
  console.log(`${t.modelPath}${adapterText} on ${opts.data}: ${dataset.size} samples, engine ${t.engine.id}${t.preset !== undefined ? `, preset ${t.preset} (tier ${t.asked[0]})` : ''}`);
  console.log(classifierTable(refOut, tiers, adapter !== undefined));
}

/** The text table: the original's row, then one per tier, with the before/without columns that apply. */
function classifierTable(refOut: Row | null, tiers: ClassifierTierRow[], adapter: boolean): string {
  const pct = (v: number | null) => (v === null ? '-' : `${v.toFixed(2)}%`);
  const refitted = tiers.some((t) => t.beforeRefit !== undefined);
  const compared = tiers.some((t) => t.before !== undefined);
  const cell = (v: number | null | undefined) => (v === undefined ? '-' : pct(v));
  const before = (t?: ClassifierTierRow) => [
    ...(compared ? [cell(t?.before)] : []),
    ...(refitted ? [cell(t?.beforeRefit)] : []),
    ...(adapter ? [cell(t?.withoutAdapter)] : []),
  ];
  return table([
    ['model', 'params', 'bytes', 'accuracy', ...(compared ? ['before'] : []), ...(refitted ? ['before refit'] : []), ...(adapter ? ['without'] : []), 'agreement', ...(refOut ? ['score error'] : []), 'p50 ms'],
    ...(refOut ? [['original', formatCount(refOut.params), formatBytes(refOut.bytes), pct(refOut.accuracy), ...before(), '-', '-', refOut.latencyMsP50.toFixed(3)]] : []),
    ...tiers.map((t) => [`tier ${t.tier}`, formatCount(t.params), formatBytes(t.bytes), pct(t.accuracy), ...before(t), pct(t.agreement), ...(refOut ? [t.scoreError === null ? '-' : t.scoreError.toFixed(4)] : []), t.latencyMsP50.toFixed(3)]),
  ]);
}

/** An .lrm starts with a size prefix, a root offset, then the file identifier. */
function isLrm(bytes: Uint8Array): boolean {
  const id = bytes.subarray(IDENTIFIER_OFFSET, IDENTIFIER_OFFSET + FILE_IDENTIFIER.length);
  return id.length === FILE_IDENTIFIER.length && String.fromCharCode(...id) === FILE_IDENTIFIER;
}

function singleInput(inputs: ValueInfo[], path: string): ValueInfo {
  if (inputs.length !== 1) {
    throw new CompileOptionError(`eval needs a model with one input; ${path} has ${inputs.length} (${inputs.map((i) => i.name).join(', ')})`, 'inputs');
  }
  return inputs[0];
}

/** The model's weights, counted as the compiler sees them (Constant-node weights included: normaliseOnnx). */
function onnxParams(bytes: Uint8Array, path: string): number {
  return importOnnx(normaliseOnnx(bytes, path).bytes, path).initializers.reduce((s, t) => s + t.dims.reduce((a, b) => a * b, 1), 0);
}
