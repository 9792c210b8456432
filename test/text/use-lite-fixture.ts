/**
 * USE-lite (../shared/data/models/use-lite/use_lite.onnx, Universal Sentence Encoder lite) for tests: its bytes,
 * its .lrm compiled once per test file (plain SVD, tiers 50% and 100%; ~25 s, so every getter is memoised and
 * compiles lazily), its tokenizer, the first STS-B dev sentences, and the ORIGINAL model's embeddings of them on
 * ort-node-cpu (the reference every engine is compared with). Each vitest file runs in its own fork, so a file that
 * uses this compiles at most once.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileOnnx, type CompileResult } from '../../compiler/compile.js';
import { readStsFile } from '../../compiler/data/text.js';
import { cosineSimilarity, embedSentences, engines, SentencePieceTokenizer, type EmbeddingRunner } from '../../runtime/node.js';
import { SHARED } from '../data/helpers.js';

export const USE_LITE_FILE = join(SHARED, 'models/use-lite/use_lite.onnx');
export const USE_LITE_VOCAB = join(SHARED, 'models/use-lite/vocab.json');
export const STS_DEV_FILE = join(SHARED, 'text/stsbenchmark/sts-dev.csv');
/** Whether the model, its vocabulary and the STS-B dev file are all here (the tests skip otherwise). */
export const useLiteAvailable = [USE_LITE_FILE, USE_LITE_VOCAB, STS_DEV_FILE].every((p) => existsSync(p));
/** Cumulative tier budgets of the compiled file: tier 0 holds 50% of the factorable weights, tier 1 is full rank. */
export const USE_LITE_TIERS = [0.5, 1];
/** Embedding width. */
export const USE_LITE_DIM = 512;

const memo = <T>(make: () => T): (() => T) => {
  let value: { v: T } | undefined;
  return () => (value ??= { v: make() }).v;
};

/** use_lite.onnx as read from the shared data. */
export const useLiteBytes = memo(() => new Uint8Array(readFileSync(USE_LITE_FILE)));

/** The compiled .lrm (and its header); compiled on first use, then the same promise. */
export const compiledUseLite = memo(
  (): Promise<CompileResult> => compileOnnx(useLiteBytes(), { fileName: 'use_lite.onnx', tiers: USE_LITE_TIERS }),
);

/** The model's SentencePiece tokenizer (vocab.json). */
export const useLiteTokenizer = memo(() => SentencePieceTokenizer.fromJson(readFileSync(USE_LITE_VOCAB, 'utf8'), 'vocab.json'));

const devPairs = memo(() => readStsFile(STS_DEV_FILE));

/** The first `count` sentences of STS-B dev, pair by pair: sentence1 then sentence2 of each line. */
export async function devSentences(count: number): Promise<string[]> {
  const sentences = (await devPairs()).flatMap((p) => [p.first, p.second]).slice(0, count);
  if (sentences.length < count) throw new Error(`STS-B dev has only ${sentences.length} sentences, asked for ${count}`);
  return sentences;
}

/** Sentences embedded by any runner (LrmSession, engine session), `batchSize` at a time; logs nothing. */
export function embed(runner: EmbeddingRunner, sentences: readonly string[], batchSize = 50): Promise<Float32Array[]> {
  return embedSentences(runner, useLiteTokenizer(), sentences, { batchSize });
}

const references = new Map<number, Promise<Float32Array[]>>();
/** The ORIGINAL use_lite.onnx on ort-node-cpu: embeddings of the first `count` dev sentences (memoised). */
export function originalEmbeddings(count: number): Promise<Float32Array[]> {
  let p = references.get(count);
  if (!p) {
    p = (async () => {
      const session = await engines.get('ort-node-cpu').create(useLiteBytes());
      try {
        return await embed(session, await devSentences(count));
      } finally {
        await session.release();
      }
    })();
    references.set(count, p);
  }
  return p;
}

/** The lowest per-sentence cosine similarity of two lists of embeddings, and which sentence it is. */
export function worstCosine(want: readonly Float32Array[], got: readonly Float32Array[]): { cosine: number; index: number } {
  if (want.length !== got.length) throw new Error(`${got.length} embeddings, expected ${want.length}`);
  let worst = { cosine: Infinity, index: -1 };
  want.forEach((w, i) => {
    if (got[i]!.length !== w.length) throw new Error(`embedding ${i} has ${got[i]!.length} values, expected ${w.length}`);
    const c = cosineSimilarity(w, got[i]!);
    // NaN (a broken engine) must count as the worst.
    if (!(c >= worst.cosine)) worst = { cosine: Number.isNaN(c) ? -Infinity : c, index: i };
  });
  return worst;
}
