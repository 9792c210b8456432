/**
 * Caching verified sections between loads: a Node directory, and the browser stores (Cache API, IndexedDB)
 * run in Node on stand-ins (a Cache API fake with a quota, fake-indexeddb), over a local byte-counting server.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IDBFactory } from 'fake-indexeddb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import type { ModelHeader } from '../../formats/model.js';
import { writeLrm } from '../../formats/write.js';
import { bytesToLoad } from '../../formats/read.js';
import { sectionsFor } from '../../formats/sections.js';
import { browserCache } from '../../runtime/cache/browser-cache.js';
import type { CacheStorageLike } from '../../runtime/cache/cache-api-cache.js';
import { HEADER_CHUNK_BYTES, load, type Feeds, type LoadOptions } from '../../runtime/node.js';
import { bindInput, mnistDigits, MODELS } from '../e2e/real-inputs.js';
import { CountingServer } from './counting-server.js';

let lrm: Uint8Array;
/** The same model with other presets: a new version, so a new header hash. */
let lrmV2: Uint8Array;
let header: ModelHeader;
let payloadStart: number;
/** File offset where tier `tiers - 1`'s own section ends (tiers 0..k are one prefix of the file). */
const prefixEnd = (tiers: number) => payloadStart + header.tiers[tiers - 1].range.offset + header.tiers[tiers - 1].range.length;
/** Bytes a session of `tiers` tiers reads: header, dense, tiers, and transient blocks of layers not yet dense. */
const need = (tiers: number) => bytesToLoad(header, payloadStart, tiers);
let feeds: Feeds;
let server: CountingServer;
let tmp: string;

beforeAll(async () => {
  ({ lrm, header } = await compileOnnx(new Uint8Array(readFileSync(join(MODELS, 'mnist-cnn-pytorch.onnx'))), { fileName: 'mnist-cnn-pytorch.onnx' }));
  payloadStart = lrm.length - header.payloadLength;
  const { payloadLength: _length, ...input } = header;
  lrmV2 = await writeLrm({ ...input, dense: { range: header.dense.range }, presets: [...header.presets, { name: 'tiny', deviceClass: 'any', engine: 'any', tiers: 1 }] }, lrm.subarray(payloadStart));
  feeds = bindInput(await mnistDigits(1, false, (v) => (v / 255 - 0.5) / 0.5), 'input')[0];
  server = await CountingServer.start({
    '/model.lrm': (req, res, s) => s.sendWithRange(req, res, lrm),
    '/v2/model.lrm': (req, res, s) => s.sendWithRange(req, res, lrmV2),
  });
  tmp = mkdtempSync(join(tmpdir(), 'lowrank-cache-'));
});

afterAll(async () => {
  await server?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Loads over HTTP, runs once; returns the output and what the server sent for this load. */
async function loadOnce(path: string, options: LoadOptions & { cacheDir?: string }) {
  const from = server.served.length;
  const session = await load(`${server.base}${path}`, options);
  try {
    const output = (await session.run(feeds)).output.data;
    return { output, sent: server.sentSince(from), requests: server.served.length - from, fetched: session.bytesFetched, session };
  } finally {
    await session.release();
  }
}

describe('directory cache (Node)', () => {
  let dir: string;
  beforeAll(() => {
    dir = join(tmp, 'dir-cache');
  });

  it('the second load fetches only the header; upgrade() fetches only the tiers not cached yet', async () => {
    const first = await loadOnce('/model.lrm', { tiers: 3, cacheDir: dir });
    expect(first.sent).toBe(need(3));
    const second = await loadOnce('/model.lrm', { tiers: 3, cacheDir: dir });
    expect(second.requests).toBe(1);
    expect(second.sent).toBe(HEADER_CHUNK_BYTES);
    expect(second.fetched).toBe(HEADER_CHUNK_BYTES);
    expect(second.output).toEqual(first.output);

    // One tier needs transient blocks that three did not (layers dense from tier 1 or 2): they come over the wire;
    // then tiers 3..4 are not cached yet: only they come (all five tiers need no transient blocks).
    const cached = new Set(sectionsFor(header, 3).map((x) => x.name));
    const newForOne = sectionsFor(header, 1).filter((x) => !cached.has(x.name)).reduce((sum, x) => sum + x.range.length, 0);
    expect(newForOne).toBeGreaterThan(0);
    const from = server.served.length;
    const session = await load(`${server.base}/model.lrm`, { tiers: 1, cacheDir: dir });
    try {
      expect(server.sentSince(from)).toBe(HEADER_CHUNK_BYTES + newForOne);
      await session.upgrade(5);
      expect(server.sentSince(from)).toBe(HEADER_CHUNK_BYTES + newForOne + prefixEnd(5) - prefixEnd(3));
    } finally {
      await session.release();
    }
  });

  it('a damaged cache entry is dropped and downloaded again, never used', async () => {
    const [hashDir] = readdirSync(dir);
    // The largest section two tiers need besides the dense one (a transient section in this file).
    const section = sectionsFor(header, 2).filter((x) => x.kind !== 'dense').sort((a, b) => b.range.length - a.range.length)[0]!;
    expect(section.range.length).toBeGreaterThan(0);
    const entry = join(dir, hashDir, `${section.name}.bin`);
    const bytes = readFileSync(entry);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(entry, bytes);
    const clean = await load(lrm, { tiers: 2 });
    const expected = (await clean.run(feeds)).output.data;
    await clean.release();

    const again = await loadOnce('/model.lrm', { tiers: 2, cacheDir: dir });
    expect(again.output).toEqual(expected);
    const start = payloadStart + section.range.offset;
    expect(again.sent).toBe(HEADER_CHUNK_BYTES + section.range.length);
    expect(readFileSync(entry)).toEqual(Buffer.from(lrm.subarray(start, start + section.range.length)));
  });

  it('a new version of the model gets its own keys: nothing of the old one is used', async () => {
    const v2 = await loadOnce('/v2/model.lrm', { tiers: 2, cacheDir: dir });
    const v2PayloadStart = lrmV2.length - header.payloadLength;
    expect(v2.sent).toBe(need(2) - payloadStart + v2PayloadStart);
    expect(readdirSync(dir)).toHaveLength(2);
  });
});

/** A Cache API stand-in that refuses to store more than `quota` bytes, as a full browser store does. */
function fakeCacheStorage(quota: number): CacheStorageLike & { stored: () => number } {
  const entries = new Map<string, Uint8Array>();
  const stored = () => [...entries.values()].reduce((s, b) => s + b.length, 0);
  const cache = {
    async match(key: string) {
      const b = entries.get(key);
      return b ? new Response(b.slice()) : undefined;
    },
    async put(key: string, res: Response) {
      const body = new Uint8Array(await res.arrayBuffer());
      if (stored() + body.length > quota) throw new DOMException('quota exceeded', 'QuotaExceededError');
      entries.set(key, body);
    },
    async delete(key: string) {
      return entries.delete(key);
    },
  };
  return { open: async () => cache, stored };
}

describe('browser caches', () => {
  it('Cache API: sections are stored, and a full quota falls back to memory without failing the load', async () => {
    const storage = fakeCacheStorage(need(1)); // room for what tier 0 needs, not for three tiers
    const cache = browserCache({ caches: storage });
    expect(cache.kind).toBe('cache-api');
    const first = await loadOnce('/model.lrm', { tiers: 3, cache });
    expect(cache.kind).toBe('cache-api→memory');
    expect(storage.stored()).toBeGreaterThan(0);
    expect(storage.stored()).toBeLessThanOrEqual(need(1));
    const second = await loadOnce('/model.lrm', { tiers: 3, cache });
    expect(second.sent).toBe(HEADER_CHUNK_BYTES);
    expect(second.output).toEqual(first.output);
  });

  it('IndexedDB when there is no Cache API: stored across cache objects (as across page loads)', async () => {
    const indexedDB = new IDBFactory();
    const first = await loadOnce('/model.lrm', { tiers: 2, cache: browserCache({ indexedDB }) });
    const cache = browserCache({ indexedDB });
    expect(cache.kind).toBe('indexeddb');
    const second = await loadOnce('/model.lrm', { tiers: 2, cache });
    expect(second.sent).toBe(HEADER_CHUNK_BYTES);
    expect(second.output).toEqual(first.output);
  });

  it('neither: memory only', () => {
    expect(browserCache({}).kind).toBe('memory');
  });
});
