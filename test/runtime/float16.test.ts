import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeHalf, encodeHalf, fromHalfBits, toHalfBits } from '../../formats/float16.js';

describe('float16', () => {
  it('encodes known values exactly', () => {
    expect(toHalfBits(1)).toBe(0x3c00);
    expect(toHalfBits(-2)).toBe(0xc000);
    expect(toHalfBits(65504)).toBe(0x7bff);
    expect(toHalfBits(1e6)).toBe(0x7c00);
    expect(toHalfBits(2 ** -24)).toBe(0x0001);
    expect(fromHalfBits(0x3555)).toBeCloseTo(0.333251953125, 12);
    expect(Number.isNaN(fromHalfBits(toHalfBits(NaN)))).toBe(true);
  });

  it('round-trips within half precision (relative 2^-11) over the normal range', () => {
    fc.assert(
      fc.property(fc.float({ min: Math.fround(-60000), max: Math.fround(60000), noNaN: true }), (x) => {
        const back = decodeHalf(encodeHalf([x]))[0];
        if (Math.abs(x) >= 2 ** -14) expect(Math.abs(back - x)).toBeLessThanOrEqual(Math.abs(x) * 2 ** -11);
        else expect(Math.abs(back - x)).toBeLessThanOrEqual(2 ** -25);
      }),
      { numRuns: 2000 },
    );
  });

  it('decodes every one of the 65,536 half floats as fromHalfBits does (the fast path moves bits for normals)', () => {
    const bytes = new Uint8Array(65536 * 2);
    for (let h = 0; h < 65536; h++) [bytes[2 * h], bytes[2 * h + 1]] = [h & 255, h >> 8];
    const decoded = decodeHalf(bytes);
    for (let h = 0; h < 65536; h++) {
      const want = Math.fround(fromHalfBits(h));
      if (Number.isNaN(want)) expect(Number.isNaN(decoded[h])).toBe(true);
      else if (decoded[h] !== want || Object.is(decoded[h], -0) !== Object.is(want, -0)) expect.fail(`half 0x${h.toString(16)}: ${decoded[h]} ≠ ${want}`);
    }
  });

  it('rounds ties to even', () => {
    // 1 + 2^-11 lies exactly between 1 and 1 + 2^-10: ties go to the even mantissa (1).
    expect(toHalfBits(1 + 2 ** -11)).toBe(0x3c00);
    expect(toHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02);
  });
});
