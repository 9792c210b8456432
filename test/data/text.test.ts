/**
 * sts: and text: data sets on the real STS-B files and USE-lite: batch layout (every pair's first sentence, then
 * every second one), slices, and the whole path — tokenizer, sparse batch, onnxruntime, Pearson/Spearman — giving
 * the reference figures of ../shared/data/MANIFEST.md on all 1,500 dev pairs.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDataset } from '../../compiler/data/spec.js';
import { loadVocabulary, readStsFile } from '../../compiler/data/text.js';
import { evaluateSentenceEncoder, pearson, spearman } from '../../compiler/evaluate-text.js';
import { importOnnx } from '../../compiler/import/onnx.js';
import { engines } from '../../runtime/node.js';
import { readFileSync } from 'node:fs';
import { scratchDir, SHARED } from './helpers.js';

const USE = join(SHARED, 'models/use-lite/use_lite.onnx');
const DEV = join(SHARED, 'text/stsbenchmark/sts-dev.csv');
const TRAIN = join(SHARED, 'text/stsbenchmark/sts-train.csv');
const inputs = importOnnx(new Uint8Array(readFileSync(USE)), 'use_lite.onnx').inputs;

describe('sts: and text: data', () => {
  const scratch = scratchDir();
  afterAll(() => scratch.cleanup());

  it('reads columns 5–7 of every STS line, also the lines with two extra source columns', async () => {
    const train = await readStsFile(TRAIN);
    expect(train).toHaveLength(5749);
    expect((await readStsFile(DEV)).length).toBe(1500);
    expect(train.every((p) => p.score >= 0 && p.score <= 5 && p.first.length > 0 && p.second.length > 0)).toBe(true);
  });

  it('batches b pairs as 2b sentences (firsts, then seconds) with their gold scores', async () => {
    const tokenizer = await loadVocabulary(undefined, [USE]);
    const data = await openDataset(`sts:${DEV}`, { layout: [], inputs, tokenizer, offset: 10, limit: 5 });
    expect([data.size, data.total, data.text]).toEqual([5, 1500, 'pairs']);
    const batches = [];
    for await (const b of data.batches(3)) batches.push(b);
    expect(batches.map((b) => b.scores!.length)).toEqual([3, 2]);
    const pairs = (await readStsFile(DEV)).slice(10, 13);
    const idx = batches[0]!.feeds!.indices!.data as BigInt64Array;
    const values = Array.from(batches[0]!.feeds!.values!.data as BigInt64Array, Number);
    const sentence = (k: number) => values.filter((_, r) => idx[2 * r] === BigInt(k));
    expect(sentence(0)).toEqual(tokenizer.encode(pairs[0]!.first));
    expect(sentence(3)).toEqual(tokenizer.encode(pairs[0]!.second));
    expect(sentence(5)).toEqual(tokenizer.encode(pairs[2]!.second));
    expect(Array.from(batches[0]!.scores!)).toEqual(pairs.map((p) => Math.fround(p.score)));
  });

  it('text: one sentence a line, blank lines skipped; a non-encoder model is refused with what text needs', async () => {
    const file = join(scratch.dir, 's.txt');
    writeFileSync(file, 'first\n\n  \nsecond\r\nthird');
    const tokenizer = await loadVocabulary(undefined, [USE]);
    const data = await openDataset(`text:${file}`, { layout: [], inputs, tokenizer });
    expect([data.size, data.text]).toEqual([3, 'sentences']);
    await expect(openDataset(`text:${file}`, { layout: [1, 784], inputs: [{ name: 'x', shape: [1, 784], dataType: 1 }], tokenizer })).rejects.toThrow(/sparse batch/);
    await expect(openDataset(`text:${file}`, { layout: [], inputs, tokenizer, mean: [0.5] })).rejects.toThrow(/--mean does not apply to text:/);
  });

  it('Pearson and Spearman (average ranks for ties) on known values', () => {
    expect(pearson([1, 2, 3, 4], [2, 4, 6, 8])).toBeCloseTo(1, 12);
    expect(pearson([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 12);
    // scipy.stats.spearmanr([1, 2, 2, 3], [1, 3, 2, 4]) = 0.9486832980505138
    expect(spearman([1, 2, 2, 3], [1, 3, 2, 4])).toBeCloseTo(0.9486832980505138, 12);
  });

  it('the original USE-lite on all 1,500 dev pairs gives the reference Pearson 78.26 and Spearman 78.39', async () => {
    const tokenizer = await loadVocabulary(undefined, [USE]);
    const data = await openDataset(`sts:${DEV}`, { layout: [], inputs, tokenizer });
    const session = await engines.get('ort-node-cpu').create(new Uint8Array(readFileSync(USE)));
    try {
      const r = await evaluateSentenceEncoder(session, data, { batchSize: 100 });
      expect(r.embeddings).toHaveLength(3000);
      expect(r.pearson!).toBeCloseTo(78.26, 2);
      expect(r.spearman!).toBeCloseTo(78.39, 2);
    } finally {
      await session.release();
    }
  }, 180_000);
});
