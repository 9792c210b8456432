/**
 * `lowrank inspect <file.lra>` (issue 17): the CLI recognises an adapter by its identifier, verifies it and describes
 * it; a damaged one ends in one line and exit 1. The base is a real .lrm compiled from mnist-cnn-pytorch.onnx.
 * Builds dist/ once first (bin/lowrank.js imports dist/).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleAdapter } from '../../bench/sample-adapter.js';
import { compileOnnx } from '../../compiler/compile.js';
import { adapterBaseOf, AdapterBaseMismatchError, checkAdapterBase, readAdapter, writeAdapter } from '../../formats/index.js';
import { cli, cliJson, cliOk, MNIST_CNN } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'lowrank-lra-'));
const lokr = join(dir, 'style-lokr.lra');
const lora = join(dir, 'style-lora.lra');
let lokrBytes = 0;
/** The compiled base (fp32) and another compile of the same ONNX (int8): a different model to an adapter. */
let base: Uint8Array;
let other: Uint8Array;

beforeAll(async () => {
  const onnx = new Uint8Array(readFileSync(MNIST_CNN));
  base = (await compileOnnx(onnx, {})).lrm;
  other = (await compileOnnx(onnx, { dtype: 'int8' })).lrm;
  const { headerSha256 } = adapterBaseOf(base, 'mnist-cnn.lrm');
  const file = await writeAdapter(sampleAdapter('lokr', 'int8', { baseSha256: headerSha256 }), { compilerVersion: 'lowrank-edge trainer test' });
  lokrBytes = file.length;
  writeFileSync(lokr, file);
  writeFileSync(lora, await writeAdapter(sampleAdapter('lora', 'fp16')));
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('lowrank inspect <file.lra>', () => {
  it('prints kind, dtype, base, bytes, a layer table and the notes', () => {
    const out = cliOk('inspect', lokr).stdout;
    expect(out).toContain(`${lokr}: ${(lokrBytes / 1024).toFixed(1)} KiB, adapter format v1, lowrank-edge trainer test, lokr, factors int8, 75 parameters\n`);
    expect(out).toContain(`base: mnist-cnn.lrm (header sha256 ${adapterBaseOf(base, '').headerSha256.slice(0, 16)}…): apply it to that model only`);
    expect(out).toMatch(/target\s+rows×cols\s+rank\s+alpha\s+kron\s+bytes/);
    // fc1: w1 2×4 + up2 6×3 + down2 3×5 int8 values = 8 + 18 + 15 bytes.
    expect(out).toMatch(/fc1\.weight\s+12×20\s+3\s+8\s+2×4\s+41 B\n/);
    expect(out).toMatch(/head\.weight\s+1×1\s+1\s+1\s+1×1\s+3 B\n/);
    expect(out).toContain('notes:\n  lokr int8 sample\n  held-out accuracy: n/a');
  });

  it('--json: one object with the base and per-layer bytes', () => {
    const d = cliJson<{ fileType: string; kind: string; dtype: string; base: { headerSha256: string; fileName: string }; fileBytes: number; params: number; layers: Array<{ target: string; rows: number; cols: number; rank: number; alpha: number; kron: number[] | null; bytes: number }> }>('inspect', lora, '--json');
    expect(d).toMatchObject({ fileType: 'adapter', kind: 'lora', dtype: 'fp16', base: { headerSha256: '0123456789abcdef'.repeat(4), fileName: 'mnist-cnn.lrm' } });
    expect(d.layers.map((l) => [l.target, l.rows, l.cols, l.rank, l.alpha, l.kron, l.bytes])).toEqual([
      ['fc1.weight', 12, 20, 4, 8, null, (12 * 4 + 4 * 20) * 2],
      ['features.0.weight', 6, 27, 2, 2.5, null, (6 * 2 + 2 * 27) * 2],
      ['head.weight', 1, 1, 1, 1, null, 4],
    ]);
    expect(d.params).toBe(d.layers.reduce((s, l) => s + l.bytes / 2, 0));
  });

  it('a damaged adapter: one line naming the file, the damage and the fix, exit 1', () => {
    const bad = join(dir, 'damaged.lra');
    const bytes = new Uint8Array(readFileSync(lora));
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(bad, bytes);
    const r = cli('inspect', bad);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`lowrank: error: ${bad} is damaged: the weight payload does not match its SHA-256 checksum (re-download or re-copy the file)`);
  });
});

describe('an adapter and its compiled base', () => {
  it('checkAdapterBase accepts the base it names and refuses another compile of the same model', async () => {
    const adapter = await readAdapter(new Uint8Array(readFileSync(lokr)), { fileName: 'style-lokr.lra' });
    const ok = adapterBaseOf(base, 'kiosk.lrm');
    expect(() => checkAdapterBase(adapter, ok.headerSha256, ok.fileName)).not.toThrow();
    const wrong = adapterBaseOf(other, 'kiosk-int8.lrm');
    expect(() => checkAdapterBase(adapter, wrong.headerSha256, wrong.fileName, { adapterName: 'style-lokr.lra' })).toThrow(AdapterBaseMismatchError);
    expect(() => checkAdapterBase(adapter, wrong.headerSha256, wrong.fileName, { adapterName: 'style-lokr.lra' })).toThrow(
      `adapter style-lokr.lra was trained for base ${ok.headerSha256.slice(0, 8)}… (mnist-cnn.lrm), this model is ${wrong.headerSha256.slice(0, 8)}… (kiosk-int8.lrm): use the adapter made for this model or retrain it`,
    );
  });

  it('inspect of the base .lrm is unchanged: the model summary, not an adapter', () => {
    const path = join(dir, 'base.lrm');
    writeFileSync(path, base);
    const out = cliOk('inspect', path).stdout;
    expect(out).toMatch(/^.*base\.lrm: [\d.]+ MiB, format v\d+, lowrank-edge [\d.]+, factors fp32/);
    expect(out).toMatch(/presets: /);
    expect(out).not.toMatch(/adapter/);
  });
});
