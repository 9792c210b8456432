/**
 * The CLI on the real transformer (USE-lite) with text data: compile calibrated on STS-B train pairs, eval on dev
 * pairs (Pearson/Spearman per tier, mean cosine to the original), run --text, and the bad-input paths.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readHeader } from '../../formats/read.js';
import { feedBatches, openDataset } from '../../compiler/data/spec.js';
import { loadVocabulary } from '../../compiler/data/text.js';
import { measureFidelity } from '../../compiler/tune/fidelity.js';
import { cli, cliJson, cliOk, DATA, MODELS } from './helpers.js';

const USE = join(MODELS, 'use-lite/use_lite.onnx');
const VOCAB = join(MODELS, 'use-lite/vocab.json');
const STS = join(DATA, 'text/stsbenchmark');

interface Quality {
  pearson: number;
  spearman: number;
  params: number;
  bytes: number;
}
interface TextEval {
  engine: string;
  samples: number;
  reference: Quality;
  tiers: Array<Quality & { tier: number; meanCosine: number }>;
}

describe('lowrank on USE-lite with sts: and text: data', () => {
  let dir: string;
  let lrm: string;
  let compileOutput: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lowrank-text-cli-'));
    lrm = join(dir, 'use.lrm');
    // 48 train pairs (96 sentences) keep this fast; the bench calibrates on 256.
    compileOutput = cliOk('compile', USE, '-o', lrm, '--calib', `sts:${join(STS, 'sts-train.csv')}`, '--calib-limit', '48', '--sensitivity-limit', '16', '--tiers', '0.5,1').stdout;
  });

  it('compile ranks layers by what the embeddings\' users compare: their pairwise cosines', () => {
    expect(compileOutput).toMatch(/ranks ordered by measured sensitivity \(pairwise cosines of the embeddings\)/);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('eval --data sts: reports Pearson and Spearman ×100 for the original and every tier, and the mean cosine to the original', () => {
    const r = cliJson<TextEval>('eval', lrm, '--data', `sts:${join(STS, 'sts-dev.csv')}`, '--limit', '150', '--reference', USE, '--all-tiers', '--json');
    expect(r.samples).toBe(150);
    expect(r.reference.pearson).toBeGreaterThan(70);
    expect(r.reference.spearman).toBeGreaterThan(70);
    expect(r.tiers.map((t) => t.tier)).toEqual([0, 1]);
    const [half, full] = r.tiers;
    // The full tier is the original's weights: the same embeddings, the same correlations.
    expect(full!.meanCosine).toBeGreaterThan(0.99999);
    expect(Math.abs(full!.pearson - r.reference.pearson)).toBeLessThan(0.01);
    // Half the MatMul parameters: smaller and measurably different, but still a sentence encoder.
    expect(half!.params).toBeLessThan(full!.params);
    expect(half!.bytes).toBeLessThan(full!.bytes);
    expect(half!.meanCosine).toBeLessThan(0.9999);
    expect(half!.pearson).toBeGreaterThan(r.reference.pearson - 15);
  });

  it('eval --data text: (unlabelled sentences) reports only the mean cosine, and prints a table without --json', () => {
    const file = join(dir, 'sentences.txt');
    writeFileSync(file, 'A man is playing a flute.\n\nThe cat sat on the mat.\nWhere is the nearest station?\n');
    const r = cliOk('eval', lrm, '--data', `text:${file}`, '--reference', USE, '--all-tiers', '--vocab', VOCAB);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/3 samples/); // the blank line is skipped
    expect(lines[1]).toMatch(/^model\s+params\s+bytes\s+cosine\s+p50 ms$/);
    expect(lines[3]).toMatch(/^tier 0 /);
    expect(lines[4]).toMatch(/^tier 1 .* 1\.00000 /);
  });

  it('run --text prints the embedding\'s first values and its norm (the model L2-normalises it)', () => {
    copyFileSync(VOCAB, join(dir, 'vocab.json')); // found beside the .lrm
    const r = cliOk('run', lrm, '--text', 'A man is playing a flute.');
    expect(r.stdout).toMatch(/^embedding \[1,512\] float32: (-?\d\.\d+(e-\d+)?, ){8}…  \(norm 1\.0000\)$/m);
    const j = cliJson<{ outputs: { embedding: { dims: number[]; norm: number; values: number[] } } }>('run', lrm, '--text', '☃☃☃', '--json', '--tier', '0');
    expect(j.outputs.embedding.dims).toEqual([1, 512]); // only unknown characters: one unknown token, still an embedding
    expect(j.outputs.embedding.norm).toBeCloseTo(1, 4);
  });

  it('tune\'s fidelity on sts: data is the mean cosine to the last tier (an embedding\'s arg-max is no class)', async () => {
    const bytes = new Uint8Array(readFileSync(lrm));
    const { header } = await readHeader(bytes, { fileName: lrm, totalLength: bytes.length });
    const spec = `sts:${join(STS, 'sts-dev.csv')}`;
    const dataset = await openDataset(spec, { layout: [], inputs: header.graph.inputs, limit: 16, tokenizer: await loadVocabulary(VOCAB, []) });
    const batches = () => feedBatches(dataset, header.graph.inputs, 8);
    const cosine = (await measureFidelity(bytes, header, 'ort-node-cpu', [1], batches, { metric: 'cosine' })).get(1)!;
    // The full tier is the original, so this is eval's mean cosine on the same 16 pairs (32 sentences).
    const evaluated = cliJson<TextEval>('eval', lrm, '--data', spec, '--limit', '16', '--reference', USE, '--tier', '0', '--json');
    expect(cosine).toBeCloseTo(evaluated.tiers[0]!.meanCosine, 4);
    expect(cosine).toBeLessThan(0.9999);
  });

  it('bad input: empty text, no vocabulary, a short CSV line, a vocabulary that is not [piece, score] pairs: one line each', () => {
    const oneLine = (args: string[], pattern: RegExp) => {
      const r = cli(...args);
      expect(r.status).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
    };
    oneLine(['run', lrm, '--text', '', '--vocab', VOCAB], /--text is empty/);
    oneLine(['eval', USE, '--data', `sts:${join(STS, 'sts-dev.csv')}`, '--vocab', join(dir, 'missing.json')], /vocabulary file not found/);
    const short = join(dir, 'short.csv');
    writeFileSync(short, 'main-captions\tMSRvid\t2012test\t0000\t5.000\tA man.\tA man.\nmain-captions\tMSRvid\t2012test\t0001\t3.8\tonly one sentence\n');
    oneLine(['eval', USE, '--data', `sts:${short}`], /short\.csv:2: 6 TAB-separated column\(s\), expected at least 7/);
    const blank = join(dir, 'blank.csv');
    writeFileSync(blank, 'main-captions\tMSRvid\t2012test\t0000\t5.000\tA man.\tA man.\nmain-captions\tMSRvid\t2012test\t0001\t3.8\tA woman.\t\n');
    oneLine(['eval', USE, '--data', `sts:${blank}`, '--vocab', VOCAB], /blank\.csv: pair 1, sentence 2 is empty/);
    const badVocab = join(dir, 'bad-vocab.json');
    writeFileSync(badVocab, JSON.stringify({ pieces: ['a'] }));
    oneLine(['eval', USE, '--data', `sts:${short}`, '--vocab', badVocab], /bad-vocab\.json: vocabulary is object, not a list/);
    oneLine(['eval', join(MODELS, 'mnist-8.onnx'), '--data', `sts:${join(STS, 'sts-dev.csv')}`, '--vocab', VOCAB], /sentence encoders that take a sparse batch/);
  });
});
