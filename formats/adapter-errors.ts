/**
 * Typed errors for adapter files (.lra). They join the LrmFormatError family (so whatever catches a bad model file
 * catches a bad adapter too) and reuse its codes; each message says what is wrong and what to do, in one line.
 */
import type { AdapterBase } from './adapter-model.js';
import { formatBytes, LrmFormatError, type LrmErrorCode } from './errors.js';

/** File name used in messages when the caller did not give one. */
export const DEFAULT_ADAPTER_FILE_NAME = 'the .lra file';

/** The fix for a file damaged on its way: the bytes are not the ones written. */
export const RECOPY = 're-download or re-copy the file';
/** The fix for a header that hashes fine but describes an impossible adapter: it was written that way. */
export const REEXPORT = 'the file was written wrong: export the adapter again from the trainer or ask its supplier for a new copy';

/** A damaged, truncated, foreign or impossible .lra file. `problem` is what is wrong, without the file name or the fix. */
export class LraFormatError extends LrmFormatError {
  override name = 'LraFormatError';
  readonly problem: string;

  constructor(code: Exclude<LrmErrorCode, 'LRA_BASE_MISMATCH' | 'LRM_INTEGRITY'>, fileName: string, problem: string, fix: string) {
    super(code, fileName, `${fileName} ${problem} (${fix})`);
    this.problem = problem;
  }
}

export function lraTruncated(fileName: string, expectedBytes: number, actualBytes: number, what = 'its header says'): LraFormatError {
  return new LraFormatError('LRM_TRUNCATED', fileName, `is truncated: ${what} ${formatBytes(expectedBytes)} bytes, got ${formatBytes(actualBytes)}`, RECOPY);
}

/** `found` is the identifier with non-printable bytes escaped; "LRM1" (a model) gets its own message. */
export function lraBadIdentifier(fileName: string, found: string, expected: string): LraFormatError {
  if (/^LRM[0-9]$/.test(found)) {
    return new LraFormatError(
      'LRM_BAD_IDENTIFIER',
      fileName,
      `is a model (.lrm), not an adapter: its file identifier is "${found}", expected "${expected}"`,
      "pass the adapter's .lra file here; the .lrm is the base model the adapter applies to",
    );
  }
  return new LraFormatError('LRM_BAD_IDENTIFIER', fileName, `is not a .lra adapter: its file identifier is "${found}", expected "${expected}"`, "pick the adapter's .lra file, not a model or another file");
}

export function lraVersion(fileName: string, version: number, minSupported: number, maxSupported: number): LraFormatError {
  const supported = minSupported === maxSupported ? `${minSupported}` : `${minSupported} to ${maxSupported}`;
  const fix = version > maxSupported ? 'update the runtime' : 'export the adapter again with a current trainer';
  return new LraFormatError('LRM_VERSION', fileName, `uses .lra format version ${version}, this runtime reads version ${supported}`, fix);
}

export function lraChecksum(fileName: string, section: 'header' | 'payload'): LraFormatError {
  const label = section === 'header' ? 'header' : 'weight payload';
  return new LraFormatError('LRM_CHECKSUM', fileName, `is damaged: the ${label} does not match its SHA-256 checksum`, RECOPY);
}

/** The header decodes (or not) but describes an impossible adapter; `fix` defaults to re-exporting it. */
export function lraCorrupt(fileName: string, problem: string, fix = REEXPORT): LraFormatError {
  return new LraFormatError('LRM_CORRUPT_HEADER', fileName, `has an invalid header: ${problem}`, fix);
}

/** An adapter applied to a model other than the one it was trained for: its ΔW would be noise for that model. */
export class AdapterBaseMismatchError extends LrmFormatError {
  override name = 'AdapterBaseMismatchError';
  readonly expected: AdapterBase;
  readonly actual: AdapterBase;

  constructor(adapterName: string, expected: AdapterBase, actual: AdapterBase) {
    const who = (b: AdapterBase) => `${b.headerSha256.slice(0, 8)}… (${b.fileName || 'unnamed'})`;
    super(
      'LRA_BASE_MISMATCH',
      adapterName,
      `adapter ${adapterName} was trained for base ${who(expected)}, this model is ${who(actual)}: use the adapter made for this model or retrain it`,
    );
    this.expected = expected;
    this.actual = actual;
  }
}
