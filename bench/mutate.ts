/**
 * Seeded mutations of framed files (.lrm and .lra share the framing, formats/framing.ts), for the fuzzers.
 */
import { createHash } from 'node:crypto';
import { SIZE_PREFIX_BYTES } from '../formats/framing.js';

/** A small deterministic generator (mulberry32): the same seed gives the same cases on every machine. */
export function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 1–4 random bytes of the file (raw) or of its FlatBuffer (re-hashed, then the header hash recomputed). */
export function mutate(file: Uint8Array, rehash: boolean, random: () => number): Uint8Array {
  const out = file.slice();
  const size = new DataView(out.buffer).getUint32(0, true);
  const span = rehash ? size : out.length;
  const from = rehash ? SIZE_PREFIX_BYTES : 0;
  const flips = 1 + Math.floor(random() * 4);
  for (let k = 0; k < flips; k++) out[from + Math.floor(random() * span)] = Math.floor(random() * 256);
  if (rehash) out.set(createHash('sha256').update(out.subarray(0, SIZE_PREFIX_BYTES + size)).digest(), SIZE_PREFIX_BYTES + size);
  return out;
}
