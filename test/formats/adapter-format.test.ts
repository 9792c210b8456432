/**
 * The adapter file format (.lra, issue 17): round trips of every kind and dtype within the format's own rounding,
 * and refusals, each a typed LraFormatError with an actionable message: truncation, bit flips, a model passed as an
 * adapter, headers re-hashed to lie (absurd dims without allocating, ranges, scales, codes), a wrong base.
 */
import { describe, expect, it } from 'vitest';
import { sampleAdapter } from '../../bench/sample-adapter.js';
import { encodeAdapterHeader } from '../../formats/adapter-encode.js';
import type { AdapterHeader } from '../../formats/adapter-header.js';
import {
  ADAPTER_KINDS,
  adapterFactorShapes,
  AdapterBaseMismatchError,
  checkAdapterBase,
  LraFormatError,
  LrmBadIdentifierError,
  LrmFormatError,
  readAdapter,
  readAdapterHeader,
  readLrm,
  sha256Hex,
  writeAdapter,
  type AdapterDType,
  type AdapterKind,
  type AdapterModel,
} from '../../formats/index.js';
import { frameFlatBuffer, headerEnd, SIZE_PREFIX_BYTES, sizeField } from '../../formats/framing.js';
import { smallFile } from './fixture.js';

const DTYPES: AdapterDType[] = ['fp32', 'fp16', 'int8'];
const CASES = ADAPTER_KINDS.flatMap((kind) => DTYPES.map((dtype) => [kind, dtype] as [AdapterKind, AdapterDType]));

/** The error `fn` rejects with; fails the test when it resolves. */
async function rejection(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection, got a result');
}

async function lraError(bytes: Uint8Array): Promise<LraFormatError> {
  const e = await rejection(() => readAdapter(bytes, { fileName: 'style.lra' }));
  if (!(e instanceof LraFormatError)) throw new Error(`expected LraFormatError, got ${e.name}: ${e.message}`);
  return e;
}

/** The largest error fp16 storage may add to x: half a unit in the last place (10 fraction bits; subnormals 2^-24). */
function fp16Bound(x: number): number {
  return Math.max(Math.abs(x) * 2 ** -11, 2 ** -25);
}

/**
 * The largest error int8 storage may add in a row whose largest magnitude is maxAbs: the scale s is the smallest
 * float32 ≥ maxAbs/127, rounding to q costs at most s/2, and storing q·s as float32 at most 2^-24 of |q·s| ≤ 127·s.
 */
function int8Bound(maxAbs: number): number {
  const s = (maxAbs / 127) * (1 + 2 ** -22);
  return s / 2 + 127 * s * 2 ** -24;
}

function expectClose(kind: AdapterKind, dtype: AdapterDType, written: AdapterModel, read: AdapterModel): void {
  written.layers.forEach((layer, i) => {
    layer.factors.forEach((values, j) => {
      const got = read.layers[i]!.factors[j]!;
      expect(got).toBeInstanceOf(Float32Array);
      expect(got.length).toBe(values.length);
      if (dtype === 'fp32') return expect(got).toEqual(values);
      const cols = adapterFactorShapes(kind, layer)[j]![1];
      for (let k = 0; k < values.length; k++) {
        const x = values[k]!;
        const bound = dtype === 'fp16' ? fp16Bound(x) : int8Bound(rowMaxAbs(values, k, cols));
        if (Math.abs(got[k]! - x) > bound) throw new Error(`layer ${i} factor ${j} [${k}]: ${got[k]} vs ${x}, bound ${bound}`);
      }
    });
  });
}

function rowMaxAbs(values: Float32Array, k: number, cols: number): number {
  const start = k - (k % cols);
  let m = 0;
  for (let c = start; c < start + cols; c++) m = Math.max(m, Math.abs(values[c]!));
  return m;
}

describe('.lra round trip', () => {
  it.each(CASES)('%s %s: shapes, alpha, kron, base and notes exact; values within the dtype\'s rounding', async (kind, dtype) => {
    const model = sampleAdapter(kind, dtype);
    const file = await writeAdapter(model, { compilerVersion: 'lowrank-edge test' });
    const read = await readAdapter(file);
    expect(read.kind).toBe(kind);
    expect(read.dtype).toBe(dtype);
    expect(read.base).toEqual(model.base);
    expect(read.notes).toEqual(model.notes);
    expect(read.layers.map(({ factors: _, ...l }) => l)).toEqual(model.layers.map(({ factors: _, ...l }) => l));
    expectClose(kind, dtype, model, read);
    const { header, payloadStart } = await readAdapterHeader(file);
    expect(header.compilerVersion).toBe('lowrank-edge test');
    expect(payloadStart % 64).toBe(0);
    // Every factor starts 64-byte aligned, and int8 factors carry one scale per row.
    for (const l of header.layers) for (const f of l.factors) {
      expect(f.range.offset % 64).toBe(0);
      expect(f.scales !== undefined).toBe(dtype === 'int8');
    }
  });

  it('int8 keeps an all-zero row (scale 0) exactly zero', async () => {
    const model = sampleAdapter('lora', 'int8');
    const read = await readAdapter(await writeAdapter(model));
    const up = read.layers[0]!.factors[0]!;
    const rank = model.layers[0]!.rank;
    expect(Array.from(up.subarray(rank, 2 * rank))).toEqual([0, 0, 0, 0]);
  });

  it('the same model writes the same bytes', async () => {
    expect(await writeAdapter(sampleAdapter('loha', 'fp16'))).toEqual(await writeAdapter(sampleAdapter('loha', 'fp16')));
  });
});

describe('writeAdapter refuses models the reader would refuse', () => {
  const cases: Array<[string, (m: AdapterModel) => void, RegExp]> = [
    ['rank 0', (m) => (m.layers[0]!.rank = 0), /rank 0 is not an integer ≥ 1/],
    ['rank above min(rows, cols)', (m) => (m.layers[2]!.rank = 2), /rank 2 is above min\(rows, cols\) = 1/],
    ['a factor of the wrong length', (m) => (m.layers[0]!.factors[1] = new Float32Array(3)), /factor 1 must be a Float32Array of 4×20 values, got 3/],
    ['a missing factor', (m) => m.layers[0]!.factors.pop(), /it has 1 factors, a lora layer has 2/],
    ['NaN alpha', (m) => (m.layers[1]!.alpha = NaN), /alpha NaN is not a finite number/],
    ['a kron shape on lora', (m) => (m.layers[0]!.kron = [2, 4]), /only lokr adapters have/],
    ['duplicate targets', (m) => (m.layers[1]!.target = m.layers[0]!.target), /changes the same weight as an earlier layer/],
    ['a NaN value', (m) => (m.layers[0]!.factors[0]![5] = NaN), /factor 0: value NaN at row 1, column 1 is not finite/],
    ['a short base hash', (m) => (m.base.headerSha256 = 'abc'), /base header SHA-256 "abc" is not 64 lowercase hex digits/],
    ['no layers', (m) => (m.layers = []), /no layers/],
  ];
  it.each(cases)('%s', async (_, change, message) => {
    const model = sampleAdapter('lora', 'fp32');
    change(model);
    const e = await rejection(() => writeAdapter(model));
    expect(e).toBeInstanceOf(LraFormatError);
    expect(e.message).toMatch(message);
    expect(e.message).toMatch(/\(the AdapterModel given to writeAdapter is invalid: fix the trainer or exporter that built it\)$/);
  });

  it('fp16 refuses a value beyond ±65504 and says to use fp32 or int8', async () => {
    const model = sampleAdapter('lora', 'fp16');
    model.layers[0]!.factors[0]![0] = 1e5;
    expect((await rejection(() => writeAdapter(model))).message).toMatch(/value 100000 at row 0, column 0 is beyond fp16's ±65504 \(store the adapter as fp32 or int8\)/);
  });

  it('lokr: kron must divide the shape and the rank fit w2', async () => {
    const a = sampleAdapter('lokr', 'fp32');
    a.layers[0]!.kron = [5, 4];
    expect((await rejection(() => writeAdapter(a))).message).toMatch(/kron shape 5×4 does not divide its shape 12×20/);
    const b = sampleAdapter('lokr', 'fp32');
    b.layers[1]!.rank = 3; // w2 is 2×9
    expect((await rejection(() => writeAdapter(b))).message).toMatch(/rank 3 is above min\(rows\/kron\[0\], cols\/kron\[1\]\) = 2/);
  });
});

describe('readAdapter refuses damaged files with typed errors', () => {
  it('truncated at every length: LRM_TRUNCATED, saying how many bytes it needs', async () => {
    const file = await writeAdapter(sampleAdapter('loha', 'int8'));
    const codes = new Set<string>();
    for (let n = 0; n < file.length; n++) codes.add((await lraError(file.subarray(0, n))).code);
    expect([...codes].sort()).toEqual(['LRM_TRUNCATED']);
    expect((await lraError(file.subarray(0, file.length - 1))).message).toMatch(
      new RegExp(`^style\\.lra is truncated: its header says ${file.length.toLocaleString('en-US')} bytes, got ${(file.length - 1).toLocaleString('en-US')} \\(re-download or re-copy the file\\)$`),
    );
  });

  it('every single-bit flip anywhere in the file is refused, the header and payload by their checksums', async () => {
    const file = await writeAdapter(sampleAdapter('lokr', 'int8'));
    const size = sizeField(file);
    const codes = new Map<string, number>();
    for (let i = 0; i < file.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const bad = file.slice();
        bad[i] ^= 1 << bit;
        const e = await lraError(bad);
        const region = i < SIZE_PREFIX_BYTES ? 'size' : i < headerEnd(size) ? 'header' : i < file.length - (await readAdapterHeader(file)).header.payloadLength ? 'padding' : 'payload';
        codes.set(`${region} ${e.code}`, (codes.get(`${region} ${e.code}`) ?? 0) + 1);
      }
    }
    expect(codes.get('payload LRM_CHECKSUM')).toBeGreaterThan(0);
    expect(codes.get('header LRM_CHECKSUM')).toBeGreaterThan(0);
    expect([...codes.keys()].every((k) => /^(size|header) LRM_(CHECKSUM|TRUNCATED|CORRUPT_HEADER|BAD_IDENTIFIER|VERSION)$|^padding LRM_CORRUPT_HEADER$|^payload LRM_CHECKSUM$/.test(k)), [...codes.keys()].join(', ')).toBe(true);
  });

  it('a payload flip says which part is damaged and what to do', async () => {
    const file = await writeAdapter(sampleAdapter('lora', 'fp16'));
    file[file.length - 70] ^= 0x10;
    expect((await lraError(file)).message).toBe('style.lra is damaged: the weight payload does not match its SHA-256 checksum (re-download or re-copy the file)');
  });

  it('a .lrm model passed as an adapter: "is a model (.lrm), not an adapter"', async () => {
    const { file } = await smallFile();
    const e = await lraError(file);
    expect(e.code).toBe('LRM_BAD_IDENTIFIER');
    expect(e.message).toBe('style.lra is a model (.lrm), not an adapter: its file identifier is "LRM1", expected "LRA1" (pass the adapter\'s .lra file here; the .lrm is the base model the adapter applies to)');
  });

  it('an adapter passed as a model: readLrm says it is an adapter', async () => {
    const file = await writeAdapter(sampleAdapter('lora', 'fp32'));
    const e = await rejection(() => readLrm(file, { fileName: 'style.lra' }));
    expect(e).toBeInstanceOf(LrmBadIdentifierError);
    expect(e.message).toMatch(/"LRA1", expected "LRM1" \(this is an adapter \(\.lra\), not a model: pass the base \.lrm model here and the \.lra as its adapter\)$/);
  });

  it('foreign bytes, a newer identifier generation, trailing bytes', async () => {
    expect((await lraError(new Uint8Array(64))).message).toMatch(/is not a \.lra adapter: its file identifier is "\\x00\\x00\\x00\\x00", expected "LRA1"/);
    const file = await writeAdapter(sampleAdapter('lora', 'fp32'));
    const newer = file.slice();
    newer[11] = '2'.charCodeAt(0);
    const v = await lraError(newer);
    expect(v.code).toBe('LRM_VERSION');
    expect(v.message).toMatch(/uses \.lra format version 2, this runtime reads version 1 \(update the runtime\)/);
    const longer = new Uint8Array(file.length + 3);
    longer.set(file);
    expect((await lraError(longer)).message).toMatch(/the file is 3 bytes longer than its header says/);
  });
});

describe('re-hashed headers that lie are refused before the payload is trusted', () => {
  /** A file from a (possibly wrong) header and payload, with a correct header hash, as a buggy writer leaves it. */
  async function craft(header: AdapterHeader, payload: Uint8Array): Promise<Uint8Array> {
    const framed = await frameFlatBuffer(encodeAdapterHeader(header));
    const file = new Uint8Array(framed.length + payload.length);
    file.set(framed);
    file.set(payload, framed.length);
    return file;
  }

  async function parts(kind: AdapterKind = 'lora', dtype: AdapterDType = 'int8'): Promise<{ header: AdapterHeader; payload: Uint8Array }> {
    const file = await writeAdapter(sampleAdapter(kind, dtype));
    const { header, payloadStart } = await readAdapterHeader(file);
    return { header, payload: file.slice(payloadStart) };
  }

  it('rows 2^30 with the ranges of a small layer: refused, no allocation', async () => {
    const { header, payload } = await parts();
    header.layers[0]!.rows = 2 ** 30;
    header.layers[0]!.rank = 4;
    const before = process.memoryUsage().arrayBuffers;
    const e = await lraError(await craft(header, payload));
    expect(e.code).toBe('LRM_CORRUPT_HEADER');
    expect(e.message).toMatch(/layer 0 \("fc1\.weight"\): factor 0 \(1073741824×4 int8\) is 48 bytes, expected 4,294,967,296/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 2 ** 20);
  });

  it('rows 2^30 with matching ranges and payload length: truncated, no allocation', async () => {
    const { header, payload } = await parts('lora', 'fp32');
    const l = header.layers[0]!;
    l.rows = 2 ** 30;
    l.cols = 2 ** 30;
    l.factors[0]!.range.length = 2 ** 30 * l.rank * 4;
    l.factors[1]!.range = { offset: 2 ** 30 * l.rank * 4, length: l.rank * 2 ** 30 * 4 };
    let end = 2 ** 31 * l.rank * 4;
    for (const layer of header.layers.slice(1)) {
      for (const f of layer.factors) {
        f.range.offset = end;
        end += Math.ceil(f.range.length / 64) * 64;
      }
    }
    header.payloadLength = end;
    const before = process.memoryUsage().arrayBuffers;
    const e = await lraError(await craft(header, payload));
    expect(e.code).toBe('LRM_TRUNCATED');
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 2 ** 20);
  });

  const lies: Array<[string, (h: AdapterHeader) => void, RegExp]> = [
    ['a range past the payload end', (h) => (h.layers[2]!.factors[1]!.range.offset += 4096), /past the payload end|inside the factor/],
    ['overlapping factors', (h) => (h.layers[1]!.factors[0]!.range.offset = 0), /inside the factor before it/],
    ['a misaligned factor', (h) => (h.layers[0]!.factors[1]!.range.offset += 1), /not a multiple of 64/],
    ['a missing int8 scale', (h) => h.layers[0]!.factors[0]!.scales!.pop(), /factor 0 has 11 int8 scales, expected 12 \(one per row\)/],
    ['a negative scale', (h) => (h.layers[0]!.factors[0]!.scales![0] = -1), /negative or not finite/],
    ['rank above min(rows, cols)', (h) => (h.layers[2]!.rank = 2), /rank 2 is above/],
    ['NaN alpha', (h) => (h.layers[0]!.alpha = NaN), /alpha NaN/],
    ['duplicate targets', (h) => (h.layers[2]!.target = 'fc1.weight'), /changes the same weight/],
    ['an empty target', (h) => (h.layers[2]!.target = ''), /names no target weight/],
    ['a payload longer than its factors', (h) => (h.payloadLength += 64), /its factors need/],
  ];
  it.each(lies)('%s', async (_, lie, message) => {
    const { header, payload } = await parts();
    lie(header);
    const e = await lraError(await craft(header, payload));
    expect(e.code).toBe('LRM_CORRUPT_HEADER');
    expect(e.message).toMatch(message);
    expect(e.message).toMatch(/\(the file was written wrong: export the adapter again from the trainer or ask its supplier for a new copy\)$/);
  });

  it('scales in an fp32 file, a kron shape of 3 numbers', async () => {
    const a = await parts('lora', 'fp32');
    a.header.layers[0]!.factors[0]!.scales = [1];
    expect((await lraError(await craft(a.header, a.payload))).message).toMatch(/only int8 factors have scales/);
    const b = await parts('lokr', 'fp32');
    b.header.layers[0]!.kron = [2, 4, 1] as unknown as [number, number];
    expect((await lraError(await craft(b.header, b.payload))).message).toMatch(/kron shape of 3 numbers, expected 2/);
  });

  it('unknown kind and dtype codes, format version 2 inside an LRA1 file', async () => {
    // loha (1) and lokr (2) differ in one header byte: the kind field; set it to an unknown code.
    const { header } = await parts('loha', 'fp16');
    const a = encodeAdapterHeader(header);
    const b = encodeAdapterHeader({ ...header, kind: 'lokr' });
    const kindAt = a.findIndex((v, i) => v !== b[i]);
    const unknownKind = a.slice();
    unknownKind[kindAt] = 9;
    const file = await writeAdapter(sampleAdapter('loha', 'fp16'));
    const payload = file.slice(file.length - header.payloadLength);
    const frame = async (fb: Uint8Array) => {
      const framed = await frameFlatBuffer(fb);
      const out = new Uint8Array(framed.length + payload.length);
      out.set(framed);
      out.set(payload, framed.length);
      return out;
    };
    expect((await lraError(await frame(unknownKind))).message).toMatch(/adapter kind code 9 is unknown \(known: lora, loha, lokr\)/);
    const c = encodeAdapterHeader({ ...header, dtype: 'int8' });
    const unknownDType = a.slice();
    unknownDType[a.findIndex((v, i) => v !== c[i])] = 7;
    expect((await lraError(await frame(unknownDType))).message).toMatch(/storage dtype code 7 is unknown/);
    expect((await lraError(await frame(encodeAdapterHeader({ ...header, formatVersion: 2 })))).message).toMatch(/uses \.lra format version 2, this runtime reads version 1 \(update the runtime\)/);
  });

  it('a NaN in an fp32 factor with a matching payload hash: refused as not finite', async () => {
    const { header, payload } = await parts('lora', 'fp32');
    new DataView(payload.buffer).setFloat32(header.layers[1]!.factors[1]!.range.offset + 8, NaN, true);
    header.payloadSha256 = await sha256Hex(payload);
    expect((await lraError(await craft(header, payload))).message).toMatch(/layer 1 \("features\.0\.weight"\) factor 1 holds a value that is not finite/);
  });
});

describe('checkAdapterBase', () => {
  const model = sampleAdapter('lora', 'fp32', { baseSha256: 'aa'.repeat(32) });

  it('accepts the base it was trained for, in either case of hex', () => {
    expect(() => checkAdapterBase(model, 'AA'.repeat(32), 'kiosk.lrm')).not.toThrow();
  });

  it('refuses another base with both hashes, both names and the fix', () => {
    let e: unknown;
    try {
      checkAdapterBase(model, 'bb'.repeat(32), 'kiosk-v2.lrm', { adapterName: 'style.lra' });
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(AdapterBaseMismatchError);
    expect(e).toBeInstanceOf(LrmFormatError);
    expect((e as AdapterBaseMismatchError).code).toBe('LRA_BASE_MISMATCH');
    expect((e as Error).message).toBe('adapter style.lra was trained for base aaaaaaaa… (mnist-cnn.lrm), this model is bbbbbbbb… (kiosk-v2.lrm): use the adapter made for this model or retrain it');
  });
});
