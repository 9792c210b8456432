import type { Dataset } from './data/spec.js';
import { outputError } from './output-error.js';
import { batchItem } from './data/tensor.js';
import type { Feeds, HostTensor } from '../runtime/tensor.js';

/** Something that runs a batch: an LrmSession or a raw engine session. */
export interface Runner {
  run(feeds: Feeds): Promise<Record<string, HostTensor>>;
}

export interface EvalResult {
  /** Top-1 class of every sample, in dataset order. */
  predictions: Int32Array;
  /** Percent top-1 correct, or null for unlabelled data. */
  accuracy: number | null;
  /** Median single-sample latency in ms. */
  latencyMsP50: number;
  /** With EvalOptions.keepScores: every sample's class scores, in dataset order (samples × classes). */
  scores?: Float32Array;
}

export interface EvalOptions {
  inputName: string;
  /** Which output holds the class scores (default: the first). */
  outputName?: string;
  batchSize: number;
  onBatch?: (done: number, total: number) => void;
  /** Keep the class scores (EvalResult.scores), to compare them with another model's (scoreError). */
  keepScores?: boolean;
}

/** Index of the largest value (the first one on ties). */
export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

/** Top-1 of every row of a [N, C] (or [N, C, 1, 1]) score tensor. */
export function argmaxRows(t: HostTensor): Int32Array {
  const n = t.dims[0] ?? 1;
  const c = t.data.length / n;
  const d = t.data as Float32Array;
  return Int32Array.from({ length: n }, (_, i) => argmax(d.subarray(i * c, (i + 1) * c)));
}

/** Run a classifier over a dataset: top-1 predictions, accuracy against labels, and single-sample latency. */
export async function evaluateClassifier(runner: Runner, data: Dataset, options: EvalOptions): Promise<EvalResult> {
  const predictions = new Int32Array(data.size);
  let correct = 0;
  let labelled = 0;
  let seen = 0;
  let firstSample: HostTensor | undefined;
  const kept: Float32Array[] = [];
  for await (const batch of data.batches(options.batchSize)) {
    const out = await runner.run(batch.feeds ?? { [options.inputName]: batch.input });
    const scores = options.outputName ? out[options.outputName] : Object.values(out)[0];
    const top = argmaxRows(scores);
    predictions.set(top, seen);
    if (options.keepScores) kept.push(Float32Array.from(scores.data as Float32Array));
    if (batch.labels) {
      for (let i = 0; i < top.length; i++) if (top[i] === batch.labels[i]) correct++;
      labelled += top.length;
    }
    if (!firstSample) firstSample = batchItem(batch.input, 0);
    seen += top.length;
    options.onBatch?.(seen, data.size);
  }
  const latencyMsP50 = firstSample ? await medianLatency(runner, { [options.inputName]: firstSample }) : NaN;
  const scores = options.keepScores ? concatenate(kept) : undefined;
  return { predictions, accuracy: labelled > 0 ? (100 * correct) / labelled : null, latencyMsP50, ...(scores ? { scores } : {}) };
}

function concatenate(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) [out.set(p, at), (at += p.length)];
  return out;
}

/**
 * Σ‖y − ŷ‖² / Σ‖y‖² of the class scores over every sample: how far a model's scores moved from the reference's.
 * Less noisy than top-1 on a few hundred samples (a point of top-1 on 250 images is 2.5 images).
 */
export function scoreError(scores: Float32Array, reference: Float32Array): number {
  if (scores.length !== reference.length) throw new RangeError(`compared ${scores.length} scores with ${reference.length}`);
  // One sample holding every score: the 'squared' measure sensitivity uses, with the same energy normalisation.
  const asSample = (data: Float32Array) => [{ data: [data], dims: [[data.length]] }];
  return outputError('squared', asSample(reference))(asSample(scores));
}

/** Percent of samples whose top-1 equals the reference's. */
export function agreement(a: Int32Array, b: Int32Array): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return (100 * same) / a.length;
}

/** Median of repeated single-sample runs after a warm-up: engines allocate and tune on the first runs. */
export async function medianLatency(runner: Runner, feeds: Feeds, warmup = 5, runs = 30): Promise<number> {
  return (await latencyPercentiles(runner, feeds, warmup, runs)).p50;
}

/**
 * p50 and p95 (nearest rank) of repeated runs after a warm-up, in ms. The warm-up is `warmup` runs and, when
 * `warmupMs` is given, goes on until that much time has passed: WebAssembly code is tiered up by V8 only after
 * it has run a while, so a fresh process is slower for its first few hundred milliseconds.
 */
export async function latencyPercentiles(runner: Runner, feeds: Feeds, warmup = 5, runs = 30, warmupMs = 0): Promise<{ p50: number; p95: number }> {
  const start = performance.now();
  for (let i = 0; i < warmup || performance.now() - start < warmupMs; i++) await runner.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await runner.run(feeds);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(times.length / 2)], p95: times[Math.min(times.length - 1, Math.ceil(times.length * 0.95) - 1)] };
}
