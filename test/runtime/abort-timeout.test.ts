/**
 * Network cancellation (issue 16): `load(url, { timeoutMs })` gives up on a server that stalls (before the header,
 * or after the header in the tiers) with SourceTimeoutError naming the URL and the bytes received; `signal`
 * cancels a load, or an upgrade, within 100 ms with LoadAbortedError; an aborted upgrade leaves the session
 * running as it was.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import type { ModelHeader } from '../../formats/model.js';
import { HEADER_CHUNK_BYTES, load, LoadAbortedError, SourceTimeoutError } from '../../runtime/node.js';
import { CountingServer } from './counting-server.js';

const MODEL = join(import.meta.dirname, '../../../shared/data/models/mnist-cnn-pytorch.onnx');
let lrm: Uint8Array;
let header: ModelHeader;
let server: CountingServer;
const flaky = new Set<string>();
const cut = new Set<string>();

beforeAll(async () => {
  ({ lrm, header } = await compileOnnx(new Uint8Array(readFileSync(MODEL)), { tiers: [0.2, 1] }));
  expect(lrm.length).toBeGreaterThan(HEADER_CHUNK_BYTES); // the tiers need a request after the header read
  server = await CountingServer.start({
    // Accepts the request and never answers.
    '/silent.lrm': () => {},
    // Serves the header read, then stalls on every later range.
    '/stalls-after-header.lrm': (req, res, s) => {
      if ((req.headers.range ?? '').startsWith('bytes=0-')) s.sendWithRange(req, res, lrm);
    },
    // Sends the first 1000 bytes of any range, then stalls with the connection open.
    '/trickle.lrm': (req, res) => {
      const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
      const [from, to] = m ? [Number(m[1]), Math.min(Number(m[2]), lrm.length - 1)] : [0, lrm.length - 1];
      res.writeHead(206, { 'Content-Range': `bytes ${from}-${to}/${lrm.length}`, 'Content-Length': String(to - from + 1) });
      res.write(lrm.subarray(from, Math.min(from + 1000, to + 1)));
    },
    '/model.lrm': (req, res, s) => s.sendWithRange(req, res, lrm),
    // 503 for the first request of each range, then the bytes.
    '/flaky.lrm': (req, res, s) => {
      const key = req.headers.range ?? '';
      if (!flaky.has(key)) {
        flaky.add(key);
        s.send(req, res, 503, new TextEncoder().encode('busy'), { 'Content-Type': 'text/plain' });
      } else s.sendWithRange(req, res, lrm);
    },
    '/down.lrm': (req, res, s) => s.send(req, res, 503, new TextEncoder().encode('down'), { 'Content-Type': 'text/plain' }),
    '/not-found.lrm': (req, res, s) => s.send(req, res, 404, new TextEncoder().encode('no'), { 'Content-Type': 'text/plain' }),
    '/no-range.lrm': (req, res, s) => s.send(req, res, 200, lrm),
    // Every range after the header read is cut half-way once; the retry asks for the rest only.
    '/cut-once.lrm': (req, res, s) => {
      const range = req.headers.range ?? '';
      const end = range.split('-')[1] ?? ''; // a resumed request keeps the end of the range it resumes
      if (range.startsWith('bytes=0-') || cut.has(end)) return s.sendWithRange(req, res, lrm);
      cut.add(end);
      s.sendHalfThenDrop(req, res, lrm);
    },
  });
}, 120_000);

afterAll(async () => server?.close());

/** How long a call takes to settle (from before it starts), and its rejection. */
async function settle(call: () => Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const t = performance.now();
  const error = await call().then(() => undefined, (e: unknown) => e);
  return { ms: performance.now() - t, error };
}

describe('timeouts and cancellation over HTTP', () => {
  it('a silent server: SourceTimeoutError at timeoutMs, naming the URL and 0 bytes', async () => {
    const { ms, error } = await settle(() => load(`${server.base}/silent.lrm`, { timeoutMs: 300 }));
    expect(error).toBeInstanceOf(SourceTimeoutError);
    expect((error as Error).message).toMatch(/\/silent\.lrm sent nothing for 300 ms \(0 bytes of this request had arrived\)/);
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(2000);
  });

  it('a body that stops mid-way: the stall timer counts from the last byte, and the message says what arrived', async () => {
    const { error } = await settle(() => load(`${server.base}/trickle.lrm`, { timeoutMs: 300 }));
    expect(error).toBeInstanceOf(SourceTimeoutError);
    expect((error as SourceTimeoutError).received).toBe(1000);
  });

  it('a stall in the tiers after the header: the same error, from the tier read', async () => {
    const { error } = await settle(() => load(`${server.base}/stalls-after-header.lrm`, { timeoutMs: 300, tiers: header.tiers.length }));
    expect(error).toBeInstanceOf(SourceTimeoutError);
  });

  it('signal: a load of a silent server is cancelled within 100 ms of abort()', async () => {
    const controller = new AbortController();
    const pending = settle(() => load(`${server.base}/silent.lrm`, { signal: controller.signal }));
    await new Promise((r) => setTimeout(r, 100));
    const t = performance.now();
    controller.abort();
    const { error } = await pending;
    expect(performance.now() - t).toBeLessThan(100);
    expect(error).toBeInstanceOf(LoadAbortedError);
    expect((error as Error).message).toMatch(/^loading http:\/\/127\.0\.0\.1:\d+\/silent\.lrm was cancelled$/);
    // Already aborted: nothing is requested at all.
    const served = server.served.length;
    await expect(load(`${server.base}/model.lrm`, { signal: controller.signal })).rejects.toBeInstanceOf(LoadAbortedError);
    expect(server.served.length).toBe(served);
  });

  it('an upgrade cancelled by its own signal leaves the session as it was, and a later upgrade works', async () => {
    const session = await load(`${server.base}/model.lrm`, { tiers: 1 });
    try {
      const controller = new AbortController();
      controller.abort();
      await expect(session.upgrade({ tiers: header.tiers.length, signal: controller.signal })).rejects.toBeInstanceOf(LoadAbortedError);
      expect(session.tiers).toBe(1);
      await session.upgrade(header.tiers.length);
      expect(session.tiers).toBe(header.tiers.length);
    } finally {
      await session.release();
    }
  });

  it('retries: a 503 is tried again after a backoff; a server that stays down fails after 3 tries; a 404 at once', async () => {
    let from = server.served.length;
    const session = await load(`${server.base}/flaky.lrm`, { tiers: header.tiers.length });
    expect(session.tiers).toBe(header.tiers.length);
    await session.release();
    expect(server.served.slice(from).filter((r) => r.status === 503).length).toBe(server.served.slice(from).filter((r) => r.status !== 503).length);
    from = server.served.length;
    const down = await settle(() => load(`${server.base}/down.lrm`));
    expect((down.error as Error).message).toMatch(/HTTP 503/);
    expect(server.served.length - from).toBe(3);
    expect(down.ms).toBeGreaterThanOrEqual(250 + 1000 - 50);
    from = server.served.length;
    await expect(load(`${server.base}/down.lrm`, { retries: 0 })).rejects.toThrow(/HTTP 503/);
    expect(server.served.length - from).toBe(1);
    from = server.served.length;
    await expect(load(`${server.base}/not-found.lrm`)).rejects.toThrow(/HTTP 404/);
    expect(server.served.length - from).toBe(1);
  });

  it('bytesFetched counts what was transferred: a server that ignores Range sends the whole file for the header read', async () => {
    const from = server.served.length;
    const session = await load(`${server.base}/no-range.lrm`, { tiers: 1 });
    try {
      expect(server.sentSince(from)).toBe(lrm.length);
      expect(session.bytesFetched).toBe(lrm.length);
      expect(session.bytesLoaded).toBeLessThan(lrm.length);
    } finally {
      await session.release();
    }
  });

  it('a body cut half-way is resumed after the bytes that arrived: the retry asks only for the rest', async () => {
    const from = server.served.length;
    const session = await load(`${server.base}/cut-once.lrm`, { tiers: header.tiers.length });
    try {
      const served = server.served.slice(from);
      const [first, resumed] = served.slice(1); // after the header read: the cut request, then the rest
      const start = (r: string | undefined) => Number(/^bytes=(\d+)-/.exec(r ?? '')![1]);
      expect(start(resumed!.range)).toBe(start(first!.range) + first!.bytes);
      expect(/-(\d+)$/.exec(resumed!.range!)![1]).toBe(/-(\d+)$/.exec(first!.range!)![1]);
      // Nothing was downloaded twice.
      expect(session.bytesFetched).toBe(server.sentSince(from));
      expect(session.bytesFetched).toBeLessThanOrEqual(lrm.length);
      expect(session.tiers).toBe(header.tiers.length);
    } finally {
      await session.release();
    }
  });
});
