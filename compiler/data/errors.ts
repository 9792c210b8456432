/**
 * Errors raised by the dataset readers.
 *
 * Every failure that comes from the user's data or flags (a bad file, a bad spec, a missing directory) is a
 * DataError, so the CLI can print `err.message` as one actionable line instead of a stack trace, and tests can
 * match on `code` instead of on message wording. Bugs stay plain Errors.
 */

export type DataErrorCode =
  | 'DATA_SPEC' // the --data spec string or its options are wrong
  | 'DATA_NOT_FOUND' // a file or directory that the spec names does not exist
  | 'DATA_EMPTY' // the directory (or the selected slice) holds no samples
  | 'DATA_FORMAT' // a file is malformed: bad magic, truncated, inconsistent sizes
  | 'DATA_UNSUPPORTED' // a file is well-formed but uses a variant we do not read (big-endian, ADPCM, …)
  | 'DATA_SHAPE' // data does not fit the model input (shape, rank, data type)
  | 'DATA_TOO_LARGE'; // an image exceeds the decode limits

export class DataError extends Error {
  override name = 'DataError';
  readonly code: DataErrorCode;
  constructor(code: DataErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** The spec string or the options given with it are invalid. */
export class DataSpecError extends DataError {
  override name = 'DataSpecError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('DATA_SPEC', message, options);
  }
}

/** A path named by the user does not exist (or is the wrong kind: file vs directory). */
export class DataNotFoundError extends DataError {
  override name = 'DataNotFoundError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('DATA_NOT_FOUND', message, options);
  }
}

/** Nothing to read: an empty directory, or offset/limit that select no sample. */
export class DataEmptyError extends DataError {
  override name = 'DataEmptyError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('DATA_EMPTY', message, options);
  }
}

/** A file is corrupt or not what its name says (bad magic number, truncated, sizes that disagree). */
export class DataFormatError extends DataError {
  override name = 'DataFormatError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('DATA_FORMAT', message, options);
  }
}

/** A valid file in a variant we deliberately do not read; the message says what to convert it to. */
export class UnsupportedDataError extends DataError {
  override name = 'UnsupportedDataError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('DATA_UNSUPPORTED', message, options);
  }
}

/** The data cannot be fed to the model input: wrong rank, size or element type. */
export class DataShapeError extends DataError {
  override name = 'DataShapeError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('DATA_SHAPE', message, options);
  }
}

/** An image is bigger than the decoder's memory/resolution limits. */
export class DataTooLargeError extends DataError {
  override name = 'DataTooLargeError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('DATA_TOO_LARGE', message, options);
  }
}
