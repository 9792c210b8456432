/**
 * The .lra header as plain objects (what formats/lra.fbs holds), and how its enums are coded. The writer builds one
 * from an AdapterModel, the reader decodes and validates one before it touches the payload.
 */
import { lra_AdapterKind as FbKind, lra_StorageDType as FbDType } from './generated/lra_generated.js';
import type { AdapterBase, AdapterDType, AdapterKind, AdapterLayer } from './adapter-model.js';
import type { ByteRange } from './model.js';

export interface AdapterFactorEntry {
  /** Where the stored factor lies, relative to the payload start. */
  range: ByteRange;
  /** int8 only: one float32 scale per row of the factor. */
  scales?: number[];
}

export type AdapterLayerEntry = Omit<AdapterLayer, 'factors'> & { factors: AdapterFactorEntry[] };

export interface AdapterHeader {
  formatVersion: number;
  /** Who wrote the file (e.g. the trainer's version); may be empty. */
  compilerVersion: string;
  kind: AdapterKind;
  dtype: AdapterDType;
  base: AdapterBase;
  notes: string[];
  layers: AdapterLayerEntry[];
  payloadLength: number;
  /** Lowercase hex SHA-256 of the whole payload. */
  payloadSha256: string;
}

export const ADAPTER_KIND_CODE: Readonly<Record<AdapterKind, FbKind>> = { lora: FbKind.LoRA, loha: FbKind.LoHa, lokr: FbKind.LoKr };
export const ADAPTER_DTYPE_CODE: Readonly<Record<AdapterDType, FbDType>> = { fp32: FbDType.Fp32, fp16: FbDType.Fp16, int8: FbDType.Int8 };

/** Bytes per stored factor value. */
export const ADAPTER_ELEMENT_BYTES: Readonly<Record<AdapterDType, number>> = { fp32: 4, fp16: 2, int8: 1 };

/** Bytes the payload holds per layer (its factors, without alignment padding): for `inspect`. */
export function adapterLayerBytes(layer: AdapterLayerEntry): number {
  return layer.factors.reduce((sum, f) => sum + f.range.length, 0);
}
