// Browser bundles of the browser entry points in dist/browser/.
// lowrank-wasm.js, lowrank-webgpu.js: onnxruntime-web stays external; apps load it from their own bundle or an
// import map, with its .wasm files. lowrank-tfjs.js: tfjs-core and its backends are bundled in (the engines register
// their backends on that copy of tfjs-core), and tfjs-backend-wasm's .wasm files are copied beside it, where the
// entry looks for them by default.
import { copyFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';

const OUT = 'dist/browser';
const common = { bundle: true, format: 'esm', platform: 'browser', target: 'es2022', outdir: OUT, minify: true, sourcemap: true, metafile: true, logLevel: 'warning' };

const builds = [
  {
    entryPoints: { 'lowrank-wasm': 'runtime/browser-wasm.ts', 'lowrank-webgpu': 'runtime/browser-webgpu.ts' },
    external: ['onnxruntime-web', 'onnxruntime-web/*'],
    note: 'onnxruntime-web external',
  },
  { entryPoints: { 'lowrank-tfjs': 'runtime/browser-tfjs.ts' }, external: [], note: 'tfjs bundled in' },
];
for (const { note, ...options } of builds) {
  const result = await build({ ...common, ...options });
  for (const [file, out] of Object.entries(result.metafile.outputs)) {
    if (out.entryPoint) console.log(`browser bundle: ${file} (${(out.bytes / 1024).toFixed(1)} KiB, ${note})`);
  }
}

const tfjsWasmDist = join(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
for (const file of readdirSync(tfjsWasmDist).filter((f) => f.endsWith('.wasm'))) copyFileSync(join(tfjsWasmDist, file), join(OUT, file));

// tfjs-core's entry points leave out the gradient functions (the @tensorflow/tfjs union package registers them) and
// its per-file ESM modules use extensionless imports Node cannot load, so distillation (compiler/distill/) gets
// them as one bundle. The internals it duplicates keep their state in tfjs's global engine and registries, which
// both copies share.
await build({
  entryPoints: { 'tfjs-gradients': createRequire(import.meta.url).resolve('@tensorflow/tfjs-core/dist/register_all_gradients.js') },
  bundle: true, format: 'esm', platform: 'node', target: 'es2022', outdir: 'dist/vendor', minify: true, logLevel: 'warning',
});

// Last: the build is complete. test/build-once.ts rebuilds before the tests only when a source is newer than this.
writeFileSync('dist/.build-stamp', `${new Date().toISOString()}\n`);
