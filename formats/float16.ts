/**
 * IEEE 754 half precision <-> float32, round to nearest even.
 * Hand-written because Float16Array is not in Node 20 and these 40 lines are all we need.
 */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function toHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow → ±0
    mant |= 0x800000; // subnormal half: shift in the implicit bit
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rounded = (mant + half - 1 + ((mant >>> shift) & 1)) >>> shift;
    return sign | rounded;
  }
  const rounded = mant + 0xfff + ((mant >>> 13) & 1);
  if (rounded & 0x800000) {
    mant = 0;
    e += 1;
    if (e >= 0x1f) return sign | 0x7c00;
  } else {
    mant = rounded;
  }
  return sign | (e << 10) | (mant >>> 13);
}

export function fromHalfBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Encode float values as little-endian half-precision bytes. */
export function encodeHalf(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setUint16(i * 2, toHalfBits(values[i]), true);
  return out;
}

/**
 * Decode little-endian half-precision bytes into float32. Normal numbers (all but zeros, subnormals, infinities and
 * NaNs) move their bits straight into float32's: same sign and mantissa, exponent rebiased by 127 − 15 = 112. An int4
 * file's group scales are decoded at every load, so this is the hot path; the rest go through fromHalfBits.
 */
export function decodeHalf(bytes: Uint8Array): Float32Array {
  const n = bytes.length >>> 1;
  const bits = new Uint32Array(n);
  const out = new Float32Array(bits.buffer);
  for (let i = 0; i < n; i++) {
    const h = bytes[2 * i] | (bytes[2 * i + 1] << 8);
    const e = h & 0x7c00;
    if (e !== 0 && e !== 0x7c00) bits[i] = ((h & 0x8000) << 16) | (((h & 0x7fff) + 0x1c000) << 13);
    else out[i] = fromHalfBits(h);
  }
  return out;
}
