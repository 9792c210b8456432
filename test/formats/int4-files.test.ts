/**
 * Format v3 (int4): a real int4 file (mnist-mlp compiled with --dtype int4, no calibration: round to nearest) reads
 * back with its group size and int4 storage, and every way its header can lie about int4 is a typed error.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import { feedBatches, openDataset } from '../../compiler/data/spec.js';
import { importOnnx } from '../../compiler/import/onnx.js';
import { LrmCorruptHeaderError, readLrm } from '../../formats/index.js';
import type { ModelHeader } from '../../formats/model.js';
import { writeLrm, type LrmHeaderInput } from '../../formats/write.js';

const MODEL = join(import.meta.dirname, '../../../shared/data/models/mnist-mlp-784-128-64-10.onnx');
let header: ModelHeader;
let payload: Uint8Array;

beforeAll(async () => {
  // Half-float scales: the format versions before 7, which the writer still writes without scale codes.
  const compiled = await compileOnnx(new Uint8Array(readFileSync(MODEL)), { dtype: 'int4', int4GroupSize: 24, int4ScaleCodes: false, tiers: [0.3, 1] });
  header = compiled.header;
  payload = compiled.lrm.subarray(compiled.lrm.length - header.payloadLength);
});

/** A check that a file whose header `edit` changes (re-hashed, payload kept) is refused with `message`. */
function rejecter(file: () => { header: ModelHeader; payload: Uint8Array }): (edit: (h: LrmHeaderInput) => void, message: RegExp) => Promise<void> {
  return async (edit, message) => {
    const h = structuredClone(file().header) as LrmHeaderInput;
    edit(h);
    const e = await readLrm(await writeLrm(h, file().payload, { validate: false }), { fileName: 'bad.lrm' }).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(LrmCorruptHeaderError);
    expect((e as Error).message).toMatch(message);
  };
}
const rejects = rejecter(() => ({ header, payload }));

describe('int4 files (format version 3, 4 with σ trimmed)', () => {
  it('read back with their group size; factors and every weight kept dense are int4', () => {
    expect(header.formatVersion).toBe(4); // int4 (3) and σ only for the stored components (4)
    expect(header.factorDType).toBe('int4');
    expect(header.int4GroupSize).toBe(24);
    const weights = header.graph.initializers.filter((t) => t.dims.length === 2);
    expect(weights.length).toBeGreaterThan(0);
    for (const t of weights) expect(t.storage).toBe('int4');
    expect(header.layers.length).toBeGreaterThan(0);
  });
  it('a file that says version 2', () => rejects((h) => (h.formatVersion = 2), /stores int4 weights \(format version 3\) but says format version 2/));
  it('no group size', () => rejects((h) => delete h.int4GroupSize, /int4 weights with group size absent/));
  it('a group size of a different file', () =>
    rejects((h) => (h.int4GroupSize = 32), /(block 0 (left|right) factor holds \d+ bytes, expected \d+ bytes for \d+ components × \d+ (rows|cols) of int4|need [\d,]+ bytes, but its byte range holds)/));
  it('a block one byte short', () => rejects((h) => (h.layers[0]!.blocks[0]!.right.length -= 1), /block 0 right factor holds .* of int4/));
  it('header scales on an int4 weight', () => rejects((h) => (h.graph.initializers.find((t) => t.storage === 'int4')!.scales = [1]), /is int4 but has header scales/));
  it('an int8 dense weight only in int4 files, with its scales', async () => {
    // The mlp's full tier: some layer runs dense there. Marking its (int4) dense weight int8 breaks its byte count.
    const l = header.layers.findIndex((x) => x.dense);
    expect(l).toBeGreaterThanOrEqual(0);
    await rejects((h) => Object.assign(h.layers[l]!, { denseStorage: 'int8', denseScales: Array(h.layers[l]!.rows).fill(1) }), /dense weight holds [\d,]+ bytes, expected [\d,]+ for \d+×\d+ of int8/);
    await rejects((h) => (h.layers[l]!.denseScales = [1]), /has int8 dense scales, but its dense weight is int4/);
  });
  it('int3 weights (format version 5): said by a version 4 file, or with an int4 byte count', async () => {
    const int4 = (h: LrmHeaderInput) => h.graph.initializers.find((t) => t.storage === 'int4')!;
    await rejects((h) => (int4(h).storage = 'int3'), /stores int3 weights \(format version 5\) but says format version 4/);
    await rejects((h) => Object.assign(int4(h), { storage: 'int3' }) && (h.formatVersion = 5), /need [\d,]+ bytes, but its byte range holds/);
    const l = header.layers.findIndex((x) => x.dense);
    await rejects((h) => (h.layers[l]!.denseStorage = 'int3') && (h.formatVersion = 5), /dense weight holds [\d,]+ bytes, expected [\d,]+ for \d+×\d+ of int3/);
  });
  it('a group size without int4', () => rejects((h) => Object.assign(h, { factorDType: 'int8' }, { graph: { ...h.graph, initializers: h.graph.initializers.map(({ storage: _, ...t }) => t) } }), /int8|int4/));
});

describe('8-bit tiers (format version 4): low planes', () => {
  let ladder: ModelHeader;
  let ladderPayload: Uint8Array;
  beforeAll(async () => {
    const compiled = await compileOnnx(new Uint8Array(readFileSync(MODEL)), { dtype: 'int4', int4GroupSize: 24, int4ScaleCodes: false, tiers: [0.3, { budget: 0.3, bits: 8 }, { budget: 1, bits: 8 }] });
    ladder = compiled.header;
    ladderPayload = compiled.lrm.subarray(compiled.lrm.length - ladder.payloadLength);
  });
  const rejectsLadder = rejecter(() => ({ header: ladder, payload: ladderPayload }));
  const firstBlock = (h: LrmHeaderInput) => h.layers.flatMap((l) => l.blocks).find((b) => b.leftLow)!;

  it('read back: bits per tier, a low plane on every int4 matrix a tier reads at 8 bits, in tier 1', () => {
    expect(ladder.formatVersion).toBe(4);
    expect(ladder.tiers.map((t) => t.bits)).toEqual([undefined, 8, 8]);
    for (const t of ladder.graph.initializers.filter((x) => x.storage === 'int4')) expect(t.low).toBeDefined();
    expect(ladder.layers.flatMap((l) => l.blocks).every((b) => b.leftLow && b.rightLow)).toBe(true);
  });
  it('bits that go down', () => rejectsLadder((h) => delete h.tiers[2]!.bits, /tier 2 runs as stored after tier 1 ran at 8 bits/));
  it('a file that says version 3', () => rejectsLadder((h) => (h.formatVersion = 3), /8-bit tiers \(format version 4\) but says format version 3|format version 4/));
  it('a missing low plane', () => rejectsLadder((h) => delete firstBlock(h).leftLow, /has no low plane, but tier 1 runs at 8 bits/));
  it('a low plane of the wrong length', () => rejectsLadder((h) => (firstBlock(h).rightLow!.length += 64), /low plane holds [\d,]+ bytes, expected/));
  it('a low plane outside its tier', () => rejectsLadder((h) => (firstBlock(h).leftLow = { ...firstBlock(h).leftLow!, offset: 0 }), /low plane .* lies outside tier 1/));
  it('a low plane nobody reads', () => rejectsLadder((h) => h.tiers.forEach((t) => delete t.bits), /has a low plane, but no 8-bit tier reads it/));
  it('an unknown bit count', () => rejectsLadder((h) => ((h.tiers[1] as { bits?: number }).bits = 6), /runs at 6 bits/));
});

/** The mlp calibrated on 128 real digits, every weight allowed int3: int3 is on by default, and the ladder gets a 4-bit tier after its last plain one. */
async function compileNested(int4ScaleCodes: boolean): Promise<{ header: ModelHeader; payload: Uint8Array }> {
  const source = new Uint8Array(readFileSync(MODEL));
  const calib = await openDataset(`mnist:${join(import.meta.dirname, '../../../shared/data/mnist')}`, { layout: importOnnx(source).inputs[0]!.shape, mean: [0.5], std: [0.5], limit: 128 });
  const compiled = await compileOnnx(source, { dtype: 'int4', int4GroupSize: 24, int4ScaleCodes, int3MaxError: Infinity, int4Sequential: false, tiers: [0.3, 1, { budget: 1, bits: 8 }], calibration: () => feedBatches(calib, importOnnx(source).inputs, 64) });
  return { header: compiled.header, payload: compiled.lrm.subarray(compiled.lrm.length - compiled.header.payloadLength) };
}

describe('4-bit tiers (format version 6): int3 weights and their mid planes', () => {
  let nested: ModelHeader;
  let nestedPayload: Uint8Array;
  beforeAll(async () => {
    ({ header: nested, payload: nestedPayload } = await compileNested(false));
  });
  const rejectsNested = rejecter(() => ({ header: nested, payload: nestedPayload }));
  const int3 = (h: LrmHeaderInput) => h.graph.initializers.find((t) => t.storage === 'int3')!;

  it('read back: a 4-bit tier after the last plain one, a mid plane on every int3 matrix, in the section of the tier that first reads it', () => {
    expect(nested.formatVersion).toBe(6);
    expect(nested.tiers.map((t) => t.bits)).toEqual([undefined, undefined, 4, 8]);
    const stored3 = [...nested.graph.initializers.filter((t) => t.storage === 'int3'), ...nested.layers.filter((l) => l.denseStorage === 'int3')];
    expect(stored3.length).toBeGreaterThan(0);
    const inside = (r: { offset: number; length: number }, t: number) => r.offset >= nested.tiers[t]!.range.offset && r.offset + r.length <= nested.tiers[t]!.range.offset + nested.tiers[t]!.range.length;
    for (const t of nested.graph.initializers) {
      expect(t.mid !== undefined).toBe(t.storage === 'int3');
      if (t.mid) expect(inside(t.mid, 2)).toBe(true);
    }
    for (const l of nested.layers) {
      expect(l.denseMid !== undefined).toBe(l.denseStorage === 'int3');
      if (l.denseMid) expect(inside(l.denseMid, Math.max(2, l.denseTier!))).toBe(true);
    }
  });
  it('a file that says version 5', () => rejectsNested((h) => (h.formatVersion = 5), /4-bit tiers \(format version 6\) but says format version 5/));
  it('bits that go down from 8 to 4', () => rejectsNested((h) => (h.tiers[3]!.bits = 4) && (h.tiers[2]!.bits = 8), /tier 3 runs at 4 bits after tier 2 ran at 8 bits/));
  it('a missing mid plane', () => rejectsNested((h) => delete int3(h).mid, /is int3 without a mid plane, but tier 2 runs at 4 bits/));
  it('a mid plane of the wrong length', () => rejectsNested((h) => (int3(h).mid!.length += 64), /mid plane holds [\d,]+ bytes, expected/));
  it('a mid plane outside its tier', () => rejectsNested((h) => (int3(h).mid = { ...int3(h).mid!, offset: 0 }), /mid plane .* lies outside tier 2/));
  it('a mid plane on an int4 weight', () => rejectsNested((h) => (h.graph.initializers.find((t) => t.storage !== 'int3')!.mid = int3(h).mid), /has a mid plane, but is not int3/));
  it('a mid plane nobody reads', () => rejectsNested((h) => (delete h.tiers[2]!.bits), /has a mid plane, but no 4-bit tier reads it/));
});

describe('scale codes (format version 7): a half-float row scale and a byte a group', () => {
  let coded: { header: ModelHeader; payload: Uint8Array };
  let half: { header: ModelHeader; payload: Uint8Array };
  beforeAll(async () => {
    [coded, half] = [await compileNested(true), await compileNested(false)];
  });
  const rejectsCoded = rejecter(() => coded);

  it('read back as version 7, every section no larger than with half-float scales', () => {
    expect([coded.header.formatVersion, coded.header.int4ScaleCodes, half.header.formatVersion, half.header.int4ScaleCodes]).toEqual([7, true, 6, undefined]);
    expect(coded.header.tiers.map((t) => t.bits)).toEqual(half.header.tiers.map((t) => t.bits));
    // Tier 0 holds the dense section's int4/int3 weights too: one byte a group less, two bytes a row more.
    coded.header.tiers.forEach((t, i) => expect(t.range.length).toBeLessThanOrEqual(half.header.tiers[i]!.range.length));
    expect(coded.payload.length).toBeLessThan(half.payload.length);
  });
  it('a file that says version 6', () => rejectsCoded((h) => (h.formatVersion = 6), /stores int4 scales as codes \(format version 7\) but says format version 6/));
  it('a file that does not say so', () => rejectsCoded((h) => delete h.int4ScaleCodes, /need [\d,]+ bytes, but its byte range holds|holds [\d,]+ bytes, expected/));
  it('codes without int4', () =>
    rejectsCoded((h) => Object.assign(h, { factorDType: 'fp32', int4GroupSize: undefined, layers: [], graph: { ...h.graph, initializers: h.graph.initializers.map(({ storage: _, mid: __, scaleAxis: ___, ...t }) => t) } }), /scales are codes but has no int4 weights|bytes/));
});
