/**
 * Latency per engine: the original model and every tier, p50/p95 of single-sample runs, on every engine that
 * can run here, each engine's ratios measured against its own original in the same run. Latency depends only
 * on the ranks, so the models are compiled with the defaults (plain SVD). ort-node-webgpu and tfjs-webgpu run on
 * whatever adapter Dawn finds; on a machine without a GPU that is SwiftShader (a CPU emulation): correctness, not speed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compileOnnx } from '../compiler/compile.js';
import { openDataset } from '../compiler/data/spec.js';
import { latencyPercentiles } from '../compiler/evaluate.js';
import { importOnnx } from '../compiler/import/onnx.js';
import { EngineUnavailableError, engines, load, type EngineId, type Feeds } from '../runtime/node.js';
import { loadVocabulary, readStsFile } from '../compiler/data/text.js';
import { cosineSimilarity, embedSentences, type EmbeddingRunner } from '../runtime/text/embed.js';
import { sparseBatch } from '../runtime/text/sparse-batch.js';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
const ENGINES: EngineId[] = ['ort-node-cpu', 'ort-wasm', 'ort-node-webgpu', 'tfjs-wasm', 'tfjs-webgpu'];
const WEBGPU_ENGINES: readonly EngineId[] = ['ort-node-webgpu', 'tfjs-webgpu'];

interface LatencyModel {
  id: string;
  file: string;
  /** image models: the data set and normalisation of the timed sample. */
  data?: string;
  mean?: number[];
  std?: number[];
  /** sentence encoders: dev sentences, timed on the first and compared (cosine) on all of them. */
  sentences?: string;
}

const MODELS: LatencyModel[] = [
  { id: 'mnist-cnn-pytorch', file: 'mnist-cnn-pytorch.onnx', data: 'mnist', mean: [0.5], std: [0.5] },
  { id: 'mnist-mlp-784-128-64-10', file: 'mnist-mlp-784-128-64-10.onnx', data: 'mnist', mean: [0], std: [1] },
  { id: 'mobilenet_v1_075_224', file: 'mobilenet_v1_075_224.onnx', data: 'imagenet-sample', mean: [0.5], std: [0.5] },
  { id: 'use-lite', file: 'use-lite/use_lite.onnx', sentences: 'text/stsbenchmark/sts-dev.csv' },
];

/** How many dev sentences the sentence encoder's embeddings are compared on, per engine and variant. */
const AGREEMENT_SENTENCES = 32;

export interface EngineLatencyRow {
  model: string;
  engine: EngineId;
  /** 'original' or the tier index. */
  variant: 'original' | number;
  p50: number;
  p95: number;
  /** p50 relative to the same engine's original in this run. */
  ratio: number;
  /** Sentence encoders: the lowest cosine between this variant's embeddings and the original's on ort-node-cpu. */
  minCosine?: number;
}

export interface EngineLatency {
  rows: EngineLatencyRow[];
  unavailable: Array<{ engine: EngineId; reason: string }>;
  adapterNote: string;
}

export async function runEngineLatency(o: { data: string; quick: boolean; models: string[]; log: (line: string) => void }): Promise<EngineLatency> {
  // Dawn reads the driver list once per process: point it at SwiftShader before the first WebGPU session.
  if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER)) process.env.VK_ICD_FILENAMES = SWIFTSHADER;
  const runs = o.quick ? 10 : 30;
  const rows: EngineLatencyRow[] = [];
  const unavailable = new Map<EngineId, string>();
  const chosen = MODELS.filter((m) => (o.models.length === 0 ? !o.quick || m.id === 'mnist-cnn-pytorch' : o.models.includes(m.id)));
  for (const m of chosen) {
    const source = new Uint8Array(readFileSync(join(o.data, 'models', m.file)));
    const { lrm, header } = await compileOnnx(source, { fileName: m.file });
    const { feeds, compare } = await timedSample(m, source, o.data);
    for (const engine of ENGINES) {
      if (unavailable.has(engine)) continue;
      // SwiftShader emulates the GPU on the CPU: MobileNet and USE-lite take minutes per tier there (their WebGPU
      // agreement is in the tests) and says nothing about GPUs;
      // tfjs-webgpu (0.4 s per digit there) is left out of quick runs altogether.
      if (WEBGPU_ENGINES.includes(engine) && onSwiftShader() && (m.id.startsWith('mobilenet') || m.id === 'use-lite')) continue;
      if (engine === 'tfjs-webgpu' && onSwiftShader() && o.quick) continue;
      let original;
      try {
        original = await engines.get(engine).create(source);
      } catch (e) {
        if (!(e instanceof EngineUnavailableError)) throw e;
        unavailable.set(engine, e.message);
        o.log(`[engines] ${engine}: ${e.message}`);
        continue;
      }
      const base = await latencyPercentiles(original, feeds, 5, runs);
      const baseCosine = await compare?.(original);
      await original.release();
      rows.push({ model: m.id, engine, variant: 'original', ...base, ratio: 1, ...(baseCosine === undefined ? {} : { minCosine: baseCosine }) });
      for (const tier of header.tiers) {
        const session = await load(lrm, { engine, tier: tier.index });
        const t = await latencyPercentiles(session, feeds, 5, runs);
        const minCosine = await compare?.(session);
        await session.release();
        rows.push({ model: m.id, engine, variant: tier.index, ...t, ratio: t.p50 / base.p50, ...(minCosine === undefined ? {} : { minCosine }) });
      }
      o.log(`[engines] ${m.id} on ${engine}: original p50 ${base.p50.toFixed(3)} ms`);
    }
  }
  const adapterNote = onSwiftShader() ? 'ort-node-webgpu and tfjs-webgpu ran on SwiftShader (Vulkan on the CPU): correctness only, not GPU speed; MobileNet and USE-lite are skipped there (minutes per tier; their WebGPU agreement is tested in test/)' : '';
  return { rows, unavailable: [...unavailable].map(([engine, reason]) => ({ engine, reason })), adapterNote };
}

/**
 * The sample timed for a model and, for sentence encoders, a comparison of any runner's embeddings of the first
 * dev sentences with the original's on ort-node-cpu (the lowest cosine).
 */
async function timedSample(m: LatencyModel, source: Uint8Array, data: string): Promise<{ feeds: Feeds; compare?: (r: EmbeddingRunner) => Promise<number> }> {
  const inputs = importOnnx(source, m.file).inputs;
  if (m.sentences) {
    const tokenizer = await loadVocabulary(undefined, [join(data, 'models', m.file)]);
    const pairs = await readStsFile(join(data, m.sentences));
    const sentences = pairs.slice(0, AGREEMENT_SENTENCES / 2).flatMap((p) => [p.first, p.second]);
    const reference = await engines.get('ort-node-cpu').create(source);
    const want = await embedSentences(reference, tokenizer, sentences).finally(() => reference.release());
    return {
      feeds: sparseBatch([tokenizer.encode(sentences[0]!)]),
      compare: async (runner) => Math.min(...(await embedSentences(runner, tokenizer, sentences)).map((e, i) => cosineSimilarity(e, want[i]!))),
    };
  }
  const input = inputs[0]!;
  const scheme = m.data === 'mnist' ? 'mnist' : 'imagenet';
  const dataset = await openDataset(`${scheme}:${join(data, m.data!)}`, { layout: input.shape, mean: m.mean, std: m.std, limit: 1 });
  for await (const b of dataset.batches(1)) return { feeds: { [input.name]: b.input } };
  throw new Error(`no sample in ${dataset.description}`);
}

export async function writeEngineReport(r: EngineLatency, out: string): Promise<string[]> {
  const lines = [
    '# Latency per engine',
    '',
    'Single-sample p50/p95 in ms (after 5 warm-ups), the original and every tier of the default compile (plain SVD), on every engine that runs here; the ratio is p50 against the same engine\'s original in the same run. Generated by `npm run bench`.',
    r.adapterNote ? `\n${r.adapterNote}.` : '',
    ...r.unavailable.map((u) => `\nNot available here: ${u.engine} (${u.reason}).`),
    '',
    `For use-lite, "min cosine" is the lowest cosine similarity between the variant's embeddings and the original's on ort-node-cpu over the first ${AGREEMENT_SENTENCES} STS-B dev sentences (1 = the same direction); the timed sample is the first of them.`,
    '',
    '| model | engine | variant | p50 ms | p95 ms | p50 vs original | min cosine |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: |',
    ...r.rows.map((x) => `| ${x.model} | ${x.engine} | ${x.variant === 'original' ? 'original' : `tier ${x.variant}`} | ${x.p50.toFixed(3)} | ${x.p95.toFixed(3)} | ${x.ratio.toFixed(2)}× | ${x.minCosine === undefined ? '-' : x.minCosine.toFixed(6)} |`),
    '',
  ];
  const md = join(out, 'engines.md');
  const json = join(out, 'engines.json');
  await writeFile(md, lines.join('\n'));
  await writeFile(json, JSON.stringify(r, null, 2) + '\n');
  return [json, md];
}

function onSwiftShader(): boolean {
  return process.env.VK_ICD_FILENAMES === SWIFTSHADER;
}
