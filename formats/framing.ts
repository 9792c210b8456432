/**
 * Where things lie in a .lrm file:
 *
 *   [u32 LE size S][FlatBuffer header, S bytes, identifier at bytes 8..11][SHA-256 of bytes 0..4+S, 32 bytes]
 *   [zero padding to a multiple of 64][payload: dense section, tier 0, tier 1, ...]
 *
 * The first 4+S bytes are exactly what flatbuffers' finishSizePrefixed produces. Every ByteRange in the header
 * is relative to the payload start, which is 64-byte aligned so weights can be uploaded to GPUs as they are.
 */
import { PAYLOAD_ALIGNMENT } from './model.js';

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
