/**
 * The kiosk example (examples/kiosk/) in headless Chromium: built and served as `npm run kiosk` does (COOP/COEP,
 * Range requests), it shows the first result from the first tier, upgrades in the background and shows the full
 * model's result, then works offline after a reload, says when WebGPU is missing, when a model file is refused
 * and when storage is full; it classifies a camera frame (Chromium's fake camera playing dog.jpg, written as a Y4M
 * frame by fake-camera.ts) as it classifies the photo. The expected class is what the ORIGINAL ONNX says on ort-node-cpu (onnxruntime-node),
 * with the same preprocessing (compiler/data/image.ts), not a hard-coded label.
 *
 * Chromium is launched without --enable-unsafe-webgpu, so WebGPU has no adapter and the kiosk runs on tfjs-wasm
 * (its default bundle, lowrank-tfjs.js: tfjs-webgpu, else tfjs-wasm) without fetching anything of onnxruntime-web;
 * `engine=ort-wasm` still runs on onnxruntime-web. One test launches a second Chromium with WebGPU (SwiftShader), runs
 * on tfjs-webgpu and destroys its GPU device: the kiosk must say so and classify on tfjs-wasm, offline too.
 * Screenshots go to test/browser/artifacts/.
 *
 * The search panel (USE-lite compiled to int4, compiled once, ~1-2 min here) must rank first the phrase that the
 * original USE-lite ONNX ranks first on onnxruntime-node, online and offline after a reload.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argmax } from '../../compiler/evaluate.js';
import { preprocessImage, readImageFile } from '../../compiler/data/image.js';
import type { Classification } from '../../examples/kiosk/app/classify.js';
import { buildSite, type BuiltSite } from '../../examples/kiosk/tools/build-site.js';
import type { SearchResult } from '../../examples/kiosk/app/search.js';
import { ensureKioskModel, ensureSearchModel, KIOSK_ONNX, SEARCH_ONNX, SEARCH_VOCAB } from '../../examples/kiosk/tools/compile-model.js';
import { startKioskServer } from '../../examples/kiosk/tools/kiosk-server.js';
import { kioskPaths } from '../../examples/kiosk/tools/paths.js';
import { encodeSentences, rankBySimilarity, SentencePieceTokenizer, sparseBatch } from '../../runtime/text/index.js';
import type { StaticServer } from '../../tools/static-server.js';
import { canRunChromium, CHROMIUM, launchChromium } from '../../tools/chromium.js';
import { fakeCameraArgs, writeY4m } from './fake-camera.js';

const ROOT = join(import.meta.dirname, '../..');
const ARTIFACTS = join(import.meta.dirname, 'artifacts');
const paths = kioskPaths(ROOT);
const DOG = join(paths.data, 'images/dog.jpg');
/** The search panel's query; the phrase it should find is what the original USE-lite ONNX ranks first. */
const QUERY = 'where can I pay';

/** Every result the page showed, in order (its 'kiosk-result' events); `top3`: the first three classes. */
type Results = Array<Pick<Classification, 'tiers' | 'engine'> & { top: number; label: string; top3: number[] }>;

describe.runIf(canRunChromium)('kiosk example in headless Chromium', () => {
  let site: BuiltSite;
  let server: StaticServer;
  let browser: Browser;
  let tiers: number;
  /** The original ONNX's top-1 class on dog.jpg. */
  let expected: number;
  let phrases: string[];
  /** The phrases ranked for QUERY by the original USE-lite ONNX on onnxruntime-node. */
  let expectedSearch: Array<{ index: number; score: number }>;
  let searchCompileSeconds = 0;
  /** The fake camera's video file (dog.jpg as one Y4M frame). */
  let cameraFrame: string | undefined;

  beforeAll(async () => {
    const compileStart = performance.now();
    let compiled = false;
    const searchLrm = ensureSearchModel(paths, () => (compiled = true));
    if (compiled) searchCompileSeconds = (performance.now() - compileStart) / 1000;
    site = await buildSite(paths, ensureKioskModel(paths, () => {}), { lrm: searchLrm });
    tiers = (JSON.parse(readFileSync(join(site.dir, 'model.json'), 'utf8')) as { tiers: number }).tiers;
    server = await startKioskServer(site.dir);
    const dog = await readImageFile(DOG);
    const x = preprocessImage(dog, { channels: 3, height: 224, width: 224 }, { mean: [0.5], std: [0.5] });
    const original = await ort.InferenceSession.create(join(paths.data, KIOSK_ONNX));
    const out = await original.run({ [original.inputNames[0]]: new ort.Tensor('float32', x, [1, 3, 224, 224]) });
    expected = argmax(out.probs.data as Float32Array);
    await original.release();

    phrases = JSON.parse(readFileSync(join(paths.source, 'phrases.json'), 'utf8')) as string[];
    const tokenizer = SentencePieceTokenizer.fromJson(readFileSync(join(paths.data, SEARCH_VOCAB), 'utf8'));
    const use = await ort.InferenceSession.create(join(paths.data, SEARCH_ONNX));
    const embed = async (sentences: string[]): Promise<Float32Array[]> => {
      const feeds = sparseBatch(encodeSentences(tokenizer, sentences));
      const out = await use.run(Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, new ort.Tensor('int64', t.data as BigInt64Array, t.dims)])));
      const data = out.embedding.data as Float32Array;
      return sentences.map((_, i) => data.slice(i * 512, (i + 1) * 512));
    };
    const [query] = await embed([QUERY]);
    expectedSearch = rankBySimilarity(query, await embed(phrases));
    await use.release();
    mkdirSync(ARTIFACTS, { recursive: true });
    // The camera shows dog.jpg: a Y4M frame written from the same decoded photo (fake-camera.ts).
    cameraFrame = join(mkdtempSync(join(tmpdir(), 'kiosk-camera-')), 'dog.y4m');
    writeY4m(cameraFrame, dog);
    // No --enable-unsafe-webgpu: WebGPU has no adapter here, the kiosk says so and runs on tfjs-wasm.
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', ...fakeCameraArgs(cameraFrame)] });
  }, 300_000);

  afterAll(async () => {
    if (searchCompileSeconds > 0) console.log(`kiosk: compiled USE-lite for the search panel in ${searchCompileSeconds.toFixed(0)} s (once)`);
    await browser?.close();
    await server?.close();
    if (cameraFrame) rmSync(dirname(cameraFrame), { recursive: true, force: true });
  });

  async function openKiosk(context: BrowserContext, query = ''): Promise<{ page: Page; results: () => Promise<Results>; requested: string[] }> {
    await context.addInitScript(() => {
      const log: unknown[] = ((window as unknown as { kioskResults: unknown[] }).kioskResults = []);
      document.addEventListener('kiosk-result', (e) => {
        const r = (e as CustomEvent<Classification>).detail;
        log.push({ tiers: r.tiers, engine: r.engine, top: r.guesses[0].index, label: r.guesses[0].label, top3: r.guesses.slice(0, 3).map((g) => g.index) });
      });
    });
    const page = await context.newPage();
    const requested: string[] = [];
    page.on('request', (request) => requested.push(new URL(request.url()).pathname));
    await page.goto(server.url + query);
    return { page, results: () => page.evaluate(() => (window as unknown as { kioskResults: Results }).kioskResults), requested };
  }

  /** An init script: keeps every GPUDevice the page creates on window.gpuDevices, so a test can destroy the engine's. */
  const recordGpuDevices = () => {
    const devices: unknown[] = ((window as unknown as { gpuDevices: unknown[] }).gpuDevices = []);
    const adapter = (globalThis as unknown as { GPUAdapter: { prototype: { requestDevice(...args: unknown[]): Promise<unknown> } } }).GPUAdapter.prototype;
    const requestDevice = adapter.requestDevice;
    adapter.requestDevice = async function (this: unknown, ...args: unknown[]) {
      const device = await requestDevice.apply(this, args);
      devices.push(device);
      return device;
    };
  };
  const statusText = (page: Page) => page.locator('#status').textContent();
  const noticesText = (page: Page) => page.locator('#notices').textContent();
  const waitForResults = (page: Page, count: number) =>
    page.waitForFunction((n) => ((window as unknown as { kioskResults: unknown[] }).kioskResults?.length ?? 0) >= n, count, { timeout: 60_000 });

  it('shows the first tier result, upgrades to the last tier, and classifies again offline after a reload', async () => {
    const context = await browser.newContext();
    const { page, results, requested } = await openKiosk(context, '?image=samples/dog.jpg');
    await waitForResults(page, 2);
    const [first, upgraded] = await results();
    expect(first).toMatchObject({ tiers: 1, engine: 'tfjs-wasm', top: expected });
    expect(upgraded).toMatchObject({ tiers, engine: 'tfjs-wasm', top: expected });
    // The point of the tfjs bundle: none of onnxruntime-web's files (its WASM binary alone is 13.6 MiB).
    expect(requested.filter((path) => path.startsWith('/ort/'))).toEqual([]);
    expect(requested).toContain('/lowrank/tfjs-backend-wasm-threaded-simd.wasm');
    expect(await page.locator('#tier').getAttribute('data-tiers')).toBe(String(tiers));
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    expect(await page.locator('#threads').textContent()).toMatch(/^yes/);
    expect(await noticesText(page)).toMatch(/WebGPU is not available/);
    console.log(`kiosk: dog.jpg → "${first.label}" at tier 1, "${upgraded.label}" at tier ${tiers} (original ONNX: class ${expected})`);
    await page.screenshot({ path: join(ARTIFACTS, 'kiosk-online.png'), fullPage: true });

    // Offline: the service worker serves the page, bundles, engine and header; the runtime's cache the tiers.
    await context.setOffline(true);
    await page.reload();
    await page.waitForFunction(() => document.getElementById('status')?.dataset.kind === 'ok', undefined, { timeout: 60_000 });
    await page.setInputFiles('#picker', DOG);
    await waitForResults(page, 1);
    const [offline] = await results();
    expect(offline).toMatchObject({ engine: 'tfjs-wasm', top: expected });
    expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, 'kiosk-offline.png'), fullPage: true });
    await context.close();
  }, 120_000);

  it('classifies a camera frame (Chromium\'s fake camera showing dog.jpg) as it classifies the same photo from the file picker', async () => {
    const context = await browser.newContext();
    const { page, results } = await openKiosk(context);
    await page.waitForFunction(() => document.getElementById('status')?.dataset.kind === 'ok', undefined, { timeout: 60_000 });
    await page.click('#camera-start');
    // A frame must be on screen before it is classified (the preview plays the camera's stream).
    await page.waitForFunction(() => (document.getElementById('camera') as HTMLVideoElement).readyState >= HTMLMediaElement.HAVE_CURRENT_DATA, undefined, { timeout: 30_000 });
    expect(await page.locator('#camera').isVisible()).toBe(true);
    await page.click('#camera-snap');
    await waitForResults(page, 1);
    const [camera] = await results();
    expect(camera).toMatchObject({ engine: 'tfjs-wasm', top: expected });
    await page.screenshot({ path: join(ARTIFACTS, 'kiosk-camera.png'), fullPage: true });

    // The same photo from the file picker, on the same tiers: the camera's classification started the upgrade.
    await page.waitForFunction((n) => document.getElementById('tier')?.dataset.tiers === String(n), tiers, { timeout: 60_000 });
    await page.setInputFiles('#picker', DOG);
    await waitForResults(page, 2);
    await page.click('#camera-snap');
    await waitForResults(page, 3);
    const [, picked, cameraFull] = await results();
    expect(picked).toMatchObject({ tiers, top: expected });
    // Not only the first class: the frame is the photo, so the runner-up classes come in the same order too.
    expect(cameraFull).toMatchObject({ tiers, top3: picked.top3 });
    console.log(`kiosk camera: the fake camera's dog.jpg frame → "${camera.label}" at tier ${camera.tiers}, "${cameraFull.label}" at tier ${tiers}; the file picker → "${picked.label}"`);
    await context.close();
  });

  it('searches the phrases by meaning on the device (USE-lite, int4), loaded lazily, and offline after a reload', async () => {
    // The premise, checked on the original ONNX: a payment phrase is the closest to the query.
    expect(phrases[expectedSearch[0].index]).toMatch(/pay/i);
    const context = await browser.newContext();
    await context.addInitScript(() => {
      const log: unknown[] = ((window as unknown as { kioskSearches: unknown[] }).kioskSearches = []);
      document.addEventListener('kiosk-search', (e) => log.push((e as CustomEvent<SearchResult>).detail));
    });
    const { page, requested } = await openKiosk(context);
    const searched = async (query: string): Promise<SearchResult> => {
      const handle = await page.waitForFunction(
        (q) => (window as unknown as { kioskSearches: SearchResult[] }).kioskSearches.find((s) => s.query === q),
        query,
        { timeout: 60_000 },
      );
      return (await handle.jsonValue()) as SearchResult;
    };
    await page.waitForFunction(() => document.getElementById('status')?.dataset.kind === 'ok', undefined, { timeout: 60_000 });
    // Lazy: the image model's first tier came first, and nothing of the search model was fetched for it.
    expect(requested.filter((path) => /use_lite|vocab|phrases/.test(path))).toEqual([]);
    expect(await page.locator('#search-panel').isVisible()).toBe(true);

    const start = performance.now();
    await page.fill('#search', QUERY);
    const online = await searched(QUERY);
    const firstQueryMs = performance.now() - start;
    expect(online.top.map((r) => r.index)[0]).toBe(expectedSearch[0].index);
    expect(online.engine).toBe('tfjs-wasm');
    expect(await page.locator('#search-results li').first().textContent()).toContain(phrases[expectedSearch[0].index]);
    const top3 = (r: Array<{ index: number; score: number }>) => r.slice(0, 3).map((x) => `"${phrases[x.index]}" ${x.score.toFixed(2)}`).join(', ');
    console.log(`kiosk search: "${QUERY}" → ${top3(online.top)} (original ONNX: ${top3(expectedSearch)}); first query ${(firstQueryMs / 1000).toFixed(1)} s with the model load, the query itself ${online.ms.toFixed(0)} ms`);
    await page.screenshot({ path: join(ARTIFACTS, 'kiosk-search.png'), fullPage: true });

    await context.setOffline(true);
    await page.reload();
    await page.waitForFunction(() => document.getElementById('status')?.dataset.kind === 'ok', undefined, { timeout: 60_000 });
    await page.fill('#search', QUERY);
    const offline = await searched(QUERY);
    expect(offline.top[0].index).toBe(expectedSearch[0].index);
    expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, 'kiosk-search-offline.png'), fullPage: true });
    await context.close();
  }, 120_000);

  it('without navigator.gpu it says WebGPU is missing and classifies on WebAssembly', async () => {
    const context = await browser.newContext();
    await context.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
    const { page, results } = await openKiosk(context, '?image=samples/dog.jpg');
    await waitForResults(page, 1);
    expect((await results())[0]).toMatchObject({ tiers: 1, engine: 'tfjs-wasm', top: expected });
    expect(await noticesText(page)).toMatch(/WebGPU is not available.*tfjs-wasm.*no WebGPU/);
    await page.screenshot({ path: join(ARTIFACTS, 'kiosk-no-webgpu.png'), fullPage: true });
    await context.close();
  });

  it('on WebGPU, says when the GPU device is lost and classifies the next photo on tfjs-wasm, offline too', async () => {
    // A browser with WebGPU (SwiftShader here), the kiosk's default engine tfjs-webgpu. No search panel: USE-lite on
    // SwiftShader compiles shaders for seconds, and the image model is what this test is about.
    const manifest = JSON.parse(readFileSync(join(site.dir, 'model.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(site.dir, 'no-search.json'), JSON.stringify({ ...manifest, search: undefined }));
    const gpuBrowser = await launchChromium();
    try {
      const context = await gpuBrowser.newContext();
      await context.addInitScript(recordGpuDevices);
      const { page, results } = await openKiosk(context, '?manifest=no-search.json&image=samples/dog.jpg');
      await waitForResults(page, 2);
      expect(await results()).toMatchObject([
        { tiers: 1, engine: 'tfjs-webgpu', top: expected },
        { tiers, engine: 'tfjs-webgpu', top: expected },
      ]);

      // tfjs-webgpu ran, so tfjs-wasm has fetched nothing itself; the page has its binary stored once the model is in (app/offline.ts)…
      const stored = () => page.evaluate(async () => (await caches.match('lowrank/tfjs-backend-wasm-threaded-simd.wasm')) !== undefined);
      await expect.poll(stored, { timeout: 30_000, interval: 250 }).toBe(true);
      // …so the fallback starts even offline.
      await context.setOffline(true);
      // A real loss: the engine's device is destroyed (its lost promise resolves, its GPU work stops).
      await page.evaluate(() => (window as unknown as { gpuDevices: Array<{ destroy(): void }> }).gpuDevices.forEach((d) => d.destroy()));
      await page.setInputFiles('#picker', DOG);
      await waitForResults(page, 3);
      expect((await results())[2]).toMatchObject({ tiers, engine: 'tfjs-wasm', top: expected });
      // The browser's reason, without the runtime's advice to developers.
      expect(await page.locator('#notices li[data-key="device-lost"]').textContent()).toMatch(
        /^The GPU device was lost \(destroyed: [^;]+\); the kiosk carries on with tfjs-wasm \(slower\)\.$/,
      );
      expect(await page.locator('#engine').textContent()).toBe('tfjs-wasm');
      await page.screenshot({ path: join(ARTIFACTS, 'kiosk-device-lost.png'), fullPage: true });
    } finally {
      await gpuBrowser.close();
    }
  }, 300_000);

  it('with engine=ort-wasm it runs on onnxruntime-web instead (the bundle bench/kiosk.ts compares on the same engine)', async () => {
    const context = await browser.newContext();
    const { page, results, requested } = await openKiosk(context, '?sw=0&engine=ort-wasm&image=samples/dog.jpg');
    await waitForResults(page, 1);
    expect((await results())[0]).toMatchObject({ tiers: 1, engine: 'ort-wasm', top: expected });
    expect(requested).toContain('/ort/ort-wasm-simd-threaded.wasm');
    expect(requested.filter((path) => path.includes('tfjs'))).toEqual([]);
    await context.close();
  });

  it('refuses a model whose integrity is not the pinned one, on screen', async () => {
    const manifest = JSON.parse(readFileSync(join(site.dir, 'model.json'), 'utf8')) as { integrity: string };
    const wrong = { ...manifest, integrity: `sha256-${Buffer.alloc(32, 7).toString('base64')}` };
    writeFileSync(join(site.dir, 'wrong-pin.json'), JSON.stringify(wrong));
    const context = await browser.newContext();
    const { page } = await openKiosk(context, '?manifest=wrong-pin.json');
    await page.waitForFunction(() => document.getElementById('status')?.dataset.kind === 'error', undefined, { timeout: 60_000 });
    expect(await statusText(page)).toMatch(/model file was refused.*integrity/);
    await page.screenshot({ path: join(ARTIFACTS, 'kiosk-integrity.png'), fullPage: true });
    await context.close();
  });

  it('refuses a search model or vocabulary that is not the pinned one, in the search panel', async () => {
    const manifest = JSON.parse(readFileSync(join(site.dir, 'model.json'), 'utf8')) as { search: Record<string, unknown> };
    const other = `sha256-${Buffer.alloc(32, 9).toString('base64')}`;
    for (const [file, field, message] of [
      ['wrong-search-pin.json', 'integrity', /Search is not available: The model file was refused.*integrity/],
      ['wrong-vocab-pin.json', 'vocabIntegrity', /Search is not available: The model file was refused.*integrity.*vocab\.[0-9a-f]{16}\.json/],
    ] as const) {
      writeFileSync(join(site.dir, file), JSON.stringify({ ...manifest, search: { ...manifest.search, [field]: other } }));
      const context = await browser.newContext();
      const { page } = await openKiosk(context, `?sw=0&manifest=${file}`);
      await page.waitForFunction(() => document.getElementById('status')?.dataset.kind === 'ok', undefined, { timeout: 60_000 });
      await page.fill('#search', QUERY);
      await page.waitForFunction(() => document.getElementById('search-status')?.dataset.kind === 'error', undefined, { timeout: 60_000 });
      expect(await page.locator('#search-status').textContent()).toMatch(message);
      expect(await page.locator('#search-results li').count()).toBe(0);
      await context.close();
    }
  });

  it('says so when the storage quota is full, and still classifies', async () => {
    const context = await browser.newContext();
    await context.addInitScript(() => {
      Cache.prototype.put = () => Promise.reject(new DOMException('simulated: the quota is full', 'QuotaExceededError'));
    });
    const { page, results } = await openKiosk(context, '?image=samples/dog.jpg');
    await waitForResults(page, 1);
    expect((await results())[0].top).toBe(expected);
    expect(await noticesText(page)).toMatch(/storage is full/);
    await page.screenshot({ path: join(ARTIFACTS, 'kiosk-quota.png'), fullPage: true });
    await context.close();
  });
});
