/**
 * Bundle sizes per entry point (bench/bundle-sizes.ts): each entry pulls in only its own engine library builds, so an
 * app that imports lowrank-edge/wasm never bundles or fetches the WebGPU one, nor tfjs.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { measureBundleSizes, writeBundleReport } from '../../bench/bundle-sizes.js';

const ROOT = join(import.meta.dirname, '../..');
const out = mkdtempSync(join(tmpdir(), 'lowrank-bundles-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('bundle size per entry point', () => {
  it('measures every entry; each imports only the engine libraries it runs on', async () => {
    const rows = await measureBundleSizes(ROOT);
    const byImport = Object.fromEntries(rows.map((r) => [r.importPath, r]));
    expect(Object.keys(byImport)).toEqual(['lowrank-edge/wasm', 'lowrank-edge/webgpu', 'lowrank-edge/tfjs', 'lowrank-edge']);
    expect(byImport['lowrank-edge/wasm'].externalImports).toEqual(['onnxruntime-web/wasm']);
    expect(byImport['lowrank-edge/webgpu'].externalImports).toEqual(['onnxruntime-web/wasm', 'onnxruntime-web/webgpu']);
    expect(byImport['lowrank-edge/tfjs'].externalImports).toEqual(['@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-backend-webgpu', '@tensorflow/tfjs-core']);
    expect(byImport['lowrank-edge'].externalImports).toContain('onnxruntime-node');
    expect(byImport['lowrank-edge'].externalImports.filter((i) => i.startsWith('onnxruntime-web'))).toEqual(['onnxruntime-web']);
    for (const r of rows) {
      expect(r.ownCode.gzip).toBeGreaterThan(0);
      expect(r.ownCode.gzip).toBeLessThan(r.ownCode.raw);
      if (r.withEngineJs) expect(r.withEngineJs.raw).toBeGreaterThan(r.ownCode.raw);
      for (const w of r.wasm) expect(w.gzip).toBeLessThan(w.raw);
    }
    // The WebGPU entry adds only its engine to the WASM one, and fetches the WebGPU-enabled binary.
    expect(byImport['lowrank-edge/webgpu'].ownCode.raw - byImport['lowrank-edge/wasm'].ownCode.raw).toBeLessThan(8 * 1024);
    expect(byImport['lowrank-edge/webgpu'].wasm[0].file).toBe('onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.wasm');
    // The tfjs entry fetches tfjs-backend-wasm's binaries only, none of onnxruntime's.
    expect(byImport['lowrank-edge/tfjs'].wasm.map((w) => w.file).every((f) => f.startsWith('@tensorflow/tfjs-backend-wasm/'))).toBe(true);

    const [json, md] = await writeBundleReport(rows, out);
    expect(JSON.parse(readFileSync(json, 'utf8')).rows).toHaveLength(4);
    expect(readFileSync(md, 'utf8')).toContain('| `lowrank-edge/webgpu` |');
    expect(readFileSync(md, 'utf8')).toContain('| `lowrank-edge/tfjs` |');
  });
});
