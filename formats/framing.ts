/**
 * Where things lie in a .lrm file:
 *
 *   [u32 LE size S][FlatBuffer header, S bytes, identifier at bytes 8..11][SHA-256 of bytes 0..4+S, 32 bytes]
 *   [zero padding to a multiple of 64][payload: dense section, tier 0, tier 1, ...]
 *
 * The first 4+S bytes are exactly what flatbuffers' finishSizePrefixed produces. Every ByteRange in the header
 * is relative to the payload start, which is 64-byte aligned so weights can be uploaded to GPUs as they are.
 * Adapter files (.lra, formats/lra.fbs) use the same framing with their own identifier.
 */
import { PAYLOAD_ALIGNMENT } from './model.js';
import { sha256 } from './sha256.js';

export const SIZE_PREFIX_BYTES = 4;
export const HEADER_HASH_BYTES = 32;
/** Bytes needed to learn the header length: size prefix, root offset, file identifier. */
export const HEADER_PREFIX_BYTES = 12;
/** Where the file identifier sits in a size-prefixed FlatBuffer. */
export const IDENTIFIER_OFFSET = 8;
/** A sane upper bound on S: a header describes weights, it never holds them. */
export const MAX_FLATBUFFER_BYTES = 1 << 30;
/** The smallest FlatBuffer with an identifier and a root table: root offset, identifier, vtable, table. */
export const MIN_FLATBUFFER_BYTES = 16;

export function align(n: number, to = PAYLOAD_ALIGNMENT): number {
  return Math.ceil(n / to) * to;
}

/** Bytes from the file start to the end of the header hash, given the FlatBuffer size S. */
export function headerEnd(flatBufferBytes: number): number {
  return SIZE_PREFIX_BYTES + flatBufferBytes + HEADER_HASH_BYTES;
}

/** File offset of the payload, given the FlatBuffer size S. */
export function payloadStartFor(flatBufferBytes: number): number {
  return align(headerEnd(flatBufferBytes));
}

/** The four identifier bytes of a size-prefixed FlatBuffer as text (`prefix` holds at least HEADER_PREFIX_BYTES). */
export function identifierOf(prefix: Uint8Array): string {
  return String.fromCharCode(...prefix.subarray(IDENTIFIER_OFFSET, IDENTIFIER_OFFSET + 4));
}

/** S, the FlatBuffer size, from the u32 LE size prefix (unchecked). */
export function sizeField(prefix: Uint8Array): number {
  return (prefix[0] | (prefix[1] << 8) | (prefix[2] << 16) | (prefix[3] << 24)) >>> 0;
}

/** Everything before the payload: the size-prefixed FlatBuffer, its SHA-256, zero padding to the payload start. */
export async function frameFlatBuffer(flatBuffer: Uint8Array): Promise<Uint8Array> {
  const out = new Uint8Array(payloadStartFor(flatBuffer.length - SIZE_PREFIX_BYTES));
  out.set(flatBuffer);
  // The hash fills bytes [4+S, 4+S+32); the rest up to the payload stays zero.
  out.set(await sha256(flatBuffer), flatBuffer.length);
  return out;
}

/** Whether the SHA-256 stored after the FlatBuffer matches it (`bytes` holds at least headerEnd(S) bytes). */
export async function headerHashMatches(bytes: Uint8Array, flatBufferBytes: number): Promise<boolean> {
  const end = SIZE_PREFIX_BYTES + flatBufferBytes;
  const actual = await sha256(bytes.subarray(0, end));
  const stored = bytes.subarray(end, end + HEADER_HASH_BYTES);
  return stored.length === HEADER_HASH_BYTES && actual.every((b, i) => b === stored[i]);
}

/** Whether the bytes between the header hash and the payload start are zero, as the writer leaves them. */
export function paddingIsZero(bytes: Uint8Array, flatBufferBytes: number): boolean {
  return bytes.subarray(headerEnd(flatBufferBytes), payloadStartFor(flatBufferBytes)).every((b) => b === 0);
}
