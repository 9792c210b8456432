/**
 * SentencePiece unigram tokenisation for vocabularies published as `[[piece, score], …]` (USE-lite's vocab.json):
 * the id of a piece is its index in that list. Written here because the published TF.js tokenizer
 * (@tensorflow-models/universal-sentence-encoder) pulls tfjs-converter in as a peer, and the sentencepiece npm
 * ports need the `.model` protobuf, which this vocabulary does not come with.
 *
 * encode(text): NFKC-normalise; every space becomes ▁ (U+2581) and one ▁ is prepended; then the segmentation of
 * maximum total score (Viterbi over a trie of the pieces with index ≥ `reserved`; ids below it are the unknown
 * piece and control symbols). A character that no piece covers becomes the unknown id 0, and consecutive unknowns
 * merge into one, as SentencePiece does. Positions are UTF-16 code units, as in the TF.js tokenizer.
 */
import { TextInputError, VocabularyError } from '../errors.js';

/** SentencePiece's word boundary marker, "lower one eighth block". */
export const WORD_BOUNDARY = '\u2581';
/** Ids 0..5 of USE's vocabulary: unknown, <s>, </s> and three extra control tokens. */
export const DEFAULT_RESERVED = 6;
export const UNKNOWN_ID = 0;

/**
 * `[piece, score]` pairs. A null score reads as 0: USE's published vocab.json has 7 (pieces with ':'), and the TF.js
 * tokenizer it was used with adds them as 0.
 */
export type Vocabulary = ReadonlyArray<readonly [string, number | null]>;

interface TrieNode {
  next: Map<number, TrieNode>;
  /** Id of the piece that ends here, or -1. */
  id: number;
}

export class SentencePieceTokenizer {
  private readonly root: TrieNode = { next: new Map(), id: -1 };
  private readonly scores: Float64Array;
  /** Score of an unknown character: below every piece, as SentencePiece's min score − 10. */
  private readonly unknownScore: number;

  constructor(
    readonly vocabulary: Vocabulary,
    readonly reserved = DEFAULT_RESERVED,
  ) {
    checkVocabulary(vocabulary, reserved);
    this.scores = Float64Array.from(vocabulary, (p) => p[1] ?? 0);
    let min = 0;
    for (let id = reserved; id < vocabulary.length; id++) {
      const [piece] = vocabulary[id]!;
      min = Math.min(min, this.scores[id]!);
      let node = this.root;
      for (let k = 0; k < piece.length; k++) {
        const c = piece.charCodeAt(k);
        let child = node.next.get(c);
        if (!child) node.next.set(c, (child = { next: new Map(), id: -1 }));
        node = child;
      }
      if (node.id < 0) node.id = id; // a duplicated piece keeps its first (most probable) id
    }
    this.unknownScore = min - 10;
  }

  /** Parses vocab.json's text (or an already parsed value); a file that is not a list of [piece, score] is a VocabularyError. */
  static fromJson(json: string | unknown, source = 'vocabulary', reserved = DEFAULT_RESERVED): SentencePieceTokenizer {
    let value: unknown = json;
    if (typeof json === 'string') {
      try {
        value = JSON.parse(json);
      } catch (e) {
        throw new VocabularyError(`${source} is not JSON (${(e as Error).message}); expected a list of [piece, score] pairs such as vocab.json`);
      }
    }
    return new SentencePieceTokenizer(value as Vocabulary, reserved);
  }

  get size(): number {
    return this.vocabulary.length;
  }

  /** The text as the model sees it before segmentation. Empty text stays empty (and gives no ids). */
  static normalize(text: string): string {
    const n = text.normalize('NFKC');
    return n.length > 0 ? WORD_BOUNDARY + n.replaceAll(' ', WORD_BOUNDARY) : n;
  }

  /** Ids of the best segmentation (see the file comment). Empty text gives []. */
  encode(text: string): number[] {
    if (typeof text !== 'string') throw new TextInputError(`text to encode must be a string, got ${text === null ? 'null' : typeof text}`);
    const s = SentencePieceTokenizer.normalize(text);
    const n = s.length;
    // best[e]: the highest total score of a segmentation of s[0, e); last[e]: the id of its final piece.
    const best = new Float64Array(n + 1).fill(-Infinity);
    const last = new Int32Array(n + 1).fill(-1);
    const length = new Int32Array(n + 1);
    best[0] = 0;
    for (let start = 0; start < n; start++) {
      if (best[start] === -Infinity) continue;
      let node: TrieNode | undefined = this.root;
      let coveredOne = false;
      for (let end = start; end < n; end++) {
        node = node.next.get(s.charCodeAt(end));
        if (!node) break;
        if (node.id < 0) continue;
        if (end === start) coveredOne = true;
        this.relax(best, last, length, start, end + 1, node.id, this.scores[node.id]!);
      }
      // Only a character no single piece starts with gets the unknown edge (so unknowns never beat real pieces).
      if (!coveredOne) this.relax(best, last, length, start, start + 1, UNKNOWN_ID, this.unknownScore);
    }
    const ids: number[] = [];
    for (let end = n; end > 0; end -= length[end]!) {
      const id = last[end]!;
      if (!(id === UNKNOWN_ID && ids.at(-1) === UNKNOWN_ID)) ids.push(id);
    }
    return ids.reverse();
  }

  /** Ties keep the later candidate (shorter final piece), as the TF.js tokenizer's `>=` does. */
  private relax(best: Float64Array, last: Int32Array, length: Int32Array, start: number, end: number, id: number, score: number): void {
    const total = best[start]! + score;
    if (total >= best[end]!) {
      best[end] = total;
      last[end] = id;
      length[end] = end - start;
    }
  }
}

function checkVocabulary(vocabulary: unknown, reserved: number): asserts vocabulary is Vocabulary {
  const hint = 'expected a JSON list of [piece, score] pairs (SentencePiece pieces with their log-probabilities), such as vocab.json';
  if (!Array.isArray(vocabulary)) throw new VocabularyError(`vocabulary is ${vocabulary === null ? 'null' : typeof vocabulary}, not a list; ${hint}`);
  if (!Number.isSafeInteger(reserved) || reserved < 1) throw new VocabularyError(`reserved ids must be a positive integer, got ${reserved}`);
  if (vocabulary.length <= reserved) throw new VocabularyError(`vocabulary has ${vocabulary.length} entries, no more than its ${reserved} reserved ids; ${hint}`);
  for (let i = 0; i < vocabulary.length; i++) {
    const p: unknown = vocabulary[i];
    if (!Array.isArray(p) || p.length < 2 || typeof p[0] !== 'string' || !(p[1] === null || (typeof p[1] === 'number' && Number.isFinite(p[1])))) {
      throw new VocabularyError(`vocabulary entry ${i} is ${JSON.stringify(p)?.slice(0, 60)}, not [piece, score]; ${hint}`);
    }
    if (i >= reserved && p[0] === '') throw new VocabularyError(`vocabulary entry ${i} is an empty piece; ${hint}`);
  }
}
