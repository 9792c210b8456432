/**
 * Text in, embeddings out: tokenise sentences, run them through a sentence encoder in batches, and compare the
 * embeddings. Works with any LrmSession or engine session (anything with run(feeds)), in Node and browsers.
 */
import { TextInputError } from '../errors.js';
import type { Feeds, HostTensor } from '../tensor.js';
import type { SentencePieceTokenizer } from './sentencepiece.js';
import { encodeSentences, sparseBatch, SPARSE_INPUT_NAMES, type SparseInputNames } from './sparse-batch.js';

export interface EmbeddingRunner {
  run(feeds: Feeds): Promise<Record<string, HostTensor>>;
}

export interface EmbedOptions {
  /** Sentences per run (default 32). */
  batchSize?: number;
  /** Which output holds the [batch, d] embeddings (default: the first). */
  output?: string;
  names?: SparseInputNames;
}

/** One embedding per sentence, in order. Empty text is a TextInputError naming the sentence. */
export async function embedSentences(
  runner: EmbeddingRunner,
  tokenizer: SentencePieceTokenizer,
  sentences: readonly string[],
  options: EmbedOptions = {},
): Promise<Float32Array[]> {
  const batchSize = options.batchSize ?? 32;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new TextInputError(`batch size must be a positive integer, got ${batchSize}`);
  const ids = encodeSentences(tokenizer, sentences);
  const out: Float32Array[] = [];
  for (let start = 0; start < ids.length; start += batchSize) {
    const batch = ids.slice(start, start + batchSize);
    const result = await runner.run(sparseBatch(batch, options.names ?? SPARSE_INPUT_NAMES));
    const t = options.output ? result[options.output] : Object.values(result)[0];
    if (!t) throw new TextInputError(`the model has no output '${options.output}'`);
    const d = t.data.length / batch.length;
    if (t.dims[0] !== batch.length || !Number.isInteger(d)) throw new TextInputError(`the model gave ${t.dims.join('×')} for ${batch.length} sentences; expected one embedding per sentence`);
    const data = t.data as Float32Array;
    for (let i = 0; i < batch.length; i++) out.push(Float32Array.from(data.subarray(i * d, (i + 1) * d)));
  }
  return out;
}

/** Cosine similarity of two vectors (0 when either is zero). */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/** The candidates ordered by cosine similarity to the query, most similar first (what a search box shows). */
export function rankBySimilarity(query: ArrayLike<number>, candidates: readonly ArrayLike<number>[]): Array<{ index: number; score: number }> {
  return candidates.map((c, index) => ({ index, score: cosineSimilarity(query, c) })).sort((x, y) => y.score - x.score);
}
