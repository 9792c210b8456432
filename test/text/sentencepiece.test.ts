/**
 * The SentencePiece unigram tokenizer on USE-lite's real vocabulary (ids checked against the published TF.js
 * tokenizer, @tensorflow-models/universal-sentence-encoder 1.3.3, which gives the same ids on all 14,508 STS-B train
 * and dev sentences), its optimality against brute force on small vocabularies, and its errors.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SentencePieceTokenizer, UNKNOWN_ID, WORD_BOUNDARY, encodeSentences, sparseBatch, TextInputError, VocabularyError, type Vocabulary } from '../../runtime/node.js';
import { SHARED } from '../data/helpers.js';

const VOCAB_TEXT = readFileSync(join(SHARED, 'models/use-lite/vocab.json'), 'utf8');
const tokenizer = SentencePieceTokenizer.fromJson(VOCAB_TEXT, 'vocab.json');

describe('SentencePieceTokenizer on USE-lite vocab.json', () => {
  it('gives the published tokenizer\'s ids (known sentences, unknown characters, NFKC, spaces)', () => {
    expect(tokenizer.encode('A man is playing a flute.')).toEqual([74, 337, 18, 970, 11, 3816, 330, 6]);
    expect(tokenizer.encode('Hello, world!')).toEqual([341, 4125, 8, 311, 78]);
    // ☃ is in no piece: one unknown id per run of unknown characters.
    expect(tokenizer.encode('x☃☃y')).toEqual([649, UNKNOWN_ID, 48]);
    expect(tokenizer.encode('日本語')).toEqual([30, UNKNOWN_ID]);
    // NFKC turns the ligature ﬁ into "fi".
    expect(tokenizer.encode('naïve café ﬁne')).toEqual([1216, 0, 105, 976, 209, 1133, 839]);
    expect(tokenizer.encode('   ')).toEqual([30, 30, 30, 30]);
    expect(tokenizer.encode('')).toEqual([]);
  });

  it('reads null scores (7 pieces with ":" in the published file) as 0, as the TF.js tokenizer does', () => {
    const nulls = (JSON.parse(VOCAB_TEXT) as Vocabulary).filter((p) => p[1] === null).map((p) => p[0]);
    expect(nulls).toContain('://');
    expect(tokenizer.encode('http://x :)').map((id) => tokenizer.vocabulary[id]![0])).toEqual(['▁http', '://', 'x', '▁:)']);
  });

  it('covers the normalised text exactly: pieces concatenate back to it, unknowns only where no piece starts', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'abcdefghij klmnop.,:;!?-éü☃日😀Ⅻ'.split('')), maxLength: 40 }), (text) => {
        const ids = tokenizer.encode(text);
        const normal = SentencePieceTokenizer.normalize(text);
        let at = 0;
        ids.forEach((id, k) => {
          expect(id).toBeGreaterThanOrEqual(0);
          expect(id).toBeLessThan(tokenizer.size);
          if (id === UNKNOWN_ID) {
            expect(ids[k - 1]).not.toBe(UNKNOWN_ID); // runs of unknowns are merged
            const start = at;
            while (at < normal.length && !startsAPiece(normal, at)) at++;
            expect(at).toBeGreaterThan(start);
          } else {
            const piece = tokenizer.vocabulary[id]![0];
            expect(normal.startsWith(piece, at)).toBe(true);
            at += piece.length;
          }
        });
        expect(at).toBe(normal.length);
      }),
      { numRuns: 300 },
    );
  });
});

/** Whether any piece with a real id starts at s[at] (a character the vocabulary covers). */
function startsAPiece(s: string, at: number): boolean {
  return tokenizer.vocabulary.some(([p], id) => id >= 6 && p.length > 0 && s.startsWith(p, at));
}

describe('SentencePieceTokenizer (synthetic vocabularies)', () => {
  it('finds the segmentation of maximum total score (brute force over every segmentation)', () => {
    const alphabet = ['a', 'b', 'c'];
    const vocabArb = fc.uniqueArray(fc.string({ unit: fc.constantFrom(...alphabet, WORD_BOUNDARY), minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 12 })
      .chain((pieces) => fc.tuple(fc.constant(pieces), fc.array(fc.double({ min: -12, max: -0.1, noNaN: true }), { minLength: pieces.length, maxLength: pieces.length })));
    fc.assert(
      fc.property(vocabArb, fc.string({ unit: fc.constantFrom(...alphabet, ' '), maxLength: 7 }), ([pieces, scores], text) => {
        const vocab: Vocabulary = [['<unk>', 0], ...pieces.map((p, i) => [p, scores[i]!] as const)];
        const t = new SentencePieceTokenizer(vocab, 1);
        const normal = SentencePieceTokenizer.normalize(text);
        const best = bruteForce(normal, vocab);
        const ids = t.encode(text);
        // Unknown edges (score: the lowest piece's − 10) join the pieces' lattice; the best path over it is at least
        // as good as the best over the pieces alone, and exists even when that one does not.
        const unknown = Math.min(0, ...scores) - 10;
        const score = ids.reduce((s, id) => s + (id === UNKNOWN_ID ? unknown : vocab[id]![1]!), 0);
        if (best === undefined) expect(ids).toContain(UNKNOWN_ID);
        else expect(score).toBeGreaterThanOrEqual(best - 1e-9);
        if (!ids.includes(UNKNOWN_ID)) expect(score).toBeCloseTo(best!, 9);
      }),
      { numRuns: 400 },
    );
  });

  it('rejects a vocabulary that is not a list of [piece, score], naming the entry', () => {
    expect(() => SentencePieceTokenizer.fromJson('{"a": 1}')).toThrow(VocabularyError);
    expect(() => SentencePieceTokenizer.fromJson('not json', 'v.json')).toThrow(/v.json is not JSON/);
    expect(() => SentencePieceTokenizer.fromJson(JSON.stringify([['a', 0], ['b', 'x']]), 'v', 1)).toThrow(/entry 1 is \["b","x"\], not \[piece, score\]/);
    expect(() => SentencePieceTokenizer.fromJson(JSON.stringify([['a', 0]]))).toThrow(/no more than its 6 reserved ids/);
    expect(() => tokenizer.encode(undefined as unknown as string)).toThrow(TextInputError);
  });
});

/** The highest total score of any segmentation of s into pieces (ids ≥ 1), or undefined when none exists. */
function bruteForce(s: string, vocab: Vocabulary): number | undefined {
  const best: Array<number | undefined> = [0];
  for (let end = 1; end <= s.length; end++) {
    for (let id = 1; id < vocab.length; id++) {
      const p = vocab[id]![0];
      const start = end - p.length;
      if (start >= 0 && best[start] !== undefined && s.slice(start, end) === p) {
        const v = best[start]! + (vocab[id]![1] ?? 0);
        if (best[end] === undefined || v > best[end]!) best[end] = v;
      }
    }
  }
  return best[s.length];
}

describe('sparseBatch', () => {
  it('lays sentences out as (sentence, position) rows in row-major order', () => {
    const feeds = sparseBatch([[6, 120, 33], [7]]);
    expect(feeds.indices!.dims).toEqual([4, 2]);
    expect(Array.from(feeds.indices!.data as BigInt64Array, Number)).toEqual([0, 0, 0, 1, 0, 2, 1, 0]);
    expect(Array.from(feeds.values!.data as BigInt64Array, Number)).toEqual([6, 120, 33, 7]);
  });

  it('refuses an empty sentence (the model would drop a trailing one from the batch) and an empty batch', () => {
    expect(() => sparseBatch([[6], []])).toThrow(/sentence 1 has no tokens/);
    expect(() => sparseBatch([])).toThrow(TextInputError);
  });

  it('encodeSentences names the empty sentence the way its caller says (CLI flag, file and line)', () => {
    expect(encodeSentences(tokenizer, ['Hello, world!', 'x☃☃y'])).toEqual([[341, 4125, 8, 311, 78], [649, UNKNOWN_ID, 48]]);
    expect(() => encodeSentences(tokenizer, ['a', ''])).toThrow(/^sentence 1 is empty/);
    expect(() => encodeSentences(tokenizer, [''], () => 'sts-dev.csv: pair 7, sentence 2')).toThrow(/^sts-dev.csv: pair 7, sentence 2 is empty/);
  });
});
