/**
 * What each entry point costs an app: the bundle esbuild produces for it (minified ESM, raw and gzip), first with
 * the engine libraries (onnxruntime, tfjs) kept external (our code alone), then with their JavaScript bundled in,
 * plus the .wasm binaries the entry downloads at run time. All measured in one run from the same sources.
 */
import { readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, type BuildOptions } from 'esbuild';

export interface EntryPoint {
  /** The package export an app imports. */
  importPath: string;
  source: string;
  platform: 'browser' | 'node';
  engines: string;
  /** The .wasm binaries the entry may load (paths under node_modules), and when. */
  wasm: Array<{ file: string; when: string }>;
}

export const ENTRY_POINTS: EntryPoint[] = [
  {
    importPath: 'lowrank-edge/wasm',
    source: 'runtime/browser-wasm.ts',
    platform: 'browser',
    engines: 'ort-wasm',
    wasm: [{ file: 'onnxruntime-web/dist/ort-wasm-simd-threaded.wasm', when: 'always' }],
  },
  {
    importPath: 'lowrank-edge/webgpu',
    source: 'runtime/browser-webgpu.ts',
    platform: 'browser',
    engines: 'ort-webgpu, then ort-wasm',
    wasm: [
      { file: 'onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.wasm', when: 'with WebGPU' },
      { file: 'onnxruntime-web/dist/ort-wasm-simd-threaded.wasm', when: 'on fallback' },
    ],
  },
  {
    importPath: 'lowrank-edge/tfjs',
    source: 'runtime/browser-tfjs.ts',
    platform: 'browser',
    engines: 'tfjs-webgpu, then tfjs-wasm',
    // tfjs-backend-wasm picks one of three builds by what the page supports; none with WebGPU.
    wasm: [
      { file: '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm', when: 'on fallback, SIMD' },
      { file: '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm', when: 'on fallback, SIMD, cross-origin isolated' },
      { file: '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm', when: 'on fallback, no SIMD' },
    ],
  },
  { importPath: 'lowrank-edge', source: 'runtime/node.ts', platform: 'node', engines: 'ort-node-cpu, ort-wasm (+ opt-in ort-node-webgpu, tfjs-wasm, tfjs-webgpu)', wasm: [] },
];

export interface Size {
  raw: number;
  gzip: number;
}

export interface BundleSizeRow {
  importPath: string;
  engines: string;
  /** Our code alone, the engine libraries external (as dist/browser/lowrank-{wasm,webgpu}.js are). */
  ownCode: Size;
  /**
   * With the engine libraries' JavaScript bundled in (browser entries: onnxruntime-web, or tfjs as
   * dist/browser/lowrank-tfjs.js is; Node loads its npm packages, onnxruntime-node's native addon among them).
   */
  withEngineJs?: Size;
  /** .wasm binaries fetched at run time. */
  wasm: Array<{ file: string; when: string } & Size>;
  /** Bare imports left in our bundle (what the app must provide). */
  externalImports: string[];
}

async function bundle(root: string, entry: EntryPoint, external: string[]): Promise<{ size: Size; imports: string[] }> {
  const options: BuildOptions = {
    absWorkingDir: root,
    entryPoints: [entry.source],
    bundle: true,
    format: 'esm',
    platform: entry.platform,
    target: entry.platform === 'node' ? 'node20' : 'es2022',
    minify: true,
    write: false,
    metafile: true,
    external,
    logLevel: 'silent',
    // Node's bundle keeps every npm package external, as an installed package's dependencies are.
    packages: entry.platform === 'node' ? 'external' : undefined,
  };
  const result = await build(options);
  const code = result.outputFiles![0].contents;
  const imports = Object.values(result.metafile!.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path));
  return { size: { raw: code.length, gzip: gzipSync(code, { level: 9 }).length }, imports: [...new Set(imports)].sort() };
}

/** What "our code" leaves out: the libraries the engines run on. */
const ENGINE_LIBRARIES = ['onnxruntime-web', 'onnxruntime-web/*', 'onnxruntime-node', '@tensorflow/*'];

export async function measureBundleSizes(root: string): Promise<BundleSizeRow[]> {
  const rows: BundleSizeRow[] = [];
  for (const entry of ENTRY_POINTS) {
    const own = await bundle(root, entry, ENGINE_LIBRARIES);
    const withEngineJs = entry.platform === 'browser' ? await bundle(root, entry, []) : undefined;
    const wasm = entry.wasm.map((w) => {
      const file = join(root, 'node_modules', w.file);
      // .wasm is served compressed by any sensible server: quote its gzip size too.
      return { ...w, raw: statSync(file).size, gzip: gzipSync(readFileSync(file), { level: 6 }).length };
    });
    rows.push({ importPath: entry.importPath, engines: entry.engines, ownCode: own.size, withEngineJs: withEngineJs?.size, wasm, externalImports: own.imports });
  }
  return rows;
}

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
/** .wasm binaries range from ~100 KiB (tfjs) to tens of MiB (onnxruntime). */
const binarySize = (n: number) => (n < 1024 * 1024 ? kib(n) : mib(n));

export async function writeBundleReport(rows: BundleSizeRow[], out: string): Promise<string[]> {
  const lines = [
    '# Bundle size per entry point',
    '',
    'Minified ESM bundles esbuild produces for each package export, raw / gzip, measured in one run by `npm run bench`. "Our code": the engine libraries (onnxruntime, tfjs) external; "with the engines\' JS": their JavaScript bundled in (onnxruntime-web, or tfjs-core and its backends); then the `.wasm` each entry fetches at run time (raw / gzip).',
    '',
    '| import | engines | our code | with the engines\' JS | .wasm fetched |',
    '| --- | --- | ---: | ---: | --- |',
    ...rows.map((r) => {
      const withEngineJs = r.withEngineJs ? `${kib(r.withEngineJs.raw)} / ${kib(r.withEngineJs.gzip)}` : 'n/a (Node: npm packages, native onnxruntime-node)';
      const wasm = r.wasm.map((w) => `${basename(w.file)}: ${binarySize(w.raw)} / ${binarySize(w.gzip)} (${w.when})`).join('<br>') || '-';
      return `| \`${r.importPath}\` | ${r.engines} | ${kib(r.ownCode.raw)} / ${kib(r.ownCode.gzip)} | ${withEngineJs} | ${wasm} |`;
    }),
    '',
  ];
  const md = join(out, 'bundles.md');
  const json = join(out, 'bundles.json');
  await writeFile(md, lines.join('\n'));
  await writeFile(json, JSON.stringify({ rows }, null, 2) + '\n');
  return [json, md];
}
