/**
 * Integrity pinning (issue 16): `load(…, { integrity })` with the value `lowrank inspect` prints. The right file
 * loads; a copy whose header was changed and re-hashed (it passes every format check) is refused with
 * LrmIntegrityError after the header read, before any tier is fetched; a malformed pin is a LoadOptionError before
 * anything is read.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import { HEADER_HASH_BYTES } from '../../formats/framing.js';
import { LrmIntegrityError, headerLength, integrityOf, readLrm, writeLrm, type ModelHeader } from '../../formats/index.js';
import { load, LoadOptionError, HEADER_CHUNK_BYTES } from '../../runtime/node.js';
import type { ByteSource } from '../../runtime/source/source.js';
import { bytesSource } from '../../runtime/source/bytes.js';

const MODEL = join(import.meta.dirname, '../../../shared/data/models/mnist-cnn-pytorch.onnx');
let lrm: Uint8Array;
let header: ModelHeader;
let pin: string;

/** A byte source that records every read (offset, length). */
function counting(bytes: Uint8Array): ByteSource & { reads: Array<[number, number]> } {
  const inner = bytesSource(bytes, 'kiosk.lrm');
  const reads: Array<[number, number]> = [];
  return { ...inner, reads, read: (offset, length, options) => (reads.push([offset, length]), inner.read(offset, length, options)) };
}

beforeAll(async () => {
  ({ lrm, header } = await compileOnnx(new Uint8Array(readFileSync(MODEL)), { tiers: [0.2, 1] }));
  const end = headerLength(lrm);
  pin = integrityOf(lrm.subarray(end - HEADER_HASH_BYTES, end));
  // The file must be larger than the header read, or a refusal after it proves nothing about tiers.
  expect(lrm.length).toBeGreaterThan(HEADER_CHUNK_BYTES);
}, 120_000);

describe('integrity pinning', () => {
  it('the pinned file loads; the value is sha256- and base64, as browsers write SRI', async () => {
    expect(pin).toMatch(/^sha256-[A-Za-z0-9+/]{43}=$/);
    const session = await load(lrm, { integrity: pin, tiers: 1 });
    expect(session.tiers).toBe(1);
    await session.release();
  });

  it('a re-hashed copy (one preset renamed) passes the format checks but not the pin, and no tier is read', async () => {
    const payload = lrm.subarray(lrm.length - header.payloadLength);
    const changed = await writeLrm({ ...structuredClone(header), presets: header.presets.map((p) => ({ ...p, name: `${p.name}!` })) }, payload);
    await expect(readLrm(changed)).resolves.toBeDefined(); // a valid file in every other respect
    const source = counting(changed);
    const e = await load(source, { integrity: pin }).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(LrmIntegrityError);
    expect((e as Error).message).toMatch(/^kiosk\.lrm is not the file this app was built for: its integrity is sha256-\S+, the app pins sha256-/);
    expect(source.reads.every(([offset]) => offset === 0)).toBe(true); // only the header read
  });

  it('a malformed pin is refused before anything is read', async () => {
    for (const bad of ['sha384-abc', 'sha256-short', pin.slice(0, -1)]) {
      const source = counting(lrm);
      await expect(load(source, { integrity: bad })).rejects.toBeInstanceOf(LoadOptionError);
      expect(source.reads).toEqual([]);
    }
  });
});
