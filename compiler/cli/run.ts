import type { Command } from 'commander';
import { load } from '../../runtime/node.js';
import { readClassNames } from '../data/imagenet.js';
import { readInputFile } from '../data/tensor-file.js';
import { loadVocabulary, sparseInputNames } from '../data/text.js';
import { CompileOptionError } from '../errors.js';
import { encodeSentences, sparseBatch } from '../../runtime/text/sparse-batch.js';
import type { Feeds, HostTensor } from '../../runtime/tensor.js';
import { parseNormalisation } from './normalisation.js';
import { parseWholeNumber } from './options.js';
import { readInputBytes } from './read-input.js';

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run an .lrm model on one input file (.npy, .json or .jpg) or, for a sentence encoder, on a sentence')
    .argument('<model.lrm>')
    .option('--input <file>', 'input tensor(s): .npy, .json ({"name": {"dims", "dataType", "data"}}) or a JPEG image')
    .option('--text <sentence>', 'a sentence for a sentence encoder (sparse-batch inputs indices/values): prints the embedding\'s first values and its norm')
    .option('--vocab <vocab.json>', '--text: the SentencePiece vocabulary (default: vocab.json beside the model)')
    .option('--engine <id>', 'engine: ort-node-cpu (node-cpu), ort-node-webgpu, ort-wasm (wasm), tfjs-wasm or tfjs-webgpu', 'ort-node-cpu')
    .option('--tier <K>', 'run tier K as `inspect` numbers them, i.e. load tiers 0..K (default: the last)')
    .option('--preset <name>', 'load the tiers a named preset says')
    .option('--mean <values>', 'image inputs: mean after scaling pixels to 0..1 (one value or one per channel)')
    .option('--std <values>', 'image inputs: standard deviation (one value or one per channel)')
    .option('--top <k>', 'show the top-k classes of 2-D outputs', '5')
    .option('--labels <file>', 'class names for the top-k: a synset file (n01440764 tench, …: its first name) or one name per line (coco.names)')
    .option('--adapter <file.lra>', 'run with this adapter (lowrank adapt) applied')
    .option('--json', 'print one JSON object')
    .action(async (path: string, opts: RunCliOptions) => {
      if ((opts.input === undefined) === (opts.text === undefined)) throw new CompileOptionError('give --input <file> or --text <sentence> (one of them)', 'bad-option');
      const tier = opts.tier === undefined ? undefined : parseWholeNumber('--tier', opts.tier, 0);
      const top = parseWholeNumber('--top', opts.top);
      const labels = opts.labels === undefined ? undefined : { path: opts.labels, names: await readClassNames(opts.labels) };
      // Tokenise before loading: a bad sentence or vocabulary fails at once.
      const ids = opts.text === undefined ? undefined : encodeSentences(await loadVocabulary(opts.vocab, [path]), [opts.text], () => '--text')[0];
      const session = await load(path, { engine: opts.engine as never, tier, preset: opts.preset });
      try {
        let feeds: Feeds;
        if (ids) {
          feeds = sparseBatch([ids], sparseInputNames(session.inputs, '--text'));
        } else {
          feeds = await readInputFile(opts.input!, { inputs: session.inputs }, parseNormalisation(opts.mean, opts.std));
        }
        if (opts.adapter !== undefined) await session.loadAdapter(await readInputBytes(opts.adapter), opts.adapter);
        const started = performance.now();
        const outputs = await session.run(feeds, { adapter: opts.adapter });
        const ms = performance.now() - started;
        const summary = summarise(outputs, top, labels);
        if (opts.json) {
          console.log(JSON.stringify({ engine: session.engine, tiers: session.tiers, ranks: session.ranks, latencyMs: ms, outputs: summary }));
          return;
        }
        console.log(`${path}${opts.adapter !== undefined ? ` with adapter ${opts.adapter}` : ''}: tier ${session.tiers - 1} (of 0..${session.header.tiers.length - 1}) on ${session.engine}, ${ms.toFixed(2)} ms`);
        for (const [name, o] of Object.entries(summary)) {
          const preview = o.values.slice(0, 8).map((v) => Number(v.toPrecision(5))).join(', ');
          console.log(`${name} [${o.dims.join(',')}] ${o.dataType}: ${preview}${o.values.length > 8 ? ', …' : ''}${opts.text !== undefined ? `  (norm ${o.norm.toFixed(4)})` : ''}`);
          if (o.top && opts.text === undefined) console.log(`  top-${o.top.length}: ${o.top.map((t) => `#${t.index}${t.label !== undefined ? ` ${t.label}` : ''} (${t.score.toPrecision(4)})`).join('  ')}`);
        }
      } finally {
        await session.release();
      }
    });
}

interface RunCliOptions {
  input?: string;
  text?: string;
  vocab?: string;
  engine: string;
  tier?: string;
  preset?: string;
  mean?: string;
  std?: string;
  top: string;
  labels?: string;
  json?: boolean;
  adapter?: string;
}

interface OutputSummary {
  dims: number[];
  dataType: string;
  values: number[];
  norm: number;
  /** Class scores ([1, N] outputs): the k best, with their names when --labels has N of them. */
  top?: Array<{ index: number; score: number; label?: string }>;
}

/** Every output's values and norm, and the top-k of the class-score ([1, N]) outputs. */
function summarise(outputs: Record<string, HostTensor>, k: number, labels: { path: string; names: string[] } | undefined): Record<string, OutputSummary> {
  const summary = Object.fromEntries(
    Object.entries(outputs).map(([name, t]) => {
      const values = Array.from(t.data as ArrayLike<number | bigint>, Number);
      const scores = t.dims.length === 2 && t.dims[0] === 1;
      const named = scores && labels?.names.length === values.length ? labels.names : undefined;
      const top = scores
        ? values.map((score, index) => ({ index, score, ...(named ? { label: named[index] } : {}) })).sort((a, b) => b.score - a.score).slice(0, k)
        : undefined;
      const norm = Math.sqrt(values.reduce((s, v) => s + v * v, 0));
      return [name, { dims: t.dims, dataType: t.dataType, values, norm, top }];
    }),
  );
  // Names that fit no output are a wrong file, not something to ignore.
  if (labels && !Object.values(summary).some((o) => o.top?.some((t) => t.label !== undefined))) {
    const shapes = Object.entries(summary).map(([name, o]) => `${name} [${o.dims.join(',')}]`).join(', ');
    throw new CompileOptionError(`--labels ${labels.path} names ${labels.names.length} classes, but no [1, ${labels.names.length}] class-score output has that many (outputs: ${shapes})`, 'bad-option');
  }
  return summary;
}
