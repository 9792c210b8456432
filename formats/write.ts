/**
 * Writing .lrm files: lay out the payload, fill in the checksums, frame the header (see framing.ts).
 */
import { encodeHeader } from './encode.js';
import { align, frameFlatBuffer } from './framing.js';
import type { ByteRange, ModelHeader, Tier, TierRefit, TransientSection } from './model.js';
import { readHeader } from './read.js';
import { sha256Hex } from './sha256.js';

/** A header as the compiler builds it: the writer fills in the checksums and the payload length. */
export type LrmHeaderInput = Omit<ModelHeader, 'dense' | 'tiers' | 'payloadLength'> & {
  dense: { range: ByteRange };
  tiers: Array<Omit<Tier, 'sha256' | 'refit' | 'transient'> & { refit?: Omit<TierRefit, 'sha256'>; transient?: Array<Omit<TransientSection, 'sha256'>> }>;
};

export interface WriteOptions {
  /**
   * Read the written header back through readHeader's checks (default true), so a compiler bug fails at
   * compile time rather than on a device. Tests set false to write deliberately broken files.
   */
  validate?: boolean;
  /** Used in error messages. */
  fileName?: string;
}

/**
 * Collects payload bytes. Every appended block starts 64-byte aligned; sections (dense, each tier) are
 * closed with seal(), which pads so the next section starts exactly where this one ends.
 * Appended arrays are kept by reference until finish(): do not modify them in between.
 */
export class PayloadBuilder {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;

  get length(): number {
    return this.size;
  }

  append(bytes: Uint8Array): ByteRange {
    this.pad();
    const offset = this.size;
    this.chunks.push(bytes);
    this.size += bytes.length;
    return { offset, length: bytes.length };
  }

  /** Closes the section that began when `length` was `start`: pads to 64 and returns its whole range. */
  seal(start: number): ByteRange {
    if (start > this.size) throw new RangeError(`section start ${start} is past the payload end ${this.size}`);
    this.pad();
    const offset = align(start);
    return { offset, length: this.size - offset };
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  private pad(): void {
    const gap = align(this.size) - this.size;
    if (gap > 0) {
      this.chunks.push(new Uint8Array(gap));
      this.size += gap;
    }
  }
}

/** Fills in the SHA-256 of the dense section, of every tier, transient and refit section, and the payload length. */
export async function completeHeader(input: LrmHeaderInput, payload: Uint8Array): Promise<ModelHeader> {
  const digest = (r: ByteRange) => sha256Hex(payload.subarray(r.offset, r.offset + r.length));
  const [dense, ...tiers] = await Promise.all([digest(input.dense.range), ...input.tiers.map((t) => digest(t.range))]);
  const refits = await Promise.all(input.tiers.map((t) => (t.refit ? digest(t.refit.range) : undefined)));
  const transient = await Promise.all(input.tiers.map((t) => Promise.all((t.transient ?? []).map(async (x) => ({ ...x, sha256: await digest(x.range) })))));
  return {
    ...input,
    dense: { range: input.dense.range, sha256: dense },
    tiers: input.tiers.map(({ refit, transient: _, ...t }, i) => ({
      ...t,
      sha256: tiers[i],
      ...(refit ? { refit: { ...refit, sha256: refits[i]! } } : {}),
      ...(transient[i]!.length ? { transient: transient[i] } : {}),
    })),
    payloadLength: payload.length,
  };
}

/** Everything before the payload: size-prefixed FlatBuffer, its SHA-256, zero padding. Does not validate. */
export async function frameHeader(header: ModelHeader): Promise<Uint8Array> {
  return frameFlatBuffer(encodeHeader(header));
}

/** The whole file: header + payload. */
export async function writeLrm(input: LrmHeaderInput, payload: Uint8Array, options: WriteOptions = {}): Promise<Uint8Array> {
  const header = await completeHeader(input, payload);
  const framed = await frameHeader(header);
  const file = new Uint8Array(framed.length + payload.length);
  file.set(framed);
  file.set(payload, framed.length);
  if (options.validate ?? true) {
    await readHeader(file, { fileName: options.fileName ?? 'the .lrm file being written', totalLength: file.length });
  }
  return file;
}
