/**
 * Progressive loading over HTTP against a local server that counts the bytes it sends: a preset costs the
 * header and its tiers (two requests), upgrade() costs only the new tiers, and a corrupted tier, a dropped
 * connection or an over-budget choice is a typed error that leaves what was loaded running.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import { LrmChecksumError } from '../../formats/errors.js';
import type { ModelHeader } from '../../formats/model.js';
import { bytesToLoad } from '../../formats/read.js';
import { sectionsFor } from '../../formats/sections.js';
import { BudgetError, estimateMemory, HEADER_CHUNK_BYTES, IncompleteDownloadError, load, type Feeds, type LoadProgress, LrmSession } from '../../runtime/node.js';
import type { Engine } from '../../runtime/engines/engine.js';
import { ortNodeCpu } from '../../runtime/engines/ort-node-cpu.js';
import { EngineRegistry } from '../../runtime/engines/registry.js';
import { urlSource } from '../../runtime/source/url.js';
import { bindInput, mnistDigits, MODELS } from '../e2e/real-inputs.js';
import { CountingServer } from './counting-server.js';

let lrm: Uint8Array;
let header: ModelHeader;
let payloadStart: number;
/** File offset where tier `tiers - 1`'s own section ends (tiers 0..k are one prefix of the file). */
const prefixEnd = (tiers: number) => payloadStart + header.tiers[tiers - 1].range.offset + header.tiers[tiers - 1].range.length;
/** Bytes a session of `tiers` tiers reads: header, dense, tiers, and transient blocks of layers not yet dense. */
const need = (tiers: number) => bytesToLoad(header, payloadStart, tiers);
/** Range requests the loader makes for `tiers` tiers after the header read: one per run of back-to-back sections. */
const runs = (tiers: number) =>
  sectionsFor(header, tiers)
    .filter((x) => payloadStart + x.range.offset + x.range.length > HEADER_CHUNK_BYTES)
    .filter((x, i, all) => i === 0 || all[i - 1]!.range.offset + all[i - 1]!.range.length !== x.range.offset).length;
/** Where the transient sections begin (after the last tier): blocks fewer tiers need, of layers dense later. */
const transientStart = () => prefixEnd(header.tiers.length);
let feeds: Feeds[];
let server: CountingServer;
/** Requests to /corrupt-once/ so far: the first one that reaches `corruptTier` gets a flipped byte in it. */
let corruptServed = 0;
let corruptTier = 3;

beforeAll(async () => {
  ({ lrm, header } = await compileOnnx(new Uint8Array(readFileSync(join(MODELS, 'mnist-cnn-pytorch.onnx'))), { fileName: 'mnist-cnn-pytorch.onnx' }));
  payloadStart = lrm.length - header.payloadLength;
  // The byte counts below only mean something if the header fits the first read and tier 0 reaches past it
  // (its transient blocks lie after the last tier), and if some layer runs dense from a later tier.
  expect(payloadStart).toBeLessThan(HEADER_CHUNK_BYTES);
  expect(need(1)).toBeGreaterThan(HEADER_CHUNK_BYTES);
  expect(header.tiers[0].transient?.length).toBeGreaterThan(0);
  feeds = bindInput(await mnistDigits(4, false, (v) => (v / 255 - 0.5) / 0.5), 'input');
  // The damaged byte: 10 bytes into the first tier from 3 on whose own section holds that many (some hold nothing:
  // every layer that grows there runs dense later, so its blocks are transient).
  corruptTier = header.tiers.findIndex((t, i) => i >= 3 && t.range.length > 10);
  const tier3 = payloadStart + header.tiers[corruptTier].range.offset;
  server = await CountingServer.start({
    '/model.lrm': (req, res, s) => s.sendWithRange(req, res, lrm),
    '/no-range/model.lrm': (req, res, s) => s.send(req, res, 200, lrm),
    '/corrupt-once/model.lrm': (req, res, s) =>
      s.sendWithRange(req, res, lrm, (part, start) => {
        if (start > tier3 + 10 || start + part.length <= tier3 + 10 || corruptServed++ > 0) return part;
        const damaged = part.slice();
        damaged[tier3 - start + 10] ^= 0x5a;
        return damaged;
      }),
    // Drops every request for the tiers after tier 0: the header and what tier 0 needs load, an upgrade is cut off.
    '/drops-after-tier0/model.lrm': (req, res, s) => {
      const from = Number(/^bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? 0);
      if (from >= prefixEnd(1) && from < transientStart()) s.sendHalfThenDrop(req, res, lrm);
      else s.sendWithRange(req, res, lrm);
    },
    '/drops-tiers/model.lrm': (req, res, s) => {
      const from = Number(/^bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? 0);
      if (from > 0) s.sendHalfThenDrop(req, res, lrm);
      else s.sendWithRange(req, res, lrm);
    },
  });
});

afterAll(async () => {
  await server?.close();
});

async function outputOf(session: LrmSession, i = 0): Promise<Float32Array> {
  return (await session.run(feeds[i])).output.data as Float32Array;
}

/** Output of the in-memory model at `tiers` tiers: the reference for what came over HTTP. */
async function reference(tiers: number, i = 0): Promise<Float32Array> {
  const s = await load(lrm, { tiers });
  try {
    return await outputOf(s, i);
  } finally {
    await s.release();
  }
}

describe('a preset costs the header and its tiers', () => {
  it.each(['compact', 'balanced', 'full'])('preset %s: the header read, one request per run of sections it needs, their bytes', async (name) => {
    const preset = header.presets.find((p) => p.name === name)!;
    const from = server.served.length;
    const session = await load(`${server.base}/model.lrm`, { preset: name });
    try {
      const sent = server.sentSince(from);
      const needed = need(preset.tiers);
      expect(session.tiers).toBe(preset.tiers);
      expect(server.served.length - from).toBe(1 + runs(preset.tiers));
      // All tiers are one prefix: the header read and one more request.
      if (name === 'full') expect(runs(preset.tiers)).toBe(1);
      expect(sent).toBeGreaterThanOrEqual(needed);
      // The fixed-size header read may reach past what these tiers need: at most its size more.
      expect(sent).toBeLessThanOrEqual(needed + HEADER_CHUNK_BYTES);
      expect(session.bytesFetched).toBe(sent);
      expect(await outputOf(session)).toEqual(await reference(preset.tiers));
    } finally {
      await session.release();
    }
  });

  it('a server that ignores Range: one full download, and upgrade() needs no request', async () => {
    const from = server.served.length;
    const session = await load(`${server.base}/no-range/model.lrm`, { tiers: 1 });
    try {
      await session.upgrade(header.tiers.length);
      expect(server.served.slice(from)).toEqual([expect.objectContaining({ status: 200, bytes: lrm.length })]);
      expect(await outputOf(session)).toEqual(await reference(header.tiers.length));
    } finally {
      await session.release();
    }
  });
});

describe('upgrade()', () => {
  it('fetches only the missing tiers, in one request, and then runs like a full load', async () => {
    const session = await load(`${server.base}/model.lrm`, { preset: 'compact' });
    try {
      const small = await outputOf(session);
      const from = server.served.length;
      const events: LoadProgress[] = [];
      await session.upgrade({ preset: 'full', onProgress: (e) => events.push(e) });
      const difference = prefixEnd(header.tiers.length) - prefixEnd(1);
      expect(server.served.length - from).toBe(1);
      // Tiers whose sections the header read already brought are not fetched again.
      expect(server.sentSince(from)).toBe(prefixEnd(header.tiers.length) - Math.max(prefixEnd(1), HEADER_CHUNK_BYTES));
      expect(session.tiers).toBe(header.tiers.length);
      expect(session.choice.preset).toBe('full');
      const full = await outputOf(session);
      expect(full).toEqual(await reference(header.tiers.length));
      expect(full).not.toEqual(small);
      // Progress: the tier bytes climb to exactly the difference, then the engine is built.
      const tiers = events.filter((e) => e.phase === 'tiers');
      expect(tiers.at(-1)).toEqual({ phase: 'tiers', loaded: difference, total: difference });
      expect(tiers.every((e, i) => i === 0 || e.loaded >= tiers[i - 1].loaded)).toBe(true);
      expect(events.at(-1)).toEqual({ phase: 'build', loaded: 1, total: 1 });
      // Going back down needs again the transient blocks that full rank let go (layers dense at full rank), nothing else.
      const again = server.served.length;
      await session.upgrade(1);
      const transient = sectionsFor(header, 1).filter((x) => x.kind === 'transient').reduce((sum, x) => sum + x.range.length, 0);
      expect(server.sentSince(again)).toBe(transient);
      expect(await outputOf(session)).toEqual(small);
    } finally {
      await session.release();
    }
  });

  it('runs in flight when it switches finish on the old model, which is released only after them', async () => {
    // ort-node-cpu with every run held at a gate, so the runs are certainly still in flight when the swap happens.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const released: number[] = [];
    const gated: Engine = {
      ...ortNodeCpu,
      async create(model) {
        const inner = await ortNodeCpu.create(model);
        return {
          ...inner,
          run: async (f) => (await gate, inner.run(f)),
          release: async () => (released.push(Date.now()), inner.release()),
        };
      },
    };
    const registry = new EngineRegistry().register(gated);
    const session = await LrmSession.open(urlSource(`${server.base}/model.lrm`), registry, ['ort-node-cpu'], { tiers: 1 });
    try {
      const before = await Promise.all(feeds.map((_, i) => reference(1, i)));
      const after = await Promise.all(feeds.map((_, i) => reference(header.tiers.length, i)));
      const inFlight = feeds.map((f) => session.run(f));
      await session.upgrade(header.tiers.length);
      expect(session.tiers).toBe(header.tiers.length);
      expect(released).toHaveLength(0); // the old engine session waits for its runs
      open();
      const results = await Promise.all(inFlight);
      results.forEach((r, i) => expect(r.output.data).toEqual(before[i]));
      for (let i = 0; i < feeds.length; i++) expect(await outputOf(session, i)).toEqual(after[i]);
      await vi.waitFor(() => expect(released).toHaveLength(1));
    } finally {
      open();
      await session.release();
    }
  });
});

describe('failures are typed errors and lose nothing already loaded', () => {
  it('a tier corrupted in transit is LrmChecksumError; the session keeps running; a retry downloads it again', async () => {
    corruptServed = 0;
    const session = await load(`${server.base}/corrupt-once/model.lrm`, { tiers: 2 });
    try {
      const two = await outputOf(session);
      const e = await session.upgrade(header.tiers.length).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(LrmChecksumError);
      expect((e as LrmChecksumError).tier).toBe(corruptTier);
      expect(session.tiers).toBe(2);
      expect(await outputOf(session)).toEqual(two);

      const from = server.served.length;
      await session.upgrade(header.tiers.length);
      expect(server.sentSince(from)).toBe(prefixEnd(header.tiers.length) - prefixEnd(2));
      expect(await outputOf(session)).toEqual(await reference(header.tiers.length));
    } finally {
      await session.release();
    }
  });

  it('a connection dropped half-way through the tiers is IncompleteDownloadError', async () => {
    const e = await load(`${server.base}/drops-tiers/model.lrm`, { tiers: 2 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(IncompleteDownloadError);
    expect((e as Error).message).toMatch(/stopped after \d+ of \d+ bytes/);
    expect((e as Error).message).not.toMatch(/\n/);
  });

  it('a connection dropped during upgrade(): typed error, the session stays at its tiers and still runs', async () => {
    const session = await load(`${server.base}/drops-after-tier0/model.lrm`, { tiers: 1 });
    try {
      const one = await outputOf(session);
      const e = await session.upgrade(3).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(IncompleteDownloadError);
      expect(session.tiers).toBe(1);
      expect(await outputOf(session)).toEqual(one);
    } finally {
      await session.release();
    }
  });

  it('an over-budget preset is BudgetError before any tier is fetched, and it says what fits', async () => {
    const compactMb = estimateMemory(header, payloadStart, 1, 'ort-node-cpu').totalMb;
    const fullMb = estimateMemory(header, payloadStart, header.tiers.length, 'ort-node-cpu').totalMb;
    expect(fullMb).toBeGreaterThan(compactMb);
    const memoryMb = (compactMb + fullMb) / 2;
    const from = server.served.length;
    const e = await load(`${server.base}/model.lrm`, { preset: 'full', memoryMb }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BudgetError);
    expect((e as BudgetError).message).toMatch(/preset "full".*what fits: .*compact \(1 tier/);
    expect((e as BudgetError).fits.every((f) => f.memoryMb <= memoryMb)).toBe(true);
    expect((e as BudgetError).fits.some((f) => f.preset === 'compact')).toBe(true);
    // Only the header request went out.
    expect(server.served.length - from).toBe(1);
    expect(server.sentSince(from)).toBe(HEADER_CHUNK_BYTES);

    // The same budget on a running session: upgrade() to full is refused, the session is untouched.
    const session = await load(`${server.base}/model.lrm`, { preset: 'compact', memoryMb });
    try {
      const before = server.served.length;
      const up = await session.upgrade('full').catch((x: unknown) => x);
      expect(up).toBeInstanceOf(BudgetError);
      expect(server.served.length).toBe(before);
      expect(session.tiers).toBe(1);
    } finally {
      await session.release();
    }
  });
});
