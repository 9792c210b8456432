/**
 * Builds the kiosk into one folder any static host can serve: the page, app.js and sw.js (esbuild bundles of app/
 * and sw/), the runtime's browser bundles (dist/browser, from `npm run build`: lowrank-tfjs.js with
 * tfjs-backend-wasm's .wasm files beside it, the default; lowrank-webgpu.js and the onnxruntime-web files its
 * engines load, for `engine=ort-*`), the model under its content-addressed name, model.json, and a sample photo.
 * With a search model: the search panel's USE-lite .lrm, its vocabulary and phrases.json, content-addressed too,
 * in model.json's `search` section.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { MANIFEST_FILE } from '../manifest.js';
import { SEARCH_VOCAB } from './compile-model.js';
import { kioskManifest, searchManifest } from './model-manifest.js';
import type { KioskPaths } from './paths.js';

/** onnxruntime-web's entry modules (WebGPU and WASM builds) and the binaries each loads. */
const ORT_FILES = [
  'ort.webgpu.min.mjs',
  'ort-wasm-simd-threaded.asyncify.mjs',
  'ort-wasm-simd-threaded.asyncify.wasm',
  'ort.wasm.min.mjs',
  'ort-wasm-simd-threaded.mjs',
  'ort-wasm-simd-threaded.wasm',
];
/** What the service worker stores at install: the page and what it needs before the model loads. */
const SHELL = ['./', 'app.js', 'kiosk.css', MANIFEST_FILE, 'lowrank/lowrank-tfjs.js'];
/** The runtime bundles the app imports (app/runtime.ts), external to app.js and mapped by index.html's import map. */
const RUNTIME_BUNDLES: Record<string, string> = { 'browser-tfjs': 'lowrank-edge/tfjs', 'browser-webgpu': 'lowrank-edge/webgpu' };
const SAMPLE = 'images/dog.jpg';

/** The app imports the runtime's sources for their types; at run time it uses the shared bundle, via the import map. */
const runtimeBundle: Plugin = {
  name: 'lowrank-edge-bundle',
  setup(b) {
    b.onResolve({ filter: /runtime\/browser-(tfjs|webgpu)\.js$/ }, (args) => ({ path: RUNTIME_BUNDLES[/(browser-\w+)\.js$/.exec(args.path)![1]], external: true }));
  },
};

export interface BuiltSite {
  dir: string;
  /** Path of the model inside the site, as model.json names it. */
  model: string;
  integrity: string;
}

export interface SearchOptions {
  /** The compiled USE-lite (tools/compile-model.ts, ensureSearchModel). */
  lrm: string;
  /** Tiers the page loads (default: all). */
  tiers?: number;
  /** The phrases to search (default: examples/kiosk/phrases.json). */
  phrases?: string;
}

export async function buildSite(paths: KioskPaths, lrmPath: string, searchOptions?: SearchOptions): Promise<BuiltSite> {
  const browserDist = join(paths.root, 'dist/browser');
  const bundles = readdirSync(browserDist).filter((f) => f === 'lowrank-tfjs.js' || f === 'lowrank-webgpu.js' || f.endsWith('.wasm'));
  if (!bundles.includes('lowrank-tfjs.js') || !bundles.includes('lowrank-webgpu.js')) throw new Error(`${browserDist} lacks the browser bundles: run \`npm run build\` first`);
  const site = paths.site;
  rmSync(site, { recursive: true, force: true });
  for (const dir of ['lowrank', 'ort', 'models', 'samples']) mkdirSync(join(site, dir), { recursive: true });

  for (const file of ['index.html', 'kiosk.css']) copyFileSync(join(paths.source, file), join(site, file));
  for (const file of bundles) copyFileSync(join(browserDist, file), join(site, 'lowrank', file));
  const ortDist = join(paths.root, 'node_modules/onnxruntime-web/dist');
  for (const file of ORT_FILES) copyFileSync(join(ortDist, file), join(site, 'ort', file));
  if (existsSync(join(paths.data, SAMPLE))) copyFileSync(join(paths.data, SAMPLE), join(site, 'samples/dog.jpg'));

  const lrm = new Uint8Array(readFileSync(lrmPath));
  const input = { size: 224, mean: [0.5], std: [0.5] };
  const { manifest, fileName, headerBytes } = await kioskManifest({ lrm, labelsFile: join(paths.data, 'labels/synset.txt'), modelDir: 'models', input });
  writeFileSync(join(site, 'models', fileName), lrm);
  const models = [{ path: manifest.model, headerBytes }];
  if (searchOptions) {
    const { search, files, headerBytes: searchHeader } = await searchManifest({
      lrm: new Uint8Array(readFileSync(searchOptions.lrm)),
      vocab: new Uint8Array(readFileSync(join(paths.data, SEARCH_VOCAB))),
      phrases: new Uint8Array(readFileSync(searchOptions.phrases ?? join(paths.source, 'phrases.json'))),
      modelDir: 'models',
      tiers: searchOptions.tiers,
    });
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(site, 'models', name), bytes);
    manifest.search = search;
    models.push({ path: search.model, headerBytes: searchHeader });
  }
  writeFileSync(join(site, MANIFEST_FILE), JSON.stringify(manifest));

  const common = { bundle: true, platform: 'browser', target: 'es2022', minify: true, sourcemap: true, logLevel: 'warning' } as const;
  await build({ ...common, entryPoints: [join(paths.source, 'app/main.ts')], outfile: join(site, 'app.js'), format: 'esm', plugins: [runtimeBundle] });
  // The worker's cache is named after everything it stores at install: any change to them installs a new worker.
  const buildId = shellHash(site);
  const define = { KIOSK_BUILD: JSON.stringify(buildId), KIOSK_SHELL: JSON.stringify(SHELL), KIOSK_MODELS: JSON.stringify(models) };
  await build({ ...common, entryPoints: [join(paths.source, 'sw/service-worker.ts')], outfile: join(site, 'sw.js'), format: 'iife', define });
  return { dir: site, model: manifest.model, integrity: manifest.integrity };
}

function shellHash(site: string): string {
  const hash = createHash('sha256');
  for (const file of SHELL) hash.update(readFileSync(join(site, file === './' ? 'index.html' : file)));
  return hash.digest('hex').slice(0, 12);
}
