/**
 * Evaluation suites of the benchmark: each one runs a model (the original ONNX or one tier of an .lrm, both
 * through the same engine) over a fixed evaluation set prepared once in memory, and scores the outcome
 * against the original's.
 *
 *  - classifier: top-1 accuracy on labelled data and top-1 agreement with the original (compiler/evaluate.ts).
 *  - detector: output fidelity on images: relative L2 error of every raw output vs the original's (images
 *    stacked), averaged over the outputs, and whether the argmax position of a score output matches the original's.
 * Figures measured against the original's outputs (detector, super-resolution, vad) carry a bootstrap interval
 * (from Score.units, bench/bootstrap.ts).
 *  - super-resolution: PSNR of the output vs the original's output (peak 1: the model works on Y/255).
 *  - sentence encoder: STS pairs; Pearson/Spearman ×100 of cosine vs gold, mean cosine to the original's embeddings.
 *  - vad: sequential chunks with the state carried; mean |Δ probability| and agreement of the >0.5 decision.
 */
import { LATENCY_FILL_MS } from './paired-latency.js';
import type { Batch, Dataset } from '../compiler/data/spec.js';
import { agreement, argmax, evaluateClassifier, medianLatency, type Runner } from '../compiler/evaluate.js';
import type { Feeds, HostTensor } from '../runtime/tensor.js';
import { batchItem } from '../compiler/data/tensor.js';
import { fullValue, type Resamplable } from './bootstrap.js';
import { evaluateSentenceEncoder, meanCosine, sentenceOf, type TextEvalResult } from '../compiler/evaluate-text.js';

export interface MetricInfo {
  /** Column heading, e.g. "top-1 accuracy". */
  name: string;
  /** A few words for chart axes and titles. */
  short: string;
  unit: '%' | 'dB' | '';
  higherIsBetter: boolean;
  /** True when the metric is itself a comparison with the original's outputs (then Δ vs original is not reported). */
  vsOriginal: boolean;
  /** Digits shown in tables (default: 4, or an exponent for tiny values). */
  decimals?: number;
  /** Charts draw values beyond this (e.g. an infinite PSNR) at the cap. */
  chartCap?: number;
  /** What the noise bootstrap resamples ("53 images"), for metrics whose Score has units. */
  resampled?: string;
}

export interface Score {
  /** The suite's metric; null when undefined (e.g. no labels). Infinity is allowed (exact PSNR). */
  value: number | null;
  /** Percent agreement with the original's decisions, when the suite has a decision. */
  agreement: number | null;
  /** Further per-suite numbers, recorded in the JSON. */
  extra: Record<string, number | null>;
  /**
   * What `value` is made of per evaluation unit, for metrics without a closed-form interval: their noise and paired
   * comparisons are resampled from it (bench/bootstrap.ts); absent otherwise (accuracies and correlations: noise.ts).
   */
  units?: Resamplable;
}

export interface Measured {
  outcome: unknown;
  latencyMsP50: number;
}

export interface Suite {
  /** One line describing the evaluation set, for the report. */
  evaluation: string;
  samples: number;
  metric: MetricInfo;
  /** What `agreement` means, or null when the suite has none. */
  agreementName: string | null;
  /** The single sample latency is measured on. */
  latencyFeeds: Feeds;
  /** Evaluates, and times single samples with latencyP50 (fillMs as it says). */
  run(runner: Runner, fillMs?: number, onProgress?: (done: number, total: number) => void): Promise<Measured>;
  /** Score an outcome; `reference` is the original's outcome, or null when scoring the original itself. */
  score(outcome: unknown, reference: unknown): Score;
}

/** How latency is measured, for the report. */
export const LATENCY_NOTE = 'median of single-sample runs: 30 after 5 warm-ups, and for models so fast that 30 runs take under 0.3 s, as many runs as fill about 0.3 s (after 20 warm-ups), since sub-millisecond medians of 30 runs are noisy. Each tier is timed in alternating blocks with the original (6 blocks each, 2 untimed runs at every switch; bench/paired-latency.ts), and its ratio is the median over the six rounds of its block\'s median over the original\'s in the same round (latencyRoundRatios in the JSON; extra.originalPairedMs is the original\'s median over all its blocks), so load from elsewhere, and this machine\'s switches of speed for seconds at a time, slow both alike. The original\'s own row is the mean of its runs before and after its model\'s tiers (both are in the JSON). A --quick run (a smoke test) times the 30 runs only';

/**
 * Median single-sample latency as LATENCY_NOTE says (compiler/evaluate.ts medianLatency does the runs): 30 runs, and
 * for fast models about fillMs of runs (0: the 30 alone, bench --quick).
 */
export async function latencyP50(runner: Runner, feeds: Feeds, fillMs = LATENCY_FILL_MS): Promise<number> {
  const p = await medianLatency(runner, feeds);
  if (p * 30 >= fillMs) return p;
  return medianLatency(runner, feeds, 20, Math.min(2000, Math.ceil(fillMs / Math.max(p, 0.01))));
}

/** Reads a data set slice once, so every model and tier sees the same tensors without decoding images again. */
export async function cacheDataset(data: Dataset, batchSize: number): Promise<Dataset> {
  const batches: Batch[] = [];
  for await (const b of data.batches(batchSize)) batches.push(b);
  return {
    ...data,
    async *batches() {
      yield* batches;
    },
  };
}

export interface ClassifierSuiteOptions {
  inputName: string;
  outputName?: string;
  batchSize: number;
  evaluation: string;
}

export async function classifierSuite(data: Dataset, o: ClassifierSuiteOptions): Promise<Suite> {
  // The sample evaluateClassifier times: the first of the slice.
  let first: Feeds | undefined;
  for await (const b of data.batches(o.batchSize)) {
    first = { [o.inputName]: batchItem(b.input, 0) };
    break;
  }
  if (!first) throw new Error(`no evaluation samples in ${data.description}`);
  return {
    evaluation: o.evaluation,
    samples: data.size,
    metric: { name: 'top-1 accuracy', short: 'top-1 accuracy', unit: '%', higherIsBetter: true, vsOriginal: false },
    agreementName: 'top-1 agreement with the original',
    latencyFeeds: first,
    async run(runner, fillMs, onProgress) {
      const r = await evaluateClassifier(runner, data, { inputName: o.inputName, outputName: o.outputName, batchSize: o.batchSize, onBatch: onProgress });
      return { outcome: r, latencyMsP50: r.latencyMsP50 * 30 >= (fillMs ?? LATENCY_FILL_MS) ? r.latencyMsP50 : await latencyP50(runner, first, fillMs) };
    },
    score(outcome, reference) {
      const r = outcome as Awaited<ReturnType<typeof evaluateClassifier>>;
      const ref = reference as typeof r | null;
      return { value: r.accuracy, agreement: ref ? agreement(r.predictions, ref.predictions) : null, extra: {} };
    },
  };
}

type Outputs = Record<string, HostTensor>;

async function runAll(runner: Runner, feeds: Feeds[]): Promise<Outputs[]> {
  const out: Outputs[] = [];
  for (const f of feeds) out.push(await runner.run(f));
  return out;
}

/**
 * Per-unit sums kept to 7 significant digits (float32 outputs have about that many): the JSON holds them for every
 * row, and the figures are computed from the same rounded sums.
 */
function significant(v: number): number {
  return Number(v.toPrecision(7));
}

function floats(t: HostTensor): Float32Array {
  if (!(t.data instanceof Float32Array)) throw new Error(`expected a float32 output, got ${t.dataType}`);
  return t.data;
}

/**
 * Relative L2 error of every output vs the reference's, over all inputs together (‖Y − Y₀‖ / ‖Y₀‖ with the images
 * stacked), per output name and their mean. Pooling keeps a near-empty map on one image (a text detector on a
 * photo without text) from dividing by almost nothing.
 */
function outputErrors(got: Outputs[], want: Outputs[]): { mean: number; perOutput: Record<string, number>; units: Resamplable } {
  const names = Object.keys(want[0] ?? {});
  // Squared error and squared reference per output and image: the pooled error, and its resamples, are sums of them.
  const units: Resamplable = { kind: 'pooled-relative-l2', num: [], den: [] };
  for (const name of names) {
    const nums: number[] = [];
    const dens: number[] = [];
    want.forEach((w, i) => {
      const a = floats(got[i]![name]!);
      const b = floats(w[name]!);
      let num = 0;
      let den = 0;
      for (let k = 0; k < b.length; k++) {
        num += (a[k]! - b[k]!) ** 2;
        den += b[k]! ** 2;
      }
      nums.push(significant(num));
      dens.push(significant(den));
    });
    units.num.push(nums);
    units.den.push(dens);
  }
  const perOutput: Record<string, number> = {};
  names.forEach((name, o) => (perOutput[name] = fullValue({ kind: 'pooled-relative-l2', num: [units.num[o]!], den: [units.den[o]!] })));
  return { mean: fullValue(units), perOutput, units };
}

export interface DetectorSuiteOptions {
  evaluation: string;
  feeds: Feeds[];
  /** The scores whose argmax is "the top detection", from one image's outputs. */
  topScores: (outputs: Outputs) => ArrayLike<number>;
  topName: string;
  /** Further numbers per image (averaged over the images into Score.extra). */
  extra?: (got: Outputs, want: Outputs) => Record<string, number>;
}

export function detectorSuite(o: DetectorSuiteOptions): Suite {
  return {
    evaluation: o.evaluation,
    samples: o.feeds.length,
    metric: { name: 'relative L2 error of the outputs (mean over outputs)', short: 'relative L2 error', unit: '', higherIsBetter: false, vsOriginal: true, resampled: `${o.feeds.length} images` },
    agreementName: `top detection at the same position as the original's (${o.topName})`,
    latencyFeeds: o.feeds[0]!,
    async run(runner, fillMs, onProgress) {
      const outcome = await runAll(runner, o.feeds);
      onProgress?.(o.feeds.length, o.feeds.length);
      return { outcome, latencyMsP50: await latencyP50(runner, o.feeds[0]!, fillMs) };
    },
    score(outcome, reference) {
      const got = outcome as Outputs[];
      const want = (reference as Outputs[] | null) ?? got;
      const { mean: value, perOutput, units } = outputErrors(got, want);
      let same = 0;
      got.forEach((g, i) => (same += argmax(o.topScores(g)) === argmax(o.topScores(want[i]!)) ? 1 : 0));
      const extra: Record<string, number> = {};
      for (const [k, v] of Object.entries(perOutput)) extra[`relL2:${k}`] = v;
      if (o.extra) {
        got.forEach((g, i) => {
          for (const [k, v] of Object.entries(o.extra!(g, want[i]!))) extra[k] = (extra[k] ?? 0) + v / got.length;
        });
      }
      return { value, agreement: reference ? (100 * same) / got.length : null, extra, units };
    },
  };
}

/** PSNR in dB of `a` against `b` with peak 1 (Infinity when identical). */
export function psnr(a: Float32Array, b: Float32Array): number {
  let se = 0;
  for (let i = 0; i < b.length; i++) se += (a[i]! - b[i]!) ** 2;
  const mse = se / b.length;
  return mse === 0 ? Infinity : 10 * Math.log10(1 / mse);
}

export function superResolutionSuite(evaluation: string, feeds: Feeds[], outputName: string): Suite {
  return {
    evaluation,
    samples: feeds.length,
    // Full-rank tiers reproduce the original to ~1e-6, i.e. PSNR > 100 dB: charts cap it so lower tiers stay readable.
    metric: { name: 'PSNR vs the original output', short: 'PSNR vs the original', unit: 'dB', higherIsBetter: true, vsOriginal: true, chartCap: 60, resampled: `${feeds.length} images` },
    agreementName: null,
    latencyFeeds: feeds[0]!,
    async run(runner, fillMs, onProgress) {
      const outcome = await runAll(runner, feeds);
      onProgress?.(feeds.length, feeds.length);
      return { outcome, latencyMsP50: await latencyP50(runner, feeds[0]!, fillMs) };
    },
    score(outcome, reference) {
      const got = outcome as Outputs[];
      const want = (reference as Outputs[] | null) ?? got;
      // Mean of the per-image PSNRs; Infinity only when every image is reproduced exactly (which counts 0).
      const values = got.map((g, i) => psnr(floats(g[outputName]!), floats(want[i]![outputName]!)));
      const units: Resamplable = { kind: 'mean', sums: values.map((v) => (Number.isFinite(v) ? significant(v) : 0)), counts: values.map((v) => (Number.isFinite(v) ? 1 : 0)) };
      const value = fullValue(units);
      return { value, agreement: null, extra: { relL2: outputErrors(got, want).mean }, units };
    },
  };
}

export interface VadSuiteOptions {
  evaluation: string;
  /** 16 kHz mono samples of the evaluation stream. */
  samples: Float32Array;
  /** Build the feeds of one chunk: 576 samples (context + new) and the state. */
  chunk: (input: Float32Array, state: Float32Array) => Feeds;
  stateSize: number;
}

/** Silero-style streaming: 512 new samples per run, the previous 64 as context, the state carried run to run. */
export const VAD_CHUNK = 512;
export const VAD_CONTEXT = 64;
/** Chunks per block when the noise of a stream's figure is estimated (bench/bootstrap.ts): 32 chunks, about 1 s. */
export const VAD_NOISE_BLOCK = 32;

export function vadChunkInput(samples: Float32Array, start: number, streamStart: number): Float32Array {
  const x = new Float32Array(VAD_CONTEXT + VAD_CHUNK);
  const from = Math.max(start - VAD_CONTEXT, streamStart);
  x.set(samples.subarray(from, start + VAD_CHUNK), VAD_CONTEXT - (start - from));
  return x;
}

/** Runs a stream chunk by chunk from a zero state; returns the speech probability of every chunk (and the states fed in). */
export async function vadStream(runner: Runner, samples: Float32Array, o: Pick<VadSuiteOptions, 'chunk' | 'stateSize'>, keepStates = false): Promise<{ probs: Float32Array; inputs: Float32Array[]; states: Float32Array[] }> {
  const count = Math.floor(samples.length / VAD_CHUNK);
  const probs = new Float32Array(count);
  const inputs: Float32Array[] = [];
  const states: Float32Array[] = [];
  let state = new Float32Array(o.stateSize);
  for (let k = 0; k < count; k++) {
    const x = vadChunkInput(samples, k * VAD_CHUNK, 0);
    if (keepStates) {
      inputs.push(x);
      states.push(state);
    }
    const out = await runner.run(o.chunk(x, state));
    probs[k] = floats(out.output!)[0]!;
    state = Float32Array.from(floats(out.stateN!));
  }
  return { probs, inputs, states };
}

export function vadSuite(o: VadSuiteOptions): Suite {
  const count = Math.floor(o.samples.length / VAD_CHUNK);
  const first = o.chunk(vadChunkInput(o.samples, 0, 0), new Float32Array(o.stateSize));
  return {
    evaluation: o.evaluation,
    samples: count,
    metric: { name: 'mean |Δ speech probability| vs the original', short: 'mean |Δ probability|', unit: '', higherIsBetter: false, vsOriginal: true, resampled: `${Math.ceil(count / VAD_NOISE_BLOCK)} blocks of ${VAD_NOISE_BLOCK} chunks (about 1 s; the state carries errors from chunk to chunk)` },
    agreementName: 'speech decision (p > 0.5) agrees with the original',
    latencyFeeds: first,
    async run(runner, fillMs, onProgress) {
      const { probs } = await vadStream(runner, o.samples, o);
      onProgress?.(count, count);
      return { outcome: probs, latencyMsP50: await latencyP50(runner, first, fillMs) };
    },
    score(outcome, reference) {
      const p = outcome as Float32Array;
      const ref = (reference as Float32Array | null) ?? p;
      // The state carries one chunk's error into the next, so the bootstrap resamples blocks of chunks, not chunks.
      const blocks = Math.ceil(p.length / VAD_NOISE_BLOCK);
      const units: Resamplable = { kind: 'mean', sums: new Array<number>(blocks).fill(0), counts: new Array<number>(blocks).fill(0) };
      let same = 0;
      let speech = 0;
      for (let i = 0; i < p.length; i++) {
        const b = Math.floor(i / VAD_NOISE_BLOCK);
        units.sums[b]! += Math.abs(p[i]! - ref[i]!);
        units.counts[b]! += 1;
        if (p[i]! > 0.5 === ref[i]! > 0.5) same++;
        if (p[i]! > 0.5) speech++;
      }
      units.sums = units.sums.map(significant);
      return {
        value: fullValue(units),
        agreement: reference ? (100 * same) / p.length : null,
        extra: { speechChunksPct: (100 * speech) / p.length },
        units,
      };
    },
  };
}

export interface SentenceSuiteOptions {
  /** STS pairs (sts: data set), cached. */
  data: Dataset;
  batchSize: number;
  evaluation: string;
}

/**
 * Sentence encoder on STS pairs: Pearson ×100 of each pair's cosine similarity against the gold score (the STS-B
 * metric); Spearman and the mean cosine between the tier's embeddings and the original's go in `extra`.
 */
export async function sentenceEncoderSuite(o: SentenceSuiteOptions): Promise<Suite> {
  let first: Feeds | undefined;
  for await (const b of o.data.batches(o.batchSize)) {
    first = sentenceOf(b.feeds!, 0);
    break;
  }
  if (!first) throw new Error(`no evaluation samples in ${o.data.description}`);
  return {
    evaluation: o.evaluation,
    samples: o.data.size,
    metric: { name: 'STS Pearson ×100', short: 'Pearson ×100', unit: '', higherIsBetter: true, vsOriginal: false, decimals: 2 },
    agreementName: null,
    latencyFeeds: first,
    async run(runner, fillMs, onProgress) {
      const r = await evaluateSentenceEncoder(runner, o.data, { batchSize: o.batchSize, onBatch: onProgress });
      return { outcome: r, latencyMsP50: await latencyP50(runner, first, fillMs) };
    },
    score(outcome, reference) {
      const r = outcome as TextEvalResult;
      const ref = reference as TextEvalResult | null;
      return { value: r.pearson, agreement: null, extra: { spearman: r.spearman, meanCosine: ref ? meanCosine(r.embeddings, ref.embeddings) : 1 } };
    },
  };
}
