/**
 * USE-lite (the shared data's transformer) compiled to an .lrm (plain SVD, tiers 50% and 100%) and run through
 * load() on every Node engine, on real text: the first 200 STS-B dev sentences (100 pairs, both sides), tokenised
 * with vocab.json and embedded in batches. At full rank each engine must agree with the ORIGINAL use_lite.onnx on
 * ort-node-cpu (cosine ≥ 0.9999 per sentence); at tier 0 (the 50% tier) with ort-node-cpu running the same tier,
 * i.e. the same weights.
 *
 * The WebGPU engines run on SwiftShader here (no GPU in CI) at about 1 s a sentence whatever the batch size (200
 * sentences: 78–140 s at batches of 50–100, 240 s in one batch of 200): compute-bound, so batching does not help,
 * and a session's first run spends ~7 s more compiling shaders. Loading at full rank also costs ~10 s an engine
 * (the dense layers multiplied out from their factors in JS), and compiling ~25 s, so to keep this file near a
 * minute and a half on a busy 2-core machine ort-node-webgpu checks the first 8 sentences at full rank by default,
 * and tfjs-webgpu (run on USE-lite by default in tfjs-use-lite.test.ts) only with LOWRANK_WEBGPU_ALL=1, which runs
 * all 200 at both tiers on both (~10 minutes).
 */
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { cosineSimilarity, load, type EngineId } from '../../runtime/node.js';
import { compiledUseLite, devSentences, embed, originalEmbeddings, USE_LITE_DIM, useLiteAvailable, worstCosine } from '../text/use-lite-fixture.js';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
// Dawn reads the driver list when it first starts in this process (each test file runs in its own fork).
if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER)) process.env.VK_ICD_FILENAMES = SWIFTSHADER;
const WEBGPU = existsSync(SWIFTSHADER);
const WEBGPU_ALL = process.env.LOWRANK_WEBGPU_ALL === '1';

const COUNT = 200;
const BOUND = 0.9999;

interface Case {
  engine: EngineId;
  /** Sentences checked (the first ones of the 200). */
  count: number;
  batchSize: number;
  /** Tier counts checked: undefined is all tiers (full rank), 1 is tier 0 only (50%). */
  tiers: Array<number | undefined>;
}
const PLAN: Case[] = [
  // The .lrm at full rank on ort-node-cpu itself; its tier 0 is the reference for the others.
  { engine: 'ort-node-cpu', count: COUNT, batchSize: 50, tiers: [undefined] },
  { engine: 'ort-wasm', count: COUNT, batchSize: 50, tiers: [undefined, 1] },
  { engine: 'tfjs-wasm', count: COUNT, batchSize: 50, tiers: [undefined, 1] },
  ...(WEBGPU
    ? [
        { engine: 'ort-node-webgpu' as const, count: WEBGPU_ALL ? COUNT : 8, batchSize: WEBGPU_ALL ? 100 : 8, tiers: WEBGPU_ALL ? [undefined, 1] : [undefined] },
        ...(WEBGPU_ALL ? [{ engine: 'tfjs-webgpu' as const, count: COUNT, batchSize: 100, tiers: [undefined, 1] }] : []),
      ]
    : []),
];
const CASES = PLAN.map((c) => ({
  ...c,
  checks: c.tiers.map((t) => (t === undefined ? 'full rank' : 'tier 0')).join(' and '),
}));

describe.runIf(useLiteAvailable)('USE-lite .lrm on every Node engine vs ort-node-cpu, on 200 STS-B dev sentences', () => {
  let lrm: Uint8Array;
  let sentences: string[];
  /** The original use_lite.onnx on ort-node-cpu. */
  let original: Float32Array[];
  /** The .lrm at tier 0 on ort-node-cpu. */
  let tier0: Float32Array[];

  beforeAll(async () => {
    lrm = (await compiledUseLite()).lrm;
    sentences = await devSentences(COUNT);
    original = await originalEmbeddings(COUNT);
    const cpu = await load(lrm, { engine: 'ort-node-cpu', tiers: 1 });
    tier0 = await embed(cpu, sentences);
    await cpu.release();
  });

  it('the embeddings are real: 512-d, unit length, and the 50% tier differs from the original (so tier 0 is a real check)', () => {
    expect(original).toHaveLength(COUNT);
    for (const e of original) {
      expect(e).toHaveLength(USE_LITE_DIM);
      expect(Math.hypot(...e)).toBeCloseTo(1, 4);
    }
    // Paraphrase pairs sit closer than unrelated sentences: pair 0 (both sides) vs sentence 0 and a sentence of pair 50.
    expect(cosineSimilarity(original[0]!, original[1]!)).toBeGreaterThan(cosineSimilarity(original[0]!, original[101]!));
    // Plain SVD at 50% moves some sentences far (worst cosine ~0.37 here): fine for this check, which needs only
    // that tier 0 is not the full-rank model in disguise.
    const drift = worstCosine(original, tier0);
    const mean = original.reduce((s, e, i) => s + cosineSimilarity(e, tier0[i]!), 0) / COUNT;
    console.log(`tier 0 (50%) vs the original on ort-node-cpu: worst cosine ${drift.cosine.toFixed(4)} (sentence ${drift.index}), mean ${mean.toFixed(4)}`);
    expect(drift.cosine).toBeLessThan(0.99999);
  });

  // Full rank is compared with the original model, tier 0 with ort-node-cpu at tier 0.
  it.each(CASES)('$engine: per-sentence cosine ≥ 0.9999 on $count sentences at $checks', async (c) => {
    for (const tiers of c.tiers) {
      const label = `${c.engine} ${tiers === undefined ? 'full rank' : 'tier 0'}`;
      const start = performance.now();
      const session = await load(lrm, { engine: c.engine, tiers });
      const loaded = performance.now();
      try {
        expect(session.engine, label).toBe(c.engine);
        expect(session.fallbacks, label).toEqual([]);
        expect(session.tiers, label).toBe(tiers ?? 2);
        const got = await embed(session, sentences.slice(0, c.count), c.batchSize);
        const want = (tiers === undefined ? original : tier0).slice(0, c.count);
        const worst = worstCosine(want, got);
        const seconds = (t: number) => ((t / 1000).toFixed(1));
        console.log(`${label}: ${c.count} sentences (batches of ${c.batchSize}), worst cosine ${worst.cosine.toFixed(9)} (sentence ${worst.index}); load ${seconds(loaded - start)} s, embed ${seconds(performance.now() - loaded)} s`);
        expect(worst.cosine, `${label}, sentence ${worst.index}: "${sentences[worst.index]}"`).toBeGreaterThanOrEqual(BOUND);
      } finally {
        await session.release();
      }
    }
  }, 900_000);
});
