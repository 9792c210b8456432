/**
 * Loading a file compiled with --refit: a tier's refit section comes with that tier only (one more range
 * request), is checked against its SHA-256 like every section, and `refit: false` loads the plain prefix.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import { feedBatches, openDataset } from '../../compiler/data/spec.js';
import { importOnnx } from '../../compiler/import/onnx.js';
import { LrmChecksumError } from '../../formats/errors.js';
import type { ModelHeader } from '../../formats/model.js';
import { bytesToLoad } from '../../formats/read.js';
import { sectionsFor } from '../../formats/sections.js';
import { HEADER_CHUNK_BYTES, load, type Feeds, type LrmSession } from '../../runtime/node.js';
import { bindInput, DATA, mnistDigits, MODELS } from '../e2e/real-inputs.js';
import { CountingServer } from './counting-server.js';

let lrm: Uint8Array;
let header: ModelHeader;
let payloadStart: number;
let feeds: Feeds;
let server: CountingServer;
/** Set by the test that serves it. */
let smallLrm: Uint8Array = new Uint8Array();
const ROOT = join(import.meta.dirname, '../..');
/** Bytes `tiers` tiers need without their refit: header, dense, tiers, transient blocks of layers not yet dense. */
const need = (tiers: number) => bytesToLoad(header, payloadStart, tiers) - (header.tiers[tiers - 1].refit?.range.length ?? 0);
/** Range requests the loader makes for `tiers` tiers after the header read: one per run of back-to-back sections. */
const runs = (tiers: number) =>
  sectionsFor(header, tiers)
    .filter((x) => payloadStart + x.range.offset + x.range.length > HEADER_CHUNK_BYTES)
    .filter((x, i, all) => i === 0 || all[i - 1]!.range.offset + all[i - 1]!.range.length !== x.range.offset).length;
const refitLength = (tiers: number) => header.tiers[tiers - 1].refit!.range.length;

beforeAll(async () => {
  const source = new Uint8Array(readFileSync(join(MODELS, 'mnist-cnn-pytorch.onnx')));
  const inputs = importOnnx(source).inputs;
  const calib = await openDataset(`mnist:${join(DATA, 'mnist')}`, { layout: inputs[0].shape, mean: [0.5], std: [0.5], limit: 64 });
  ({ lrm, header } = await compileOnnx(source, { calibration: () => feedBatches(calib, inputs, 32), tiers: [0.05, 0.15, 1], refit: true, refitSweeps: 1 }));
  payloadStart = lrm.length - header.payloadLength;
  feeds = bindInput(await mnistDigits(2, false, (v) => (v / 255 - 0.5) / 0.5), 'input')[0];
  const refit1 = payloadStart + header.tiers[1].refit!.range.offset;
  server = await CountingServer.start({
    '/model.lrm': (req, res, s) => s.sendWithRange(req, res, lrm),
    '/small.lrm': (req, res, s) => s.sendWithRange(req, res, smallLrm),
    '/corrupt-refit/model.lrm': (req, res, s) =>
      s.sendWithRange(req, res, lrm, (part, start) => {
        if (start > refit1 + 5 || start + part.length <= refit1 + 5) return part;
        const damaged = part.slice();
        damaged[refit1 + 5 - start] ^= 0x5a;
        return damaged;
      }),
  });
});

afterAll(async () => {
  await server?.close();
});

const output = async (s: LrmSession) => (await s.run(feeds)).output.data as Float32Array;

async function inMemory(tiers: number, refit?: boolean): Promise<Float32Array> {
  const s = await load(lrm, { tiers, refit });
  try {
    return await output(s);
  } finally {
    await s.release();
  }
}

describe('refit sections over HTTP', () => {
  it('a tier brings its own refit section in one more request; upgrade() fetches the next tier and its refit', async () => {
    const from = server.served.length;
    const session = await load(`${server.base}/model.lrm`, { tiers: 1 });
    try {
      const needed = need(1) + refitLength(1);
      expect(server.served.length - from).toBe(1 + runs(1) + 1); // header chunk, what tier 0 needs, its refit section
      expect(server.sentSince(from)).toBeGreaterThanOrEqual(needed);
      // The fixed-size header read may reach past what tier 0 needs (into later tiers' sections): at most its size more.
      expect(server.sentSince(from)).toBeLessThanOrEqual(needed + HEADER_CHUNK_BYTES);
      expect(session.bytesLoaded).toBe(needed);
      const refitted = await output(session);
      expect(refitted).toEqual(await inMemory(1));
      expect(refitted).not.toEqual(await inMemory(1, false));

      const before = server.served.length;
      await session.upgrade(2);
      expect(server.served.length - before).toBe(2);
      expect(server.sentSince(before)).toBe(need(2) - need(1) + refitLength(2) + sectionsFor(header, 1).filter((x) => !sectionsFor(header, 2).some((y) => y.name === x.name)).reduce((sum, x) => sum + x.range.length, 0));
      expect(await output(session)).toEqual(await inMemory(2));
    } finally {
      await session.release();
    }
  });

  it('a small file that arrived whole with the first read needs no request for its refit section', async () => {
    const source = new Uint8Array(readFileSync(join(ROOT, 'examples/mnist/mnist-8.onnx')));
    const inputs = importOnnx(source).inputs;
    const calib = await openDataset(`mnist:${join(DATA, 'mnist')}`, { layout: inputs[0].shape, limit: 16 });
    const small = await compileOnnx(source, { calibration: () => feedBatches(calib, inputs, 1), tiers: [0.35, 1], minParams: 1024, rankMultiple: 1, refit: true, refitSweeps: 1 });
    expect(small.lrm.length).toBeLessThan(HEADER_CHUNK_BYTES);
    expect(small.header.tiers[0].refit).toBeDefined();
    const digit = { [inputs[0].name]: { dataType: 'float32' as const, dims: [1, 1, 28, 28], data: (feeds.input.data as Float32Array).map((v) => (v * 0.5 + 0.5) * 255) } };
    smallLrm = small.lrm;
    const from = server.served.length;
    const session = await load(`${server.base}/small.lrm`, { tiers: 1 });
    try {
      expect(server.served.length - from).toBe(1);
      const local = await load(small.lrm, { tiers: 1 });
      expect(Object.values(await session.run(digit))[0].data).toEqual(Object.values(await local.run(digit))[0].data);
      await local.release();
    } finally {
      await session.release();
    }
  });

  it('refit: false reads no refit section and runs the nested prefix', async () => {
    const from = server.served.length;
    const session = await load(`${server.base}/model.lrm`, { tiers: 1, refit: false });
    try {
      expect(server.served.length - from).toBe(1 + runs(1));
      expect(session.bytesLoaded).toBe(need(1));
      expect(await output(session)).toEqual(await inMemory(1, false));
    } finally {
      await session.release();
    }
  });

  it('a corrupted refit section is LrmChecksumError; a session keeps running on what it had', async () => {
    const err = await load(`${server.base}/corrupt-refit/model.lrm`, { tiers: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LrmChecksumError);
    expect((err as LrmChecksumError).section).toBe('refit');
    expect((err as LrmChecksumError).tier).toBe(1);

    const session = await load(`${server.base}/corrupt-refit/model.lrm`, { tiers: 1 });
    try {
      await expect(session.upgrade(2)).rejects.toBeInstanceOf(LrmChecksumError);
      expect(session.tiers).toBe(1);
      expect(await output(session)).toEqual(await inMemory(1));
    } finally {
      await session.release();
    }
  });
});
