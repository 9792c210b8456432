/** Text for sentence encoders: tokeniser, sparse batches, embeddings and similarity. No engine, no compiler. */
export { SentencePieceTokenizer, WORD_BOUNDARY, DEFAULT_RESERVED, UNKNOWN_ID, type Vocabulary } from './sentencepiece.js';
export { encodeSentences, sparseBatch, SPARSE_INPUT_NAMES, type SparseInputNames } from './sparse-batch.js';
export { embedSentences, cosineSimilarity, rankBySimilarity, type EmbedOptions, type EmbeddingRunner } from './embed.js';
