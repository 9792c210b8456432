/**
 * What each entry point costs an app: the bundle esbuild produces for it (minified ESM, raw and gzip), first with
 * onnxruntime kept external (our code alone), then with onnxruntime-web's JavaScript bundled in, plus the
 * onnxruntime .wasm binary the entry downloads at run time. All measured in one run from the same sources.
 */
import { readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, type BuildOptions } from 'esbuild';

export interface EntryPoint {
  /** The package export an app imports. */
  importPath: string;
  source: string;
  platform: 'browser' | 'node';
  engines: string;
  /** onnxruntime-web's .wasm binaries the entry may load (in node_modules/onnxruntime-web/dist), and when. */
  wasm: Array<{ file: string; when: string }>;
}

export const ENTRY_POINTS: EntryPoint[] = [
  {
    importPath: 'lowrank-edge/wasm',
    source: 'runtime/browser-wasm.ts',
    platform: 'browser',
    engines: 'ort-wasm',
    wasm: [{ file: 'ort-wasm-simd-threaded.wasm', when: 'always' }],
  },
  {
    importPath: 'lowrank-edge/webgpu',
    source: 'runtime/browser-webgpu.ts',
    platform: 'browser',
    engines: 'ort-webgpu, then ort-wasm',
    wasm: [
      { file: 'ort-wasm-simd-threaded.asyncify.wasm', when: 'with WebGPU' },
      { file: 'ort-wasm-simd-threaded.wasm', when: 'on fallback' },
    ],
  },
  { importPath: 'lowrank-edge', source: 'runtime/node.ts', platform: 'node', engines: 'ort-node-cpu, ort-wasm (+ opt-in ort-node-webgpu)', wasm: [] },
];

export interface Size {
  raw: number;
  gzip: number;
}

export interface BundleSizeRow {
  importPath: string;
  engines: string;
  /** Our code alone, onnxruntime external (what dist/browser/*.js are). */
  ownCode: Size;
  /** With onnxruntime-web's JavaScript bundled in (browser entries; Node loads onnxruntime-node's native addon). */
  withOrtJs?: Size;
  /** onnxruntime-web .wasm binaries fetched at run time. */
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

export async function measureBundleSizes(root: string): Promise<BundleSizeRow[]> {
  const rows: BundleSizeRow[] = [];
  for (const entry of ENTRY_POINTS) {
    const own = await bundle(root, entry, ['onnxruntime-web', 'onnxruntime-web/*', 'onnxruntime-node']);
    const withOrt = entry.platform === 'browser' ? await bundle(root, entry, []) : undefined;
    const wasm = entry.wasm.map((w) => {
      const file = join(root, 'node_modules/onnxruntime-web/dist', w.file);
      // .wasm is served compressed by any sensible server: quote its gzip size too.
      return { ...w, raw: statSync(file).size, gzip: gzipSync(readFileSync(file), { level: 6 }).length };
    });
    rows.push({ importPath: entry.importPath, engines: entry.engines, ownCode: own.size, withOrtJs: withOrt?.size, wasm, externalImports: own.imports });
  }
  return rows;
}

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

export async function writeBundleReport(rows: BundleSizeRow[], out: string): Promise<string[]> {
  const lines = [
    '# Bundle size per entry point',
    '',
    'Minified ESM bundles esbuild produces for each package export, raw / gzip, measured in one run by `npm run bench`. "Our code": onnxruntime external; "with onnxruntime-web JS": its JavaScript bundled in; then the onnxruntime-web `.wasm` each entry fetches at run time (raw / gzip).',
    '',
    '| import | engines | our code | with onnxruntime-web JS | .wasm fetched |',
    '| --- | --- | ---: | ---: | --- |',
    ...rows.map((r) => {
      const withOrt = r.withOrtJs ? `${kib(r.withOrtJs.raw)} / ${kib(r.withOrtJs.gzip)}` : 'n/a (native onnxruntime-node)';
      const wasm = r.wasm.map((w) => `${w.file}: ${mib(w.raw)} / ${mib(w.gzip)} (${w.when})`).join('<br>') || '-';
      return `| \`${r.importPath}\` | ${r.engines} | ${kib(r.ownCode.raw)} / ${kib(r.ownCode.gzip)} | ${withOrt} | ${wasm} |`;
    }),
    '',
  ];
  const md = join(out, 'bundles.md');
  const json = join(out, 'bundles.json');
  await writeFile(md, lines.join('\n'));
  await writeFile(json, JSON.stringify({ rows }, null, 2) + '\n');
  return [json, md];
}
