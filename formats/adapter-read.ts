/**
 * Reading adapter files (.lra): verify before trusting, as formats/read.ts does for models. The header is checked
 * (identifier, size, SHA-256, version, every field, every range) before the payload is hashed, and the payload
 * before any factor is decoded, so a hostile file costs at most its own size in work and memory (plus the float32
 * copies of factors it really holds).
 */
import { adapterRootTable, decodeAdapterHeader } from './adapter-decode.js';
import {
  DEFAULT_ADAPTER_FILE_NAME,
  lraBadIdentifier,
  lraChecksum,
  lraCorrupt,
  lraTruncated,
  lraVersion,
  RECOPY,
} from './adapter-errors.js';
import type { AdapterHeader } from './adapter-header.js';
import { ADAPTER_FILE_IDENTIFIER, ADAPTER_FORMAT_VERSION, adapterFactorShapes, type AdapterLayer, type AdapterModel } from './adapter-model.js';
import { loadFactor } from './adapter-storage.js';
import { validateAdapterHeader } from './adapter-validate.js';
import { formatBytes, LrmFormatError } from './errors.js';
import {
  HEADER_PREFIX_BYTES,
  headerEnd,
  headerHashMatches,
  identifierOf,
  IDENTIFIER_OFFSET,
  MAX_FLATBUFFER_BYTES,
  MIN_FLATBUFFER_BYTES,
  paddingIsZero,
  payloadStartFor,
  sizeField,
  SIZE_PREFIX_BYTES,
} from './framing.js';
import { printableBytes } from './read.js';
import { sha256Hex } from './sha256.js';

/** The runtime checks an adapter's base right after reading it; exported here beside the reader. */
export { checkAdapterBase } from './adapter-base.js';

/** The oldest .lra format version this reader understands. */
export const MIN_ADAPTER_FORMAT_VERSION = 1;

export interface AdapterHeaderView {
  header: AdapterHeader;
  /** File offset of the payload; factor ranges are relative to it. */
  payloadStart: number;
}

/** Verifies and decodes the header of a whole .lra file (`bytes`), including that its length is what the header says. */
export async function readAdapterHeader(bytes: Uint8Array, options: { fileName?: string } = {}): Promise<AdapterHeaderView> {
  const fileName = options.fileName ?? DEFAULT_ADAPTER_FILE_NAME;
  const size = flatBufferSize(bytes, fileName);
  const end = headerEnd(size);
  if (bytes.length < end) throw lraTruncated(fileName, end, bytes.length, 'its header needs');
  if (!(await headerHashMatches(bytes, size))) throw lraChecksum(fileName, 'header');
  if (!paddingIsZero(bytes, size)) throw lraCorrupt(fileName, 'the padding after the header is not zero', RECOPY);

  const flatBuffer = bytes.subarray(0, SIZE_PREFIX_BYTES + size);
  let header: AdapterHeader;
  try {
    const root = adapterRootTable(flatBuffer);
    const version = root.formatVersion();
    if (version < MIN_ADAPTER_FORMAT_VERSION || version > ADAPTER_FORMAT_VERSION) throw lraVersion(fileName, version, MIN_ADAPTER_FORMAT_VERSION, ADAPTER_FORMAT_VERSION);
    header = decodeAdapterHeader(root, flatBuffer.length, fileName);
  } catch (e) {
    if (e instanceof LrmFormatError) throw e;
    // The flatbuffers runtime can throw RangeError (or decode garbage text) on offsets that point outside the buffer.
    throw lraCorrupt(fileName, `the header cannot be decoded (${(e as Error).message})`);
  }
  validateAdapterHeader(header, fileName);

  const payloadStart = payloadStartFor(size);
  const expected = payloadStart + header.payloadLength;
  if (bytes.length < expected) throw lraTruncated(fileName, expected, bytes.length);
  if (bytes.length > expected) throw lraCorrupt(fileName, `the file is ${formatBytes(bytes.length - expected)} bytes longer than its header says`, RECOPY);
  return { header, payloadStart };
}

/**
 * Reads a whole .lra file: every check of readAdapterHeader, the payload's SHA-256, and every factor decoded to
 * float32 and finite. Throws LraFormatError (an LrmFormatError) for anything wrong.
 */
export async function readAdapter(bytes: Uint8Array, options: { fileName?: string } = {}): Promise<AdapterModel> {
  const fileName = options.fileName ?? DEFAULT_ADAPTER_FILE_NAME;
  const { header, payloadStart } = await readAdapterHeader(bytes, { fileName });
  const payload = bytes.subarray(payloadStart, payloadStart + header.payloadLength);
  if ((await sha256Hex(payload)) !== header.payloadSha256) throw lraChecksum(fileName, 'payload');
  const layers = header.layers.map((entry, i): AdapterLayer => {
    const shapes = adapterFactorShapes(header.kind, entry);
    const factors = entry.factors.map(({ range, scales }, j) => {
      const [rows, cols] = shapes[j]!;
      const values = loadFactor(payload.subarray(range.offset, range.offset + range.length), rows, cols, header.dtype, scales);
      // fp32 and fp16 can hold NaN and infinities; one would turn every output of the layer into NaN.
      if (!values.every(Number.isFinite)) throw lraCorrupt(fileName, `layer ${i} ("${entry.target.slice(0, 80)}") factor ${j} holds a value that is not finite`);
      return values;
    });
    const { target, rows, cols, rank, alpha, kron } = entry;
    return { target, rows, cols, rank, alpha, factors, ...(kron ? { kron } : {}) };
  });
  return { kind: header.kind, base: header.base, dtype: header.dtype, layers, notes: header.notes };
}

/** S, the FlatBuffer size, after checking the identifier and that S is plausible. */
function flatBufferSize(bytes: Uint8Array, fileName: string): number {
  if (bytes.length < HEADER_PREFIX_BYTES) throw lraTruncated(fileName, HEADER_PREFIX_BYTES, bytes.length, 'the start of its header needs');
  const found = identifierOf(bytes);
  if (found !== ADAPTER_FILE_IDENTIFIER) {
    // "LRA2", "LRA3"...: an adapter file from a newer (or older) format generation.
    const generation = /^LRA([0-9])$/.exec(found);
    if (generation) throw lraVersion(fileName, Number(generation[1]), MIN_ADAPTER_FORMAT_VERSION, ADAPTER_FORMAT_VERSION);
    throw lraBadIdentifier(fileName, printableBytes(bytes.subarray(IDENTIFIER_OFFSET, IDENTIFIER_OFFSET + 4)), ADAPTER_FILE_IDENTIFIER);
  }
  const size = sizeField(bytes);
  if (size < MIN_FLATBUFFER_BYTES || size > MAX_FLATBUFFER_BYTES) {
    throw lraCorrupt(fileName, `its header size field says ${formatBytes(size)} bytes, which is impossible`, RECOPY);
  }
  return size;
}
