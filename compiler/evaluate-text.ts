/**
 * Sentence encoders on text data (compiler/data/text.ts): embeddings of every sentence, and on sts: pairs the
 * Pearson and Spearman correlation (×100) of each pair's cosine similarity with its gold score, as the STS
 * Benchmark reports them.
 */
import type { Dataset } from './data/spec.js';
import { medianLatency, type Runner } from './evaluate.js';
import { cosineSimilarity } from '../runtime/text/embed.js';
import { SPARSE_INPUT_NAMES } from '../runtime/text/sparse-batch.js';
import type { Feeds, HostTensor } from '../runtime/tensor.js';

export interface TextEvalResult {
  /** One embedding per sentence, in data set order (sts: pair 0's two sentences, then pair 1's, …). */
  embeddings: Float32Array[];
  /** sts: Pearson ×100 of cosine vs gold score; null for unscored text. */
  pearson: number | null;
  spearman: number | null;
  /** Median latency of one sentence (the data set's first). */
  latencyMsP50: number;
}

export interface TextEvalOptions {
  outputName?: string;
  batchSize: number;
  onBatch?: (done: number, total: number) => void;
}

export async function evaluateSentenceEncoder(runner: Runner, data: Dataset, options: TextEvalOptions): Promise<TextEvalResult> {
  const embeddings: Float32Array[] = [];
  const cosines: number[] = [];
  const gold: number[] = [];
  let seen = 0;
  let firstSentence: Feeds | undefined;
  for await (const batch of data.batches(options.batchSize)) {
    const feeds = batch.feeds!;
    const out = await runner.run(feeds);
    const rows = embeddingRows(options.outputName ? out[options.outputName]! : Object.values(out)[0]!);
    firstSentence ??= sentenceOf(feeds, 0);
    if (batch.scores) {
      const b = batch.scores.length;
      for (let i = 0; i < b; i++) {
        embeddings.push(rows[i]!, rows[b + i]!);
        cosines.push(cosineSimilarity(rows[i]!, rows[b + i]!));
        gold.push(batch.scores[i]!);
      }
      seen += b;
    } else {
      embeddings.push(...rows);
      seen += rows.length;
    }
    options.onBatch?.(seen, data.size);
  }
  const latencyMsP50 = firstSentence ? await medianLatency(runner, firstSentence) : NaN;
  const scored = gold.length > 0;
  return { embeddings, pearson: scored ? 100 * pearson(cosines, gold) : null, spearman: scored ? 100 * spearman(cosines, gold) : null, latencyMsP50 };
}

/** Mean cosine between matching embeddings of two runs (a compressed tier against the original). */
export function meanCosine(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += cosineSimilarity(a[i]!, b[i]!);
  return sum / a.length;
}

/** The rows of a [n, d] output. */
function embeddingRows(t: HostTensor): Float32Array[] {
  const n = t.dims[0]!;
  const d = t.data.length / n;
  const data = t.data as Float32Array;
  return Array.from({ length: n }, (_, i) => data.subarray(i * d, (i + 1) * d));
}

/** The sparse batch of sentence `k` alone (its rows of indices/values, renumbered as sentence 0). */
export function sentenceOf(feeds: Feeds, k: number): Feeds {
  const { indices: indicesName, values: valuesName } = SPARSE_INPUT_NAMES;
  const indices = feeds[indicesName]!.data as BigInt64Array;
  const values = feeds[valuesName]!.data as BigInt64Array;
  const rows: number[] = [];
  for (let r = 0; r < values.length; r++) if (indices[2 * r] === BigInt(k)) rows.push(r);
  const idx = new BigInt64Array(2 * rows.length);
  rows.forEach((r, j) => (idx[2 * j + 1] = indices[2 * r + 1]!));
  return {
    [indicesName!]: { dataType: 'int64', dims: [rows.length, 2], data: idx },
    [valuesName!]: { dataType: 'int64', dims: [rows.length], data: BigInt64Array.from(rows, (r) => values[r]!) },
  };
}

/** Pearson's correlation coefficient. */
export function pearson(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  const mx = x.reduce((s, v) => s + v, 0) / n;
  const my = y.reduce((s, v) => s + v, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  return sxx === 0 || syy === 0 ? 0 : sxy / Math.sqrt(sxx * syy);
}

/** Spearman's rank correlation: Pearson of the ranks, ties given their average rank (as scipy.stats.spearmanr). */
export function spearman(x: readonly number[], y: readonly number[]): number {
  return pearson(ranks(x), ranks(y));
}

function ranks(v: readonly number[]): number[] {
  const order = v.map((_, i) => i).sort((a, b) => v[a]! - v[b]!);
  const r = new Array<number>(v.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && v[order[j + 1]!] === v[order[i]!]) j++;
    for (let k = i; k <= j; k++) r[order[k]!] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}
