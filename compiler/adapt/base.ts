import { toHex } from '../../formats/sha256.js';
import { headerLength, readLrm } from '../../formats/read.js';
import { HEADER_HASH_BYTES } from '../../formats/framing.js';
import type { ModelHeader } from '../../formats/model.js';
import type { AdapterBase } from '../../formats/adapter-model.js';
import { CompileOptionError } from '../errors.js';

/** A base .lrm read whole and verified (every section's checksum), as the adapter trainer and merger use it. */
export interface AdapterBaseFile {
  bytes: Uint8Array;
  header: ModelHeader;
  payloadStart: number;
  payload: Uint8Array;
  fileName: string;
  /** What an adapter trained on it records (AdapterModel.base). */
  identity: AdapterBase;
}

export async function openAdapterBase(bytes: Uint8Array, fileName = 'model.lrm'): Promise<AdapterBaseFile> {
  const { header, payloadStart, payload } = await readLrm(bytes, { fileName });
  return { bytes, header, payloadStart, payload, fileName, identity: { headerSha256: baseHeaderSha256(bytes, fileName), fileName } };
}

/**
 * The base's identity: the header hash the file stores right after its header (formats/framing.ts: bytes
 * [4 + S, 4 + S + 32), S the FlatBuffer size), lowercase hex. readLrm has checked it against the header.
 */
export function baseHeaderSha256(bytes: Uint8Array, fileName = 'model.lrm'): string {
  const end = headerLength(bytes, { fileName });
  return toHex(bytes.subarray(end - HEADER_HASH_BYTES, end));
}

/** Tier index (as `inspect` numbers them) checked against the file. */
export function checkTier(header: ModelHeader, tier: number, what: string): number {
  if (!Number.isInteger(tier) || tier < 0 || tier >= header.tiers.length) {
    throw new CompileOptionError(`${what}: tier ${tier} does not exist (the base has tiers 0–${header.tiers.length - 1})`, 'adapter-tier');
  }
  return tier;
}
