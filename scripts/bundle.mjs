// Browser bundles of the two browser entry points (dist/browser/lowrank-wasm.js, dist/browser/lowrank-webgpu.js).
// onnxruntime-web stays external: apps load it from their own bundle or an import map, with its .wasm files.
import { build } from 'esbuild';

const BROWSER_ENTRIES = { 'lowrank-wasm': 'runtime/browser-wasm.ts', 'lowrank-webgpu': 'runtime/browser-webgpu.ts' };

const result = await build({
  entryPoints: BROWSER_ENTRIES,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  outdir: 'dist/browser',
  external: ['onnxruntime-web', 'onnxruntime-web/*'],
  minify: true,
  sourcemap: true,
  metafile: true,
  logLevel: 'warning',
});
for (const [file, out] of Object.entries(result.metafile.outputs)) {
  if (out.entryPoint) console.log(`browser bundle: ${file} (${(out.bytes / 1024).toFixed(1)} KiB, onnxruntime-web external)`);
}
