/**
 * Nested precision (format v4): mnist-cnn-pytorch compiled `--dtype int4 --tiers 0.1,0.5,0.5:8,1:8`, calibrated on
 * MNIST test digits 0–255 and run on 500 others (1000–1499), loaded over HTTP from a local server that counts bytes.
 * - A 4-bit tier downloads no low plane: every low plane lies outside the sections its tiers need.
 * - upgrade() from the 4-bit tier to the 8-bit tier of the same ranks downloads exactly the low planes (that tier's
 *   section), and the 8-bit model is closer to the original: its logits' error is well under the 4-bit one's.
 * - The 8-bit full tier agrees with the original on ≥ 99.5% of the digits; the low planes refine the dense weights
 *   to within 1/16 of their group scale wherever their residual is in range.
 * - Nested 3 → 4 bits (format v6, the default with calibration): upgrade() from the 3-bit tier to the 4-bit tier of
 *   the same ranks downloads exactly the int3 weights' mid planes, and the 4-bit model is closer to the original.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import { feedBatches, openDataset, type Dataset } from '../../compiler/data/spec.js';
import { agreement, evaluateClassifier } from '../../compiler/evaluate.js';
import { importOnnx } from '../../compiler/import/onnx.js';
import type { ByteRange, ModelHeader } from '../../formats/model.js';
import { sectionsFor } from '../../formats/sections.js';
import { ortNodeCpu } from '../../runtime/engines/ort-node-cpu.js';
import { HEADER_CHUNK_BYTES, load, type LrmSession } from '../../runtime/node.js';
import { CountingServer } from './counting-server.js';

const DATA = join(import.meta.dirname, '../../../shared/data');
const source = new Uint8Array(readFileSync(join(DATA, 'models/mnist-cnn-pytorch.onnx')));
const inputs = importOnnx(source).inputs;
const digits = (offset: number, limit: number) => openDataset(`mnist:${join(DATA, 'mnist')}`, { layout: inputs[0].shape, mean: [0.5], std: [0.5], offset, limit });
let test: Dataset;
let lrm: Uint8Array;
let header: ModelHeader;
let payloadStart: number;
let server: CountingServer;
/** The nested 3 → 4-bit file (compiled in its describe block). */
let nested: { lrm: Uint8Array; header: ModelHeader };
let reference: { predictions: Int32Array; logits: Float32Array[] };

/** Every low plane range in the header. */
function lowPlanes(h: ModelHeader): ByteRange[] {
  return [
    ...h.graph.initializers.flatMap((t) => (t.low ? [t.low] : [])),
    ...h.layers.flatMap((l) => [...(l.denseLow ? [l.denseLow] : []), ...l.blocks.flatMap((b) => [b.leftLow, b.rightLow].filter((r): r is ByteRange => r !== undefined))]),
  ];
}

/** Logits of every test digit (batches of 100), and the top-1 predictions. */
async function run(session: Pick<LrmSession, 'run'>): Promise<{ predictions: Int32Array; logits: Float32Array[] }> {
  const logits: Float32Array[] = [];
  const r = await evaluateClassifier(
    { run: async (feeds) => {
      const out = await session.run(feeds);
      logits.push(Float32Array.from(Object.values(out)[0]!.data as Float32Array));
      return out;
    } },
    test,
    { inputName: inputs[0].name, batchSize: 100 },
  );
  return { predictions: r.predictions, logits };
}

/** ‖logits − reference‖ / ‖reference‖ over all digits. */
function relativeError(logits: Float32Array[]): number {
  let [e, n] = [0, 0];
  logits.forEach((batch, b) => batch.forEach((v, i) => {
    const r = reference.logits[b]![i]!;
    e += (v - r) ** 2;
    n += r * r;
  }));
  return Math.sqrt(e / n);
}

/** Bytes of a payload range past what the first (header) read already brought: those are not asked for again. */
function beyondHead(r: ByteRange, payloadStart: number): number {
  return Math.max(0, payloadStart + r.offset + r.length - Math.max(payloadStart + r.offset, HEADER_CHUNK_BYTES));
}

/** Loads `path` from the server at `tiers`, runs it, upgrades by one tier, and hands the session, that run and the bytes sent to `check`. */
async function upgradeOverHttp(path: string, tiers: number, check: (r: { session: LrmSession; before: Awaited<ReturnType<typeof run>>; sent: number }) => Promise<void>): Promise<void> {
  const session = await load(`${server.base}${path}`, { tiers });
  try {
    const before = await run(session);
    const from = server.served.length;
    await session.upgrade(tiers + 1);
    await check({ session, before, sent: server.sentSince(from) });
  } finally {
    await session.release();
  }
}

beforeAll(async () => {
  const calib = await digits(0, 256);
  test = await digits(1000, 500);
  ({ lrm, header } = await compileOnnx(source, {
    dtype: 'int4',
    int4MinBits: 4,
    tiers: [0.1, 0.5, { budget: 0.5, bits: 8 }, { budget: 1, bits: 8 }],
    allocation: 'sigma',
    calibration: () => feedBatches(calib, inputs, 32),
  }));
  payloadStart = lrm.length - header.payloadLength;
  const original = await ortNodeCpu.create(source);
  reference = await run(original);
  await original.release();
  server = await CountingServer.start({
    '/model.lrm': (req, res, s) => s.sendWithRange(req, res, lrm),
    '/nested.lrm': (req, res, s) => s.sendWithRange(req, res, nested.lrm),
  });
}, 240_000);

afterAll(async () => server?.close());

describe('int4 tiers with an 8-bit upgrade (low planes)', () => {
  it('the header says the ladder: bits 4, 4, 8, 8 at format v7 (scale codes), and tier 2 holds only low planes', () => {
    expect(header.formatVersion).toBe(7);
    expect(header.tiers.map((t) => t.bits ?? 4)).toEqual([4, 4, 8, 8]);
    expect(header.tiers[2]!.ranks).toEqual(header.tiers[1]!.ranks);
    const planes = lowPlanes(header);
    expect(planes.length).toBeGreaterThan(0);
    const inside = (r: ByteRange, s: ByteRange) => r.offset >= s.offset && r.offset + r.length <= s.offset + s.length;
    // A device at a 4-bit tier fetches no low plane.
    for (const tiers of [1, 2]) for (const r of planes) expect(sectionsFor(header, tiers).some((s) => inside(r, s.range))).toBe(false);
    // The 8-bit step of the same ranks adds exactly its own section (and transient sections), all low planes.
    const added = sectionsFor(header, 3).filter((s) => !sectionsFor(header, 2).some((x) => x.name === s.name));
    const planeBytes = planes.filter((r) => added.some((s) => inside(r, s.range))).reduce((sum, r) => sum + r.length, 0);
    const addedBytes = added.reduce((sum, s) => sum + s.range.length, 0);
    expect(planeBytes).toBeGreaterThan(0);
    expect(addedBytes - planeBytes).toBeLessThan(64 * (planes.length + 1)); // alignment padding only
  });

  it('upgrade() to 8 bits downloads only the low planes, and the 8-bit model is closer to the original', async () => {
    await upgradeOverHttp('/model.lrm', 2, async ({ session, before: four, sent }) => {
      const added = sectionsFor(header, 3).filter((s) => !sectionsFor(header, 2).some((x) => x.name === s.name));
      expect(sent).toBe(added.reduce((sum, s) => sum + beyondHead(s.range, payloadStart), 0));
      expect(sent).toBeGreaterThan(0);
      expect(session.bytesLoaded).toBe(payloadStart + sectionsFor(header, 3).reduce((sum, s) => sum + s.range.length, 0));
      const eight = await run(session);
      // Same ranks, finer weights: the 8-bit error is what the rank cut leaves, the 4-bit one adds rounding on top.
      expect(relativeError(eight.logits)).toBeLessThan(relativeError(four.logits));
      expect(agreement(eight.predictions, reference.predictions)).toBeGreaterThanOrEqual(agreement(four.predictions, reference.predictions) - 0.004);
    });
  }, 120_000);

  it('the 8-bit full tier agrees on ≥ 99.5% and its logits are within 2% of the original', async () => {
    const session = await load(lrm, { tiers: 4 });
    try {
      const eight = await run(session);
      expect(agreement(eight.predictions, reference.predictions)).toBeGreaterThanOrEqual(0.995);
      expect(relativeError(eight.logits)).toBeLessThan(0.02);
    } finally {
      await session.release();
    }
  }, 120_000);
});

describe('int3 tiers with a 4-bit upgrade (mid planes)', () => {
  beforeAll(async () => {
    // 64 digits are enough for this check, and keep the calibration passes (two per depth level) short.
    const calib = await digits(0, 64);
    nested = await compileOnnx(source, { dtype: 'int4', tiers: [1], allocation: 'sigma', calibration: () => feedBatches(calib, inputs, 32) });
  }, 240_000);

  it('upgrade() to 4 bits downloads only the mid planes, and the 4-bit model is closer to the original', async () => {
    const h = nested.header;
    expect(h.tiers.map((t) => t.bits)).toEqual([undefined, 4]);
    const mids = [...h.graph.initializers.flatMap((t) => (t.mid ? [t.mid] : [])), ...h.layers.flatMap((l) => (l.denseMid ? [l.denseMid] : []))];
    expect(mids.length).toBeGreaterThan(0);
    await upgradeOverHttp('/nested.lrm', 1, async ({ session, before: three, sent }) => {
      expect(sent).toBe(beyondHead(h.tiers[1]!.range, nested.lrm.length - h.payloadLength));
      const planeBytes = mids.reduce((sum, r) => sum + r.length, 0);
      expect(h.tiers[1]!.range.length - planeBytes).toBeLessThan(64 * mids.length); // alignment padding only
      const four = await run(session);
      expect(relativeError(four.logits)).toBeLessThan(relativeError(three.logits));
    });
  }, 120_000);
});
