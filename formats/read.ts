/**
 * Reading .lrm files: verify before trusting. The header is checked on its own (so a browser can fetch just
 * the header, choose a preset, then fetch tiers 0..k), and sections are checked against their SHA-256s.
 */
import { decodeHeader, rootTable } from './decode.js';
import {
  DEFAULT_FILE_NAME,
  formatBytes as fmt,
  LrmBadIdentifierError,
  LrmChecksumError,
  LrmCorruptHeaderError,
  LrmFormatError,
  LrmTruncatedError,
  LrmVersionError,
} from './errors.js';
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
import { ADAPTER_FILE_IDENTIFIER } from './adapter-model.js';
import type { ModelHeader } from './model.js';
import { FILE_IDENTIFIER, FORMAT_VERSION } from './model.js';
import { sectionBytes, sectionsFor } from './sections.js';
import { sha256Hex } from './sha256.js';
import { validateHeader } from './validate.js';

/** The oldest format version this reader understands. */
export const MIN_FORMAT_VERSION = 1;

export interface ReadOptions {
  /** Used in error messages, e.g. "kiosk.lrm". */
  fileName?: string;
  /** Size of the whole file, when known: it must match what the header says. */
  totalLength?: number;
}

export interface HeaderView {
  header: ModelHeader;
  /** File offset of the payload; ByteRange offsets are relative to it. */
  payloadStart: number;
}

const RECOPY = 're-download or re-copy the file';
/** The fix when an adapter is passed where a model belongs. */
const ADAPTER_NOT_MODEL = 'this is an adapter (.lra), not a model: pass the base .lrm model here and the .lra as its adapter';

/**
 * Bytes needed to read the header (size prefix, FlatBuffer and its hash) from the first
 * HEADER_PREFIX_BYTES (12) bytes of a file, so a browser can fetch exactly that with one Range request.
 */
export function headerLength(prefix: Uint8Array, options: { fileName?: string } = {}): number {
  return headerEnd(flatBufferSize(prefix, options.fileName ?? DEFAULT_FILE_NAME));
}

/** Verifies and decodes the header. `bytes` is a prefix of the file holding at least headerLength() bytes. */
export async function readHeader(bytes: Uint8Array, options: ReadOptions = {}): Promise<HeaderView> {
  const fileName = options.fileName ?? DEFAULT_FILE_NAME;
  const { totalLength } = options;
  const size = flatBufferSize(bytes, fileName);
  const end = headerEnd(size);
  if (totalLength !== undefined && totalLength < end) throw new LrmTruncatedError(fileName, end, totalLength, 'its header needs');
  if (bytes.length < end) throw new LrmTruncatedError(fileName, end, bytes.length, 'its header needs');

  const flatBuffer = bytes.subarray(0, SIZE_PREFIX_BYTES + size);
  if (!(await headerHashMatches(bytes, size))) throw new LrmChecksumError(fileName, 'header');
  const payloadStart = payloadStartFor(size);
  if (!paddingIsZero(bytes, size)) {
    throw new LrmCorruptHeaderError(fileName, 'the padding after the header is not zero', RECOPY);
  }

  const root = rootTable(flatBuffer);
  const version = root.formatVersion();
  if (version < MIN_FORMAT_VERSION || version > FORMAT_VERSION) {
    throw new LrmVersionError(fileName, version, MIN_FORMAT_VERSION, FORMAT_VERSION);
  }
  let header: ModelHeader;
  try {
    header = decodeHeader(root, flatBuffer.length, fileName);
  } catch (e) {
    if (e instanceof LrmFormatError) throw e;
    // The flatbuffers runtime can throw RangeError on offsets that point outside the buffer.
    throw new LrmCorruptHeaderError(fileName, `the header cannot be decoded (${(e as Error).message})`);
  }
  validateHeader(header, fileName);

  if (totalLength !== undefined) {
    const expected = payloadStart + header.payloadLength;
    if (totalLength < expected) throw new LrmTruncatedError(fileName, expected, totalLength);
    if (totalLength > expected) {
      throw new LrmCorruptHeaderError(fileName, `the file is ${fmt(totalLength - expected)} bytes longer than its header says`, RECOPY);
    }
  }
  return { header, payloadStart };
}

/**
 * Checks the SHA-256 of every section tiers 0..tierCount-1 need (formats/sections.ts). `bytes` is the file from
 * byte 0 far enough to hold them all; bytes between them that those tiers do not need are not looked at.
 */
export async function verifySections(
  bytes: Uint8Array,
  header: ModelHeader,
  payloadStart: number,
  tierCount: number,
  options: { fileName?: string } = {},
): Promise<void> {
  const fileName = options.fileName ?? DEFAULT_FILE_NAME;
  if (!Number.isInteger(tierCount) || tierCount < 0 || tierCount > header.tiers.length) {
    throw new RangeError(`tierCount must be an integer in 0..${header.tiers.length}, got ${tierCount}`);
  }
  const sections = sectionsFor(header, tierCount);
  const needed = payloadStart + Math.max(...sections.map((s) => s.range.offset + s.range.length));
  if (bytes.length < needed) {
    const what = tierCount === 0 ? 'its dense section needs' : `its tiers 0..${tierCount - 1} need`;
    throw new LrmTruncatedError(fileName, needed, bytes.length, what);
  }
  // Hash in parallel, then report the first bad section in file order so the message is deterministic.
  const digests = await Promise.all(
    sections.map((s) => sha256Hex(bytes.subarray(payloadStart + s.range.offset, payloadStart + s.range.offset + s.range.length))),
  );
  sections.forEach((s, i) => {
    if (digests[i] !== s.sha256) throw new LrmChecksumError(fileName, s.tier === undefined ? 'dense' : 'tier', s.tier);
  });
}

/**
 * Bytes a device reads to run `tiers` tiers: the header, the sections those tiers need (formats/sections.ts: the
 * dense section, the tiers, the transient blocks of layers not yet dense) and the last tier's refit section if any.
 */
export function bytesToLoad(header: ModelHeader, payloadStart: number, tiers: number): number {
  const last = header.tiers[tiers - 1];
  if (!last) throw new RangeError(`tiers must be 1..${header.tiers.length}, got ${tiers}`);
  return payloadStart + sectionBytes(header, tiers) + (last.refit?.range.length ?? 0);
}

/** Checks a tier's refit section: `bytes` holds exactly that section (header.tiers[tier].refit.range). */
export async function verifyRefitSection(bytes: Uint8Array, header: ModelHeader, tier: number, options: { fileName?: string } = {}): Promise<void> {
  const fileName = options.fileName ?? DEFAULT_FILE_NAME;
  const refit = header.tiers[tier]?.refit;
  if (!refit) throw new RangeError(`tier ${tier} has no refit section`);
  if (bytes.length < refit.range.length) throw new LrmTruncatedError(fileName, refit.range.length, bytes.length, `the refit section of tier ${tier} needs`);
  if ((await sha256Hex(bytes.subarray(0, refit.range.length))) !== refit.sha256) throw new LrmChecksumError(fileName, 'refit', tier);
}

/** Reads a whole file: header, every section's checksum, exact length. The payload is a view, not a copy. */
export async function readLrm(
  bytes: Uint8Array,
  options: { fileName?: string } = {},
): Promise<HeaderView & { payload: Uint8Array }> {
  const { header, payloadStart } = await readHeader(bytes, { fileName: options.fileName, totalLength: bytes.length });
  await verifySections(bytes, header, payloadStart, header.tiers.length, options);
  for (const t of header.tiers) {
    if (t.refit) await verifyRefitSection(bytes.subarray(payloadStart + t.refit.range.offset), header, t.index, options);
  }
  return { header, payloadStart, payload: bytes.subarray(payloadStart, payloadStart + header.payloadLength) };
}

/** S, the FlatBuffer size, after checking the identifier and that S is plausible. */
function flatBufferSize(prefix: Uint8Array, fileName: string): number {
  if (prefix.length < HEADER_PREFIX_BYTES) {
    throw new LrmTruncatedError(fileName, HEADER_PREFIX_BYTES, prefix.length, 'the start of its header needs');
  }
  const found = identifierOf(prefix);
  if (found !== FILE_IDENTIFIER) {
    // "LRM2", "LRM3"...: a .lrm file from a newer (or older) format generation.
    const generation = /^LRM([0-9])$/.exec(found);
    if (generation) throw new LrmVersionError(fileName, Number(generation[1]), MIN_FORMAT_VERSION, FORMAT_VERSION);
    const id = prefix.subarray(IDENTIFIER_OFFSET, IDENTIFIER_OFFSET + FILE_IDENTIFIER.length);
    throw new LrmBadIdentifierError(fileName, printableBytes(id), FILE_IDENTIFIER, found === ADAPTER_FILE_IDENTIFIER ? ADAPTER_NOT_MODEL : undefined);
  }
  const size = sizeField(prefix);
  if (size < MIN_FLATBUFFER_BYTES || size > MAX_FLATBUFFER_BYTES) {
    throw new LrmCorruptHeaderError(fileName, `its header size field says ${fmt(size)} bytes, which is impossible`, RECOPY);
  }
  return size;
}

/** Bytes as text for a message: printable ASCII as is, the rest (and quotes, backslashes) as \xNN. */
export function printableBytes(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => (b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');
}
