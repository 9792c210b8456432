/**
 * Bundle sizes per entry point (bench/bundle-sizes.ts): each entry pulls in only its own onnxruntime build, so an
 * app that imports lowrank-edge/wasm never bundles or fetches the WebGPU one.
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
  it('measures every entry; each imports only the onnxruntime build it runs on', async () => {
    const rows = await measureBundleSizes(ROOT);
    const byImport = Object.fromEntries(rows.map((r) => [r.importPath, r]));
    expect(Object.keys(byImport)).toEqual(['lowrank-edge/wasm', 'lowrank-edge/webgpu', 'lowrank-edge']);
    expect(byImport['lowrank-edge/wasm'].externalImports).toEqual(['onnxruntime-web/wasm']);
    expect(byImport['lowrank-edge/webgpu'].externalImports).toEqual(['onnxruntime-web/wasm', 'onnxruntime-web/webgpu']);
    expect(byImport['lowrank-edge'].externalImports).toContain('onnxruntime-node');
    expect(byImport['lowrank-edge'].externalImports.filter((i) => i.startsWith('onnxruntime-web'))).toEqual(['onnxruntime-web']);
    for (const r of rows) {
      expect(r.ownCode.gzip).toBeGreaterThan(0);
      expect(r.ownCode.gzip).toBeLessThan(r.ownCode.raw);
      if (r.withOrtJs) expect(r.withOrtJs.raw).toBeGreaterThan(r.ownCode.raw);
    }
    // The WebGPU entry adds only its engine to the WASM one, and fetches the WebGPU-enabled binary.
    expect(byImport['lowrank-edge/webgpu'].ownCode.raw - byImport['lowrank-edge/wasm'].ownCode.raw).toBeLessThan(8 * 1024);
    expect(byImport['lowrank-edge/webgpu'].wasm[0].file).toBe('ort-wasm-simd-threaded.asyncify.wasm');

    const [json, md] = await writeBundleReport(rows, out);
    expect(JSON.parse(readFileSync(json, 'utf8')).rows).toHaveLength(3);
    expect(readFileSync(md, 'utf8')).toContain('| `lowrank-edge/webgpu` |');
  });
});
