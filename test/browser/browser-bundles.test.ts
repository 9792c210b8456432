/**
 * The browser bundles in headless Chromium (Debian's, WebGPU on SwiftShader where there is no GPU): an .lrm compiled
 * here from mnist-cnn-pytorch, served over HTTP, run on real MNIST digits on ort-wasm, ort-webgpu, tfjs-wasm and
 * tfjs-webgpu, and compared with ort-node-cpu in Node (also with a LoRA and a LoKr adapter loaded from .lra files); MobileNet and two detectors (YOLO-FastestV2, UltraFace) on real photos on
 * ort-webgpu; USE-lite (a transformer) on real text, tokenised in the page, against the original model. Every test
 * asserts which engine ran, so a silent fallback to WASM fails.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomAdapter, type TargetShape } from '../../bench/adapter-switch.js';
import { compileOnnx } from '../../compiler/compile.js';
import { argmax } from '../../compiler/evaluate.js';
import { adapterBaseOf } from '../../formats/adapter-base.js';
import { writeAdapter } from '../../formats/adapter-write.js';
import { readLrm } from '../../formats/read.js';
import { load, type Feeds } from '../../runtime/node.js';
import { compiledUseLite, devSentences, originalEmbeddings, USE_LITE_VOCAB, useLiteAvailable, useLiteTokenizer, worstCosine } from '../text/use-lite-fixture.js';
import { maxRelativeError } from '../e2e/compare.js';
import { bindInput, mnistDigits, MODELS, REAL_MODELS } from '../e2e/real-inputs.js';
import { canRunChromium, launchChromium } from '../../tools/chromium.js';
import { packFeeds } from '../../bench/soak-browser.js';
import { openBundlePage, startPageServer, type PageServer } from '../../tools/bundle-page.js';

// All 10,000 MNIST test digits on WASM. SwiftShader runs WebGPU on the CPU, ~65 ms a digit here: 50 digits there (at two tiers).
const ALL_DIGITS = 10_000;
const WEBGPU_DIGITS = 50;
// tfjs-wasm takes ~0.3 ms a digit here (all of them), tfjs-webgpu on SwiftShader 60-140 ms.
const TFJS_WEBGPU_DIGITS = 50;
const TFJS_WASM_DIGITS = ALL_DIGITS;
const BATCH = 100;
const CLASSES = 10;
// USE-lite sentences per WebGPU engine by default (SwiftShader: about a second a sentence; all 200 with LOWRANK_WEBGPU_ALL=1).
const USE_LITE_WEBGPU_COUNT = 8;

interface PageEvent {
  type: 'fallback' | 'warning';
  engine: string;
  next?: string;
  code?: string;
  reason?: string;
  message?: string;
}
interface PageResult {
  loadedOn: string;
  engine: string;
  /** session.precision, and whether the page's GPU adapter has shader-f16. */
  precision: 'fp16' | 'fp32';
  shaderF16: boolean;
  /** session.fallbacks and session.warnings, as the page saw them. */
  fallbacks: Array<Omit<PageEvent, 'type'>>;
  warnings: Array<Omit<PageEvent, 'type'>>;
  /** onFallback and onWarning calls, in order. */
  events: PageEvent[];
  /** count × 10 scores, flat. */
  outputs: number[];
  msPerDigit: number;
  crossOriginIsolated: boolean;
}
/**
 * The .lrm files served: mnist-cnn-pytorch with fp32 factors, with fp16 factors (widened to fp32 at load), and with
 * every weight int4 (dequantised in the page by the bundle's formats/int4.ts).
 */
type ModelFile = 'model.lrm' | 'model-fp16.lrm' | 'model-int4.lrm';
/** Which file at which tier count (undefined: all tiers). */
interface Variant {
  model?: ModelFile;
  tiers?: number;
}
/** Larger models on ort-webgpu, besides mnist-cnn: a few real photos each (SwiftShader takes seconds per photo). */
// One photo each: on SwiftShader MobileNet takes ~8 s a photo, and three photos at two tiers were 55 s of the suite.
/**
 * Tiers: all (full rank) and tier 2 (factored). The detectors run only factored on SwiftShader (a CPU), where each
 * run takes seconds; their full-rank graphs are the original's, which MobileNet's full tier covers op by op.
 */
const PHOTO_MODELS: Array<{ file: string; count: number; tiers: Array<number | undefined> }> = [
  { file: 'mobilenet_v1_075_224.onnx', count: 1, tiers: [undefined, 2] },
  { file: 'yolo-fastestv2-coco-352.onnx', count: 1, tiers: [2] },
  // Its Slice nodes end at INT64_MAX ("to the end"): catches int64 attributes that lose precision in the bundle.
  { file: 'ultraface-RFB-320.onnx', count: 1, tiers: [2] },
];
/** ort-node-cpu's outputs for one photo model at one tier: per input, per output name. */
type PhotoReference = Array<Record<string, Float32Array>>;
interface FeedsResult {
  engine: string;
  fallbacks: unknown[];
  outputs: Array<Record<string, { dims: number[]; data: number[] }>>;
}
interface RunRequest {
  entry: 'wasm' | 'webgpu' | 'tfjs';
  model?: ModelFile;
  options?: { engine?: string; tiers?: number; precision?: 'auto' | 'fp32' | 'fp16' };
  count: number;
  batch?: number;
  /** Destroy the GPU device before this batch. */
  loseDeviceAt?: number;
}

describe.runIf(canRunChromium)('browser bundles in headless Chromium', () => {
  let dir: string;
  let server: PageServer;
  let browser: Browser;
  /** ort-node-cpu's scores on every digit, per variant. */
  const reference = new Map<string, Float32Array>();
  const variantKey = (v: Variant) => `${v.model ?? 'model.lrm'}@${v.tiers ?? 'all'}`;
  /** ort-node-cpu's outputs on the photo models, by `${file}@${tiers}`. */
  const photoReference = new Map<string, PhotoReference>();
  const photoDims = new Map<string, readonly number[]>();

  async function runOnCpu(lrm: Uint8Array, feeds: Feeds[], tiers?: number): Promise<PhotoReference> {
    const cpu = await load(lrm, { engine: 'ort-node-cpu', tiers });
    const out: PhotoReference = [];
    for (const f of feeds) out.push(Object.fromEntries(Object.entries(await cpu.run(f)).map(([name, t]) => [name, t.data as Float32Array])));
    await cpu.release();
    return out;
  }

  beforeAll(async () => {
    // The page loads dist/browser, built from the sources under test before any file runs (test/build-once.ts).
    const onnx = new Uint8Array(readFileSync(join(MODELS, 'mnist-cnn-pytorch.onnx')));
    const files: Record<ModelFile, Uint8Array> = {
      'model.lrm': (await compileOnnx(onnx)).lrm,
      'model-fp16.lrm': (await compileOnnx(onnx, { dtype: 'fp16' })).lrm,
      'model-int4.lrm': (await compileOnnx(onnx, { dtype: 'int4' })).lrm,
    };
    dir = mkdtempSync(join(tmpdir(), 'lowrank-browser-'));
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
    const digits = new Float32Array(ALL_DIGITS * 784);
    (await mnistDigits(ALL_DIGITS, false, (v) => (v / 255 - 0.5) / 0.5)).forEach((f, i) => digits.set(f.x.data as Float32Array, i * 784));
    writeFileSync(join(dir, 'digits.f32'), digits);
    const variants: Variant[] = [{}, { tiers: 2 }, { model: 'model-fp16.lrm' }, { model: 'model-int4.lrm' }];
    for (const v of variants) {
      const cpu = await load(files[v.model ?? 'model.lrm'], { engine: 'ort-node-cpu', tiers: v.tiers });
      const scores = new Float32Array(ALL_DIGITS * CLASSES);
      for (let first = 0; first < ALL_DIGITS; first += 1000) {
        const x = { dataType: 'float32' as const, dims: [1000, 1, 28, 28], data: digits.subarray(first * 784, (first + 1000) * 784) };
        scores.set((await cpu.run({ [cpu.inputs[0].name]: x }))[cpu.outputs[0].name].data as Float32Array, first * CLASSES);
      }
      reference.set(variantKey(v), scores);
      await cpu.release();
    }
    for (const { file, count, tiers: photoTiers } of PHOTO_MODELS) {
      const model = REAL_MODELS.find((m) => m.file === file)!;
      const { lrm, header } = await compileOnnx(new Uint8Array(readFileSync(join(MODELS, file))), { fileName: file, minParams: model.minParams });
      const feeds = bindInput((await model.inputs()).slice(0, count), header.graph.inputs[0].name);
      const { bytes, dims } = packFeeds(feeds);
      photoDims.set(file, dims);
      writeFileSync(join(dir, `${file}.lrm`), lrm);
      writeFileSync(join(dir, `${file}.input.f32`), bytes);
      for (const tiers of photoTiers) photoReference.set(`${file}@${tiers ?? 'all'}`, await runOnCpu(lrm, feeds, tiers));
    }
    server = await startPageServer(dir);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const openPage = (url = server.url, initScript?: () => void): Promise<Page> => openBundlePage(browser, url, initScript);

  async function runDigits(page: Page, request: RunRequest): Promise<PageResult> {
    const args = { entry: request.entry, model: request.model ?? 'model.lrm', options: request.options ?? {}, count: request.count, batch: request.batch ?? BATCH, loseDeviceAt: request.loseDeviceAt };
    return page.evaluate((a) => (window as unknown as { runDigits: (x: typeof a) => Promise<PageResult> }).runDigits(a), args);
  }

  /**
   * Same top-1 as ort-node-cpu on >= 99.5% of the digits, and max relative error <= 1e-3. Both run the same file, so
   * the bound holds for fp16 factors too: they are widened to the same fp32 weights before any engine sees them.
   */
  function expectAgreement(label: string, result: PageResult, count: number, variant: Variant = {}): void {
    expect(result.outputs).toHaveLength(count * CLASSES);
    const want = reference.get(variantKey(variant))!;
    let same = 0;
    let worst = 0;
    for (let i = 0; i < count; i++) {
      const [a, b] = [want.subarray(i * CLASSES, (i + 1) * CLASSES), result.outputs.slice(i * CLASSES, (i + 1) * CLASSES)];
      if (argmax(a) === argmax(b)) same++;
      worst = Math.max(worst, maxRelativeError(a, b));
    }
    console.log(`${label}: ${same}/${count} same top-1, max relative error ${worst.toExponential(2)}, ${result.msPerDigit.toFixed(2)} ms/digit`);
    expect(same / count, label).toBeGreaterThanOrEqual(0.995);
    expect(worst, label).toBeLessThanOrEqual(1e-3);
  }

  /** Float16 moves scores by more than expectAgreement's 1e-3, not the class: same top-1 on >= 99.5% of the digits. */
  function expectSameTop1(label: string, result: PageResult, count: number, variant: Variant = {}): void {
    const want = reference.get(variantKey(variant))!;
    let same = 0;
    for (let i = 0; i < count; i++) if (argmax(want.subarray(i * CLASSES, (i + 1) * CLASSES)) === argmax(result.outputs.slice(i * CLASSES, (i + 1) * CLASSES))) same++;
    console.log(`${label}: ${same}/${count} same top-1`);
    expect(result.outputs).toHaveLength(count * CLASSES);
    expect(same / count, label).toBeGreaterThanOrEqual(0.995);
  }

  it('lowrank-edge/wasm runs on ort-wasm, agrees with ort-node-cpu, and warns that it runs on one thread without COOP/COEP', async () => {
    const page = await openPage();
    for (const tiers of [undefined, 2]) {
      const result = await runDigits(page, { entry: 'wasm', options: { tiers }, count: ALL_DIGITS });
      expect(result.engine).toBe('ort-wasm');
      expect(result.crossOriginIsolated).toBe(false);
      expect(result.warnings).toEqual([expect.objectContaining({ engine: 'ort-wasm', code: 'wasm-single-thread', message: expect.stringMatching(/Cross-Origin-Opener-Policy.*Cross-Origin-Embedder-Policy/) })]);
      expect(result.events.filter((e) => e.type === 'warning')).toHaveLength(1);
      expectAgreement(`ort-wasm tiers=${tiers ?? 'all'}`, result, ALL_DIGITS, { tiers });
    }
    await page.context().close();
  });

  it('on a cross-origin isolated page ort-wasm runs without the one-thread warning', async () => {
    const page = await openPage(server.isolatedUrl);
    const result = await runDigits(page, { entry: 'wasm', count: 1000 });
    expect(result.crossOriginIsolated).toBe(true);
    expect(result.engine).toBe('ort-wasm');
    expect(result.warnings).toEqual([]);
    expectAgreement('ort-wasm isolated', result, 1000);
    await page.context().close();
  });

  it('lowrank-edge/webgpu runs on ort-webgpu (no fallback) and agrees with ort-node-cpu', async () => {
    const page = await openPage();
    for (const tiers of [undefined, 2]) {
      const result = await runDigits(page, { entry: 'webgpu', options: { tiers, precision: 'auto' }, count: WEBGPU_DIGITS });
      expect(result.events).toEqual([]);
      expect(result.fallbacks).toEqual([]);
      expect(result.engine).toBe('ort-webgpu');
      // precision 'auto': float16 only on an adapter with shader-f16 (SwiftShader has none: float32 here).
      expect(result.precision).toBe(result.shaderF16 ? 'fp16' : 'fp32');
      if (result.precision === 'fp32') expectAgreement(`ort-webgpu tiers=${tiers ?? 'all'}`, result, WEBGPU_DIGITS, { tiers });
      else expectSameTop1(`ort-webgpu fp16 tiers=${tiers ?? 'all'}`, result, WEBGPU_DIGITS, { tiers });
    }
    await page.context().close();
  }, 300_000);

  it("precision 'fp16' runs ort-webgpu in float16 where the adapter has shader-f16, and otherwise moves on to ort-wasm in float16", async () => {
    const page = await openPage();
    const result = await runDigits(page, { entry: 'webgpu', options: { precision: 'fp16' }, count: WEBGPU_DIGITS });
    expect(result.precision).toBe('fp16');
    if (result.shaderF16) expect(result.engine).toBe('ort-webgpu');
    else {
      expect(result.engine).toBe('ort-wasm');
      expect(result.fallbacks).toEqual([{ engine: 'ort-webgpu', next: 'ort-wasm', reason: expect.stringMatching(/shader-f16/) }]);
    }
    expectSameTop1(`${result.engine} fp16`, result, WEBGPU_DIGITS);
    await page.context().close();
  }, 300_000);

  it('lowrank-edge/webgpu runs MobileNet, YOLO-FastestV2 and UltraFace on real photos on ort-webgpu and agrees with ort-node-cpu', async () => {
    const page = await openPage();
    for (const { file, count, tiers: photoTiers } of PHOTO_MODELS) {
      for (const tiers of photoTiers) {
        const want = photoReference.get(`${file}@${tiers ?? 'all'}`)!;
        const dims = photoDims.get(file)!;
        const start = performance.now();
        const args = { entry: 'webgpu', model: `${file}.lrm`, options: { tiers }, inputs: `${file}.input.f32`, dims, count };
        const result = await page.evaluate((a) => (window as unknown as { runFeeds: (x: typeof a) => Promise<FeedsResult> }).runFeeds(a), args);
        expect(result.engine).toBe('ort-webgpu');
        expect(result.fallbacks).toEqual([]);
        let worst = 0;
        want.forEach((outputs, i) => {
          for (const [name, data] of Object.entries(outputs)) {
            expect(result.outputs[i][name].data).toHaveLength(data.length);
            worst = Math.max(worst, maxRelativeError(data, result.outputs[i][name].data));
          }
        });
        const label = `ort-webgpu ${file} tiers=${tiers ?? 'all'}`;
        console.log(`${label}: ${count} photos, max relative error ${worst.toExponential(2)}, ${((performance.now() - start) / 1000).toFixed(1)} s`);
        expect(worst, label).toBeLessThanOrEqual(1e-3);
      }
    }
    await page.context().close();
  }, 300_000);

  type Run = { entry: 'wasm' | 'webgpu' | 'tfjs'; engine: string; count: number };
  /** A quantised file on each engine of `runs`: same top-1 and outputs as on ort-node-cpu, with no fallback. */
  async function quantisedFileAgrees(model: ModelFile, label: string, runs: readonly Run[]): Promise<void> {
    const page = await openPage();
    for (const { entry, engine, count } of runs) {
      const result = await runDigits(page, { entry, model, options: { engine }, count });
      expect(result.engine).toBe(engine);
      expect(result.fallbacks).toEqual([]);
      expectAgreement(`${label} on ${result.engine}`, result, count, { model });
    }
    await page.context().close();
  }

  it('an .lrm with fp16 factors gives the same outputs as on ort-node-cpu, on every engine', () =>
    quantisedFileAgrees('model-fp16.lrm', 'fp16 factors', [
      { entry: 'wasm', engine: 'ort-wasm', count: 2000 },
      { entry: 'webgpu', engine: 'ort-webgpu', count: 30 },
      { entry: 'tfjs', engine: 'tfjs-wasm', count: 2000 },
      { entry: 'tfjs', engine: 'tfjs-webgpu', count: 30 },
    ]), 300_000);

  it('an .lrm with int4 weights (format v3) gives the same outputs as on ort-node-cpu, dequantised in the page', () =>
    quantisedFileAgrees('model-int4.lrm', 'int4 weights', [
      { entry: 'wasm', engine: 'ort-wasm', count: 500 },
      { entry: 'tfjs', engine: 'tfjs-wasm', count: 200 },
    ]), 300_000);

  it('without navigator.gpu, with no adapter, or when no device can be created, lowrank-edge/webgpu falls back to ort-wasm and says why', async () => {
    const cases: Array<[string, () => void, RegExp]> = [
      ['no navigator.gpu', () => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }), /no navigator\.gpu/],
      ['null adapter', () => Object.defineProperty((globalThis as any).GPU.prototype, 'requestAdapter', { value: async () => null }), /returned no adapter/],
      [
        'no device',
        () => Object.defineProperty((globalThis as any).GPUAdapter.prototype, 'requestDevice', { value: async () => { throw new Error('simulated: no device'); } }),
        /could not create a GPU device \(simulated: no device\)/,
      ],
    ];
    for (const [label, initScript, reason] of cases) {
      const page = await openPage(server.url, initScript);
      const result = await runDigits(page, { entry: 'webgpu', count: 1000 });
      expect(result.engine, label).toBe('ort-wasm');
      expect(result.fallbacks).toEqual([{ engine: 'ort-webgpu', next: 'ort-wasm', reason: expect.stringMatching(reason) }]);
      expect(result.events.filter((e) => e.type === 'fallback')).toEqual(result.fallbacks.map((f) => ({ type: 'fallback', ...f })));
      expectAgreement(`fallback (${label})`, result, 1000);
      await page.context().close();
    }
  });

  it('a GPU device lost during a run: that run is retried on ort-wasm and completes, and later runs stay there', async () => {
    const page = await openPage();
    const result = await runDigits(page, { entry: 'webgpu', count: 30, batch: 5, loseDeviceAt: 2 });
    expect(result.loadedOn).toBe('ort-webgpu');
    expect(result.engine).toBe('ort-wasm');
    expect(result.fallbacks).toEqual([{ engine: 'ort-webgpu', next: 'ort-wasm', reason: expect.stringMatching(/lost its GPU device/) }]);
    expect(result.events.filter((e) => e.type === 'fallback')).toHaveLength(1);
    expectAgreement('device lost before batch 2', result, 30);
    await page.context().close();
  }, 300_000);

  it('lowrank-edge/tfjs runs on tfjs-webgpu (no fallback) and agrees with ort-node-cpu', async () => {
    const page = await openPage();
    for (const tiers of [undefined, 2]) {
      const result = await runDigits(page, { entry: 'tfjs', options: { tiers }, count: TFJS_WEBGPU_DIGITS });
      expect(result.events).toEqual([]);
      expect(result.fallbacks).toEqual([]);
      expect(result.engine).toBe('tfjs-webgpu');
      expectAgreement(`tfjs-webgpu tiers=${tiers ?? 'all'}`, result, TFJS_WEBGPU_DIGITS, { tiers });
    }
    await page.context().close();
  }, 300_000);

  it('lowrank-edge/tfjs runs on tfjs-wasm (its .wasm files found beside the bundle) and agrees with ort-node-cpu', async () => {
    const page = await openPage();
    for (const tiers of [undefined, 2]) {
      const result = await runDigits(page, { entry: 'tfjs', options: { engine: 'tfjs-wasm', tiers }, count: TFJS_WASM_DIGITS });
      expect(result.engine).toBe('tfjs-wasm');
      expect(result.fallbacks).toEqual([]);
      expectAgreement(`tfjs-wasm tiers=${tiers ?? 'all'}`, result, TFJS_WASM_DIGITS, { tiers });
    }
    await page.context().close();
  }, 300_000);

  it('without navigator.gpu, lowrank-edge/tfjs falls back to tfjs-wasm and says why', async () => {
    const page = await openPage(server.url, () => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
    const result = await runDigits(page, { entry: 'tfjs', count: 1000 });
    expect(result.engine).toBe('tfjs-wasm');
    expect(result.fallbacks).toEqual([{ engine: 'tfjs-webgpu', next: 'tfjs-wasm', reason: expect.stringMatching(/no WebGPU/) }]);
    expectAgreement('tfjs fallback (no navigator.gpu)', result, 1000);
    await page.context().close();
  });

  /**
   * USE-lite compiled here (plain SVD, tiers 50% and 100%) and loaded at full rank in the page, which fetches
   * vocab.json, tokenises the first 200 STS-B dev sentences with the bundle's SentencePieceTokenizer and embeds them
   * with its embedSentences; each embedding must match the ORIGINAL use_lite.onnx on ort-node-cpu (cosine ≥ 0.9999).
   * WebGPU on SwiftShader runs this model at about a second a sentence, so ort-webgpu and tfjs-webgpu embed the
   * first USE_LITE_WEBGPU_COUNT by default and all 200 with LOWRANK_WEBGPU_ALL=1.
   */
  describe.runIf(useLiteAvailable)('USE-lite on real text', () => {
    const COUNT = 200;
    const WEBGPU_COUNT = process.env.LOWRANK_WEBGPU_ALL === '1' ? COUNT : USE_LITE_WEBGPU_COUNT;
    let sentences: string[];
    let original: Float32Array[];
    interface EmbedResult {
      engine: string;
      fallbacks: unknown[];
      ids: number[][];
      embeddings: number[][];
      loadMs: number;
      embedMs: number;
    }

    beforeAll(async () => {
      writeFileSync(join(dir, 'use_lite.lrm'), (await compiledUseLite()).lrm);
      copyFileSync(USE_LITE_VOCAB, join(dir, 'vocab.json'));
      sentences = await devSentences(COUNT);
      original = await originalEmbeddings(COUNT);
    });

    async function embedInPage(page: Page, entry: 'wasm' | 'webgpu' | 'tfjs', engine: string, count: number, batchSize: number): Promise<EmbedResult> {
      const args = { entry, options: { engine }, sentences: sentences.slice(0, count), batchSize };
      return page.evaluate(async ({ entry, options, sentences, batchSize }) => {
        const lowrank = (window as any).lowrank[entry];
        const tokenizer = lowrank.SentencePieceTokenizer.fromJson(await (await fetch('/models/vocab.json')).text(), 'vocab.json');
        const start = performance.now();
        const session = await lowrank.load('/models/use_lite.lrm', options);
        const loaded = performance.now();
        try {
          const embeddings: Float32Array[] = await lowrank.embedSentences(session, tokenizer, sentences, { batchSize });
          return {
            engine: session.engine,
            fallbacks: [...session.fallbacks],
            ids: sentences.map((s: string) => tokenizer.encode(s)),
            embeddings: embeddings.map((e) => Array.from(e)),
            loadMs: loaded - start,
            embedMs: performance.now() - loaded,
          };
        } finally {
          await session.release();
        }
      }, args);
    }

    const runs = [
      { entry: 'wasm', engine: 'ort-wasm', count: COUNT, batchSize: 50 },
      { entry: 'tfjs', engine: 'tfjs-wasm', count: COUNT, batchSize: 50 },
      { entry: 'webgpu', engine: 'ort-webgpu', count: WEBGPU_COUNT, batchSize: 50 },
      { entry: 'tfjs', engine: 'tfjs-webgpu', count: WEBGPU_COUNT, batchSize: 50 },
    ] as const;
    it.each(runs)('$engine ($entry entry): $count sentences tokenised in the page, full rank, per-sentence cosine ≥ 0.9999 with the original on ort-node-cpu', async ({ entry, engine, count, batchSize }) => {
      const page = await openPage();
      try {
        const result = await embedInPage(page, entry, engine, count, batchSize);
        expect(result.engine).toBe(engine);
        expect(result.fallbacks).toEqual([]);
        expect(result.ids).toEqual(sentences.slice(0, count).map((s) => useLiteTokenizer().encode(s)));
        const worst = worstCosine(original.slice(0, count), result.embeddings.map((e) => Float32Array.from(e)));
        console.log(`USE-lite on ${engine} in Chromium: ${count} sentences, worst cosine ${worst.cosine.toFixed(9)} (sentence ${worst.index}); load ${(result.loadMs / 1000).toFixed(1)} s, embed ${(result.embedMs / 1000).toFixed(1)} s`);
        expect(worst.cosine, `${engine}, sentence ${worst.index}: "${sentences[worst.index]}"`).toBeGreaterThanOrEqual(0.9999);
      } finally {
        await page.context().close();
      }
    }, 600_000);
  });

  /**
   * Adapters (issue 17) in the page: a random LoRA (fc1, conv1, conv2) and LoKr (conv2, fc1) for model.lrm, served
   * as .lra files, loaded through each bundle with loadAdapter(bytes) and run on ADAPTER_DIGITS real digits at all
   * tier 1 (where fc1 and conv2 run factored: LoRA joins its factors, LoKr runs them dense) and, on the WASM engines,
   * also at all tiers (SwiftShader builds each WebGPU session slowly). Each output must match the same model and
   * adapter on ort-node-cpu in Node (which test/runtime/adapters.test.ts checks against the weights merged into a
   * dense ONNX model) within 1e-4 relative, and runs without an adapter stay what the base gave on that engine
   * before any adapter was loaded: bitwise, except on tfjs-webgpu, which is not bitwise repeatable even with no
   * adapter: fc1's MatMul (8 × 3136 · 3136 × 128, few output tiles and K ≥ 2000) takes tfjs-backend-webgpu's
   * MatMulSplitKProgram, which sums the K slices with atomicAdd in whatever order the workgroups finish (two runs of
   * the base alone differ by ~1e-7 relative there). There the base must stay within BASE_DRIFT instead.
   */
  describe('adapters (LoRA, LoKr) from .lra files', () => {
    const ADAPTER_DIGITS = 8;
    const ADAPTER_BOUND = 1e-4;
    /** tfjs-webgpu's run-to-run drift of the base (see above); an adapter leaking into it moves it by > 1e-3. */
    const BASE_DRIFT = 1e-5;
    const NAMES = ['lora', 'lokr'] as const;
    const TIERS = [undefined, 1] as const;
    /** ort-node-cpu's scores, by `${tiers}|${adapter name or 'base'}`. */
    const adapterReference = new Map<string, Float32Array>();
    interface AdapterResult {
      engine: string;
      fallbacks: unknown[];
      adapters: string[];
      before: number[];
      after: number[];
      with: Record<string, number[]>;
    }

    beforeAll(async () => {
      const lrm = new Uint8Array(readFileSync(join(dir, 'model.lrm')));
      const { header } = await readLrm(lrm);
      const target = (weight: string): TargetShape => {
        const layer = header.layers.find((l) => l.weight === weight)!;
        return { target: weight, rows: layer.rows, cols: layer.cols };
      };
      const [fc1, conv2, conv1] = [target('fc1.weight'), target('conv2.weight'), { target: 'conv1.weight', rows: 32, cols: 9 }];
      const { headerSha256 } = adapterBaseOf(lrm, 'model.lrm');
      const files = {
        lora: await writeAdapter(randomAdapter('lora', headerSha256, [fc1, conv1, conv2], { seed: 1, rank: 8, std: 0.05 })),
        lokr: await writeAdapter(randomAdapter('lokr', headerSha256, [conv2, fc1], { seed: 4, rank: 4, std: 0.1 })),
      };
      for (const name of NAMES) writeFileSync(join(dir, `${name}.lra`), files[name]);
      const data = new Float32Array(Uint8Array.from(readFileSync(join(dir, 'digits.f32')).subarray(0, ADAPTER_DIGITS * 784 * 4)).buffer);
      for (const tiers of TIERS) {
        const cpu = await load(lrm, { engine: 'ort-node-cpu', tiers });
        const feeds = { [cpu.inputs[0].name]: { dataType: 'float32' as const, dims: [ADAPTER_DIGITS, 1, 28, 28], data } };
        const scores = async (adapter?: string) => (await cpu.run(feeds, { adapter }))[cpu.outputs[0].name].data as Float32Array;
        adapterReference.set(`${tiers}|base`, await scores());
        for (const name of NAMES) {
          await cpu.loadAdapter(files[name], name);
          adapterReference.set(`${tiers}|${name}`, await scores(name));
        }
        await cpu.release();
      }
    });

    /** Loads model.lrm through `entry`, runs the digits without an adapter, loads both .lra files, runs with each and without. */
    function runAdapters(page: Page, entry: 'wasm' | 'webgpu' | 'tfjs', engine: string, tiers: number | undefined): Promise<AdapterResult> {
      const args = { entry, options: { engine, tiers }, names: [...NAMES], count: ADAPTER_DIGITS };
      return page.evaluate(async ({ entry, options, names, count }) => {
        const lowrank = (window as any).lowrank[entry];
        const data = new Float32Array(await (await fetch('/models/digits.f32')).arrayBuffer()).slice(0, count * 784);
        const session = await lowrank.load('/models/model.lrm', options);
        try {
          const feeds = { [session.inputs[0].name]: { dataType: 'float32', dims: [count, 1, 28, 28], data } };
          const run = async (adapter?: string): Promise<number[]> => Array.from((await session.run(feeds, { adapter }))[session.outputs[0].name].data);
          const before = await run();
          for (const name of names) await session.loadAdapter(new Uint8Array(await (await fetch(`/models/${name}.lra`)).arrayBuffer()), name);
          const out: Record<string, number[]> = {};
          for (const name of names) out[name] = await run(name);
          return { engine: session.engine, fallbacks: [...session.fallbacks], adapters: [...session.adapters], before, after: await run(), with: out };
        } finally {
          await session.release();
        }
      }, args);
    }

    const bitwise = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

    it('on ort-wasm, tfjs-wasm, ort-webgpu and tfjs-webgpu: outputs with each adapter match ort-node-cpu within 1e-4; without one, the base as before loading', async () => {
      const runs = [
        { entry: 'wasm', engine: 'ort-wasm', tiers: TIERS, bitwise: true },
        { entry: 'tfjs', engine: 'tfjs-wasm', tiers: TIERS, bitwise: true },
        { entry: 'webgpu', engine: 'ort-webgpu', tiers: [1], bitwise: true },
        { entry: 'tfjs', engine: 'tfjs-webgpu', tiers: [1], bitwise: false },
      ] as const;
      const page = await openPage();
      try {
        for (const { entry, engine, tiers: tierList, bitwise: repeatable } of runs) {
          for (const tiers of tierList) {
            const label = `${engine} tiers=${tiers ?? 'all'}`;
            const start = performance.now();
            const result = await runAdapters(page, entry, engine, tiers);
            expect(result.engine, label).toBe(engine);
            expect(result.fallbacks, label).toEqual([]);
            expect(result.adapters, label).toEqual([...NAMES]);
            const drift = maxRelativeError(result.before, result.after);
            if (repeatable) expect(bitwise(result.after, result.before), `${label}: the base after loading adapters`).toBe(true);
            else expect(drift, `${label}: the base after loading adapters`).toBeLessThanOrEqual(BASE_DRIFT);
            const base = adapterReference.get(`${tiers}|base`)!;
            const errors = NAMES.map((name) => {
              const want = adapterReference.get(`${tiers}|${name}`)!;
              // The adapter does change the outputs (else the check would prove nothing).
              expect(maxRelativeError(base, want), `${label} ${name}`).toBeGreaterThan(1e-3);
              expect(result.with[name], `${label} ${name}`).toHaveLength(want.length);
              return maxRelativeError(want, result.with[name]);
            });
            console.log(`adapters on ${label}: max relative error ${NAMES.map((n, i) => `${n} ${errors[i].toExponential(2)}`).join(', ')}; base ${maxRelativeError(base, result.before).toExponential(2)}, ${repeatable ? 'bitwise after loading' : `${drift.toExponential(2)} after loading`}; ${((performance.now() - start) / 1000).toFixed(1)} s`);
            NAMES.forEach((name, i) => expect(errors[i], `${label} ${name}`).toBeLessThanOrEqual(ADAPTER_BOUND));
          }
        }
      } finally {
        await page.context().close();
      }
    }, 300_000);
  });

  it('with its .wasm files not where setTfjsWasmFiles() says, tfjs-wasm is unavailable and names the URL', async () => {
    const page = await openPage();
    await page.evaluate(() => (window as unknown as { lowrank: { tfjs: { setTfjsWasmFiles(url: string): void } } }).lowrank.tfjs.setTfjsWasmFiles('/nowhere'));
    const failure = await runDigits(page, { entry: 'tfjs', options: { engine: 'tfjs-wasm' }, count: 1 }).then(
      () => 'it ran',
      (e: Error) => e.message,
    );
    expect(failure).toMatch(/tfjs-wasm.*\/nowhere\//);
    await page.context().close();
  });
});
