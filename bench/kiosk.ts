/**
 * Time to first result on a throttled network (CDP Network.emulateNetworkConditions: 10 Mbit/s down, 40 ms
 * latency), cold caches: the kiosk (first tier of the compiled .lrm, ort-wasm) against a plain page that loads the
 * original ONNX with onnxruntime-web's WASM build and classifies the same photo. Both are served by the same server
 * with COOP/COEP and download the same onnxruntime-web .wasm. The kiosk runs with sw=0: a service worker's own
 * requests are not throttled by the page's CDP session, which would flatter it. Indicative only: one machine, a
 * few runs, headless Chromium. Writes bench/results/kiosk.json and kiosk.md.
 * Usage: node dist/bench/kiosk.js [runs] (after npm run build).
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { buildSite } from '../examples/kiosk/tools/build-site.js';
import { ensureKioskModel, KIOSK_ONNX } from '../examples/kiosk/tools/compile-model.js';
import { startKioskServer } from '../examples/kiosk/tools/kiosk-server.js';
import { kioskPaths } from '../examples/kiosk/tools/paths.js';
import { projectRoot } from './cli.js';

const THROTTLE = { offline: false, latency: 40, downloadThroughput: (10e6 / 8), uploadThroughput: (10e6 / 8) };

/** The plain page: onnxruntime-web (WASM build), the original ONNX, the photo resized by the browser. */
const BASELINE = `<!doctype html><meta charset="utf-8"><title>baseline</title>
<script type="module">
  import * as ort from './ort/ort.wasm.min.mjs';
  const session = await ort.InferenceSession.create(new Uint8Array(await (await fetch('bench/original.onnx')).arrayBuffer()), { executionProviders: ['wasm'] });
  const bitmap = await createImageBitmap(await (await fetch('samples/dog.jpg')).blob(), { resizeWidth: 224, resizeHeight: 224, resizeQuality: 'high' });
  const canvas = new OffscreenCanvas(224, 224); canvas.getContext('2d').drawImage(bitmap, 0, 0);
  const rgba = canvas.getContext('2d').getImageData(0, 0, 224, 224).data;
  const x = new Float32Array(3 * 224 * 224);
  for (let c = 0; c < 3; c++) for (let i = 0; i < 224 * 224; i++) x[c * 224 * 224 + i] = rgba[i * 4 + c] / 127.5 - 1;
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [1, 3, 224, 224]) });
  window.firstResult = { ms: performance.now(), top: out.probs.data.indexOf(Math.max(...out.probs.data)) };
</script>`;

async function timeToFirstResult(browser: Browser, url: string, kiosk: boolean): Promise<number> {
  const context = await browser.newContext();
  if (kiosk) await context.addInitScript(() => document.addEventListener('kiosk-result', () => ((window as unknown as { firstResult: unknown }).firstResult ??= { ms: performance.now() })));
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  await cdp.send('Network.emulateNetworkConditions', THROTTLE);
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { firstResult?: unknown }).firstResult !== undefined, undefined, { timeout: 180_000 });
  const { ms } = await page.evaluate(() => (window as unknown as { firstResult: { ms: number } }).firstResult);
  await context.close();
  return ms;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

const runs = Number(process.argv[2] ?? 3);
const root = projectRoot();
const paths = kioskPaths(root);
const site = await buildSite(paths, ensureKioskModel(paths));
mkdirSync(join(site.dir, 'bench'), { recursive: true });
copyFileSync(join(paths.data, KIOSK_ONNX), join(site.dir, 'bench/original.onnx'));
writeFileSync(join(site.dir, 'baseline.html'), BASELINE);
const server = await startKioskServer(site.dir);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
const kioskMs: number[] = [];
const baselineMs: number[] = [];
for (let i = 0; i < runs; i++) {
  kioskMs.push(await timeToFirstResult(browser, `${server.url}?sw=0&engine=ort-wasm&image=samples/dog.jpg`, true));
  baselineMs.push(await timeToFirstResult(browser, `${server.url}baseline.html`, false));
}
await browser.close();
await server.close();
const result = {
  network: '10 Mbit/s down and up, 40 ms latency (CDP Network.emulateNetworkConditions), HTTP cache disabled',
  engine: 'ort-wasm (onnxruntime-web WASM build, cross-origin isolated)',
  runs,
  kioskFirstResultMs: median(kioskMs),
  baselineFirstResultMs: median(baselineMs),
  timeToFirstResultRatio: median(kioskMs) / median(baselineMs),
  kioskMs,
  baselineMs,
};
const out = join(root, 'bench/results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'kiosk.json'), JSON.stringify(result, null, 2) + '\n');
const md = `# Kiosk: time to first result (indicative)

${result.network}; ${result.engine}; headless Chromium, median of ${runs} cold runs.

| page | first result |
| --- | --- |
| kiosk: first tier of the .lrm (\`examples/kiosk\`) | ${(result.kioskFirstResultMs / 1000).toFixed(2)} s |
| plain page: original ONNX on onnxruntime-web | ${(result.baselineFirstResultMs / 1000).toFixed(2)} s |
| ratio (target ≤ 0.35) | ${result.timeToFirstResultRatio.toFixed(2)} |

Both pages download onnxruntime-web's ${'`ort-wasm-simd-threaded.wasm`'} (13.6 MiB, uncompressed here), which dominates both times.
`;
writeFileSync(join(out, 'kiosk.md'), md);
console.log(md);
