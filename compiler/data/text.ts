/**
 * Text data for sentence encoders (USE-lite):
 *  - `sts:<file>`: the STS Benchmark TAB format (genre, file, year, id, score 0–5, sentence1, sentence2, and on
 *    some lines extra source columns, so only columns 5–7 are read). A sample is a pair with its gold score; a
 *    batch of b pairs feeds 2b sentences, every first sentence then every second one.
 *  - `text:<file>`: one sentence a line, unlabelled (calibration, distillation); blank lines are skipped.
 * Sentences are tokenised with the model's SentencePiece vocabulary and fed as its sparse batch.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SentencePieceTokenizer } from '../../runtime/text/sentencepiece.js';
import { encodeSentences, sparseBatch, SPARSE_INPUT_NAMES, type SparseInputNames } from '../../runtime/text/sparse-batch.js';
import { VocabularyError } from '../../runtime/errors.js';
import { DataEmptyError, DataFormatError, DataShapeError, DataSpecError } from './errors.js';
import { readFileOrThrow } from './files.js';
import type { ModelInput } from './tensor-file.js';
import type { HostTensor } from './tensor.js';

export interface StsPair {
  score: number;
  first: string;
  second: string;
}

/** Reads an STS TAB file. A line with fewer than 7 columns or a score that is not a number is an error naming it. */
export async function readStsFile(path: string): Promise<StsPair[]> {
  const lines = decodeLines(await readFileOrThrow(path, 'STS file'));
  const pairs: StsPair[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const cols = line.split('\t');
    if (cols.length < 7) throw new DataFormatError(`${path}:${i + 1}: ${cols.length} TAB-separated column(s), expected at least 7 (genre, file, year, id, score, sentence1, sentence2)`);
    const score = Number(cols[4]);
    if (cols[4]!.trim() === '' || !Number.isFinite(score)) throw new DataFormatError(`${path}:${i + 1}: score "${cols[4]}" (column 5) is not a number`);
    pairs.push({ score, first: cols[5]!, second: cols[6]! });
  });
  if (pairs.length === 0) throw new DataEmptyError(`no sentence pairs in ${path}`);
  return pairs;
}

/** Reads one sentence a line; blank lines are skipped (an empty sentence has no tokens to embed). */
export async function readTextFile(path: string): Promise<string[]> {
  const sentences = decodeLines(await readFileOrThrow(path, 'text file')).filter((l) => l.trim() !== '');
  if (sentences.length === 0) throw new DataEmptyError(`no sentences in ${path} (expected one a line)`);
  return sentences;
}

function decodeLines(bytes: Uint8Array): string[] {
  return new TextDecoder('utf-8').decode(bytes).replace(/^\uFEFF/, '').split(/\r?\n/);
}

/** The model's tokenizer: `--vocab`, else the first `vocab.json` found beside one of the given model files. */
export async function loadVocabulary(explicit: string | undefined, besideModels: ReadonlyArray<string | undefined>): Promise<SentencePieceTokenizer> {
  const path = explicit ?? besideModels.filter((p): p is string => p !== undefined).map((p) => join(dirname(p), 'vocab.json')).find((p) => existsSync(p));
  if (path === undefined) {
    throw new DataSpecError(`text data needs the model's SentencePiece vocabulary: give --vocab <vocab.json>, or put vocab.json beside the model`);
  }
  const text = new TextDecoder('utf-8').decode(await readFileOrThrow(path, 'vocabulary file'));
  try {
    return SentencePieceTokenizer.fromJson(text, path);
  } catch (e) {
    if (e instanceof VocabularyError) throw new DataFormatError(`${path}: ${e.message}`);
    throw e;
  }
}

/** The sparse-batch input names of a sentence encoder; anything else is a shape error that says what text needs. */
export function sparseInputNames(inputs: ReadonlyArray<ModelInput> | undefined, scheme: string): SparseInputNames {
  const names = inputs?.map((i) => i.name) ?? [];
  const want = SPARSE_INPUT_NAMES;
  if (names.length === 2 && names.includes(want.indices) && names.includes(want.values)) return want;
  throw new DataShapeError(
    `${scheme}: data feeds sentence encoders that take a sparse batch (int64 inputs '${want.indices}' [T, 2] and '${want.values}' [T]); this model takes ${names.length ? names.join(', ') : 'no inputs'}`,
  );
}

/** The feeds for a list of sentences; an empty one is an error naming where it came from. */
export function sentenceFeeds(tokenizer: SentencePieceTokenizer, sentences: readonly string[], names: SparseInputNames, where: (i: number) => string): Record<string, HostTensor> {
  return sparseBatch(encodeSentences(tokenizer, sentences, where), names) as Record<string, HostTensor>; // int64 only, which both tensor types hold
}

export { SentencePieceTokenizer };
