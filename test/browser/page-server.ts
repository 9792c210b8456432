/**
 * A local HTTP server for the real-browser tests: one page that imports the browser bundles (onnxruntime-web through
 * an import map, as an app would), onnxruntime-web's own dist files, the esbuild bundles with the tfjs .wasm files
 * beside them, and the test's .lrm (static files through tools/static-server.ts, so Range requests work as on a real server).
 */
import { join } from 'node:path';
import { startStaticServer, type Route } from '../../tools/static-server.js';

const ROOT = join(import.meta.dirname, '../..');

/** The page: `window.lowrank.{wasm,webgpu,tfjs}` are the three browser entry points; `window.runDigits` and `window.runFeeds` are what the tests call. */
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
    const result = { loadedOn, engine: session.engine, fallbacks: [...session.fallbacks], warnings: [...session.warnings], events, outputs, msPerDigit, crossOriginIsolated };
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
