/**
 * A local HTTP server for the real-browser tests (test/browser/) and the in-browser soak (bench/soak-browser.ts): one
 * page that imports the browser bundles (onnxruntime-web through an import map, as an app would), onnxruntime-web's
 * own dist files, the esbuild bundles with the tfjs .wasm files beside them, and the caller's .lrm (static files
 * through tools/static-server.ts, so Range requests work as on a real server).
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { projectRoot } from '../bench/project-root.js';
import { startStaticServer, type Route } from './static-server.js';

// From tools/ (vitest) and from dist/tools/ (the compiled bench) alike.
const ROOT = projectRoot();

/**
 * The page: `window.lowrank.{wasm,webgpu,tfjs}` are the three browser entry points; `window.runDigits` and
 * `window.runFeeds` run a model and release it; `window.openSession`, `runOpen`, `sequentialAndConcurrent` and
 * `releaseSession` keep one session open across calls (the concurrency test and the soak drive it step by step).
 */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>lowrank-edge browser test</title>
<script type="importmap">
{ "imports": { "onnxruntime-web/wasm": "/ort/ort.wasm.min.mjs", "onnxruntime-web/webgpu": "/ort/ort.webgpu.min.mjs" } }
</script>
<script type="module">
  import * as wasm from '/lowrank/lowrank-wasm.js';
  import * as webgpu from '/lowrank/lowrank-webgpu.js';
  import * as tfjs from '/lowrank/lowrank-tfjs.js';
  window.lowrank = { wasm, webgpu, tfjs };
  window.loseWebgpuDevice = async () => {
    const ort = await import('onnxruntime-web/webgpu');
    (await ort.env.webgpu.device).destroy();
  };
  // Loads /models/<model> with one entry point and runs the first \`count\` digits of /models/digits.f32 (784 floats
  // each) in batches, optionally losing the GPU device before batch number loseDeviceAt. Returns the outputs (flat),
  // which engine ran, and every event the app saw.
  window.runDigits = async ({ entry, model, options, count, batch, loseDeviceAt }) => {
    const digits = new Float32Array(await (await fetch('/models/digits.f32')).arrayBuffer());
    const events = [];
    const session = await window.lowrank[entry].load('/models/' + model, {
      ...options,
      onFallback: (e) => events.push({ type: 'fallback', ...e }),
      onWarning: (w) => events.push({ type: 'warning', ...w }),
    });
    const loadedOn = session.engine;
    const [input, output] = [session.inputs[0].name, session.outputs[0].name];
    const outputs = [];
    const start = performance.now();
    for (let first = 0, b = 0; first < count; first += batch, b++) {
      if (b === loseDeviceAt) await window.loseWebgpuDevice();
      const n = Math.min(batch, count - first);
      const data = digits.slice(first * 784, (first + n) * 784);
      const out = await session.run({ [input]: { dataType: 'float32', dims: [n, 1, 28, 28], data } });
      outputs.push(...out[output].data);
    }
    const msPerDigit = (performance.now() - start) / count;
    // Whether this browser's adapter computes float16 (precision 'auto' runs ort-webgpu in float16 only then).
    const adapter = await navigator.gpu?.requestAdapter();
    const shaderF16 = adapter?.features.has('shader-f16') ?? false;
    const result = { loadedOn, engine: session.engine, precision: session.precision, shaderF16, fallbacks: [...session.fallbacks], warnings: [...session.warnings], events, outputs, msPerDigit, crossOriginIsolated };
    await session.release();
    return result;
  };
  // Loads /models/<model> and runs each input of /models/<inputs> (float32, inputs.length × the product of dims)
  // once, one by one. Returns every output, flat, per input, and which engine ran.
  window.runFeeds = async ({ entry, model, options, inputs, dims, count }) => {
    const all = new Float32Array(await (await fetch('/models/' + inputs)).arrayBuffer());
    const size = dims.reduce((a, b) => a * b, 1);
    const session = await window.lowrank[entry].load('/models/' + model, options);
    const outputs = [];
    for (let i = 0; i < count; i++) {
      const out = await session.run({ [session.inputs[0].name]: { dataType: 'float32', dims, data: all.slice(i * size, (i + 1) * size) } });
      outputs.push(Object.fromEntries(session.outputs.map(({ name }) => [name, { dims: out[name].dims, data: Array.from(out[name].data) }])));
    }
    const result = { engine: session.engine, fallbacks: [...session.fallbacks], outputs };
    await session.release();
    return result;
  };
  // One session kept open across page.evaluate calls, with its inputs: /models/<inputs> holds count × product(dims) floats.
  let open;
  window.openSession = async ({ entry, model, options, inputs, dims }) => {
    const all = new Float32Array(await (await fetch('/models/' + inputs)).arrayBuffer());
    const size = dims.reduce((a, b) => a * b, 1);
    const session = await window.lowrank[entry].load('/models/' + model, options);
    const name = session.inputs[0].name;
    const feeds = [];
    for (let at = 0; at < all.length; at += size) feeds.push({ [name]: { dataType: 'float32', dims, data: all.slice(at, at + size) } });
    open = { session, feeds };
    return { engine: session.engine, fallbacks: [...session.fallbacks], inputs: feeds.length };
  };
  // \`count\` runs in turn, input (first + i) mod the number of inputs; returns the engine (a fallback would change it).
  window.runOpen = async ({ first, count }) => {
    for (let i = 0; i < count; i++) await open.session.run(open.feeds[(first + i) % open.feeds.length]);
    return open.session.engine;
  };
  // Every input one at a time, then all at once; each first output as its float32 bit patterns (exact through JSON).
  window.sequentialAndConcurrent = async () => {
    const bits = (result) => Array.from(new Uint32Array(Float32Array.from(result[open.session.outputs[0].name].data).buffer));
    const sequential = [];
    for (const feeds of open.feeds) sequential.push(bits(await open.session.run(feeds)));
    const concurrent = (await Promise.all(open.feeds.map((feeds) => open.session.run(feeds)))).map(bits);
    return { engine: open.session.engine, fallbacks: [...open.session.fallbacks], sequential, concurrent };
  };
  window.releaseSession = async () => {
    await open?.session.release();
    open = undefined;
  };
  document.title = 'ready';
</script>`;

export interface PageServer {
  /** The page, not cross-origin isolated. */
  url: string;
  /** The same page served with COOP/COEP. */
  isolatedUrl: string;
  close(): Promise<void>;
}

/** Serves the page, the bundles in dist/browser, onnxruntime-web's dist and every file of `modelDir` under /models/. */
export async function startPageServer(modelDir: string): Promise<PageServer> {
  const page: Route = (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(PAGE);
  };
  const server = await startStaticServer({
    mounts: [
      { prefix: '/ort/', dir: join(ROOT, 'node_modules/onnxruntime-web/dist') },
      { prefix: '/lowrank/', dir: join(ROOT, 'dist/browser') },
      { prefix: '/models/', dir: modelDir },
    ],
    routes: { '/': page, '/isolated': page },
    isolated: (path) => path === '/isolated',
  });
  return { url: server.url, isolatedUrl: `${server.url}isolated`, close: server.close };
}

/** What `openSession` resolves to. */
export interface OpenedSession {
  engine: string;
  fallbacks: unknown[];
  /** How many inputs the page cut from the inputs file. */
  inputs: number;
}

/** What `sequentialAndConcurrent` resolves to: per input, its first output's float32 bit patterns. */
export interface SequentialAndConcurrent {
  engine: string;
  fallbacks: unknown[];
  sequential: number[][];
  concurrent: number[][];
}

/**
 * Opens the page in a fresh context (running `initScript` before the page's own scripts, if given) and waits for its
 * bundles; a page error that stops them is the failure's message.
 */
export async function openBundlePage(browser: Browser, url: string, initScript?: () => void): Promise<Page> {
  const context = await browser.newContext();
  if (initScript) await context.addInitScript(initScript);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForFunction(() => document.title === 'ready', undefined, { timeout: 60_000 }).catch(() => {
    throw new Error(`the bundle page did not start: ${errors.join('; ') || 'no page error'}`);
  });
  return page;
}

/** Calls the page's `window[name](arg)` and returns what it resolves to (arguments and results go through Playwright's serialiser). */
export function callPage<T>(page: Page, name: string, arg?: unknown): Promise<T> {
  return page.evaluate(([n, a]) => (window as unknown as Record<string, (x: unknown) => Promise<T>>)[n]!(a), [name, arg] as const);
}
