/**
 * Where model bytes come from. Reading by range lets a device fetch only the header and the tiers
 * its preset needs (one contiguous range from the start of the file).
 */
export interface ByteSource {
  /** For messages: a file name or URL. */
  readonly name: string;
  /** Bytes [offset, offset + length); throws SourceError if fewer are available. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Total size when known without reading everything. */
  size(): Promise<number | undefined>;
}
