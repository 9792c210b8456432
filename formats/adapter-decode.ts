/**
 * Size-prefixed .lra FlatBuffer → AdapterHeader. As in formats/decode.ts: the flatbuffers runtime has no verifier
 * and reads zeros out of range, so every vector length is bounded by the buffer size, every 64-bit number must be
 * a safe integer, every enum must be known and required tables present. Semantics live in adapter-validate.ts.
 */
import * as flatbuffers from 'flatbuffers';
import {
  lra_Adapter as FbAdapter,
  lra_ByteRange as FbByteRange,
  lra_Factor as FbFactor,
  lra_Layer as FbLayer,
} from './generated/lra_generated.js';
import { ADAPTER_DTYPE_CODE, ADAPTER_KIND_CODE, type AdapterFactorEntry, type AdapterHeader, type AdapterLayerEntry } from './adapter-header.js';
import type { AdapterDType, AdapterKind } from './adapter-model.js';
import { lraCorrupt } from './adapter-errors.js';
import type { ByteRange } from './model.js';
import { toHex } from './sha256.js';

const SHA256_BYTES = 32;
/** Smallest encoding of one vector element of tables or strings: a 4-byte offset. */
const OFFSET_BYTES = 4;
const KINDS = new Map(Object.entries(ADAPTER_KIND_CODE).map(([k, v]) => [v as number, k as AdapterKind]));
const DTYPES = new Map(Object.entries(ADAPTER_DTYPE_CODE).map(([k, v]) => [v as number, k as AdapterDType]));

/** The root table of a size-prefixed buffer (`bytes` holds the size prefix and the FlatBuffer). */
export function adapterRootTable(bytes: Uint8Array): FbAdapter {
  return FbAdapter.getSizePrefixedRootAsAdapter(new flatbuffers.ByteBuffer(bytes));
}

export function decodeAdapterHeader(root: FbAdapter, bufferBytes: number, fileName: string): AdapterHeader {
  return new AdapterDecoder(fileName, bufferBytes).adapter(root);
}

class AdapterDecoder {
  constructor(
    private readonly fileName: string,
    private readonly bufferBytes: number,
  ) {}

  private fail(problem: string): never {
    throw lraCorrupt(this.fileName, problem);
  }

  /** A vector whose claimed length fits in the buffer: a damaged length must not make us loop for billions of steps. */
  private list<T>(length: number, elementBytes: number, where: string, get: (i: number) => T): T[] {
    if (length < 0 || length * elementBytes > this.bufferBytes) this.fail(`${where} claims ${length} entries, more than the header can hold`);
    return Array.from({ length }, (_, i) => get(i));
  }

  private int(v: bigint, where: string): number {
    const n = Number(v);
    if (!Number.isSafeInteger(n)) this.fail(`${where} = ${v} is too large`);
    return n;
  }

  private digest(length: number, bytes: Uint8Array | null, where: string): string {
    if (length !== SHA256_BYTES || bytes === null) this.fail(`${where} has ${length} bytes, expected ${SHA256_BYTES}`);
    return toHex(bytes);
  }

  adapter(a: FbAdapter): AdapterHeader {
    const kind = KINDS.get(a.kind());
    if (kind === undefined) this.fail(`adapter kind code ${a.kind()} is unknown (known: lora, loha, lokr)`);
    const dtype = DTYPES.get(a.dtype());
    if (dtype === undefined) this.fail(`storage dtype code ${a.dtype()} is unknown (known: fp32, fp16, int8)`);
    const base = a.base();
    if (base === null) this.fail('the base model it was trained for is missing');
    return {
      formatVersion: a.formatVersion(),
      compilerVersion: a.compilerVersion() ?? '',
      kind,
      dtype,
      base: { headerSha256: this.digest(base.headerSha256Length(), base.headerSha256Array(), 'the base header SHA-256'), fileName: base.fileName() ?? '' },
      notes: this.list(a.notesLength(), OFFSET_BYTES, 'notes', (i) => a.notes(i) ?? ''),
      layers: this.list(a.layersLength(), OFFSET_BYTES, 'layers', (i) => this.layer(a.layers(i)!, `layers[${i}]`)),
      payloadLength: this.int(a.payloadLength(), 'payload length'),
      payloadSha256: this.digest(a.payloadSha256Length(), a.payloadSha256Array(), 'the payload SHA-256'),
    };
  }

  private layer(l: FbLayer, where: string): AdapterLayerEntry {
    const layer: AdapterLayerEntry = {
      target: l.target() ?? '',
      rows: l.rows(),
      cols: l.cols(),
      rank: l.rank(),
      alpha: l.alpha(),
      factors: this.list(l.factorsLength(), OFFSET_BYTES, `${where} factors`, (i) => this.factor(l.factors(i)!, `${where} factor ${i}`)),
    };
    const kronLength = l.kronLength();
    if (kronLength !== 0) {
      if (kronLength !== 2) this.fail(`${where} has a kron shape of ${kronLength} numbers, expected 2`);
      layer.kron = [l.kron(0) ?? 0, l.kron(1) ?? 0];
    }
    return layer;
  }

  private factor(f: FbFactor, where: string): AdapterFactorEntry {
    const entry: AdapterFactorEntry = { range: this.range(f.range(), `${where} byte range`) };
    // Element-wise reads: scalesArray() makes a Float32Array view, which throws on a buffer not 4-byte aligned.
    if (f.scalesLength() > 0) entry.scales = this.list(f.scalesLength(), 4, `${where} scales`, (i) => f.scales(i) ?? 0);
    return entry;
  }

  private range(r: FbByteRange | null, where: string): ByteRange {
    if (r === null) this.fail(`${where} is missing`);
    return { offset: this.int(r.offset(), `${where} offset`), length: this.int(r.length(), `${where} length`) };
  }
}
