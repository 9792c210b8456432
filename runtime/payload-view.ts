/**
 * The payload bytes a session holds, addressed by payload offsets as the header gives them. A device that
 * loads tiers 0..k holds only the sections those tiers need (formats/sections.ts), which need not be one
 * prefix of the file; a view over them lets the model builder read ranges without a file-sized buffer full of
 * holes. A whole payload (a Uint8Array) is a PayloadBytes too.
 */
export interface PayloadBytes {
  readonly length: number;
  subarray(begin: number, end: number): Uint8Array;
}

export class SectionView implements PayloadBytes {
  /** Sections by payload offset, ascending; each `bytes` is the section's whole content. */
  private readonly parts: ReadonlyArray<{ offset: number; bytes: Uint8Array }>;

  constructor(
    parts: Iterable<{ offset: number; bytes: Uint8Array }>,
    /** The payload length in the header (what a range must lie within). */
    readonly length: number,
  ) {
    this.parts = [...parts].sort((a, b) => a.offset - b.offset);
  }

  /** Bytes [begin, end) of the payload; they must lie inside one held section. */
  subarray(begin: number, end: number): Uint8Array {
    let lo = 0;
    let hi = this.parts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const p = this.parts[mid]!;
      if (begin < p.offset) hi = mid - 1;
      else if (begin >= p.offset + p.bytes.length && !(begin === end && begin === p.offset + p.bytes.length)) lo = mid + 1;
      else {
        if (end > p.offset + p.bytes.length) break;
        return p.bytes.subarray(begin - p.offset, end - p.offset);
      }
    }
    throw new RangeError(`payload bytes [${begin}, ${end}) are not in a loaded section (a tier that was not loaded?)`);
  }

  /** Bytes held, summed over sections. */
  get heldBytes(): number {
    return this.parts.reduce((s, p) => s + p.bytes.length, 0);
  }
}
