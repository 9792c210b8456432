/**
 * Concurrency in the browser (issue 16; test/runtime/concurrency.test.ts covers the Node engines): in headless
 * Chromium, one session per in-page engine (ort-webgpu, ort-wasm, tfjs-wasm, tfjs-webgpu; WebGPU on SwiftShader
 * without a GPU) runs the first 64 MNIST test digits one at a time and then all 64 at once, on mnist-8 compiled as
 * bench/soak.ts compiles it. The outputs must be bitwise equal; they must also differ from digit to digit (else a
 * mix-up could not show) and agree with ort-node-cpu (else the engine could be consistently wrong).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { soakCase } from '../../bench/soak.js';
import { packFeeds } from '../../bench/soak-browser.js';
import { load } from '../../runtime/node.js';
import { callPage, openBundlePage, startPageServer, type OpenedSession, type PageServer, type SequentialAndConcurrent } from '../../tools/bundle-page.js';
import { canRunChromium, launchChromium } from '../../tools/chromium.js';
import { maxRelativeError } from '../e2e/compare.js';

const ROOT = join(import.meta.dirname, '../..');
const DATA = join(ROOT, '../shared/data');
const DIGITS = 64;

const ENGINES = [
  { entry: 'webgpu', engine: 'ort-webgpu' },
  { entry: 'wasm', engine: 'ort-wasm' },
  { entry: 'tfjs', engine: 'tfjs-wasm' },
  { entry: 'tfjs', engine: 'tfjs-webgpu' },
] as const;

/** A float32 from its bit pattern, as the page returns outputs (exact through JSON). */
const fromBits = (bits: readonly number[]) => new Float32Array(Uint32Array.from(bits).buffer);

describe.runIf(canRunChromium)('64 concurrent runs on one session in Chromium', () => {
  let dir: string;
  let server: PageServer;
  let browser: Browser;
  let dims: number[];
  /** ort-node-cpu's scores per digit. */
  const reference: Float32Array[] = [];

  beforeAll(async () => {
    // The page loads dist/browser, built from the sources under test before any file runs (test/build-once.ts).
    const { lrm, feeds } = await soakCase(DATA, 'mnist-8.onnx');
    expect(feeds).toHaveLength(DIGITS);
    const packed = packFeeds(feeds);
    dims = packed.dims;
    dir = mkdtempSync(join(tmpdir(), 'lowrank-concurrency-'));
    writeFileSync(join(dir, 'model.lrm'), lrm);
    writeFileSync(join(dir, 'inputs.f32'), packed.bytes);
    const cpu = await load(lrm, { engine: 'ort-node-cpu' });
    for (const f of feeds) reference.push(Object.values(await cpu.run(f))[0]!.data as Float32Array);
    await cpu.release();
    server = await startPageServer(dir);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(ENGINES)('$engine: bitwise the outputs of the same 64 digits run one at a time', async ({ entry, engine }) => {
    const page = await openBundlePage(browser, server.url);
    try {
      const opened = await callPage<OpenedSession>(page, 'openSession', { entry, model: 'model.lrm', options: { engine }, inputs: 'inputs.f32', dims });
      expect(opened).toEqual({ engine, fallbacks: [], inputs: DIGITS });
      const start = performance.now();
      const result = await callPage<SequentialAndConcurrent>(page, 'sequentialAndConcurrent');
      await callPage(page, 'releaseSession');
      console.log(`${engine} in Chromium: ${DIGITS} in turn + ${DIGITS} at once in ${((performance.now() - start) / 1000).toFixed(1)} s`);
      expect(result.engine).toBe(engine);
      expect(result.fallbacks).toEqual([]);
      expect(result.sequential).toHaveLength(DIGITS);
      expect(new Set(result.sequential.map(String)).size, 'distinct outputs per digit').toBe(DIGITS);
      const worst = Math.max(...result.sequential.map((bits, i) => maxRelativeError(reference[i]!, fromBits(bits))));
      expect(worst, 'against ort-node-cpu').toBeLessThanOrEqual(1e-3);
      expect(result.concurrent).toEqual(result.sequential);
    } finally {
      await page.context().close();
    }
  }, 120_000);
});
