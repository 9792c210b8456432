/**
 * Sentences as the sparse batch that TF-Hub sentence encoders (USE-lite) take: `indices` int64 [T, 2] with one
 * (sentence, position) row per token in row-major order, and `values` int64 [T] with the token ids.
 */
import { TextInputError } from '../errors.js';
import type { Feeds } from '../tensor.js';
import type { SentencePieceTokenizer } from './sentencepiece.js';

export interface SparseInputNames {
  indices: string;
  values: string;
}

export const SPARSE_INPUT_NAMES: SparseInputNames = { indices: 'indices', values: 'values' };

/**
 * Token ids of each sentence; a sentence with no tokens (empty text) is a TextInputError that names it with
 * `where` (default "sentence i"), since the sparse batch cannot hold it (see sparseBatch).
 */
export function encodeSentences(tokenizer: SentencePieceTokenizer, sentences: readonly string[], where: (i: number) => string = (i) => `sentence ${i}`): number[][] {
  return sentences.map((s, i) => {
    const ids = tokenizer.encode(s);
    if (ids.length === 0) throw new TextInputError(`${where(i)} is empty: give every sentence at least one character`);
    return ids;
  });
}

/**
 * The feeds for sentences given as token ids. Every sentence needs at least one id: the model counts sentences by
 * the largest sentence index it sees, so an empty one at the end would silently shorten the batch.
 */
export function sparseBatch(ids: ReadonlyArray<ArrayLike<number>>, names: SparseInputNames = SPARSE_INPUT_NAMES): Feeds {
  let total = 0;
  ids.forEach((s, i) => {
    if (s.length === 0) throw new TextInputError(`sentence ${i} has no tokens (empty text); give every sentence at least one character`);
    total += s.length;
  });
  if (ids.length === 0) throw new TextInputError('no sentences to embed');
  const indices = new BigInt64Array(2 * total);
  const values = new BigInt64Array(total);
  let row = 0;
  ids.forEach((s, i) => {
    for (let j = 0; j < s.length; j++, row++) {
      indices[2 * row] = BigInt(i);
      indices[2 * row + 1] = BigInt(j);
      values[row] = BigInt(s[j]!);
    }
  });
  return {
    [names.indices]: { dataType: 'int64', dims: [total, 2], data: indices },
    [names.values]: { dataType: 'int64', dims: [total], data: values },
  };
}
