/**
 * Typed errors for reading .lrm files. Each message is one line that says what is wrong and what to do,
 * because the person who reads it may be a technician at a device, not the engineer who built the model.
 */

export type LrmErrorCode =
  | 'LRM_TRUNCATED'
  | 'LRM_BAD_IDENTIFIER'
  | 'LRM_VERSION'
  | 'LRM_CHECKSUM'
  | 'LRM_CORRUPT_HEADER'
  | 'LRM_INTEGRITY'
  /** An adapter (.lra) made for another base model (formats/adapter-errors.ts). */
  | 'LRA_BASE_MISMATCH';

/** File name used in messages when the caller did not give one. */
export const DEFAULT_FILE_NAME = 'the .lrm file';

/** 5242880 → "5,242,880", independent of the host locale. */
export function formatBytes(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export class LrmFormatError extends Error {
  override name = 'LrmFormatError';
  readonly code: LrmErrorCode;
  readonly fileName: string;

  constructor(code: LrmErrorCode, fileName: string, message: string) {
    super(message);
    this.code = code;
    this.fileName = fileName;
  }
}

/** The bytes end before the header says they should (or a damaged size field claims more than there is). */
export class LrmTruncatedError extends LrmFormatError {
  override name = 'LrmTruncatedError';
  readonly expectedBytes: number;
  readonly actualBytes: number;

  /** `what` completes "<file> is truncated: <what> N bytes, got M", e.g. "header says". */
  constructor(fileName: string, expectedBytes: number, actualBytes: number, what = 'header says') {
    super(
      'LRM_TRUNCATED',
      fileName,
      `${fileName} is truncated: ${what} ${formatBytes(expectedBytes)} bytes, got ${formatBytes(actualBytes)} ` +
        '(re-download or re-copy the file)',
    );
    this.expectedBytes = expectedBytes;
    this.actualBytes = actualBytes;
  }
}

/** The file does not start like a .lrm file at all (wrong file picked, or an .onnx passed by mistake). */
export class LrmBadIdentifierError extends LrmFormatError {
  override name = 'LrmBadIdentifierError';
  /** The four identifier bytes found, with non-printable bytes escaped. */
  readonly found: string;

  constructor(fileName: string, found: string, expected: string, fix = 'pick the compiled .lrm file, not the .onnx or another file') {
    super('LRM_BAD_IDENTIFIER', fileName, `${fileName} is not a .lrm model: its file identifier is "${found}", expected "${expected}" (${fix})`);
    this.found = found;
  }
}

export class LrmVersionError extends LrmFormatError {
  override name = 'LrmVersionError';
  readonly version: number;
  readonly minSupported: number;
  readonly maxSupported: number;

  constructor(fileName: string, version: number, minSupported: number, maxSupported: number) {
    const supported = minSupported === maxSupported ? `${minSupported}` : `${minSupported} to ${maxSupported}`;
    const fix = version > maxSupported ? 'update the runtime' : 'recompile the model with a current compiler';
    super(
      'LRM_VERSION',
      fileName,
      `${fileName} uses .lrm format version ${version}, this runtime reads version ${supported} (${fix})`,
    );
    this.version = version;
    this.minSupported = minSupported;
    this.maxSupported = maxSupported;
  }
}

export type LrmSection = 'header' | 'dense' | 'tier' | 'refit';

/** A section's bytes do not match the SHA-256 recorded for them. */
export class LrmChecksumError extends LrmFormatError {
  override name = 'LrmChecksumError';
  readonly section: LrmSection;
  /** Set when section is 'tier' or 'refit'. */
  readonly tier: number | undefined;

  constructor(fileName: string, section: LrmSection, tier?: number) {
    const label = section === 'tier' ? `tier ${tier}` : section === 'refit' ? `refit section of tier ${tier}` : section === 'dense' ? 'dense weight section' : 'header';
    super(
      'LRM_CHECKSUM',
      fileName,
      `${fileName} is damaged: the ${label} does not match its SHA-256 checksum (re-download or re-copy the file)`,
    );
    this.section = section;
    this.tier = tier;
  }
}

/**
 * The header decodes but describes an impossible model: bad offsets or dims, unknown dtype, a dangling
 * node input, a cycle... Its checksum matched, so the file is as it was written: the fix is upstream.
 */
export class LrmCorruptHeaderError extends LrmFormatError {
  override name = 'LrmCorruptHeaderError';
  /** What is wrong, without the file name or the advice. */
  readonly problem: string;

  constructor(
    fileName: string,
    problem: string,
    fix = 'the file was written wrong: recompile the model or ask its supplier for a new copy',
  ) {
    super('LRM_CORRUPT_HEADER', fileName, `${fileName} has an invalid header: ${problem} (${fix})`);
    this.problem = problem;
  }
}

/**
 * The file is well formed but not the one the app pinned (`load(…, { integrity })`): its header hash differs, so
 * some byte of it (header or, through the section hashes the header holds, any weight) is not what was shipped.
 */
export class LrmIntegrityError extends LrmFormatError {
  override name = 'LrmIntegrityError';
  readonly expected: string;
  readonly actual: string;

  constructor(fileName: string, expected: string, actual: string) {
    super(
      'LRM_INTEGRITY',
      fileName,
      `${fileName} is not the file this app was built for: its integrity is ${actual}, the app pins ${expected} (install the model file that shipped with the app, or update the pinned value with \`lowrank inspect\`)`,
    );
    this.expected = expected;
    this.actual = actual;
  }
}
