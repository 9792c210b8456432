// Browser bundle of the WASM runtime (dist/browser/lowrank-wasm.js). onnxruntime-web stays external:
// apps load it from their own bundle or a local copy, together with its .wasm files.
import { build } from 'esbuild';

const result = await build({
  entryPoints: { 'lowrank-wasm': 'runtime/browser-wasm.ts' },
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  outdir: 'dist/browser',
  external: ['onnxruntime-web'],
  minify: true,
  sourcemap: true,
  metafile: true,
  logLevel: 'warning',
});
const bytes = Object.values(result.metafile.outputs).filter((o) => o.entryPoint).reduce((s, o) => s + o.bytes, 0);
console.log(`browser bundle: dist/browser/lowrank-wasm.js (${(bytes / 1024).toFixed(1)} KiB, onnxruntime-web external)`);
