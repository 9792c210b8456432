/**
 * Where model bytes come from. Reading by range lets a device fetch only the header and the tiers
 * its preset needs (one contiguous range from the start of the file).
 */
export interface SourceReadOptions {
  /** Return fewer bytes when the source ends before offset + length, instead of failing with a short read. */
  atMost?: boolean;
  /** Called as bytes arrive, with the count received so far for this read (for progress bars). */
  onBytes?: (received: number) => void;
  /** Cancels the read (LoadAbortedError). */
  signal?: AbortSignal;
  /** Network sources: give up when nothing arrives for this long (SourceTimeoutError); default: no limit. */
  timeoutMs?: number;
  /**
   * Network sources: how often to try again, with backoff (0.25 s, then ×4), after a 5xx answer, a refused or reset
   * connection or a body cut short; not after a 4xx, a timeout or an abort. Default 2.
   */
  retries?: number;
}

export interface ByteSource {
  /** For messages: a file name or URL. */
  readonly name: string;
  /** Bytes [offset, offset + length); throws SourceError if fewer are available (unless `atMost`). */
  read(offset: number, length: number, options?: SourceReadOptions): Promise<Uint8Array>;
  /** Total size when known without reading everything (an HTTP source knows it after its first response). */
  size(): Promise<number | undefined>;
  /** Forget bytes kept from earlier reads, so the next read fetches again (called after a checksum failure). */
  discard?(): void;
  /**
   * Bytes actually received so far, when the source knows more than the bytes its reads returned (a server that
   * ignores Range sends the whole file for a small read; retries send parts again).
   */
  readonly transferred?: number;
}
