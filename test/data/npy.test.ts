import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { join } from 'node:path';
import { parseNpy, readNpy, serializeNpy, writeNpy } from '../../compiler/data/npy.js';
import { DataFormatError, UnsupportedDataError } from '../../compiler/data/errors.js';
import type { HostDataType, HostTensor } from '../../compiler/data/tensor.js';
import { scratchDir } from './helpers.js';

/** A .npy file with a hand-written header, laid out the way np.save does (padded to 64 bytes). */
function npyBytes(header: string, data: Uint8Array, major = 1): Uint8Array {
  const prefix = major === 1 ? 10 : 12;
  const total = Math.ceil((prefix + header.length + 1) / 64) * 64;
  const text = header.padEnd(total - prefix - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, text.length, true);
  else view.setUint32(8, text.length, true);
  out.set(new TextEncoder().encode(text), prefix);
  out.set(data, total);
  return out;
}

const bytesOf = (t: HostTensor) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);

const tensorArb: fc.Arbitrary<HostTensor> = fc
  .record({
    dataType: fc.constantFrom<HostDataType>('float32', 'float64', 'int32', 'int64', 'uint8', 'bool'),
    dims: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 }),
  })
  .chain(({ dataType, dims }) => {
    const n = dims.reduce((a, b) => a * b, 1);
    const arr = <T>(a: fc.Arbitrary<T>) => fc.array(a, { minLength: n, maxLength: n });
    const data: fc.Arbitrary<HostTensor['data']> = {
      float32: arr(fc.float()).map((v) => Float32Array.from(v)),
      float64: arr(fc.double()).map((v) => Float64Array.from(v)),
      int32: arr(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })).map((v) => Int32Array.from(v)),
      int64: arr(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })).map((v) => BigInt64Array.from(v)),
      uint8: arr(fc.integer({ min: 0, max: 255 })).map((v) => Uint8Array.from(v)),
      bool: arr(fc.boolean()).map((v) => Uint8Array.from(v, Number)),
    }[dataType];
    return data.map((d) => ({ dataType, dims, data: d }));
  });

describe('npy', () => {
  it('round-trips every supported dtype and shape bit-exactly (property)', () => {
    fc.assert(
      fc.property(tensorArb, (t) => {
        const bytes = serializeNpy(t);
        expect(bytes.length % 64).toBe(bytesOf(t).length % 64); // header padded to 64 bytes
        const back = parseNpy(bytes);
        expect(back.dataType).toBe(t.dataType);
        expect(back.dims).toEqual(t.dims);
        expect(back.data.constructor).toBe(t.data.constructor);
        expect(bytesOf(back)).toEqual(bytesOf(t));
      }),
      { numRuns: 300 },
    );
  });

  it('reads a header in the exact form np.save writes', () => {
    const data = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const t = parseNpy(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", new Uint8Array(data.buffer)));
    expect(t).toEqual({ dataType: 'float32', dims: [2, 3], data });
    const written = serializeNpy(t);
    expect(new TextDecoder('latin1').decode(written.subarray(0, 69))).toBe("\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
    expect(written.length).toBe(128 + 24);
  });

  it('reads version 2 and 3 headers, 1-D and scalar shapes, Python 2 longs', () => {
    const i8 = new Uint8Array(BigInt64Array.from([-5n, 7n]).buffer);
    expect(parseNpy(npyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", i8, 2)).dims).toEqual([2]);
    expect(parseNpy(npyBytes("{'descr': '|u1', 'fortran_order': False, 'shape': (), }", Uint8Array.from([9]), 3)).data).toEqual(Uint8Array.from([9]));
    expect(parseNpy(npyBytes("{'descr': '<i8', 'shape': (1L, 2L), 'fortran_order': False}", i8)).dims).toEqual([1, 2]);
  });

  it('refuses a Fortran-order array with a clear, typed error', () => {
    const bytes = npyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", new Uint8Array(24));
    expect(() => parseNpy(bytes, 'x.npy')).toThrow(UnsupportedDataError);
    expect(() => parseNpy(bytes, 'x.npy')).toThrow(/^x\.npy: Fortran-order .*np\.ascontiguousarray/);
    // With one non-trivial axis the bytes are the same in both orders, so that is accepted.
    expect(parseNpy(npyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 6), }", new Uint8Array(24))).dims).toEqual([1, 6]);
  });

  it('refuses big-endian and unsupported dtypes', () => {
    const h = (d: string) => npyBytes(`{'descr': '${d}', 'fortran_order': False, 'shape': (1,), }`, new Uint8Array(4));
    expect(() => parseNpy(h('>f4'))).toThrow(/big-endian/);
    expect(() => parseNpy(h('<f2'))).toThrow(expect.objectContaining({ code: 'DATA_UNSUPPORTED' }));
    expect(() => parseNpy(h('<U1'))).toThrow(UnsupportedDataError);
  });

  it('rejects bad magic, truncated data and malformed headers', () => {
    expect(() => parseNpy(new Uint8Array(20))).toThrow(DataFormatError);
    const ok = npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", new Uint8Array(24));
    expect(() => parseNpy(ok.subarray(0, ok.length - 4), 't.npy')).toThrow(/t\.npy: \.npy data is 20 bytes .* needs 24 \(file truncated\?\)/);
    expect(() => parseNpy(npyBytes("{'descr': '<f4', 'shape': (2, 3)", new Uint8Array(24)))).toThrow(DataFormatError);
  });

  it('writes and reads files', async () => {
    const { dir, cleanup } = scratchDir();
    try {
      const t: HostTensor = { dataType: 'int32', dims: [3], data: Int32Array.from([1, -2, 3]) };
      await writeNpy(join(dir, 'a.npy'), t);
      expect(await readNpy(join(dir, 'a.npy'))).toEqual(t);
      await expect(readNpy(join(dir, 'missing.npy'))).rejects.toThrow(expect.objectContaining({ code: 'DATA_NOT_FOUND' }));
    } finally {
      cleanup();
    }
  });
});
