/**
 * Where model bytes come from: in-memory bytes, a file path, or HTTP (with and without Range support).
 * A local server on 127.0.0.1 counts the bytes it sends, so we can check that a small tier count only
 * fetches the prefix of the file it needs. Also: the typed errors of damaged files and bad options.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import { readMnist } from '../../compiler/data/mnist.js';
import { LrmChecksumError, LrmFormatError, LrmTruncatedError } from '../../formats/errors.js';
import type { ModelHeader } from '../../formats/model.js';
import { bytesToLoad, headerLength } from '../../formats/read.js';
import { sectionsFor } from '../../formats/sections.js';
import { CountingServer, type Served } from './counting-server.js';
import { HEADER_CHUNK_BYTES, load, LoadOptionError, SourceError, type Feeds, type HostTensor, type LoadOptions } from '../../runtime/node.js';

const DATA = join(import.meta.dirname, '../../../shared/data');
const MODEL = join(DATA, 'models/mnist-cnn-pytorch.onnx');

let lrm: Uint8Array;
let header: ModelHeader;
/** File offset of the payload. */
let payloadStart: number;
/** Bytes up to the end of the header's hash (what headerLength() says must be read for the header). */
let headerEnd: number;
/** The bytes a session of i+1 tiers needs (header, dense section, tiers 0..i, transient blocks of layers not yet dense). */
let tierEnd: (i: number) => number;
/** File spans [start, end) those bytes lie in: the header, then each section tiers 0..i need. */
let neededSpans: (i: number) => Array<[number, number]>;
let feeds: Feeds;
let label: number;
let tmp: string;

let server: CountingServer;
let base: string;
/** What the server sent, for the byte counts below. */
let served: Served[];
/** The same .lrm cut short, served with Range support: a server whose copy is damaged. */
let truncatedOverHttp: Uint8Array;

beforeAll(async () => {
  const source = new Uint8Array(readFileSync(MODEL));
  ({ lrm, header } = await compileOnnx(source, { fileName: 'mnist-cnn-pytorch.onnx' }));
  expect(header.tiers.length).toBe(5);
  payloadStart = lrm.length - header.payloadLength;
  headerEnd = headerLength(lrm.subarray(0, 12));
  tierEnd = (i) => bytesToLoad(header, payloadStart, i + 1);
  neededSpans = (i) => [[0, payloadStart], ...sectionsFor(header, i + 1).map((s): [number, number] => [payloadStart + s.range.offset, payloadStart + s.range.offset + s.range.length])];
  // The default compile has layers that run dense in the last tiers, so tier 0 needs bytes after the last tier.
  expect(header.layers.some((l) => l.denseTier !== undefined && l.denseTier > 0)).toBe(true);
  truncatedOverHttp = lrm.slice(0, Math.floor(lrm.length * 0.6));

  const mnist = await readMnist(join(DATA, 'mnist'));
  label = mnist.labels[0];
  feeds = { input: { dataType: 'float32', dims: [1, 1, 28, 28], data: Float32Array.from(mnist.image(0), (v) => (v / 255 - 0.5) / 0.5) } };

  tmp = mkdtempSync(join(tmpdir(), 'lowrank-sources-'));
  server = await CountingServer.start({
    '/range/model.lrm': (req, res, s) => s.sendWithRange(req, res, lrm),
    '/no-range/model.lrm': (req, res, s) => s.send(req, res, 200, lrm), // ignores Range: always the whole file
    '/range/truncated.lrm': (req, res, s) => s.sendWithRange(req, res, truncatedOverHttp),
  });
  base = server.base;
  served = server.served;
});

afterAll(async () => {
  await server?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Loads, runs the digit once, releases; returns the output and what the session reported. */
async function runOnce(source: Parameters<typeof load>[0], options: LoadOptions = {}) {
  const session = await load(source, options);
  try {
    const out = await session.run(feeds);
    return { output: out.output, tiers: session.tiers, bytesLoaded: session.bytesLoaded, ranks: session.ranks };
  } finally {
    await session.release();
  }
}

function argmax(t: HostTensor): number {
  const v = t.data as Float32Array;
  return v.indexOf(Math.max(...v));
}

/** Awaits a promise that must reject; returns the error. */
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the promise to reject, it resolved');
}

function expectOneLine(e: Error): void {
  expect(e.message.length).toBeGreaterThan(0);
  expect(e.message).not.toMatch(/\n/);
}

/** Whether back-to-back spans together cover [from, to). */
function spansCover(spans: Array<[number, number]>, from: number, to: number): boolean {
  let at = from;
  for (const [a, b] of [...spans].sort((x, y) => x[0] - y[0])) if (a <= at && b > at) at = b;
  return at >= to;
}

describe('HTTP source', () => {
  it('with Range support, tiers: 1 fetches only the header and tier 0, and matches the in-memory load exactly', async () => {
    served.length = 0;
    const remote = await runOnce(`${base}/range/model.lrm`, { tiers: 1 });
    const sent = served.reduce((s, r) => s + r.bytes, 0);
    const local = await runOnce(lrm, { tiers: 1 });

    expect(remote.tiers).toBe(1);
    expect(remote.output.dims).toEqual([1, 10]);
    expect(remote.output.data).toEqual(local.output.data);
    expect(argmax(remote.output)).toBe(label);

    expect(remote.bytesLoaded).toBe(tierEnd(0));
    expect(local.bytesLoaded).toBe(tierEnd(0));
    // Every request was a Range request answered 206, and each after the header read for bytes tier 0 needs: header, dense, tier 0 and the transient
    // blocks of layers dense from a later tier (after the last tier), never the later tiers' own sections.
    expect(served.length).toBeGreaterThan(0);
    const spans = neededSpans(0);
    for (const r of served.slice(1)) {
      expect(r.path).toBe('/range/model.lrm');
      expect(r.status).toBe(206);
      const m = /^bytes=(\d+)-(\d+)$/.exec(r.range ?? '');
      expect(m, `range header ${r.range}`).not.toBeNull();
      const [from, to] = [Number(m![1]), Number(m![2]) + 1];
      expect(spans.some(([a, b]) => a <= from && to <= b) || spansCover(spans, from, to), `range ${r.range} holds bytes tier 0 does not need`).toBe(true);
    }
    // The first request is the fixed-size header read (it may reach past what tier 0 needs); after it, only what
    // tier 0 needs: at most that read's size more than the needed bytes, far below the file.
    expect(served[0]!.range).toMatch(/^bytes=0-/);
    expect(sent).toBeGreaterThanOrEqual(tierEnd(0));
    expect(sent).toBeLessThanOrEqual(tierEnd(0) + Math.max(headerEnd, HEADER_CHUNK_BYTES) + 1024);
    expect(sent).toBeLessThan(lrm.length / 4);
  });

  it('with Range support, all tiers match the in-memory load (URL object form)', async () => {
    served.length = 0;
    const remote = await runOnce(new URL(`${base}/range/model.lrm`));
    const local = await runOnce(lrm);
    expect(remote.tiers).toBe(header.tiers.length);
    // Every tier is one prefix of the file: the transient blocks after it are for fewer tiers only.
    expect(remote.bytesLoaded).toBe(tierEnd(header.tiers.length - 1));
    expect(remote.bytesLoaded).toBe(payloadStart + header.tiers.at(-1)!.range.offset + header.tiers.at(-1)!.range.length);
    expect(remote.bytesLoaded).toBeLessThan(lrm.length);
    expect(remote.output.data).toEqual(local.output.data);
    expect(served.every((r) => r.status === 206)).toBe(true);
  });

  it('a server that ignores Range still works: one full download, reused for every read', async () => {
    served.length = 0;
    const remote = await runOnce(`${base}/no-range/model.lrm`, { tiers: 1 });
    const local = await runOnce(lrm, { tiers: 1 });
    expect(remote.output.data).toEqual(local.output.data);
    expect(remote.bytesLoaded).toBe(tierEnd(0));
    expect(served).toHaveLength(1);
    expect(served[0]).toMatchObject({ status: 200, bytes: lrm.length });

    served.length = 0;
    const all = await runOnce(`${base}/no-range/model.lrm`);
    expect(all.output.data).toEqual((await runOnce(lrm)).output.data);
    expect(served).toHaveLength(1);
  });

  it('HTTP 404 is a SourceError with a one-line message naming the status', async () => {
    const e = await rejection(load(`${base}/missing.lrm`));
    expect(e).toBeInstanceOf(SourceError);
    expectOneLine(e);
    expect(e.message).toMatch(/404/);
    expect(e.message).toContain(`${base}/missing.lrm`);
  });

  it('a truncated copy on the server is a typed error when all tiers are loaded', async () => {
    const e = await rejection(load(`${base}/range/truncated.lrm`));
    expect(e instanceof SourceError || e instanceof LrmFormatError, `${e.name}: ${e.message}`).toBe(true);
    expectOneLine(e);
    expect(e.message).toMatch(/truncated/);
  });
});

describe('file source', () => {
  it('loads from a path, like from bytes', async () => {
    const path = join(tmp, 'model.lrm');
    writeFileSync(path, lrm);
    const fromFile = await runOnce(path, { tiers: 2 });
    const fromBytes = await runOnce(lrm, { tiers: 2 });
    expect(fromFile.tiers).toBe(2);
    expect(fromFile.bytesLoaded).toBe(tierEnd(1));
    expect(fromFile.output.data).toEqual(fromBytes.output.data);
    expect(argmax(fromFile.output)).toBe(label);
  });

  it('a missing file is a SourceError', async () => {
    const missing = join(tmp, 'no-such-model.lrm');
    const e = await rejection(load(missing));
    expect(e).toBeInstanceOf(SourceError);
    expectOneLine(e);
    expect(e.message).toContain(missing);
  });

  describe('a file truncated to 60%', () => {
    let path: string;
    let kept: number;
    beforeAll(() => {
      kept = Math.floor(lrm.length * 0.6);
      path = join(tmp, 'truncated.lrm');
      writeFileSync(path, lrm.subarray(0, kept));
    });

    it('loading all tiers is a typed error, not a crash', async () => {
      const e = await rejection(load(path));
      expect(e instanceof SourceError || e instanceof LrmFormatError, `${e.name}: ${e.message}`).toBe(true);
      expectOneLine(e);
      expect(e.message).toMatch(/truncated/);
    });

    it('loading tier 0 only: the bytes are there, but the file size contradicts the header, so it is refused as truncated', async () => {
      // Tier 0 lies well inside the kept bytes...
      expect(tierEnd(0)).toBeLessThan(kept);
      // ...but the file source knows the file size, and readHeader requires it to equal what the header says
      // (formats/read.ts ReadOptions.totalLength): a short file is a damaged copy, whatever tier is asked for.
      const e = await rejection(load(path, { tiers: 1 }));
      expect(e).toBeInstanceOf(LrmTruncatedError);
      expectOneLine(e);
      expect((e as LrmTruncatedError).expectedBytes).toBe(lrm.length);
      expect((e as LrmTruncatedError).actualBytes).toBe(kept);
    });
  });
});

describe('a corrupted byte in the last tier', () => {
  let damaged: Uint8Array;
  let last: number;
  beforeAll(() => {
    last = header.tiers.length - 1;
    const t = header.tiers[last].range;
    expect(t.length).toBeGreaterThan(0);
    damaged = lrm.slice();
    damaged[payloadStart + t.offset + Math.floor(t.length / 2)] ^= 0x5a;
  });

  it('loading all tiers throws LrmChecksumError naming that tier', async () => {
    const e = await rejection(load(damaged));
    expect(e).toBeInstanceOf(LrmChecksumError);
    expect((e as LrmChecksumError).section).toBe('tier');
    expect((e as LrmChecksumError).tier).toBe(last);
    expectOneLine(e);
  });

  it('loading tiers 0..1 (which do not include the damage) still works', async () => {
    const one = await runOnce(damaged, { tiers: 1 });
    expect(one.output.data).toEqual((await runOnce(lrm, { tiers: 1 })).output.data);
    const two = await runOnce(damaged, { tiers: 2 });
    expect(two.tiers).toBe(2);
    expect(argmax(two.output)).toBe(label);
  });
});

describe('a corrupted byte in a transient section (tier 0 blocks of a layer that runs dense later)', () => {
  let damaged: Uint8Array;
  beforeAll(() => {
    const x = header.tiers[0].transient?.[0];
    expect(x, 'tier 0 has transient blocks').toBeDefined();
    damaged = lrm.slice();
    damaged[payloadStart + x!.range.offset + Math.floor(x!.range.length / 2)] ^= 0x5a;
  });

  it('tier 0 reads it and fails with LrmChecksumError naming tier 0', async () => {
    const e = await rejection(load(damaged, { tiers: 1 }));
    expect(e).toBeInstanceOf(LrmChecksumError);
    expect((e as LrmChecksumError).tier).toBe(0);
    expectOneLine(e);
  });

  it('all tiers never read it: the layer runs from its dense weight, and the output is the undamaged file\'s', async () => {
    const all = await runOnce(damaged);
    expect(all.output.data).toEqual((await runOnce(lrm)).output.data);
  });
});

describe('bad load and run options are LoadOptionError', () => {
  const cases: Array<[string, LoadOptions]> = [
    ['tiers: 0', { tiers: 0 }],
    ['tiers: 99', { tiers: 99 }],
    ['tiers: 1.5', { tiers: 1.5 }],
    ["preset: 'nope'", { preset: 'nope' }],
    ["tiers: 1 with preset: 'full'", { tiers: 1, preset: 'full' }],
    ["engine: 'nope'", { engine: 'nope' as never }],
  ];
  it.each(cases)('%s', async (_, options) => {
    const e = await rejection(load(lrm, options));
    expect(e).toBeInstanceOf(LoadOptionError);
    expectOneLine(e);
  });

  it('the messages list what the file or runtime offers', async () => {
    expect((await rejection(load(lrm, { tiers: 99 }))).message).toMatch(/1 to 5/);
    expect((await rejection(load(lrm, { preset: 'nope' }))).message).toMatch(/compact, balanced, full/);
    expect((await rejection(load(lrm, { engine: 'nope' as never }))).message).toMatch(/ort-node-cpu/);
  });

  it('run({}) names the missing input', async () => {
    const session = await load(lrm, { tiers: 1 });
    try {
      const e = await rejection(session.run({}));
      expect(e).toBeInstanceOf(LoadOptionError);
      expectOneLine(e);
      expect(e.message).toMatch(/\binput\b/);
    } finally {
      await session.release();
    }
  });
});
